"""Draw a few validation images and their top-10 training neighbours (by the memory bank) as one PNG grid.

    python instance_disc/show_neighbors.py DATA --resume CKPT [--num-queries 6] [--top 10] [--out neighbors.png]

Neighbours of the query's class are framed green, others red; captions give class names and similarity.
"""
import numpy as np

from common import cli
from common.data.records import ensure_records, list_shards, read_meta
from common.data.schema import parse_records
from common.tf1 import tf
from instance_disc.evaluation import restored_features
from instance_disc.flags import checkpoint_bank_size, parse_flags, record_input
from instance_disc.inputs import record_data
from instance_disc.model import InstanceDiscModel
from instance_disc.neighbor_grid import draw_neighbor_grid, top_neighbors
from instance_disc.runner import one_line_errors

__all__ = ["read_images", "show_neighbors", "run", "main"]


def read_images(record_dir, split, indices, size):
    """``{index: uint8 [size, size, 3] image}`` for the records of ``split`` whose ``index`` is in ``indices``."""
    wanted = set(int(i) for i in indices)
    found = {}
    with tf.Graph().as_default(), tf.Session() as sess:
        dataset = tf.data.TFRecordDataset(list_shards(record_dir, split))
        dataset = dataset.map(parse_records).batch(256)
        batch = tf.data.make_one_shot_iterator(dataset).get_next()
        encoded = tf.placeholder(tf.string, [])
        image = tf.cast(tf.image.resize_images(tf.image.decode_jpeg(encoded, channels=3), [size, size]), tf.uint8)
        while len(found) < len(wanted):
            try:
                records = sess.run(batch)
            except tf.errors.OutOfRangeError:
                break
            for data, index in zip(records["images"], records["index"]):
                if int(index) in wanted:
                    found[int(index)] = sess.run(image, {encoded: data})
    missing = sorted(wanted - set(found))
    if missing:
        raise ValueError("%s: no %s record with index %d" % (record_dir, split, missing[0]))
    return found


def show_neighbors(cfg, record_dir, checkpoint, out, num_queries=6, top=10, seed=0, size=96):
    """Write the neighbour grid PNG to ``out``; returns the fraction of neighbours of the query's class."""
    meta = read_meta(record_dir)
    data = record_data(record_dir, meta, record_input(cfg))
    model = InstanceDiscModel(cfg, data.n_train, cfg["image_size"])
    feats, labels, indices = restored_features(model, checkpoint, data.val)
    reader = tf.train.load_checkpoint(checkpoint)
    bank, bank_labels = reader.get_tensor("instance/memory_bank"), reader.get_tensor("instance/all_labels")
    queries = np.random.RandomState(seed).choice(len(feats), min(num_queries, len(feats)), replace=False)
    nbr_idx, sims = top_neighbors(bank, feats[queries], k=top)
    val_images = read_images(record_dir, "validation", indices[queries], size)
    train_images = read_images(record_dir, "train", np.unique(nbr_idx), size)
    names = meta.get("class_names") or [str(c) for c in range(data.num_classes)]
    draw_neighbor_grid(out, np.stack([val_images[int(i)] for i in indices[queries]]), labels[queries],
                       np.stack([[train_images[int(i)] for i in row] for row in nbr_idx]), bank_labels[nbr_idx],
                       names, sims=sims)
    return float(np.mean(bank_labels[nbr_idx] == labels[queries][:, None]))


def run(args, cfg):
    """Draw the grid of the command line's checkpoint; returns the fraction of neighbours of the query's class."""
    checkpoint, _ = checkpoint_bank_size(args.resume)
    return show_neighbors(cfg, ensure_records(args.data), checkpoint, args.out, args.num_queries, args.top,
                          0 if args.seed is None else args.seed)  # --seed (common.cli): the query choice


def main(argv=None):
    """Draw the grid as ``argv`` says and print where it went. Bad input raises a one-line ``ValueError``."""
    args, cfg = parse_flags("show_neighbors", argv)
    precision = one_line_errors(run, args, cfg)
    print("wrote %s (%.1f%% of the neighbours share the query's class)" % (args.out, 100 * precision))


if __name__ == "__main__":
    cli.run(main)
