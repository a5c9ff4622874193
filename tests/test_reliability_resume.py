"""Reliability II, training side: a damaged ``checkpoint`` file, one run per log directory, Ctrl-C, error causes.

Every case here was a finding of a hostile probe (docs/reliability.md) and failed before its fix.
"""
import fcntl
import json
import os

import numpy as np
import pytest

from common import resume, train
from common.tf1 import tf
from tests import reliability_tools as R
from tests.test_reliability import ONE, steps_in
from tests.test_train import bank_post_step, run_tiny


def tiny(logdir, epochs, **kw):
    run_tiny(logdir, ONE, 16, max_epoch=epochs, post_step=bank_post_step, experiment="resume", **kw)  # epoch = data


def name_in_checkpoint_file(logdir, name):
    (logdir / "checkpoint").write_text('model_checkpoint_path: "%s"\n' % name)


def history(logdir):
    return [s["global_step"] for s in json.load(open(str(logdir / "stats.json")))]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("reference")
    tiny(logdir, 4)
    return R.checkpoint_values(str(logdir))


@pytest.mark.parametrize("damage", ["names_missing", "deleted", "garbled"])
def test_damaged_checkpoint_file_resumes_from_newest_in_files(tmp_path, uninterrupted, damage):
    tiny(tmp_path, 2)
    if damage == "names_missing":
        name_in_checkpoint_file(tmp_path, "model-999")
    elif damage == "deleted":
        os.remove(str(tmp_path / "checkpoint"))
    else:
        (tmp_path / "checkpoint").write_text("\x00\x13 not a text proto {{")
    assert resume.latest_checkpoint(str(tmp_path)) == str(tmp_path / "model-4")
    tiny(tmp_path, 4)
    assert steps_in(str(tmp_path)) == [2, 4, 6, 8] and history(tmp_path) == [2, 4, 6, 8]
    R.assert_bit_identical(R.checkpoint_values(str(tmp_path)), uninterrupted)


def test_unreadable_newest_checkpoint_falls_back_to_an_older_one(tmp_path):
    tiny(tmp_path, 2)
    name_in_checkpoint_file(tmp_path, "model-999")
    (tmp_path / "model-4.index").write_bytes(b"garbled")
    assert resume.latest_checkpoint(str(tmp_path)) == str(tmp_path / "model-2")


@pytest.mark.parametrize("damage", ["names_missing", "garbled"])
def test_evaluation_finds_the_newest_checkpoint_past_a_damaged_checkpoint_file(tmp_path, damage):
    """The evaluation-side lookups (``resume.checkpoint_prefix``, classification's ``--checkpoint LOGDIR``) read a
    log directory as training resumes from it."""
    from classification.predictor import resolve_checkpoint
    tiny(tmp_path, 2)
    if damage == "names_missing":
        name_in_checkpoint_file(tmp_path, "model-999")
    else:
        (tmp_path / "checkpoint").write_text("\x00\x13 not a text proto {{")
    assert tf.train.latest_checkpoint(str(tmp_path)) in (None, str(tmp_path / "model-999"))  # TF's own lookup fails
    assert resume.checkpoint_prefix(str(tmp_path), "--resume") == str(tmp_path / "model-4")
    assert resolve_checkpoint(str(tmp_path)) == str(tmp_path / "model-4")


def test_counting_phase_2_reads_phase_1_past_a_damaged_checkpoint_file(tmp_path):
    from counting.conv_restore import counting_checkpoint
    tiny(tmp_path, 2)
    name_in_checkpoint_file(tmp_path, "model-999")
    assert counting_checkpoint(str(tmp_path)) == str(tmp_path / "model-4")
    for name in os.listdir(str(tmp_path)):
        if name.startswith("model-"):
            os.remove(str(tmp_path / name))
    with pytest.raises(ValueError, match="^--cnt_exp_name %s: .*model-999, which is missing or unreadable and no "
                                         "readable model-<step> checkpoint is there$" % tmp_path):
        counting_checkpoint(str(tmp_path))


def test_checkpoint_file_naming_missing_one_without_any_checkpoint_stops(tmp_path):
    tiny(tmp_path, 1)
    for name in os.listdir(str(tmp_path)):
        if name.startswith("model-"):
            os.remove(str(tmp_path / name))
    name_in_checkpoint_file(tmp_path, "model-999")
    before = sorted(os.listdir(str(tmp_path)))
    with pytest.raises(ValueError, match="^--logdir %s: .*checkpoint names model-999, which is missing.*refusing to "
                                         "start over" % tmp_path) as e:
        tiny(tmp_path, 2)
    assert "\n" not in str(e.value) and sorted(os.listdir(str(tmp_path))) == before


def test_a_second_run_on_the_same_logdir_is_refused(tmp_path):
    tiny(tmp_path, 1)
    tmp_path.joinpath(resume.LOCK_FILE).touch()
    with open(str(tmp_path / resume.LOCK_FILE)) as held:  # another run holds the directory
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(ValueError, match="^--logdir %s is in use by another run" % tmp_path):
            tiny(tmp_path, 2)
    assert steps_in(str(tmp_path)) == [2]
    tiny(tmp_path, 2)  # released (as by a killed run): the next one goes on
    assert steps_in(str(tmp_path)) == [2, 4]


