"""Pieces shared by the two patch tasks (relative patch location, jigsaw): per-patch embeddings, the
interleaved concatenation of patch embeddings in a given order, and the release's ``fully_connected`` head."""
from common.tf1 import tf


def patch_embeddings(data, is_training, net, embed_dim):
    """``data["image"]`` [B, P, h, w, 3] -> per-patch embeddings [B, P, embed_dim] from the trunk's logits layer."""
    patches = data["image"]
    if patches.shape.ndims != 5:
        raise ValueError("patch tasks need images of shape [B, patches, h, w, 3] (use 'crop_patches'), got %s"
                         % patches.shape)
    num_patches = patches.shape.as_list()[1]
    flat = tf.reshape(patches, [-1] + patches.shape.as_list()[2:])
    embeddings = tf.reshape(net(flat, is_training, num_classes=embed_dim)["logits"], [-1, embed_dim])
    return tf.reshape(embeddings, [-1, num_patches, embed_dim])


def permute_and_concat(embeddings, perms):
    """[B, P, C] embeddings and [M, K] patch orders -> [B*M, 1, 1, K*C] features (image-major rows).

    Row b*M + m holds the patches ``perms[m]`` of image b, interleaved: channel c*K + k is channel c of the
    k-th patch of the order (the release's layout).
    """
    gathered = tf.gather(embeddings, perms, axis=1)  # [B, M, K, C]
    interleaved = tf.transpose(gathered, [0, 1, 3, 2])  # [B, M, C, K]
    length, channels = perms.shape.as_list()[1], embeddings.shape.as_list()[2]
    return tf.reshape(interleaved, [-1, 1, 1, channels * length])


def _l2(scale):
    return lambda w: scale * tf.nn.l2_loss(w)


def fully_connected(features, num_classes, is_training, hidden=4096, weight_decay=5e-4):
    """The release's "AlexNet fc7-fc8" head: conv(hidden) + BN + ReLU + dropout(0.5) -> conv(num_classes).

    ``features`` [N, h, w, D]; the first conv spans the whole h x w; returns logits [N, num_classes].
    """
    init = tf.truncated_normal_initializer(stddev=0.005)
    kernel = features.shape.as_list()[1:3]
    with tf.variable_scope("head", reuse=tf.AUTO_REUSE):
        net = tf.layers.conv2d(features, hidden, kernel, kernel_initializer=init,
                               bias_initializer=tf.constant_initializer(0.1),
                               kernel_regularizer=_l2(weight_decay), name="fc7")
        net = tf.layers.batch_normalization(net, momentum=0.997, epsilon=1e-5, training=is_training,
                                            fused=True, name="fc7_bn")
        net = tf.nn.relu(net)
        net = tf.layers.dropout(net, rate=0.5, training=is_training)
        net = tf.layers.conv2d(net, num_classes, 1, kernel_initializer=init,
                               kernel_regularizer=_l2(weight_decay), name="fc8")
    return tf.reshape(net, [-1, num_classes])

