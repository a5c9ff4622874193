"""Reliability suite: kill -9 and exact resume, divergence, failed saves, stale files, changed or damaged records.

Small version (CI, about a minute on 2 cores); ``RELIABILITY_LONG=1`` adds more kill points (random steps,
checkpoint writes, record writes). Also runnable as the job the kill cases start:
``python tests/test_reliability.py train --logdir D`` or ``... build <build_tfrs.py flags>``.
"""
import glob
import json
import os
import random
import shutil
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from common import schedules, train  # noqa: E402
from common.callbacks import CheckpointSaveError  # noqa: E402
from common.data.records import list_shards, read_meta  # noqa: E402
from common.tf1 import tf  # noqa: E402
from dataset_miscs.build_tfrs import build_tfrecords  # noqa: E402
from tests import reliability_tools as R  # noqa: E402
from tests.test_build_tfrs import _small_folder, read_records  # noqa: E402
from tests.test_train import LR0, N, TinyRegression, bank_post_step, run_tiny, toy_dataset  # noqa: E402

ONE = train.Towers([0], on_cpu=True)
KILLS = 6 if R.long_run() else 1
SCRIPT = os.path.abspath(__file__)


def ema_post_step(bad_row):
    """A moving statistic of the batch (like BatchNorm's) that becomes inf at ``bad_row``; the loss stays finite."""
    def post_step(trainer):
        idx = train.gather_from_towers(trainer, "bank_index")
        values = np.ones(N, np.float32)
        values[bad_row] = np.inf
        with tf.variable_scope(tf.VariableScope(tf.AUTO_REUSE, name="stats")):
            ema = tf.get_variable("moving_mean", [], tf.float32, tf.zeros_initializer(), trainable=False)
        return tf.assign(ema, 0.9 * ema + 0.1 * tf.reduce_mean(tf.gather(tf.constant(values), idx))).op
    return post_step


def steps_in(logdir):
    return sorted(int(p.rsplit("-", 1)[1].split(".")[0]) for p in glob.glob(os.path.join(logdir, "model-*.index")))


# ---------------------------------------------------------------- divergence


def test_state_divergence_with_finite_loss_is_never_saved(tmp_path):
    # batch 4, 2 steps/epoch: step 3 reads rows 8..11; row 9 makes the moving statistic inf, the loss stays finite
    with pytest.raises(FloatingPointError) as e:
        run_tiny(tmp_path, ONE, 4, max_epoch=3, post_step=ema_post_step(9), max_to_keep=1)
    message = str(e.value)
    assert "\n" not in message and "stats/moving_mean" in message and "global step 4" in message
    assert "last finite checkpoint %s" % (tmp_path / "model-2") in message
    assert steps_in(str(tmp_path)) == [2]  # max_to_keep=1 did not rotate out the last finite checkpoint
    assert all(np.all(np.isfinite(v)) for v in R.checkpoint_values(str(tmp_path)).values())


def test_divergence_before_any_checkpoint_says_so(tmp_path):
    with pytest.raises(FloatingPointError, match="no finite checkpoint was written in") as e:
        run_tiny(tmp_path, ONE, 4, max_epoch=2, nan_rows=[1])
    assert "None" not in str(e.value) and steps_in(str(tmp_path)) == []


def test_restored_non_finite_state_is_refused(tmp_path):
    run_tiny(tmp_path, ONE, 4, max_epoch=1)
    with tf.Graph().as_default():  # poison the newest checkpoint, as an older release could have saved it
        w = tf.get_variable("W", initializer=np.full((3, 1), np.nan, np.float32))
        with tf.Session() as sess:
            sess.run(w.initializer)
            path = tf.train.latest_checkpoint(str(tmp_path))
            names = [n for n, _ in tf.train.list_variables(path) if n != "W"]
            reader = tf.train.load_checkpoint(path)
            others = [tf.Variable(reader.get_tensor(n), name=n) for n in names]
            sess.run([v.initializer for v in others])
            tf.train.Saver([w] + others).save(sess, path, write_meta_graph=False, write_state=False)
    with pytest.raises(FloatingPointError, match="restored state holds NaN/inf \\(W\\)"):
        run_tiny(tmp_path, ONE, 4, max_epoch=2)


# ---------------------------------------------------------------- checkpoint files


def test_failed_save_is_retried_once_then_stops_the_run(tmp_path, monkeypatch):
    real, failures = tf.train.Saver.save, []

    def flaky(limit):
        def save(self, sess, path, global_step=None, **kw):
            if global_step >= 4 and len(failures) < limit:
                failures.append(global_step)
                raise tf.errors.PermissionDeniedError(None, None, "%s: Permission denied" % path)
            return real(self, sess, path, global_step=global_step, **kw)
        return save

    monkeypatch.setattr(tf.train.Saver, "save", flaky(1))
    run_tiny(tmp_path / "once", ONE, 4, max_epoch=3)  # one failure: the retry saves
    assert steps_in(str(tmp_path / "once")) == [2, 4, 6] and failures == [4]
    monkeypatch.setattr(tf.train.Saver, "save", flaky(3))
    with pytest.raises(CheckpointSaveError, match="cannot save checkpoint model-4 in .*Permission denied.*retried"):
        run_tiny(tmp_path / "twice", ONE, 4, max_epoch=3)
    assert steps_in(str(tmp_path / "twice")) == [2] and failures == [4, 4, 4]