def test_lr_nan_on_a_fresh_logdir_does_not_blame_a_checkpoint(tmp_path):
    from common.schedules import LearningRate
    with pytest.raises(FloatingPointError) as e:
        run_tiny(tmp_path, ONE, 4, max_epoch=1, lr_schedule=LearningRate(np.nan))  # the rate starts NaN
    message = str(e.value)
    assert "learning_rate" in message and "initial state" in message
    assert "restored" not in message and "checkpoint" not in message and "\n" not in message


def garble(path):
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2: len(data) // 2 + 16] = bytes(16 * [0x5a])
    open(path, "wb").write(bytes(data))


@pytest.mark.parametrize("damage,cause", [("garble", "Checksum does not match"), ("delete", "model-2.data")])
def test_damaged_checkpoint_at_resume_names_it_and_the_cause(tmp_path, damage, cause):
    tiny(tmp_path, 1)
    data = str(tmp_path / "model-2.data-00000-of-00001")
    garble(data) if damage == "garble" else os.remove(data)
    with pytest.raises(ValueError) as e:
        tiny(tmp_path, 2)
    message = str(e.value)
    assert message.startswith("cannot restore checkpoint %s (" % (tmp_path / "model-2")) and "\n" not in message
    assert cause in message and "Graph execution error" not in message


def test_full_disk_during_a_save_is_named(tmp_path, monkeypatch):
    from common.callbacks import CheckpointSaveError

    def full(self, sess, path, **kw):
        raise tf.errors.DataLossError(None, None, "Graph execution error:\n\nDetected at node 'save/SaveV2'\n"
                                      "Node: 'save/SaveV2'\n%s_temp/part-00000-of-00001.data-00000-of-00001: "
                                      "No space left on device\n\t [[{{node save/SaveV2}}]]" % path)
    monkeypatch.setattr(tf.train.Saver, "save", full)
    with pytest.raises(CheckpointSaveError, match="cannot save checkpoint model-2 in .*: .*model_temp/part-00000.*"
                                                  ": No space left on device \\(retried once\\)"):
        tiny(tmp_path, 1)


def test_garbled_validation_shard_is_named(toy_record_dir, tmp_path):
    import shutil
    from common.data.augment import AugmentConfig
    from common.data.input import make_dataset
    from common.data.records import list_shards
    from tensorpack import Callback
    from tests.test_train_readers import MeanPixelClassifier
    out = str(tmp_path / "rec")
    shutil.copytree(toy_record_dir, out)
    shard = list_shards(out, "validation")[0]
    garble(shard)

    class ReadValidation(Callback):  # a kNN monitor's read of the validation split, in one callback
        def _setup_graph(self):
            self.records = tf.data.make_one_shot_iterator(tf.data.TFRecordDataset([shard])).get_next()

        def _trigger_epoch(self):
            while True:
                self.trainer.sess.run(self.records)

    with pytest.raises(ValueError, match="^TFRecord shard %s is corrupt" % shard):
        with tf.Graph().as_default():
            ds = make_dataset(out, "train", 8, AugmentConfig(size=32, crop="resize", normalize=False), reader="tfdata",
                              seed=0)
            train.launch_train(MeanPixelClassifier(), ds, str(tmp_path / "log"), 2, 1, ONE,
                               callbacks=[ReadValidation()])


def test_ctrl_c_is_one_line_saying_where_the_run_resumes(tmp_path):
    from tests.test_reliability import SCRIPT
    cmd = R.python(SCRIPT, "train", "--logdir", str(tmp_path))
    line = R.run_interrupted(cmd, env=R.kill_switch_env("tensorpack.train.base:Trainer.run_step", 4, sig="INT"))
    assert line == "interrupted; the same command resumes from %s" % (tmp_path / "model-2")


@pytest.mark.slow
def test_instance_disc_relaunched_on_a_damaged_checkpoint_file_resumes(toy_record_dir, tmp_path):
    from instance_disc import main
    from tests.test_instance_disc_cli import RELEASE, TINY
    logdir = tmp_path / "run"
    argv = [toy_record_dir, "--logdir", str(logdir)] + RELEASE[:-1]
    main.main(argv + ["2"] + TINY)
    name_in_checkpoint_file(logdir, "model-999")  # the probe's edit
    kept = {s: os.stat(str(logdir / ("model-%d.index" % s))).st_mtime_ns for s in (1, 2)}
    main.main(argv + ["3"] + TINY)
    assert steps_in(str(logdir)) == [1, 2, 3] and history(logdir) == [1, 2, 3]
    assert {s: os.stat(str(logdir / ("model-%d.index" % s))).st_mtime_ns for s in (1, 2)} == kept  # not redone


def test_a_file_system_without_locks_warns_and_goes_on(tmp_path, monkeypatch):
    def no_locks(handle, flags):
        raise OSError(37, "No locks available")
    monkeypatch.setattr(fcntl, "flock", no_locks)
    tiny(tmp_path, 1)  # a network mount that refuses flock: the run goes on, unlocked
    assert steps_in(str(tmp_path)) == [2]
