"""Tests of travel costs: straight-line metres and a user's matrix, long or square."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from clustering.errors import InputError
from clustering.model.costs import Costs, euclidean_costs, read_cost_matrix

# asymmetric minutes: TIMES[(a, b)] is the time from a to b
TIMES = {
    ("A", "B"): 5.0,
    ("B", "A"): 7.5,
    ("A", "C"): 3.0,
    ("C", "A"): 4.0,
    ("B", "C"): 10.0,
    ("C", "B"): 12.25,
}


def _long(path: Path, pairs: dict[tuple[str, str], float | str], value: str = "minutes") -> Path:
    lines = [f"from,to,{value}"] + [f"{a},{b},{v}" for (a, b), v in pairs.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _square(path: Path, rows: list[str], cols: list[str], cell=None) -> Path:
    """A square matrix: rows are origins, the header holds destinations."""

    def value(a: str, b: str) -> float | str:
        if cell is not None and (a, b) in cell:
            return cell[(a, b)]
        return 0.0 if a == b else TIMES[(a, b)]

    lines = [",".join(["id", *cols])]
    lines += [",".join([a, *(str(value(a, b)) for b in cols)]) for a in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _assert_orientation(costs: Costs, found: list[str]) -> None:
    for i, a in enumerate(found):
        for j, b in enumerate(found):
            expected = 0.0 if a == b else TIMES[(a, b)]
            assert costs.matrix[i, j] == expected, (a, b)


def test_euclidean_costs_match_hypot():
    xy = np.array([[0.0, 0.0], [3.0, 4.0], [-2.0, 7.5], [450_000.0, 130_000.0]])
    costs = euclidean_costs(xy)
    assert costs.unit == "m"
    assert costs.n == 4
    for i in range(4):
        for j in range(4):
            dx, dy = xy[i] - xy[j]
            assert costs.matrix[i, j] == pytest.approx(math.hypot(dx, dy), abs=1e-9)
    assert costs.matrix[0, 1] == 5.0
    np.testing.assert_array_equal(costs.matrix, costs.matrix.T)
    np.testing.assert_array_equal(np.diag(costs.matrix), 0.0)


def test_long_layout_keeps_direction_and_reports_missing(tmp_path):
    extra = {("X", "A"): 1.0, ("A", "X"): 2.0}  # a centre the caller does not ask for
    path = _long(tmp_path / "times.csv", {**TIMES, **extra})
    costs, missing = read_cost_matrix(path, ["C", "A", "D", "B"])
    assert missing == ["D"]
    assert costs.unit == "min"
    assert costs.source == str(path)
    assert costs.matrix.shape == (3, 3)
    _assert_orientation(costs, ["C", "A", "B"])
    assert costs.matrix[0, 2] == 12.25  # C → B
    assert costs.matrix[2, 0] == 10.0  # B → C


def test_long_layout_in_metres_keeps_metres(tmp_path):
    path = _long(tmp_path / "metres.csv", {("A", "B"): 1500, ("B", "A"): 1700}, value="metres")
    costs, missing = read_cost_matrix(path, ["A", "B"])
    assert missing == []
    assert costs.unit == "m"
    np.testing.assert_array_equal(costs.matrix, [[0.0, 1500.0], [1700.0, 0.0]])
    assert costs.integer_scale() == 1.0


def test_square_layout_keeps_direction_and_reports_missing(tmp_path):
    # header in a different order from the rows, so rows and columns are looked up separately
    path = _square(tmp_path / "square.csv", rows=["A", "B", "C"], cols=["C", "A", "B"])
    costs, missing = read_cost_matrix(path, ["B", "Z", "C", "A"])
    assert missing == ["Z"]
    assert costs.matrix.shape == (3, 3)
    _assert_orientation(costs, ["B", "C", "A"])
    assert costs.matrix[0, 2] == 7.5  # B → A
    assert costs.matrix[2, 0] == 5.0  # A → B


def test_square_layout_with_numeric_ids(tmp_path):
    path = tmp_path / "numeric.csv"
    path.write_text("id,101,102\n101,0,5\n102,6,0\n", encoding="utf-8")
    costs, missing = read_cost_matrix(path, ["102", "101"])
    assert missing == []
    np.testing.assert_array_equal(costs.matrix, [[0.0, 6.0], [5.0, 0.0]])


def test_missing_pair_is_named(tmp_path):
    pairs = {k: v for k, v in TIMES.items() if k != ("C", "B")}
    path = _long(tmp_path / "holes.csv", pairs)
    with pytest.raises(InputError) as info:
        read_cost_matrix(path, ["A", "B", "C"])
    text = str(info.value)
    assert str(path) in text
    assert "'C'" in text
    assert "'B'" in text
    assert text.index("'C'") < text.index("'B'")  # from C to B, not B to C
    # the pair is not needed when C is not asked for
    costs, missing = read_cost_matrix(path, ["A", "B"])
    assert missing == []
    assert costs.matrix[1, 0] == 7.5


@pytest.mark.parametrize("bad", ["-7", "abc", ""])
def test_long_layout_bad_value(tmp_path, bad):
    pairs: dict[tuple[str, str], float | str] = dict(TIMES)
    pairs[("A", "C")] = bad  # the third data row: spreadsheet row 4
    path = _long(tmp_path / "bad.csv", pairs)
    with pytest.raises(InputError) as info:
        read_cost_matrix(path, ["A", "B", "C"])
    exc = info.value
    assert (exc.row, exc.column) == (4, "minutes")
    text = str(exc)
    assert str(path) in text
    assert "row 4" in text
    assert "'minutes'" in text


@pytest.mark.parametrize("bad", ["-10", "n/a"])
def test_square_layout_bad_value(tmp_path, bad):
    # rows A, B, C (spreadsheet rows 2-4); the bad cell is B → C
    path = _square(
        tmp_path / "bad.csv", rows=["A", "B", "C"], cols=["A", "B", "C"], cell={("B", "C"): bad}
    )
    with pytest.raises(InputError) as info:
        read_cost_matrix(path, ["A", "B", "C"])
    exc = info.value
    assert (exc.row, exc.column) == (3, "C")
    text = str(exc)
    assert str(path) in text
    assert "row 3" in text
    assert "'C'" in text


def test_neither_layout(tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text("id,A,B\nA,0,1\nC,1,0\n", encoding="utf-8")
    with pytest.raises(InputError, match="neither long"):
        read_cost_matrix(path, ["A", "B"])


def test_missing_matrix_file(tmp_path):
    path = tmp_path / "nowhere.csv"
    with pytest.raises(InputError, match="not found") as info:
        read_cost_matrix(path, ["A"])
    assert str(path) in str(info.value)


def test_integer_scale_metres_is_one():
    assert euclidean_costs(np.array([[0.0, 0.0], [123.456, 0.0]])).integer_scale() == 1.0


@pytest.mark.parametrize("top", [0.5, 45.0, 600.0, 5_000.0, 90_000.0])
def test_integer_scale_keeps_minutes_to_two_decimals(top):
    matrix = np.array([[0.0, top], [12.34, 0.0]])
    scale = Costs(matrix, "min", "test").integer_scale()
    assert scale >= 100.0
    assert top * scale <= 1e7
    assert math.log10(scale) == int(math.log10(scale))  # a power of ten
    scaled = matrix * scale
    np.testing.assert_allclose(scaled, np.round(scaled), atol=1e-6)  # 12.34 stays exact


def test_matrix_ids_written_as_numbers_and_a_diagonal_are_normalised(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(
        "from,to,minutes\n1000.0,1000.0,4\n1000.0,1001.0,7\n1001.0,1000.0,9\n1001.0,1001.0,3\n"
    )
    costs, missing = read_cost_matrix(path, ["1000", "1001"])
    assert missing == []
    np.testing.assert_array_equal(costs.matrix, [[0.0, 7.0], [9.0, 0.0]])