def test_keep_limit_holds_across_resumes_and_stale_temporaries_go(tmp_path):
    for epochs in (2, 3, 4):
        if epochs == 4:
            for name in ("model-7.data-00000-of-00001.tempstate1234", "checkpoint.tmp5678", "model-99.index"):
                (tmp_path / name).write_text("killed write")
        run_tiny(tmp_path, ONE, 4, max_epoch=epochs, max_to_keep=2)
    assert steps_in(str(tmp_path)) == [6, 8]
    assert not glob.glob(str(tmp_path / "*tempstate*")) and not glob.glob(str(tmp_path / "checkpoint.tmp*"))
    state = tf.train.get_checkpoint_state(str(tmp_path))
    assert [os.path.basename(p) for p in state.all_model_checkpoint_paths] == ["model-6", "model-8"]


def test_stats_history_stays_one_file_when_epoch_numbering_changes(tmp_path):
    run_tiny(tmp_path, ONE, 4, max_epoch=2, steps_per_epoch=2)  # global steps 2, 4 as epochs 1, 2
    run_tiny(tmp_path, ONE, 4, max_epoch=6, steps_per_epoch=1)  # resumes at step 4 as epoch 5
    stats = json.load(open(str(tmp_path / "stats.json")))
    assert [s["global_step"] for s in stats] == [2, 4, 5, 6]
    assert [os.path.basename(p) for p in glob.glob(str(tmp_path / "stats.json*"))] == ["stats.json"]


def test_unwritable_logdir_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("keep")
    with pytest.raises(ValueError, match="^cannot write to --logdir %s: Not a directory$" % (blocker / "run")):
        run_tiny(blocker / "run", ONE, 4, max_epoch=1)
    assert blocker.read_text() == "keep"


@pytest.mark.slow
def test_script_reports_unwritable_logdir_in_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("keep")
    line = R.run_failing(R.python(SCRIPT, "train", "--logdir", str(blocker / "run")))
    assert line == "error: cannot write to --logdir %s: Not a directory" % (blocker / "run")


# ---------------------------------------------------------------- kill -9 and exact resume


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    """Variables of the uninterrupted driver job (4 epochs x 2 steps)."""
    logdir = str(tmp_path_factory.mktemp("reference"))
    train_job(logdir)
    return R.checkpoint_values(logdir)


def kill_points():
    """Distinct seeded kill points: before steps 2..8 (killed mid-epoch or at its end), in the 1st..4th save."""
    rng = random.Random(18)
    points = [("tensorpack.train.base:Trainer.run_step", k) for k in rng.sample(range(2, 9), KILLS)]
    return points + [("common.tf1:tf.train.update_checkpoint_state", k) for k in rng.sample(range(1, 5), min(KILLS, 4))]


@pytest.mark.slow
@pytest.mark.parametrize("target,k", kill_points())
def test_training_killed_resumes_bit_identical(tmp_path, reference_run, target, k):
    cmd = R.python(SCRIPT, "train", "--logdir", str(tmp_path))
    R.run_killed(cmd, env=R.kill_switch_env(target, k))
    R.run_ok(cmd)
    R.assert_bit_identical(R.checkpoint_values(str(tmp_path)), reference_run)
    # a kill inside the first save leaves model-2 without a checkpoint file: resumed from it, epoch 1's line is lost
    first_save = target.endswith("update_checkpoint_state") and k == 1
    want = [4, 6, 8] if first_save else [2, 4, 6, 8]
    assert [s["global_step"] for s in json.load(open(str(tmp_path / "stats.json")))][-len(want):] == want


def build_cmd(folder, out):
    return R.python(SCRIPT, "build", "--img_folder", folder, "--save_dir", out, "--train_shards", "3",
                    "--val_shards", "2", "--workers", "1")


@pytest.mark.slow
@pytest.mark.parametrize("k", random.Random(18).sample(range(1, 17), KILLS))
def test_build_killed_mid_shard_resumes_identical(toy_image_dir, tmp_path, k):
    folder = _small_folder(toy_image_dir, str(tmp_path / "img"), per_class=4)
    build_tfrecords(folder, str(tmp_path / "clean"), train_shards=3, val_shards=2, workers=1, log=lambda m: None)
    out = str(tmp_path / "rec")
    R.run_killed(build_cmd(folder, out), env=R.kill_switch_env("common.data.writer:encode_example", k))
    R.run_ok(build_cmd(folder, out))
    for split in ("train", "validation"):
        assert read_records(out, split) == [r[:4] + (r[4].replace("clean", "rec"),)
                                            for r in read_records(str(tmp_path / "clean"), split)]
    assert read_meta(out)["splits"] == read_meta(str(tmp_path / "clean"))["splits"]


