"""Decision 1 through the real trainer: the loss reads the pre-update bank, the update (once per global
step, whole global batch, one bank for all towers) is visible at the next step; k-means labels reach the graph."""
import numpy as np
import pytest
from tensorpack.callbacks import Callback

from common.tf1 import tf
from common.train import Towers, launch_train
from local_aggregation.clustering import Recluster
from local_aggregation.model import LocalAggregationModel, release_lr

N, SIZE = 16, 32


class _RowsKept(LocalAggregationModel):
    """The LA model, keeping the ``BankRows`` each tower's ``build_graph`` returns (in tower order)."""

    def build_graph(self, image, label, index):
        rows = super(_RowsKept, self).build_graph(image, label, index)
        self.rows.append(rows)
        return rows


class _Recorder(Callback):
    """Bank before training and after every step, plus each tower's fetched loss / embedding / index."""

    def __init__(self, model):
        self.model, self.banks, self.steps, self.clusters = model, [], [], []

    def _setup_graph(self):
        self._fetch = [[r.cost, r.embedding, r.index] for r in self.model.rows]  # weight decay 0: cost = LA loss

    def _before_train(self):
        self.banks.append(self.trainer.sess.run(self.model.bank.var))

    def _before_run(self, _):
        return tf.train.SessionRunArgs(fetches=self._fetch)

    def _after_run(self, _, values):
        self.steps.append(values.results)

    def _trigger_step(self):
        self.banks.append(self.trainer.sess.run(self.model.bank.var))
        self.clusters.append(self.trainer.sess.run(self.model.cluster_labels))


def _np_la(emb, bank, labels, idx, k, t=0.07):
    sims = emb @ bank.T
    top = np.argsort(-sims, axis=1)[:, :k]
    close = np.zeros(top.shape, bool)
    for row in labels:
        close |= row[top] == row[idx][:, None]
    p = np.exp(np.take_along_axis(sims, top, 1) / t)
    return -np.mean(np.log((p * close).sum(1) / p.sum(1) + 1e-7))


def _dataset(per_tower):
    rng = np.random.RandomState(0)
    images = rng.randn(N, SIZE, SIZE, 3).astype(np.float32)
    data = (images, np.arange(N) % 3, np.arange(N))
    return tf.data.Dataset.from_tensor_slices(data).repeat().batch(per_tower, drop_remainder=True)


@pytest.mark.parametrize("towers", [1, 2])
def test_la_step_reads_pre_update_bank_and_updates_once(tmp_path, towers):
    per_tower, k = 8 // towers, 6
    with tf.Graph().as_default():
        model = _RowsKept("LA", "resnet18", SIZE, N, instance_k=k, num_kmeans=2, width=0.25, weight_decay=0.0)
        model.rows = []
        recorder = _Recorder(model)
        launch_train(model, lambda: _dataset(per_tower), str(tmp_path), 2, 1, Towers(range(towers), on_cpu=True),
                     lr_schedule=release_lr(0.0, []), callbacks=[Recluster(model, [4, 3], period=1000), recorder])
    assert len(recorder.steps) == 2
    labels = recorder.clusters[0]
    assert labels.shape == (2, N) and labels[0].max() == 3 and labels[1].max() == 2  # k-means labels, not 0..N-1
    for step, outputs in enumerate(recorder.steps):
        before, after = recorder.banks[step], recorder.banks[step + 1]
        idx = np.concatenate([o[2] for o in outputs])
        emb = np.concatenate([o[1] for o in outputs])
        assert len(idx) == 8
        for loss, e, i in outputs:
            assert loss == pytest.approx(_np_la(e, before, labels, i, k), rel=1e-4)
        new = 0.5 * before[idx] + 0.5 * emb
        expected = before.copy()
        expected[idx] = new / np.linalg.norm(new, axis=1, keepdims=True)
        np.testing.assert_allclose(after, expected, atol=1e-5)
