"""Writing one split as TFRecord shards: decode check, seeded shuffle, contiguous indices, parallel atomic shards.

``build_split`` writes one split of a build; ``common.data.build.build_record_dir`` runs it for every split
(ImageNet folders, Places205 CSV lists, mini-ImageNet lists).
"""
import math
import multiprocessing
import os

import numpy as np

from common.data.image_files import OK, REENCODE, check_image, jpeg_bytes
from common.data.schema import INDEX_DIR, index_path, write_index
from common.tf1 import tf

LAYOUTS = ("imagenet", "places")
SPAWN_MIN_IMAGES = 2000
FORK = "fork"  # below this, worker processes cost more than they save


def encode_example(image_bytes, label, index, filename):
    """Serialized ``tf.train.Example`` with the project's features (images, labels, index, filename)."""
    def _bytes(v):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[v]))

    def _int(v):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v)]))

    feature = {"images": _bytes(image_bytes), "labels": _int(label), "index": _int(index),
               "filename": _bytes(filename.encode("utf-8"))}
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def shard_plan(count, num_shards, split, layout="imagenet"):
    """``[(shard name, start, stop)]``: consecutive chunks of ``count`` images.

    imagenet: ceil(count / num_shards) per shard, names ``<split>-%05d-of-%05d``;
    places: floor(count / num_shards) per file plus a remainder file, names ``<split>-%05d-%05d`` (the Local Aggregation release's ``build_tfrs_places.py``).
    """
    if layout not in LAYOUTS:
        raise ValueError("unknown shard layout %r: expected one of %s" % (layout, ", ".join(LAYOUTS)))
    if num_shards < 1:
        raise ValueError("number of shards must be >= 1, got %d" % num_shards)
    per = math.ceil(count / num_shards) if layout == "imagenet" else max(1, count // num_shards)
    starts = list(range(0, count, per))
    if layout == "imagenet":
        names = ["%s-%05d-of-%05d" % (split, i, len(starts)) for i in range(len(starts))]
    else:
        names = ["%s-%05d-%05d" % (split, i, num_shards) for i in range(len(starts))]
    return [(name, s, min(s + per, count)) for name, s in zip(names, starts)]


def _write_shard(job):
    """Write one shard to a hidden temporary name, its DALI index, then rename; skip a finished shard."""
    final, records = job
    idx = index_path(final)
    if os.path.exists(final):
        if not os.path.exists(idx):
            write_index(final, idx)
        return False
    folder, name = os.path.split(final)
    tmp, idx_tmp = os.path.join(folder, "." + name + ".tmp"), idx + ".tmp"
    with tf.io.TFRecordWriter(tmp) as writer:
        for path, label, index, filename, status in records:
            writer.write(encode_example(jpeg_bytes(path, status == REENCODE), label, index, filename))
    write_index(tmp, idx_tmp)
    os.replace(idx_tmp, idx)
    os.replace(tmp, final)
    return True


def build_split(entries, save_dir, split, num_shards, seed=None, workers=None, layout="imagenet", log=print):
    """Write ``entries`` = ``[(path, label, filename)]`` as ``split`` shards in ``save_dir``; return a summary dict.

    Undecodable files are skipped (logged, counted); the kept list is permuted with
    ``np.random.RandomState(seed)`` when ``seed`` is not None; ``index`` is the position in that list.
    """
    if workers is None:
        workers = os.cpu_count() if len(entries) >= SPAWN_MIN_IMAGES else 1
    os.makedirs(os.path.join(save_dir, INDEX_DIR), exist_ok=True)
    # fork: workers inherit the loaded modules (a spawned one re-imports TensorFlow); they run no TF session
    pool = multiprocessing.get_context(FORK if FORK in multiprocessing.get_all_start_methods() else "spawn") \
        .Pool(workers) if workers > 1 else None
    mapper = (lambda fn, items: pool.map(fn, items, chunksize=max(1, len(items) // (8 * workers)))) \
        if pool else (lambda fn, items: list(map(fn, items)))
    try:
        statuses = mapper(check_image, [e[0] for e in entries])
        kept = [e + (s,) for e, s in zip(entries, statuses) if s in (OK, REENCODE)]
        skipped = [(e[0], s) for e, s in zip(entries, statuses) if s not in (OK, REENCODE)]
        for path, why in skipped:
            log("skipped %s (%s)" % (path, why))
        if not kept:
            raise ValueError("no decodable images for split %s (%d files skipped)" % (split, len(skipped)))
        if seed is not None:
            kept = [kept[i] for i in np.random.RandomState(seed).permutation(len(kept))]
        plan = shard_plan(len(kept), num_shards, split, layout)
        jobs = [(os.path.join(save_dir, name), [(p, lab, start + k, fn, st) for k, (p, lab, fn, st)
                                               in enumerate(kept[start:stop])]) for name, start, stop in plan]
        written = sum(mapper(_write_shard, jobs))
    finally:
        if pool:
            pool.close()
            pool.join()
    reencoded = sum(1 for e in kept if e[3] == REENCODE)
    log("%s: %d images in %d shards (%d written, %d already complete); %d undecodable skipped, %d re-encoded"
        % (split, len(kept), len(plan), written, len(plan) - written, len(skipped), reencoded))
    return {"count": len(kept), "shards": len(plan), "names": [name for name, _, _ in plan], "written": written,
            "skipped": [p for p, _ in skipped], "reencoded": reencoded}
