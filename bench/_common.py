"""Helpers the benchmark scripts share (run from the repository root: ``python bench/x.py``)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
#: the real samples the benchmarks run on, by name
SAMPLES = {
    "hampshire": REPO_ROOT / "data" / "sample" / "hampshire_primary_schools_2022.csv",
    "surrey": REPO_ROOT / "data" / "sample" / "surrey_primary_schools_2022.csv",
    "kentucky": REPO_ROOT / "data" / "sample" / "kentucky_schools_2016_17.csv",
}
#: the size bounds of the peer comparisons ("roughly ten")
MIN_SIZE, MAX_SIZE = 8, 12


def jsonable(value: Any) -> Any:
    """``value`` with numpy numbers, arrays and non-finite floats made JSON-safe."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        v = float(value)
        return v if math.isfinite(v) else str(v)
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)
