"""Evaluation of learned features: weighted kNN and linear probes."""