# ---------------------------------------------------------------- records that no longer match


def check_consistent(out, folder):
    """The record dir holds exactly the folder's images, once each, with indices 0..n-1 and meta.json's count."""
    for split, sub in (("train", "train"), ("validation", "val")):
        recs = read_records(out, split)
        root = os.path.join(folder, sub)
        files = sorted(os.path.relpath(p, root) for p in glob.glob(os.path.join(root, "*", "*")))
        assert sorted(r[3] for r in recs) == files
        assert sorted(r[2] for r in recs) == list(range(len(files))) == list(range(read_meta(out)["splits"][split]))


@pytest.mark.parametrize("change", ["add", "remove", "add_after_kill"])
def test_changed_folder_rebuilds_without_mixing(toy_image_dir, tmp_path, change):
    folder = _small_folder(toy_image_dir, str(tmp_path / "img"), per_class=4)
    out = str(tmp_path / "rec")
    cls = os.path.join(folder, "train", "n00000000")
    if change == "add_after_kill":
        R.run_killed(build_cmd(folder, out), env=R.kill_switch_env("common.data.writer:encode_example", 3))
    else:
        build_tfrecords(folder, out, train_shards=3, val_shards=2, workers=1, log=lambda m: None)
    if change == "remove":
        os.remove(os.path.join(cls, sorted(os.listdir(cls))[0]))
    else:
        shutil.copy(os.path.join(cls, sorted(os.listdir(cls))[0]), os.path.join(cls, "zz_added.JPEG"))
    build_tfrecords(folder, out, train_shards=3, val_shards=2, workers=1, log=lambda m: None)
    check_consistent(out, folder)
    assert not os.path.exists(out + ".building") and not os.path.exists(out + ".old")


def test_readers_refuse_records_that_disagree_with_meta(toy_record_dir, tmp_path):
    out = str(tmp_path / "rec")
    shutil.copytree(toy_record_dir, out)
    shard = list_shards(out, "train")[1]
    stray = os.path.join(out, "train-00009-of-00010")
    shutil.copy(shard, stray)
    with pytest.raises(ValueError, match="^record dir %s: train shards disagree with meta.json \\(not listed there: "
                                         "train-00009-of-00010; missing: none\\)" % out):
        list_shards(out, "train")
    os.remove(stray)
    meta = read_meta(out)
    meta["splits"]["train"] += 1  # e.g. one image added, its shards not rebuilt
    json.dump(meta, open(os.path.join(out, "meta.json"), "w"))
    with pytest.raises(ValueError, match="^record dir %s: the train shards hold 160 records, meta.json says 161" % out):
        list_shards(out, "train")


@pytest.mark.parametrize("damage", ["truncate", "garble"])
def test_damaged_shard_is_one_line_naming_it(toy_record_dir, tmp_path, damage):
    from common.data.augment import AugmentConfig
    from common.data.input import make_dataset
    from tests.test_train_readers import MeanPixelClassifier
    out = str(tmp_path / "rec")
    shutil.copytree(toy_record_dir, out)
    shard = list_shards(out, "train")[0]
    data = bytearray(open(shard, "rb").read())
    if damage == "truncate":
        data = data[:len(data) // 2]
    else:
        data[len(data) // 2: len(data) // 2 + 64] = b"\x00" * 64  # same size: only the checksums notice
    open(shard, "wb").write(bytes(data))
    with pytest.raises(ValueError, match="TFRecord shard %s is" % shard) as e:
        with tf.Graph().as_default():
            ds = make_dataset(out, "train", 8, AugmentConfig(size=32, crop="resize", normalize=False), reader="tfdata",
                              seed=0)
            train.launch_train(MeanPixelClassifier(), ds, str(tmp_path / "log"), 20, 1, ONE)
    assert "\n" not in str(e.value)


def train_job(logdir):
    """The tiny bank job of the kill cases: 4 epochs x 2 steps of 16 rows (an epoch is the whole data set)."""
    with tf.Graph().as_default():
        train.launch_train(TinyRegression(), toy_dataset(16), logdir, 2, 4, ONE, post_step=bank_post_step,
                           lr_schedule=schedules.LearningRate(LR0), experiment="reliability", max_to_keep=3)


def main(argv):
    """The jobs the kill cases start: ``train --logdir D`` (the tiny bank job) or ``build <flags>``."""
    if argv[0] == "build":
        from dataset_miscs.build_tfrs import main as build_main
        return build_main(argv[1:])
    train_job(argv[argv.index("--logdir") + 1])
    return 0


if __name__ == "__main__":
    from common import cli
    R.install_kill_switch()
    cli.run(main, sys.argv[1:])
