"""Revisiting Self-Supervised Visual Representation Learning (Kolesnikov et al., CVPR 2019)."""
