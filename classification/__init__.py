"""Supervised ImageNet classification baselines (AlexNet, ZFNet, ResNet, ResNetV2, SE-ResNet)."""
