"""``python -m bench.step --step instance_disc --model resnet50 --batch 256``: one instance-discrimination step.

ImageNet-shaped: a ``--bank-size`` x 128 memory bank (default 1,281,167), NCE with 4096 negatives (T 0.07,
m 0.5), the bank update (and Z frozen on the first step) chained into the step; the backbone is ``--model``
with the release's 128-d head: ``resnet18`` ... ``resnet152`` are the release's torchvision-layout ResNets (as
``main.py`` trains), any other name the registry backbone of that name.
"""
from tensorpack.tfutils.tower import TowerContext

from common.config import load_config
from common.memory_bank import update_from_towers
from common.tf1 import tf
from instance_disc.model import RELEASE_ARCHS, InstanceDiscModel
from instance_disc.flags import CONFIG_FILE


def instance_disc_step(images, labels, args):
    """NCE loss of ``images`` against the ``args.bank_size``-row bank, with the momentum update of the batch rows."""
    layout = "torchvision" if args.model in RELEASE_ARCHS else "tensorpack"  # resnet50: what main.py trains
    cfg = load_config(CONFIG_FILE + ":imagenet_resnet18", {"arch": args.model, "layout": layout})
    indices = tf.random_uniform([args.batch], 0, args.bank_size, dtype=tf.int64)
    with TowerContext("", is_training=True):
        rows = InstanceDiscModel(cfg, args.bank_size, args.image_size).build_graph(images, labels, indices)
    with tf.control_dependencies([update_from_towers([rows])]):
        return tf.identity(rows.cost)


STEPS = {"instance_disc": instance_disc_step}  # read by bench.step through papers.py
