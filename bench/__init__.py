"""Benchmarks that print tables: input pipeline, training step, kNN."""
