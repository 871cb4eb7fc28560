"""``bench/best_known.py``: short runs are measured against the best known as it stands last."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def best_known():
    spec = importlib.util.spec_from_file_location(
        "bench_best_known", ROOT / "bench" / "best_known.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_a_short_run_that_beats_the_best_known_moves_the_earlier_ones(best_known):
    # seed 0 was measured against 1,000 km; seed 1 then found 998: both are against 998 now
    rows = [
        {
            "sample": "hampshire",
            "seed": "0",
            "total_km": "1000.000",
            "best_known_km": "1000.000",
            "above_best_pct": "0.000",
        },
        {
            "sample": "hampshire",
            "seed": "1",
            "total_km": "998.000",
            "best_known_km": "1000.000",
            "above_best_pct": "-0.200",
        },
        {
            "sample": "surrey",
            "seed": "0",
            "total_km": "600.000",
            "best_known_km": "590.000",
            "above_best_pct": "1.695",
        },
    ]
    summary = {"hampshire": {"total_km": "998.000"}}
    out = best_known.rescored(rows, summary)
    assert [r["best_known_km"] for r in out] == ["998.000", "998.000", "590.000"]
    assert out[0]["above_best_pct"] == f"{100 * (1000 / 998 - 1):.3f}"
    assert out[1]["above_best_pct"] == "0.000"
    assert out[2] == rows[2]  # a sample without a recorded best is left as it was
    assert rows[0]["best_known_km"] == "1000.000"  # the rows given are not changed
