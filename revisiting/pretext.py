"""Pretext (and supervised) training and evaluation of one config: the TensorPack model, the release's schedule,
``--run_eval``'s validation pass, and the TRAINING_IS_DONE marker."""
import os

from tensorpack import ModelDesc
from tensorpack.tfutils.summary import add_moving_summary
from tensorpack.tfutils.tower import TowerContext, get_current_tower_context

from common import seeding
from common.tf1 import tf
from common.models import regularization_loss
from common.schedules import EpochSchedule
from common.train import launch_train, per_tower_batch
from revisiting.data import make_input, preprocess_fn, split_size
from revisiting.flags import preprocessing_of
from revisiting.jigsaw import PERMUTATIONS_FILE, ensure_permutations
from revisiting.net import get_net
from revisiting.schedule import lr_schedule, steps_per_epoch, total_steps
from revisiting.tasks import get_task

DONE_FILE = "TRAINING_IS_DONE"


def accuracy(out):
    """Mean argmax accuracy of a task's ``logits`` against its ``labels``."""
    correct = tf.equal(tf.argmax(out["logits"], axis=1), tf.cast(out["labels"], tf.int64))
    return tf.reduce_mean(tf.cast(correct, tf.float32), name="accuracy")


class PretextModel(ModelDesc):
    """A task's model_fn on the trunk of ``net``: total loss = task loss + the towers' L2 terms."""

    def __init__(self, cfg, task_fn, net, image_shape, label_shape):
        self.cfg, self.task_fn, self.net = cfg, task_fn, net
        self.image_shape, self.label_shape = image_shape, label_shape

    def inputs(self):
        """image float32 and label int64 of one tower's batch."""
        return [tf.TensorSpec(self.image_shape, tf.float32, "image"),
                tf.TensorSpec(self.label_shape, tf.int64, "label")]

    def build_graph(self, image, label):
        """Task loss (named ``task_loss``), ``accuracy`` where the task has logits, plus regularisation."""
        ctx = get_current_tower_context()
        out = self.task_fn({"image": image, "label": label}, ctx.is_training, self.net, self.cfg)
        loss = tf.identity(out["loss"], name="task_loss")
        summaries = [loss] + ([accuracy(out)] if "logits" in out else [])
        total = tf.add(loss, regularization_loss(), name="total_loss")
        add_moving_summary(*(summaries + [total]))
        return total

    def optimizer(self, lr):
        """Momentum 0.9 (``sgd``) or Adam on the scheduled rate ``lr`` (``learning_rate``, made by ``launch_train``)."""
        return tf.train.AdamOptimizer(lr) if self.cfg["optimizer"] == "adam" else tf.train.MomentumOptimizer(lr, 0.9)


def task_setup(cfg, workdir):
    """(task model_fn, net) with the jigsaw permutation file placed next to the checkpoints."""
    if cfg["task"] == "jigsaw":
        cfg["permutations_file"] = cfg.get("permutations_file") or os.path.join(workdir, PERMUTATIONS_FILE)
        ensure_permutations(cfg["permutations_file"], n=int(cfg.get("num_permutations") or 100))
    net = get_net(cfg["architecture"], cfg["filters_factor"], cfg["mode"], cfg["last_relu"], cfg["weight_decay"],
                  cfg["task"])
    return get_task(cfg["task"]), net


def experiment(cfg):
    """What defines the run for the resume check: the config without its paths."""
    return {k: v for k, v in cfg.items() if k not in ("dataset_dir", "hub_module", "permutations_file")}


def launch_plan(cfg, epoch_steps):
    """(steps per launched epoch, launched epochs): whole epochs, or one epoch of ceil(epochs * steps)."""
    epochs = float(cfg["epochs"])
    if epochs == int(epochs):
        return epoch_steps, int(epochs)
    return total_steps(cfg, epoch_steps), 1


def train(cfg, workdir, record_dir, towers, trainer):
    """Pretext (or supervised) training with the release's schedule; writes TRAINING_IS_DONE at the end."""
    os.makedirs(workdir, exist_ok=True)
    task_fn, net = task_setup(cfg, workdir)
    batch = per_tower_batch(int(cfg["batch_size"]), towers)
    epoch_steps = steps_per_epoch(split_size(record_dir, cfg["train_split"]), cfg["batch_size"])
    points = lr_schedule(cfg, epoch_steps)
    pp = preprocess_fn(preprocessing_of(cfg), True)

    def dataset():
        return make_input(record_dir, cfg["train_split"], batch, pp, True, cfg.get("random_seed"))
    with tf.Graph().as_default():
        image_shape, label_shape = tf.data.get_output_shapes(dataset())
    model = PretextModel(cfg, task_fn, net, image_shape.as_list(), label_shape.as_list())
    launch_steps, launch_epochs = launch_plan(cfg, epoch_steps)
    with tf.Graph().as_default():
        launch_train(model, dataset, workdir, launch_steps, launch_epochs, towers, trainer=trainer,
                     lr_schedule=EpochSchedule(points[0][1], points, interp="linear", step_based=True),
                     experiment=experiment(cfg))
    open(os.path.join(workdir, DONE_FILE), "w").close()


def evaluate(cfg, checkpoint, record_dir, task_fn, net):
    """Pretext loss (and accuracy) of ``checkpoint`` on one pass over ``val_split``."""
    with tf.Graph().as_default():
        seeding.seed_graph()  # --seed: the pretext's random draws (jigsaw permutations) too
        data = make_input(record_dir, cfg["val_split"], int(cfg["eval_batch_size"] or cfg["batch_size"]),
                          preprocess_fn(preprocessing_of(cfg), False), False)
        image, label = tf.data.make_one_shot_iterator(data).get_next()
        with TowerContext("", is_training=False):
            out = task_fn({"image": image, "label": label}, False, net, cfg)
        fetches = {"loss": out["loss"]}
        if "logits" in out:
            fetches["accuracy"] = accuracy(out)
        totals, batches = {k: 0.0 for k in fetches}, 0
        with tf.Session() as sess:
            tf.train.Saver(tf.global_variables()).restore(sess, checkpoint)
            while True:
                try:
                    values = sess.run(fetches)
                except tf.errors.OutOfRangeError:
                    break
                batches += 1
                for k, v in values.items():
                    totals[k] += float(v)
    if not batches:
        raise ValueError("--val_split %s: fewer examples than --eval_batch_size" % cfg["val_split"])
    return {k: v / batches for k, v in totals.items()}
