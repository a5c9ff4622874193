"""The release's ``instance_model.py``: IR (NCE) and LA objectives against a memory bank,
the embedding network (registry backbone -> 128-d -> L2 norm) and the TensorPack ``LocalAggregationModel``.

Scores are ``P(j | f) = exp(v_j . f / t) / Z`` with the release's constant partition function
``Z = 2876934.2 / 1281167 * N`` (never estimated from data, README decision 5).
"""
import re

from tensorpack import ModelDesc
from tensorpack.tfutils.summary import add_moving_summary

from common.memory_bank import BankRows, LabelBank, MemoryBank
from common.models import get_model, regularization_loss
from common.models.weight_decay import kernel_weight_decay
from common.schedules import GlobalStepPiecewise
from common.nce import exp_scores, nce_loss_parts, sample_noise_indices
from common.tf1 import tf
from local_aggregation.clustering import cluster_labels_variable

__all__ = ["IMAGENET_Z", "IMAGENET_LEN", "LA_EPS", "EMBED_DIM", "INSTANCE_M", "RELEASE_BN_MOMENTUM", "MODEL_TYPES",
           "partition_z", "ir_loss", "la_loss", "cluster_close_mask", "ir_objective", "la_objective", "backbone",
           "backbone_endpoints", "network_embedding", "release_decays", "release_lr", "LocalAggregationModel"]

IMAGENET_Z = 2876934.2
IMAGENET_LEN = 1281167
LA_EPS = 1e-7
EMBED_DIM = 128  # fixed in the release (README decision 4)
INSTANCE_M = 0.5  # bank momentum, fixed in the release (README decision 4)
RELEASE_BN_MOMENTUM = 0.997
BN_VARIABLE = re.compile(r"(^|/)\w*bn/(gamma|beta)$")
# release model_type -> (registry backbone, its options); ResNets are v2, pre-activation (README decision 19)
MODEL_TYPES = {
    "resnet18": ("resnet18_official", {"version": 2}),
    "resnet50": ("resnet50_official", {"version": 2}),
    "alexnet_bn_no_drop": ("alexnet_la", {}),
    "vggnet_fx": ("vgg16_la", {}),
}


def partition_z(n_data):
    """The release's constant Z, the ImageNet value scaled to ``n_data`` bank entries."""
    return IMAGENET_Z / IMAGENET_LEN * n_data


def ir_loss(data_dot, noise_dot, n_data, t=0.07):
    """IR's NCE loss from ``data_dot`` ``[B]`` (v_i . f_i) and ``noise_dot`` ``[B, K]``.

    Returns ``(loss, loss_model, loss_noise)`` with ``loss = loss_model + loss_noise`` (the release's ``instance_model.py``).
    """
    z = partition_z(n_data)
    loss_model, loss_noise = nce_loss_parts(exp_scores(data_dot, t, z), exp_scores(noise_dot, t, z), n_data)
    return loss_model + loss_noise, loss_model, loss_noise


def la_loss(background_dot, close_mask, t=0.07):
    """LA's loss ``-mean_i log(P(C_i and B_i) / P(B_i) + 1e-7)`` from ``[B, K]`` dot products and close mask.

    Z cancels in the ratio; the scores are shifted by their row maximum so that ``exp`` cannot overflow.
    """
    scaled = background_dot / t
    weights = tf.exp(scaled - tf.stop_gradient(tf.reduce_max(scaled, axis=1, keepdims=True)))
    close = tf.cast(close_mask, weights.dtype)
    ratio = tf.reduce_sum(weights * close, axis=1) / tf.reduce_sum(weights, axis=1)
    return -tf.reduce_mean(tf.log(ratio + LA_EPS))


