"""Memory banks under the replicated trainer: no bank (or LA's cluster labels) crosses devices in a training step.

Two CPU towers stand for two GPUs: TensorFlow partitions the step per device and every tensor that crosses
devices becomes a ``_Recv`` node of the partition graphs, which name the tensor's producer. The parameter-server
trainer keeps one shared bank, so its towers must receive it: that run shows the check can fail.
"""
import numpy as np
import pytest
from tensorpack import Callback

from common.config import load_config
from common.tf1 import tf
from common.train import Towers, launch_train

N, SIZE, BATCH = 1000, 32, 4  # N appears in no other shape of these models


class CrossDeviceTensors(Callback):
    """Record, at global step 2, the static shapes of the tensors that one training step sends between devices."""

    def __init__(self, out):
        self.out = out

    def _before_run(self, ctx):
        if self.global_step == 2:
            return tf.train.SessionRunArgs(fetches=[], options=tf.RunOptions(output_partition_graphs=True))
        return None

    def _after_run(self, ctx, values):
        if values.run_metadata is None or not values.run_metadata.partition_graphs:
            return
        graph = tf.get_default_graph()
        for partition in values.run_metadata.partition_graphs:
            for node in partition.node:
                if node.op != "_Recv":
                    continue
                producer = node.attr["tensor_name"].s.decode().split("_", 2)[2]  # "edge_<id>_<op name>"
                try:
                    outputs = graph.get_operation_by_name(producer).outputs
                except KeyError:  # a node the partitioner added (control edges)
                    continue
                self.out.extend((producer, o.shape.as_list() if o.shape.dims is not None else None) for o in outputs)


def _la(task):
    from local_aggregation.model import LocalAggregationModel, release_lr
    model = LocalAggregationModel(task, "resnet18", SIZE, N, instance_k=64, width=0.25)
    return model, release_lr(0.03, [])


def _instance_disc(nce_k):
    from instance_disc.model import InstanceDiscModel
    from instance_disc.flags import CONFIG_FILE
    from instance_disc.model import lr_schedule
    cfg = load_config(CONFIG_FILE + ":toy")
    cfg.update(stem="imagenet", nce_k=nce_k, low_dim=8, width=0.25, lr=0.0)  # the step's graph is what counts
    return InstanceDiscModel(cfg, N, SIZE), lr_schedule(cfg)


MODELS = {"LA": lambda: _la("LA"), "IR": lambda: _la("IR"), "instance_nce": lambda: _instance_disc(16),
          "instance_softmax": lambda: _instance_disc(0)}


def _crossing(tmp_path, key, trainer):
    images = np.random.RandomState(0).rand(16, SIZE, SIZE, 3).astype(np.float32)
    crossing = []
    with tf.Graph().as_default():
        model, schedule = MODELS[key]()  # the models return their bank rows: launch_train updates the banks
        data = lambda: tf.data.Dataset.from_tensor_slices(  # noqa: E731
            (images, np.zeros(16, np.int64), np.arange(16))).repeat().batch(BATCH)
        launch_train(model, data, str(tmp_path / key), 3, 1, Towers([0, 1], on_cpu=True), trainer=trainer,
                     lr_schedule=schedule, callbacks=[CrossDeviceTensors(crossing)])
    assert any(shape and shape[0] is None for _, shape in crossing)  # the towers' batches did cross
    return [(name, shape) for name, shape in crossing if shape and N in shape]


@pytest.mark.parametrize("key", sorted(MODELS))
def test_replicated_towers_read_their_own_bank_copy(tmp_path, key):
    assert _crossing(tmp_path, key, "replicated") == []


def test_parameter_server_towers_receive_the_shared_bank(tmp_path):
    assert ("instance/memory_bank/read", [N, 128]) in _crossing(tmp_path, "LA", "ps")
