"""Per-layer top-1 table of the counting linear probes next to the release's and the paper's numbers.

Writes ``<name>.json``, ``<name>.md`` and a grouped bar chart ``<name>.png`` (one bar per column and layer).
"""
import collections
import json
import os

import numpy as np

__all__ = ["PAPER_TOP1", "RELEASE_TOP1", "LAYERS", "results_from_stats", "reference_columns", "format_table",
           "write_probe_report"]

LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5")
# ImageNet top-1 (%) of linear probes on conv1..conv5 (spec 7).
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


def format_table(columns, title):
    """Markdown table: one row per layer, one top-1 (%) column per entry of ``columns``."""
    names = list(columns)
    rows = ["# %s" % title, "", "| layer | " + " | ".join("%s top-1 (%%)" % n for n in names) + " |",
            "|---|" + "---|" * len(names)]
    for layer in LAYERS:
        rows.append("| %s | " % layer + " | ".join("%.1f" % (100 * columns[n][layer]) for n in names) + " |")
    return "\n".join(rows) + "\n"


def write_probe_report(columns, out_dir, title, name="probe_table"):
    """Write the JSON, Markdown and PNG of ``columns`` (``{column: {layer: top-1 fraction}}``); returns paths."""
    for col, values in columns.items():
        bad = [k for k in LAYERS if not 0.0 <= float(values.get(k, -1)) <= 1.0]
        if bad:
            raise ValueError("probe report column %r: %s needs a top-1 fraction in [0, 1]" % (col, bad[0]))
    os.makedirs(out_dir, exist_ok=True)
    base = os.path.join(out_dir, name)
    with open(base + ".json", "w") as f:
        json.dump({"title": title, "top1": columns}, f, indent=2)
    with open(base + ".md", "w") as f:
        f.write(format_table(columns, title))
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = list(columns)
    x = np.arange(len(LAYERS))
    width = 0.8 / len(names)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for i, col in enumerate(names):
        ax.bar(x + (i - (len(names) - 1) / 2.0) * width, [100 * columns[col][k] for k in LAYERS], width, label=col)
    ax.set_xticks(x)
    ax.set_xticklabels(LAYERS)
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(base + ".png", dpi=100)
    plt.close(fig)
    return [base + ".json", base + ".md", base + ".png"]