def cluster_close_mask(cluster_labels, indices, neighbour_indices):
    """``[B, K]`` bool: entry j shares sample i's cluster in at least one k-means run (union over runs).

    ``cluster_labels`` is ``[R, N]`` int64, ``indices`` ``[B]``, ``neighbour_indices`` ``[B, K]``.
    """
    own = tf.gather(cluster_labels, indices, axis=1)
    theirs = tf.gather(cluster_labels, neighbour_indices, axis=1)
    return tf.reduce_any(tf.equal(theirs, own[:, :, None]), axis=0)


def ir_objective(embedding, bank, indices, n_data, k=4096, t=0.07, seed=None):
    """IR loss parts for L2-normalised ``embedding`` ``[B, D]`` against ``bank`` ``[N, D]`` (pre-update).

    Noise indices are uniform with replacement over the bank and may hit the positive (README decision 6).
    """
    bank = tf.stop_gradient(tf.convert_to_tensor(bank))
    data_dot = tf.reduce_sum(tf.gather(bank, indices) * embedding, axis=1)
    noise_idx = sample_noise_indices(tf.shape(embedding)[0], k, n_data, seed=seed)
    noise_dot = tf.squeeze(tf.matmul(tf.gather(bank, noise_idx), embedding[:, :, None]), axis=2)
    return ir_loss(data_dot, noise_dot, n_data, t)


def la_objective(embedding, bank, cluster_labels, indices, k=4096, t=0.07):
    """LA loss: background = top-``k`` of ``embedding . bank^T`` (own entry included, README decision 6),
    close = same cluster in any k-means run."""
    bank = tf.stop_gradient(tf.convert_to_tensor(bank))
    sims = tf.matmul(embedding, bank, transpose_b=True)
    background_dot, background_idx = tf.nn.top_k(sims, k=k, sorted=False)
    mask = cluster_close_mask(cluster_labels, indices, tf.cast(background_idx, tf.int64))
    return la_loss(background_dot, mask, t)


def backbone(model_type, bn_momentum=RELEASE_BN_MOMENTUM):
    """Registry name and options of a release ``model_type`` (one-line errors for unknown values)."""
    if model_type not in MODEL_TYPES:
        raise ValueError("model_type %r is not supported; valid: %s" % (model_type, ", ".join(MODEL_TYPES)))
    name, options = MODEL_TYPES[model_type]
    if bn_momentum != RELEASE_BN_MOMENTUM:
        if not name.endswith("_official"):
            raise ValueError("bn_momentum %g: only the ResNets take another BN momentum than %g"
                             % (bn_momentum, RELEASE_BN_MOMENTUM))
        options = dict(options, bn_momentum=bn_momentum)
    return name, options


def backbone_endpoints(images, is_training, model_type, width=1, weight_decay=0.0, data_format="NHWC",
                       num_classes=None, bn_momentum=RELEASE_BN_MOMENTUM):
    """The registry backbone of ``model_type`` on normalised NHWC ``images``: its dict of endpoints."""
    name, options = backbone(model_type, bn_momentum)
    return get_model(name)(images, is_training, num_classes=num_classes, data_format=data_format,
                           weight_decay=weight_decay, width=width, **options)


def network_embedding(images, is_training, model_type, width=1, weight_decay=0.0, data_format="NHWC",
                      bn_momentum=RELEASE_BN_MOMENTUM):
    """Backbone endpoints plus ``embedding``: its 128-d output, L2-normalised (the release's ``resnet_model.py`` output)."""
    ends = backbone_endpoints(images, is_training, model_type, width, weight_decay, data_format, EMBED_DIM,
                              bn_momentum)
    ends["embedding"] = tf.nn.l2_normalize(ends["logits"], axis=1)
    return ends


def release_decays(model_type):
    """The release's weight-decay rule as ``decays(name, trainable)``: every trainable variable whose release name
    lacks ``batch_normalization``: kernels, biases (the embedding head's too) and, for the AlexNet only (its BN
    layers are named conv1..fc7 there), the BN scale and offset. Here BN variables are ``.../bn/gamma|beta``."""
    keep_bn = model_type == "alexnet_bn_no_drop"
    return lambda name, trainable: trainable and (keep_bn or not BN_VARIABLE.search(name))


