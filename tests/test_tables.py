"""Formatting helpers live with the output stage (clustering.output.tables) and are shared."""

from __future__ import annotations

import ast
import doctest
from pathlib import Path

import numpy as np
import pandas as pd

import clustering.output.tables as tables
from clustering.cli import console
from clustering.output import report

PACKAGE = Path(tables.__file__).resolve().parents[1]


def test_the_examples_in_tables_hold():
    result = doctest.testmod(tables)
    assert result.attempted >= 6
    assert result.failed == 0


def test_numbers_and_cells_as_text():
    assert tables.number_text(np.float64(1234.5)) == "1,234.50"
    assert tables.number_text(float("nan")) == ""
    assert tables.number_text("Alton") == "Alton"
    assert tables.length_text(0.2) == "200 m"
    assert tables.length_text(10.0) == "10 km"
    assert tables.cell_text(np.int64(12)) == ("12", True)
    assert tables.cell_text(pd.NA) == ("", False)
    assert tables.cell_text(np.float64(np.inf)) == ("", False)
    assert tables.value_text(np.float64(np.nan)) == "—"
    assert tables.decimals_needed(pd.Series([1.0, np.nan, 3.0])) == 0


def test_the_report_and_the_console_use_the_shared_helpers():
    assert report.length_text is tables.length_text
    assert report.cell_text is tables.cell_text
    assert report.flat_rows is tables.flat_rows
    assert console.number_text is tables.number_text


def _defined(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}


def test_no_copies_of_the_helpers_elsewhere_in_output_and_cli():
    names = {n for n in tables.__all__} | {f"_{n}" for n in tables.__all__}
    names |= {"_fmt", "_length_text", "_value_text", "_cell", "_decimals", "_flatten"}
    for folder in ("output", "cli"):
        for path in (PACKAGE / folder).glob("*.py"):
            if path.name == "tables.py":
                continue
            assert not _defined(path) & names, path
