"""The paper registry: one line per paper, read by the demo, the step benchmark, the GPU check and packaging.

Every paper directory exposes the same small interface (docs/papers.md), by module name:

- ``<directory>/toy_demo.py``: ``run(record_dir, work_dir) -> list of row dicts`` (keys ``method``, one or
  more of ``knn_top1`` / ``linear_top1`` / ``supervised_top1`` as fractions, ``train_seconds``, ``notes``),
  run as ``python -m demo.run_paper NAME RECORD_DIR WORK_DIR OUT_JSON``;
- ``<directory>/bench_step.py``: ``STEPS``, ``{step name: build_fn(images, labels, args) -> loss}``;
- ``<directory>/gpu_rows.py``: ``GPU_ROWS`` and ``STEP_ROWS``, the GPU check's command lines as plain data;
- ``<directory>/release.py`` (where the paper's release published a model): its names and conversion for the
  model zoo (``python -m zoo``; ``RELEASE``, ``MODELS``, ``convert``, ``preprocess``, ``feature_extractor``).

The papers import none of the tools (``bench``, ``demo``): the tools read the papers through this module.
Adding a sixth paper: one directory with those modules and one ``Paper(...)`` line below.
"""
import collections
import importlib
import importlib.util

__all__ = ["Paper", "PAPERS", "paper_names", "get_paper", "bench_steps", "gpu_rows", "release_modules"]


class Paper(collections.namedtuple("Paper", "name directory")):
    """A registered paper: its command-line name and its directory (a package); its modules are named by
    convention after the directory."""

    toy_module = property(lambda self: self.directory + ".toy_demo")
    bench_module = property(lambda self: self.directory + ".bench_step")
    gpu_rows_module = property(lambda self: self.directory + ".gpu_rows")
    release_module = property(lambda self: self.directory + ".release")


PAPERS = (
    Paper("counting", "counting"),
    Paper("instance_disc", "instance_disc"),
    Paper("local_aggregation", "local_aggregation"),
    Paper("revisiting", "revisiting"),
    Paper("classification", "classification"),
)


def paper_names():
    """Registered paper names, in demo order."""
    return [p.name for p in PAPERS]


def get_paper(name):
    """The ``Paper`` called ``name``; a ValueError listing the registered names otherwise."""
    for paper in PAPERS:
        if paper.name == name:
            return paper
    raise ValueError("paper %r is not registered; known: %s" % (name, ", ".join(paper_names())))


def bench_steps():
    """``{step name: build_fn}`` of every paper's ``STEPS`` (its bench-step module imported on demand); a
    ValueError when two papers name the same step."""
    steps = {}
    for paper in PAPERS:
        for name, build_fn in importlib.import_module(paper.bench_module).STEPS.items():
            if name in steps:
                raise ValueError("bench step %r is named by two papers (%s)" % (name, paper.directory))
            steps[name] = build_fn
    return steps


def gpu_rows():
    """``[(paper, GPU_ROWS, STEP_ROWS)]`` of every paper, in registry order (plain data; see bench/gpu_rows.py)."""
    out = []
    for paper in PAPERS:
        module = importlib.import_module(paper.gpu_rows_module)
        out.append((paper, module.GPU_ROWS, module.STEP_ROWS))
    return out


def release_modules():
    """{release name: imported module} of every paper whose release module exists (``<directory>/release.py``),
    the model zoo's registry (``python -m zoo``)."""
    found = {}
    for paper in PAPERS:
        if importlib.util.find_spec(paper.release_module) is not None:
            module = importlib.import_module(paper.release_module)
            found[module.RELEASE] = module
    return found
