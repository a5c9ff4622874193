"""The release's kNN validation of an LA checkpoint against the bank and labels stored in it.

    python -m local_aggregation.knn_eval CHECKPOINT --image_dir IMAGENET_TFRS [--knn_k 200]

CHECKPOINT is a ``python -m zoo convert la`` directory, the release's ``checkpoint-1901710.tar`` (or its
extracted prefix; converted on the fly) or a project run's ``model-<step>``. The validation split is embedded
once, in file order, with the release's ``resnet_validate`` view; each embedding is compared with every
``instance/memory_bank`` row and the row labels ``instance/all_labels`` vote: 1-NN (the release's
``valid_perf_func``) and weighted kNN (K = ``--knn_k``, temperature ``--knn_t``). Prints both top-1 values.
"""
import tempfile

import numpy as np

from common import cli
from common.data.augment import normalize
from common.data.input import make_dataset
from common.data.records import ensure_records, read_meta
from common.tf1 import tf
from local_aggregation.flags import parse_flags
from local_aggregation.knn_monitor import knn_top1
from local_aggregation.model import network_embedding
from local_aggregation.release import project_checkpoint, release_view

__all__ = ["stored_bank", "embed_validation", "evaluate", "main"]

BANK, LABELS = "instance/memory_bank", "instance/all_labels"


def stored_bank(prefix):
    """``(bank [N, 128], labels [N])`` stored in the checkpoint ``prefix``; one-line error when absent."""
    names = dict(tf.train.list_variables(prefix))
    for name in (BANK, LABELS):
        if name not in names:
            raise ValueError("CHECKPOINT %s holds no %s: the release's kNN needs the stored bank and labels"
                             % (prefix, name))
    return tf.train.load_variable(prefix, BANK), tf.train.load_variable(prefix, LABELS)


def embed_validation(prefix, record_dir, model_type="resnet18", batch_size=64, image_size=224):
    """``(embeddings [M, 128], labels [M])`` of the whole validation split, in file order."""
    views = lambda ex: (normalize(release_view(ex["image"], image_size)), ex["label"])  # noqa: E731
    with tf.Graph().as_default():
        dataset = make_dataset(record_dir, "validation", batch_size, None, shuffle=False, repeat=False,
                               drop_remainder=False, preprocess=views)
        images, labels = tf.data.make_one_shot_iterator(dataset).get_next()
        embedding = network_embedding(images, False, model_type)["embedding"]
        saver = tf.train.Saver(tf.global_variables())
        feats, truth = [], []
        with tf.Session() as sess:
            saver.restore(sess, prefix)
            while True:
                try:
                    f, y = sess.run([embedding, labels])
                except tf.errors.OutOfRangeError:
                    break
                feats.append(f)
                truth.append(y)
    return np.concatenate(feats), np.concatenate(truth)


def evaluate(checkpoint, image_dir, knn_k=200, knn_t=0.07, model_type="resnet18", batch_size=64):
    """``{"nn1_top1", "knn_top1"}`` of ``checkpoint`` on ``image_dir``'s validation split."""
    record_dir = ensure_records(image_dir)
    num_classes = int(read_meta(record_dir)["num_classes"])
    with tempfile.TemporaryDirectory(prefix="la_knn_") as work:
        prefix = project_checkpoint(checkpoint, work, "CHECKPOINT")
        bank, bank_labels = stored_bank(prefix)
        queries, labels = embed_validation(prefix, record_dir, model_type, batch_size)
    if int(np.max(bank_labels)) >= num_classes:
        raise ValueError("CHECKPOINT %s: its bank labels reach %d, %s has %d classes"
                         % (checkpoint, int(np.max(bank_labels)), image_dir, num_classes))
    return knn_top1(bank, bank_labels, queries, labels, num_classes, knn_k, knn_t)


def main(argv=None):
    """Parse the arguments, evaluate, print ``nn1_top1 X knn_top1 Y``; bad input is one ``error:`` line."""
    args, cfg = parse_flags("knn_eval", argv)
    res = evaluate(args.checkpoint, **cfg)
    print("nn1_top1 %.4f knn_top1 %.4f" % (res["nn1_top1"], res["knn_top1"]))


if __name__ == "__main__":
    cli.run(main)
