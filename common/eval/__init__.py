"""Evaluation of learned features: feature towers, weighted kNN and its monitor, linear probes, reports."""
