"""The instance-discrimination network and training graph: backbone -> 128-d linear -> L2 norm, memory-bank loss.

The memory bank (and the NCE constant Z) live outside the tower scopes, shared by every tower; each training
tower returns its rows (``common.memory_bank.BankRows``: index, features, label, Z estimate) and
``common.train.launch_train`` updates the bank once per global step with the whole global batch.
"""
import math

from tensorpack import ModelDesc
from tensorpack.tfutils import optimizer as tp_optimizer
from tensorpack.tfutils.gradproc import MapGradient
from tensorpack.tfutils.tower import get_current_tower_context

from common.memory_bank import BankRows, LabelBank, MemoryBank
from common.models.registry import get_model
from common.models.resnet_torchvision import TV_NAMES
from common.schedules import EpochSchedule, piecewise
from common.tf1 import tf
from instance_disc.nce import freeze_z_op, instance_loss

__all__ = ["BANK_SCOPE", "RELEASE_ARCHS", "objective_name", "backbone_name", "backbone_endpoints", "embedding_head",
           "embedding", "lr_schedule", "InstanceDiscModel"]

BANK_SCOPE = "instance"
# the release's --arch names -> its torchvision-layout ResNets in the registry
RELEASE_ARCHS = {"resnet%d" % depth: name for depth, name in TV_NAMES.items()}


def objective_name(cfg):
    """``softmax`` when ``nce_k`` is 0 (full softmax, as the release), else ``cfg['loss']``."""
    return "softmax" if int(cfg["nce_k"]) == 0 else cfg["loss"]


def backbone_name(cfg):
    """The registry name of ``cfg['arch']``: the release's torchvision-layout ResNet (``layout`` torchvision, the
    default) or, with ``layout`` tensorpack, the registry backbone of that name (``resnet18``: TensorPack's)."""
    if cfg.get("layout", "torchvision") == "tensorpack":
        return cfg["arch"]
    if cfg["arch"] not in RELEASE_ARCHS:
        raise ValueError("--arch %s: the torchvision layout has %s; --set layout=tensorpack selects any registry "
                         "backbone" % (cfg["arch"], ", ".join(RELEASE_ARCHS)))
    return RELEASE_ARCHS[cfg["arch"]]


def backbone_endpoints(images, is_training, cfg):
    """The backbone ``backbone_name(cfg)`` (width, stem, ``zero_init`` of the last BN gammas and the optional
    ``data_format`` of its convolutions from ``cfg``; ``images`` are NHWC): a dict of endpoint tensors."""
    return get_model(backbone_name(cfg))(images, is_training, data_format=cfg.get("data_format", "NHWC"),
                                         width=cfg.get("width", 1), stem=cfg.get("stem", "imagenet"),
                                         zero_init=bool(cfg.get("zero_init", False)))


def embedding_head(pooled, cfg):
    """``[B, C]`` pooled features -> linear ``cfg['low_dim']`` (bias; PyTorch's U(+-1/sqrt(fan_in)) init) -> L2 norm."""
    pooled = tf.layers.flatten(pooled)
    bound = 1.0 / math.sqrt(int(pooled.shape[-1]))
    init = tf.random_uniform_initializer(-bound, bound)
    logits = tf.layers.dense(pooled, cfg["low_dim"], kernel_initializer=init, bias_initializer=init,
                             name="embed_fc")
    return tf.nn.l2_normalize(logits, axis=1, name="features")


def embedding(images, is_training, cfg):
    """L2-normalised ``[B, low_dim]`` features of NHWC ``images``: the backbone's ``pre_logits`` -> head."""
    return embedding_head(backbone_endpoints(images, is_training, cfg)["pre_logits"], cfg)


def _banks(cfg, n_data):
    """The shared memory bank, label bank and NCE constant Z (created once, reused by every tower)."""
    bank = MemoryBank(BANK_SCOPE, n_data, cfg["low_dim"], momentum=cfg["nce_m"])
    labels = LabelBank(BANK_SCOPE, n_data)
    with tf.variable_scope(tf.VariableScope(tf.AUTO_REUSE, name=BANK_SCOPE)):
        z_var = tf.get_variable("nce_z", [], tf.float32, initializer=tf.constant_initializer(-1.0),
                                trainable=False)
    return bank, labels, z_var


def lr_schedule(cfg):
    """The schedule object of the ``learning_rate`` the optimizer reads: ``lr`` at first, ``lr * lr_decay ** i``
    from the release's 0-based epoch ``lr_decay_epochs[i-1]`` on (its main.py and cifar.py: epochs 120, 160)."""
    return EpochSchedule(cfg["lr"], piecewise(cfg["lr"], cfg["lr_decay_epochs"], cfg["lr_decay"]))


class InstanceDiscModel(ModelDesc):
    """TensorPack model: inputs ``(image, label, index)``, cost = the instance loss of ``cfg`` (no weight decay
    term: it is added to every gradient by ``optimizer``, as the release's coupled SGD weight decay)."""

    def __init__(self, cfg, n_data, image_size):
        self.cfg, self.n_data, self.image_size = cfg, int(n_data), int(image_size)

    def inputs(self):
        return [tf.TensorSpec([None, self.image_size, self.image_size, 3], tf.float32, "image"),
                tf.TensorSpec([None], tf.int64, "label"),
                tf.TensorSpec([None], tf.int64, "index")]

    def build_graph(self, image, label, index):
        """Training: the loss and the tower's bank rows (``BankRows``); inference: the features."""
        ctx = get_current_tower_context()
        features = embedding(image, ctx.is_training, self.cfg)
        bank, label_bank, z_var = _banks(self.cfg, self.n_data)
        if not ctx.is_training:
            return features
        estimates = []
        loss = instance_loss(objective_name(self.cfg), features, index, bank, int(self.cfg["nce_k"]),
                             self.cfg["nce_t"], z_var, z_estimates=estimates)
        loss = tf.identity(loss, name="instance_loss")
        tf.summary.scalar("instance_loss-summary", loss)  # TensorPack's monitors drop "-summary" from the tag
        extra = (estimates[0], lambda all_estimates: freeze_z_op(z_var, all_estimates)) if estimates else None
        return BankRows(loss, bank, index, features, label_bank, label, extra)

    def optimizer(self, lr):
        """Momentum SGD on the rate ``lr`` that ``launch_train`` made from ``lr_schedule(cfg)``."""
        opt = tf.train.MomentumOptimizer(lr, self.cfg["momentum"])
        wd = float(self.cfg["weight_decay"])
        return tp_optimizer.apply_grad_processors(opt, [MapGradient(lambda grad, var: grad + wd * var)])

