"""Result reports: one Markdown table helper and one writer of ``<name>.json``, ``<name>.md`` and ``<name>.png``.

A report is a table of accuracies (fractions in [0, 1]) with one row per layer and one or more columns (e.g.
top-1 and top-5 of a run, or this run next to the release's and the paper's numbers). Markdown shows percent
with two decimals; the PNG is a grouped bar chart of the chosen columns.
"""
import json
import os

import numpy as np

__all__ = ["markdown_row", "markdown_table", "report_markdown", "write_report"]


def markdown_row(cells):
    """One Markdown table row: cells written with ``str``, None as ``-``."""
    return "| " + " | ".join("-" if c is None else str(c) for c in cells) + " |"


def markdown_table(header, rows=()):
    """Markdown table text (no trailing newline) of ``header`` (cell titles) and ``rows`` (lists of cells, see
    :func:`markdown_row`). Without rows: the header and its rule, for printers that stream rows one by one."""
    lines = [markdown_row(header), "|" + "---|" * len(header)]
    for row in rows:
        if len(row) != len(header):
            raise ValueError("markdown_table: a row has %d cells for %d columns: %r" % (len(row), len(header), row))
        lines.append(markdown_row(row))
    return "\n".join(lines)


def _rows(columns):
    """Row names in first-seen order over all columns."""
    rows = []
    for values in columns.values():
        rows += [r for r in values if r not in rows]
    return rows


def _check(columns):
    if not columns:
        raise ValueError("write_report: no columns to write")
    for col, values in columns.items():
        for row, value in values.items():
            if value is not None and not 0.0 <= float(value) <= 1.0:
                raise ValueError("write_report: column %r, row %r needs a fraction in [0, 1], got %r"
                                 % (col, row, value))


def report_markdown(columns, title, row_header="layer"):
    """Markdown of a report: ``# title`` and one row per layer, one ``<column> (%)`` cell per column (``-``
    where a column has no value for that row)."""
    rows = [[row] + [None if values.get(row) is None else "%.2f" % (100 * values[row]) for values in columns.values()]
            for row in _rows(columns)]
    return "# %s\n\n%s\n" % (title, markdown_table([row_header] + ["%s (%%)" % c for c in columns], rows))


def _atomic_write(path, write):
    tmp = path + ".tmp"
    write(tmp)
    os.replace(tmp, path)


def _chart(path, columns, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = _rows(columns)
    x = np.arange(len(rows))
    width = 0.8 / len(columns)
    fig, ax = plt.subplots(figsize=(max(4, 1.2 * len(rows) + 2), 3.5))
    for i, (col, values) in enumerate(columns.items()):
        heights = [np.nan if values.get(r) is None else 100 * values[r] for r in rows]
        ax.bar(x + (i - (len(columns) - 1) / 2.0) * width, heights, width, label=col)
    ax.set_xticks(x)
    ax.set_xticklabels([str(r) for r in rows])
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title)
    if len(columns) > 1:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)


def write_report(columns, out_dir, title, name="results", chart=None, extra=None):
    """Write ``<name>.json``, ``<name>.md`` and ``<name>.png`` into ``out_dir``; returns the three paths.

    ``columns``: ``{column title: {row: fraction in [0, 1] or None}}``, in display order. ``chart``: the
    column titles drawn as bars (default all). The JSON holds ``title``, ``columns`` and the entries of
    ``extra``. Each file is written atomically, and bad values raise before anything is written.
    """
    _check(columns)
    chart = list(columns) if chart is None else list(chart)
    missing = [c for c in chart if c not in columns]
    if missing:
        raise ValueError("write_report: chart column %r is not a column (have: %s)" % (missing[0], ", ".join(columns)))
    os.makedirs(out_dir, exist_ok=True)
    paths = [os.path.join(out_dir, "%s.%s" % (name, ext)) for ext in ("json", "md", "png")]

    def _json(path):
        with open(path, "w") as f:
            json.dump(dict(extra or {}, title=title, columns=columns), f, indent=2)

    def _markdown(path):
        with open(path, "w") as f:
            f.write(report_markdown(columns, title))

    _atomic_write(paths[0], _json)
    _atomic_write(paths[1], _markdown)
    _atomic_write(paths[2], lambda path: _chart(path, {c: columns[c] for c in chart}, title))
    return paths
