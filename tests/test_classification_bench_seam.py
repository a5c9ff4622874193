"""classification.bench_seam: the seam views in test.py's pools (serial, threads, processes) give one table."""
import numpy as np
import pytest

from classification import bench_seam
from classification.eval_data import view_workers


def test_pools_compute_the_serial_views():
    with view_workers(2, seam_carve=True) as processes:
        got = list(processes.map(bench_seam.seam_view, range(2)))
    for seed, view in enumerate(got):
        np.testing.assert_array_equal(view, bench_seam.seam_view(seed))
        assert view.shape == (224, 224, 3)


def test_table_has_one_row_per_pool(capsys):
    bench_seam.main(["--images", "2", "--workers", "2"])
    lines = capsys.readouterr().out.strip().splitlines()
    rows = [[c.strip() for c in line.split("|")[1:-1]] for line in lines[2:]]
    assert [(r[0], r[1]) for r in rows] == [("serial", "1"), ("threads", "2"), ("processes", "2")]
    for r in rows:  # images/s x seconds = images, up to the printed rounding
        assert float(r[2]) * float(r[3]) == pytest.approx(2, rel=0.1)
