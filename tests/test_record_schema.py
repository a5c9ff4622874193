"""common.data.schema: the one record format and decoder, against records written by hand (tf.train.Example)
and decoded independently (cv2); no other module parses records."""
import os
import re

import cv2
import numpy as np

from common.data import schema
from common.tf1 import tf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _record(image, label, index, filename):
    ok, jpeg = cv2.imencode(".jpg", image[:, :, ::-1])
    assert ok
    feature = {"images": tf.train.Feature(bytes_list=tf.train.BytesList(value=[jpeg.tobytes()])),
               "labels": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
               "index": tf.train.Feature(int64_list=tf.train.Int64List(value=[index])),
               "filename": tf.train.Feature(bytes_list=tf.train.BytesList(value=[filename.encode("utf-8")]))}
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString(), jpeg.tobytes()


def test_decoders_agree_with_the_written_fields():
    rng = np.random.RandomState(0)
    image = rng.randint(0, 256, (12, 10, 3)).astype(np.uint8)
    serialized, jpeg = _record(image, 7, 41, "n01/x.JPEG")
    fields = schema.example_fields(serialized)
    assert fields == {"images": jpeg, "labels": 7, "index": 41, "filename": "n01/x.JPEG"}
    with tf.Graph().as_default(), tf.Session() as sess:
        one = sess.run(schema.decode_record(tf.constant(serialized)))
        batch = sess.run(schema.parse_records(tf.constant([serialized, serialized])))
        some = sess.run(schema.parse_records(tf.constant(serialized), ("index", "filename")))
    reference = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1]
    assert one["image"].shape == (12, 10, 3) and one["label"] == 7 and one["index"] == 41
    assert np.abs(one["image"].astype(int) - reference).max() <= 1  # libjpeg ISLOW on both sides
    assert list(batch["index"]) == [41, 41] and list(batch["filename"]) == [b"n01/x.JPEG"] * 2
    assert some == {"index": 41, "filename": b"n01/x.JPEG"}


def test_dali_spec_has_the_schema_s_fields():
    spec = schema.dali_features()
    assert list(spec) == ["images", "labels", "index"]
    assert set(schema.FEATURES) == set(schema.FIELDS) == {"images", "labels", "index", "filename"}


def test_no_other_module_parses_records():
    parsers = re.compile(r"parse_single_example|parse_example\(|FixedLenFeature|Example\.FromString")
    found = []
    for base, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("tests", "__pycache__")]
        for name in files:
            path = os.path.join(base, name)
            if name.endswith(".py") and path != schema.__file__.replace(".pyc", ".py"):
                with open(path) as f:
                    if parsers.search(f.read()):
                        found.append(os.path.relpath(path, ROOT))
    assert found == []
