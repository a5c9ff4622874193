"""Backbones: every builder returns a dict of named endpoints; see ``common.models.registry``."""
from common.models.registry import get_model, list_models, register  # noqa: F401
from common.models.weight_decay import regularization_loss  # noqa: F401
from common.models import alexnet, resnet, resnet_official, resnet_torchvision, resnet_v2_seed, revnet, vgg, zfnet  # noqa: F401
