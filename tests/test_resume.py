"""Resume bookkeeping (common/resume.py): checkpoint steps, the experiment record and its first difference."""
import pytest

from common import resume, train


def test_first_difference_names_the_key_however_long_the_experiment():
    stored = dict({"k%03d" % i: i for i in range(300)}, zeta={"a": 1, "b": [1, 2]})
    current = dict(stored, zeta={"a": 1, "b": [1, 3]})
    assert resume.first_difference(stored, current) == "zeta.b: [1, 2] in experiment.json, [1, 3] here"
    assert resume.first_difference({"a": 1}, {"a": 1, "c": "x"}) == 'c: absent in experiment.json, "x" here'


def test_resume_point_and_experiment_record(tmp_path):
    assert train._resume_point(str(tmp_path), 10) == (None, 1)
    assert resume.checkpoint_step("/x/model-1234") == 1234
    with pytest.raises(ValueError, match="model-x"):
        resume.checkpoint_step("/x/model-x")
    resume.record_experiment(str(tmp_path), {"b": 1, "a": [1, 2]})
    resume.check_experiment(str(tmp_path), {"a": [1, 2], "b": 1})
    with pytest.raises(ValueError, match="--logdir"):
        resume.check_experiment(str(tmp_path), "other")
