"""The paper registry: one line per paper, read by the demo, the step benchmark, the GPU check and packaging.

Every paper directory exposes the same small interface (docs/papers.md):

- ``<directory>/toy_demo.py``: ``run(record_dir, work_dir) -> list of row dicts`` (keys ``method``, one or
  more of ``knn_top1`` / ``linear_top1`` / ``supervised_top1`` as fractions, ``train_seconds``, ``notes``),
  run as ``python -m demo.run_paper NAME RECORD_DIR WORK_DIR OUT_JSON``;
- ``<directory>/bench_step.py``: registers its training step(s) with ``bench.step.register_step`` on import;
- ``<directory>/release.py`` (where the paper's release published a model): its names and conversion for the
  model zoo (``python -m zoo``; ``RELEASE``, ``MODELS``, ``convert``, ``preprocess``, ``feature_extractor``).

Adding a sixth paper: one directory with those two modules and one ``Paper(...)`` line below.
"""
import collections
import importlib
import importlib.util

__all__ = ["Paper", "PAPERS", "paper_names", "get_paper", "import_bench_steps", "release_modules"]

Paper = collections.namedtuple("Paper", "name directory toy_module bench_module release_module")

PAPERS = (
    Paper("counting", "counting", "counting.toy_demo", "counting.bench_step",
          "counting.release"),
    Paper("instance_disc", "instance_disc", "instance_disc.toy_demo", "instance_disc.bench_step",
          "instance_disc.release"),
    Paper("local_aggregation", "local_aggregation", "local_aggregation.toy_demo", "local_aggregation.bench_step",
          "local_aggregation.release"),
    Paper("revisiting", "revisiting", "revisiting.toy_demo", "revisiting.bench_step",
          "revisiting.release"),
    Paper("classification", "classification", "classification.toy_demo", "classification.bench_step",
          "classification.release"),
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


def import_bench_steps():
    """Import every paper's bench-step module (each registers its steps with ``bench.step``)."""
    for paper in PAPERS:
        importlib.import_module(paper.bench_module)


def release_modules():
    """{release name: imported module} of every paper whose release module exists (``<directory>/release.py``),
    the model zoo's registry (``python -m zoo``)."""
    found = {}
    for paper in PAPERS:
        if importlib.util.find_spec(paper.release_module) is not None:
            module = importlib.import_module(paper.release_module)
            found[module.RELEASE] = module
    return found
