"""common.weights.tf_checkpoint: write/read round trip, a Saver restores it, coverage of a built graph."""
import os

import numpy as np
import pytest

from common.tf1 import tf
from common.weights.tf_checkpoint import check_covers_graph, read_checkpoint, write_checkpoint


def _arrays():
    rng = np.random.RandomState(1)
    return {"conv1/W": rng.randn(3, 3, 3, 4).astype(np.float32), "bn/mean/EMA": rng.randn(4).astype(np.float32),
            "global_step": np.array(17, np.int64), "fc/b": rng.randn(10).astype(np.float64)}


def test_round_trip_and_saver_restore(tmp_path):
    arrays = _arrays()
    prefix = write_checkpoint(arrays, str(tmp_path / "out" / "model"))
    back = read_checkpoint(prefix)
    assert sorted(back) == sorted(arrays)
    for name, value in arrays.items():
        assert back[name].dtype == value.dtype and back[name].shape == value.shape, name  # scalars stay 0-d
        np.testing.assert_array_equal(back[name], value)
    assert tf.train.latest_checkpoint(str(tmp_path / "out")).endswith("model")
    with tf.Graph().as_default():
        w = tf.get_variable("conv1/W", [3, 3, 3, 4])
        with tf.Session() as sess:
            tf.train.Saver([w]).restore(sess, prefix)
            np.testing.assert_array_equal(sess.run(w), arrays["conv1/W"])


def test_read_missing_checkpoint_is_one_line(tmp_path):
    with pytest.raises(ValueError, match="not a readable TF checkpoint"):
        read_checkpoint(str(tmp_path / "none"))
    with pytest.raises(ValueError, match="no variables"):
        write_checkpoint({}, str(tmp_path / "x"))
    assert not os.path.exists(str(tmp_path / "x.index"))


def test_check_covers_graph():
    arrays = _arrays()
    with tf.Graph().as_default():
        tf.get_variable("conv1/W", [3, 3, 3, 4])
        tf.get_variable("fc/b", [10])
        check_covers_graph(arrays, tf.global_variables())
        tf.get_variable("fc/W", [4, 10])
        with pytest.raises(ValueError, match="fc/W .* is not in the converted weights"):
            check_covers_graph(arrays, tf.global_variables())
    with pytest.raises(ValueError, match="bn/mean/EMA has shape \\[5\\]"):
        check_covers_graph(arrays, [("bn/mean/EMA", (5,))])
