"""Linear evaluation driver: train the heads of a ``LayerProbeModel`` on frozen features, evaluate them, and
report top-1 / top-5 per layer (``linear_report``: JSON, Markdown, PNG through ``common.eval.report``).
"""
import collections
import os
import time

import numpy as np
from tensorpack.tfutils.tower import TowerContext
from tensorpack.tfutils.varreplace import freeze_variables

from common import seeding
from common.eval.report import write_report
from common.schedules import learning_rate_variable
from common.tf1 import tf

__all__ = ["run_linear_eval", "evaluate_linear_probe", "linear_report", "mean_over_pass"]


def _image_label(iterator):
    """First two components (image, label) of an iterator's next batch."""
    return tuple(iterator.get_next())[:2]


def mean_over_pass(sess, init_op, fetches):
    """``{key: mean}`` of every per-example vector of ``fetches`` (``{key: [B] tensor}``) over one pass of an
    initializable validation iterator (``init_op``): the one evaluation loop of the linear heads."""
    sess.run(init_op)
    seen = collections.OrderedDict((key, []) for key in fetches)
    while True:
        try:
            out = sess.run(fetches)
        except tf.errors.OutOfRangeError:
            break
        for key, values in out.items():
            seen[key].append(values)
    if not next(iter(seen.values())):
        raise ValueError("linear evaluation: the validation dataset produced no batch")
    return collections.OrderedDict((key, float(np.mean(np.concatenate(v)))) for key, v in seen.items())


def _evaluate(sess, init_op, heads):
    """Top-1 / top-5 per layer over one pass of an initializable validation iterator."""
    fetches = collections.OrderedDict()
    for name in heads.wrong_top1:
        fetches[name, 1], fetches[name, 5] = heads.wrong_top1[name], heads.wrong_top5[name]
    wrong = mean_over_pass(sess, init_op, fetches)
    return collections.OrderedDict((name, {"top1": 1.0 - wrong[name, 1], "top5": 1.0 - wrong[name, 5]})
                                   for name in heads.wrong_top1)


def _build_eval_tower(model, val_data):
    """(iterator, heads) of an inference tower on ``val_data()`` in the current graph."""
    val_it = tf.data.make_initializable_iterator(val_data())
    with tf.variable_scope(tf.get_variable_scope(), reuse=tf.AUTO_REUSE), TowerContext("val", is_training=False):
        model.build_graph(*_image_label(val_it))
    return val_it, model.heads


def evaluate_linear_probe(model, val_data, checkpoint):
    """Restore ``checkpoint`` (e.g. written by ``common.train.launch_train`` for ``model``) and return the
    top-1 / top-5 of every head over one pass of ``val_data()``: ``{layer: {"top1": .., "top5": ..}}``."""
    with tf.Graph().as_default():
        with freeze_variables(stop_gradient=False, skip_collection=True):  # nothing trains in this graph
            val_it, heads = _build_eval_tower(model, val_data)
        with tf.Session() as sess:
            tf.train.Saver().restore(sess, checkpoint)
            return _evaluate(sess, val_it.initializer, heads)


def run_linear_eval(model, train_data, val_data, steps, lr_schedule=None, init_fn=None, logdir=None,
                    out_dir=None, title="linear evaluation", reference=None, log_every=100):
    """Train ``model``'s heads for ``steps`` steps on ``train_data`` and evaluate them on all of
    ``val_data``; returns ``{layer: {"top1": .., "top5": ..}}`` (fractions).

    ``train_data`` / ``val_data``: functions returning a ``tf.data.Dataset`` of ``(image, label[, index])``
    batches (called in the evaluation's own graph; the train one is re-initialised when it ends).
    ``lr_schedule(step) -> lr`` sets the learning rate per step (default: constant ``model.lr``).
    ``init_fn(sess)`` restores the backbone after variable initialisation. ``logdir``: final checkpoint of
    the heads. ``out_dir``: :func:`linear_report` there (``title``, ``reference``).
    """
    if steps < 1:
        raise ValueError("run_linear_eval: steps must be >= 1, got %r" % steps)
    with tf.Graph().as_default():
        seeding.seed_graph()  # --seed: the heads' initialisation and the training order
        train_it = tf.data.make_initializable_iterator(train_data())
        with TowerContext("", is_training=True):
            loss = model.build_graph(*_image_label(train_it))
        train_heads = model.heads
        step_var = tf.train.get_or_create_global_step()
        lr_var = learning_rate_variable(model.lr, summary=None)
        opt = model.optimizer(lr_var)
        train_op = opt.minimize(loss, global_step=step_var, var_list=tf.trainable_variables())
        val_it, val_heads = _build_eval_tower(model, val_data)
        train_wrong = tf.reduce_mean(tf.stack(list(train_heads.wrong_top1.values())))
        with tf.Session() as sess:
            sess.run([tf.global_variables_initializer(), train_it.initializer])
            if init_fn is not None:
                init_fn(sess)
            start = time.time()
            for step in range(steps):
                if lr_schedule is not None:
                    lr_var.load(lr_schedule(step), sess)
                try:
                    _, loss_v, wrong_v = sess.run([train_op, loss, train_wrong])
                except tf.errors.OutOfRangeError:
                    sess.run(train_it.initializer)
                    _, loss_v, wrong_v = sess.run([train_op, loss, train_wrong])
                if log_every and (step % log_every == 0 or step == steps - 1):
                    print("step %d/%d lr %.3g loss %.4f train top-1 %.3f (%.1fs)" % (
                        step + 1, steps, sess.run(lr_var), loss_v, 1 - wrong_v, time.time() - start), flush=True)
            results = _evaluate(sess, val_it.initializer, val_heads)
            if logdir:
                tf.train.Saver().save(sess, os.path.join(logdir, "model"), global_step=step_var)
    if out_dir:
        linear_report(results, out_dir, title, reference)
    return results


def linear_report(results, out_dir, title, reference=None):
    """Write ``results.json``, ``results.md`` and ``results.png`` (top-1 bars per layer, next to ``reference``
    bars when given) into ``out_dir``; returns the three paths.

    ``results``: ``{layer: {"top1": f, "top5": f}}`` as fractions in [0, 1]; ``reference``: ``{layer: top-1
    in percent}`` (as papers print them). The JSON keeps ``results`` and ``reference_top1_percent`` as given.
    """
    if not results:
        raise ValueError("linear_report: no results to write")
    for layer, res in results.items():
        if not all(k in res for k in ("top1", "top5")):
            raise ValueError("linear_report: results[%r] needs top1 and top5, got %r" % (layer, res))
    reference = reference or {}
    columns = collections.OrderedDict(
        [("top-1", {n: r["top1"] for n, r in results.items()}), ("top-5", {n: r["top5"] for n, r in results.items()})])
    chart = ["top-1"]
    if reference:
        columns["reference top-1"] = {n: None if reference.get(n) is None else reference[n] / 100.0
                                      for n in results}
        chart.append("reference top-1")
    return write_report(columns, out_dir, title, chart=chart,
                        extra={"results": results, "reference_top1_percent": reference})
