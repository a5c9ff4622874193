"""Shared library of the project: TensorFlow import, configs, data, backbones, memory bank, evaluation, training
launch."""
