"""Columns of the counting linear-probe report: this run's per-layer top-1 (read from ``stats.json``) next to
the release's and the paper's ImageNet numbers; ``common.eval.report.write_report`` writes the table.
"""
import collections
import json

__all__ = ["PAPER_TOP1", "RELEASE_TOP1", "LAYERS", "results_from_stats", "reference_columns"]

LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5")
# ImageNet top-1 (%) of linear probes on conv1..conv5, as the paper and the release report them.
PAPER_TOP1 = dict(zip(LAYERS, (18.0, 30.6, 34.3, 32.5, 25.7)))
RELEASE_TOP1 = dict(zip(LAYERS, (18.6, 30.3, 33.6, 30.1, 24.9)))


def results_from_stats(stats_path, prefix="val_top1_accuracy_"):
    """The last epoch's ``{layer: top-1 fraction}`` from a TensorPack ``stats.json``; ValueError if none."""
    try:
        with open(stats_path) as f:
            records = json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError("cannot read validation results from %s (%s)" % (stats_path, e))
    for record in reversed(records):
        if all(prefix + layer in record for layer in LAYERS):
            return collections.OrderedDict((layer, float(record[prefix + layer])) for layer in LAYERS)
    raise ValueError("%s has no epoch with %s<layer> for all of %s" % (stats_path, prefix, ", ".join(LAYERS)))


def reference_columns():
    """The release's and the paper's ImageNet numbers as report columns (fractions)."""
    return collections.OrderedDict([
        ("release (ImageNet)", {k: v / 100.0 for k, v in RELEASE_TOP1.items()}),
        ("paper (ImageNet)", {k: v / 100.0 for k, v in PAPER_TOP1.items()})])
