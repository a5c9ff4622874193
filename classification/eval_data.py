"""Evaluation images straight from the project's TFRecords, decoded with OpenCV (no TF session needed).

``RecordImages`` is a TensorPack DataFlow of ``[rgb uint8 image, label, index]``; ``validation_flow`` turns it
into normalised centre-crop batches ``[image, label, index]`` for the validation callbacks during training. The
geometry and statistics come as a ``classification.recipe.EvalView``.
"""
import concurrent.futures
import functools
import multiprocessing

import cv2
import numpy as np
from tensorpack.dataflow import BatchData, DataFlow, MapData, MultiThreadMapData

from classification.crops import normalize, test_views
from classification.seam_carving import mirrored_seam_view
from common.data.records import list_shards, read_meta
from common.data.schema import example_fields
from common.tf1 import tf


def decode_rgb(encoded, what="image"):
    """Encoded image bytes -> HxWx3 uint8 RGB; ValueError naming ``what`` if it is not an image."""
    image = cv2.imdecode(np.frombuffer(encoded, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("%s is not a readable image" % what)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


class RecordImages(DataFlow):
    """``[image, label, index]`` of every record of ``split`` in stored order (image: RGB uint8)."""

    def __init__(self, record_dir, split, limit=None):
        self.files = list_shards(record_dir, split)
        count = read_meta(record_dir)["splits"][split]
        self.count = count if limit is None else min(count, limit)

    def __len__(self):
        return self.count

    def __iter__(self):
        seen = 0
        for path in self.files:
            for serialized in tf.python_io.tf_record_iterator(path):
                if seen == self.count:
                    return
                rec = example_fields(serialized)
                yield [decode_rgb(rec["images"], "%s record %s" % (path, rec["filename"])), rec["labels"], rec["index"]]
                seen += 1


def image_views(image, view, crops, seam_carve=False):
    """uint8 views ``[crops (+1 with seam_carve), S, S, 3]`` of one RGB image with the geometry of ``view`` (an
    ``EvalView``)."""
    size = view.image_size
    extra = (lambda resized: mirrored_seam_view(resized, size)) if seam_carve else None
    return test_views(image, size, view.resize_shorter, crops, view.interpolation, view.size_rounding, extra)


def _datapoint_views(dp, view, crops, seam_carve):
    return [image_views(dp[0], view, crops, seam_carve)] + dp[1:]


def eval_view_fn(view, crops, seam_carve=False):
    """``[image, label, index] -> [views, label, index]`` (see ``image_views``); picklable, for process pools."""
    return functools.partial(_datapoint_views, view=view, crops=crops, seam_carve=seam_carve)


def view_workers(count, seam_carve=False):
    """An executor of ``count`` workers for ``eval_view_fn``: processes with ``seam_carve`` (the carving's numpy
    row loops hold the GIL, ``python -m classification.bench_seam``), threads otherwise (OpenCV releases it)."""
    if seam_carve and count > 1:
        return concurrent.futures.ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("spawn"))
    return concurrent.futures.ThreadPoolExecutor(max(count, 1))


def validation_flow(record_dir, view, batch_size, threads=2, limit=None):
    """Centre-crop batches ``[float32 [B, S, S, 3], int64 [B], int64 [B]]`` (last batch smaller), normalised with
    ``view``'s mean and std."""
    views = eval_view_fn(view, 1)

    def one(dp):
        dp = views(dp)
        return [normalize(dp[0][0], view.mean, view.std), np.int64(dp[1]), np.int64(dp[2])]

    images = RecordImages(record_dir, "validation", limit)
    flow = MultiThreadMapData(images, threads, one, strict=True) if threads > 1 else MapData(images, one)
    return BatchData(flow, batch_size, remainder=True)