def release_lr(init_lr, boundaries):
    """The release's schedule object: ``init_lr * 0.1 ** (boundaries passed)`` on the absolute global step (TF
    piecewise_constant: value i holds for b_{i-1} < step <= b_i), a tensor named ``lr`` with a summary."""
    return GlobalStepPiecewise(init_lr, boundaries, name="lr", summary="learning_rate")


class LocalAggregationModel(ModelDesc):
    """IR or LA pretraining: embedding -> loss against the shared bank (pre-update) -> bank update op.

    Inputs are one tower's ``(image, label, index)``; ``build_graph`` returns the tower's cost and rows
    (``BankRows``), which ``launch_train`` writes, the whole global batch, into the memory and label banks once
    per global step (README decision 1).
    """

    def __init__(self, task, model_type, image_size, data_len, instance_k=4096, instance_t=0.07, num_kmeans=1,
                 weight_decay=1e-4, width=1, data_format="NHWC", bn_momentum=RELEASE_BN_MOMENTUM):
        if task not in ("IR", "LA"):
            raise ValueError("task %r: expected IR or LA" % task)
        limit = data_len if task == "LA" else None
        if instance_k < 1 or (limit is not None and instance_k > limit):
            raise ValueError("instance_k %d is outside [1, data_len=%d] (LA's background is the top-k of the bank)"
                             % (instance_k, data_len))
        backbone(model_type, bn_momentum)
        self.task, self.model_type, self.image_size, self.data_len = task, model_type, image_size, data_len
        self.instance_k, self.instance_t, self.num_kmeans = instance_k, instance_t, num_kmeans
        self.weight_decay = weight_decay
        self.width, self.data_format, self.bn_momentum = width, data_format, bn_momentum
        self.bank = self.label_bank = self.cluster_labels = None

    def inputs(self):
        size = self.image_size
        return [tf.TensorSpec([None, size, size, 3], tf.float32, "image"),
                tf.TensorSpec([None], tf.int64, "label"), tf.TensorSpec([None], tf.int64, "index")]

    def embed(self, image, is_training):
        """The L2-normalised ``[B, 128]`` embedding (and the backbone endpoints) of normalised images; in training,
        the release's weight decay on every trainable variable whose name lacks ``batch_normalization``."""
        if not is_training:
            return network_embedding(image, False, self.model_type, self.width, 0.0, self.data_format,
                                     self.bn_momentum)
        with kernel_weight_decay(self.weight_decay, release_decays(self.model_type)):
            return network_embedding(image, True, self.model_type, self.width, 0.0, self.data_format,
                                     self.bn_momentum)

    def build_graph(self, image, label, index):
        self.bank = MemoryBank("instance", self.data_len, EMBED_DIM, momentum=INSTANCE_M, seed=0)
        self.label_bank = LabelBank("instance", self.data_len)
        embedding = self.embed(image, True)["embedding"]
        if self.task == "IR":
            loss, loss_model, loss_noise = ir_objective(embedding, self.bank.var, index, self.data_len,
                                                        self.instance_k, self.instance_t)
            add_moving_summary(tf.identity(loss_model, name="loss_model"),
                               tf.identity(loss_noise, name="loss_noise"))
        else:
            self.cluster_labels = cluster_labels_variable(self.num_kmeans, self.data_len)
            loss = la_objective(embedding, self.bank.var, self.cluster_labels, index, self.instance_k,
                                self.instance_t)
        loss = tf.identity(loss, name="loss_pure")
        cost = tf.add(loss, regularization_loss(), name="total_cost")
        add_moving_summary(loss, cost)
        return BankRows(cost, self.bank, index, embedding, self.label_bank, label)

    def optimizer(self, lr):
        """Momentum 0.9 on the rate ``lr`` (``release_lr``'s, made by ``launch_train``)."""
        return tf.train.MomentumOptimizer(lr, 0.9)
