"""Benchmarks that print tables: input pipeline, training step, kNN, and the GPU check (bench.gpu_check)."""
