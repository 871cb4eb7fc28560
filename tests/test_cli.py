"""The command line on the bundled sample, and its handling of user errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from clustering.cli import main

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"
HAMPSHIRE = SAMPLE / "hampshire_primary_schools_2022.csv"


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    status = main(["form", str(HAMPSHIRE), "--out", str(out), "--time-limit", "6", "--quiet"])
    return status, out


def test_cli_writes_every_output_and_loses_nothing(sample_run):
    status, out = sample_run
    assert status == 0
    for name in [
        "assignments.csv",
        "contrast.csv",
        "clusters.csv",
        "excluded.csv",
        "clusters.geojson",
        "report.html",
        "map.png",
        "run.json",
    ]:
        assert (out / name).stat().st_size > 0, name
    assignments = pd.read_csv(out / "assignments.csv", dtype={"centre_id": str})
    source = pd.read_csv(HAMPSHIRE, dtype=str)
    assert sorted(assignments["centre_id"]) == sorted(source["URN"])
    members = assignments[assignments["cluster"].notna()]
    assert members.groupby("cluster").size().between(8, 12).all()
    assert (members.groupby("cluster")["is_venue"].sum() == 1).all()
    closed = assignments[assignments["cluster"].isna()]
    assert closed["excluded_reason"].str.contains("Closed").all()


def test_cli_records_parameters_and_an_honest_gap(sample_run):
    _, out = sample_run
    run = json.loads((out / "run.json").read_text())
    assert run["params"]["seed"] == 0
    assert run["params"]["versions"]["ortools"]
    assert run["stats"]["checker"] == "passed"
    assert 0 < run["lower_bound"] <= run["objective"]
    assert run["gap"] == pytest.approx(1 - run["lower_bound"] / run["objective"])


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "clustering.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _main(capsys, *args: str) -> tuple[int, str]:
    status = main(list(args))
    return status, capsys.readouterr().err


def test_missing_file_is_one_line(tmp_path, capsys):
    status, err = _main(capsys, "form", str(tmp_path / "nope.csv"))
    assert status == 2
    assert err.startswith("error: ")
    assert err.count("\n") == 1
    assert "nope.csv" in err
    assert "file not found" in err


def test_duplicate_id_names_file_row_and_column(tmp_path):
    bad = tmp_path / "dup.csv"
    bad.write_text("id,name,lat,lon\nA,One,51.0,-1.0\nB,Two,51.1,-1.1\nA,Three,51.2,-1.2\n")
    result = _run("form", str(bad))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "dup.csv" in result.stderr
    assert "row 4" in result.stderr
    assert "column 'id'" in result.stderr
    assert "Fix:" in result.stderr


def test_impossible_sizes_are_explained(tmp_path, capsys):
    status, err = _main(capsys, "form", str(HAMPSHIRE), "--clusters", "5", "--out", str(tmp_path))
    assert status == 2
    assert "5 clusters are impossible for 427 centres" in err
    assert not (tmp_path / "assignments.csv").exists()


def test_bad_column_mapping_is_explained(capsys):
    status, err = _main(capsys, "form", str(HAMPSHIRE), "--column", "id=SchoolCode")
    assert status == 2
    assert "'SchoolCode'" in err
    assert "not in the file" in err


def test_output_folder_that_is_a_file_is_refused_before_solving(tmp_path, capsys):
    target = tmp_path / "taken"
    target.write_text("")
    status, err = _main(capsys, "form", str(HAMPSHIRE), "--out", str(target))
    assert status == 2
    assert "the output folder is a file" in err


@pytest.mark.parametrize(
    ("flag", "words"),
    [
        (["--seed", "-1"], "seed -1 is not allowed"),
        (["--workers", "0"], "workers 0 is not allowed"),
        (["--time-limit", "-3"], "time_limit -3.0 is not allowed"),
        (["--target-size", "0"], "target size must be above 0"),
        (["--max-weight", "500"], "need size_by"),
        (["--contrast", "fsm_pct=lots"], "is not ATTRIBUTE=WEIGHT"),
    ],
)
def test_bad_settings_are_one_line_errors(flag, words, tmp_path, capsys):
    status, err = _main(capsys, "form", str(HAMPSHIRE), "--out", str(tmp_path), *flag)
    assert status == 2
    assert words in err
