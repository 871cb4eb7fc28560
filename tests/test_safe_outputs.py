"""Hostile cells, faults and limits: outputs safe to open, fresh, written whole, and a
command line that never prints a traceback (issue 14)."""

from __future__ import annotations

import csv
import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

import clustering.cli.form as cli_form
import clustering.output.export as export
import clustering.output.folder as folder_module
import clustering.output.plan as plan_module
from clustering import InputError, read_layout, write_outputs
from clustering.cli import _parser, main
from clustering.input.textfile import read_csv_text
from clustering.model.layout import Layout
from clustering.output.folder import check_folder, foreign_entries
from clustering.output.tables import (
    FORMULA_STARTS,
    csv_bytes,
    safe_cells,
    safe_text,
    write_csv,
)

BOM = b"\xef\xbb\xbf"
HOSTILE = {
    "S00": '=HYPERLINK("http://evil.example","click")',
    "S01": "-5 Lane School",
    "S02": "+44 Academy",
    "S03": "@SUM(A1:A2)",
    "S04": "=1+1",
    "S05": "Élan École",
}


def _unsafe(cell: str) -> bool:
    """A cell a spreadsheet would run: it starts like a formula and is no plain number."""
    if not cell.startswith(FORMULA_STARTS):
        return False
    try:
        float(cell)
    except ValueError:
        return True
    return False


def _cells(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        return list(csv.reader(f))


def _hidden_siblings(folder: Path) -> list[str]:
    return [p.name for p in folder.parent.iterdir() if p.name.startswith(f".{folder.name}.")]


# ---------------------------------------------------------------------- cells


def test_safe_text_neutralises_formulas_and_keeps_numbers():
    assert safe_text("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert safe_text("-5 Lane") == "'-5 Lane"
    assert safe_text("+44 Road") == "'+44 Road"
    assert safe_text("@SUM(A1)") == "'@SUM(A1)"
    assert safe_text("\tTab") == "'\tTab"
    assert safe_text("\rCR") == "'\rCR"
    for kept in ("Ash", "", "-1.5", "+2", "-3e4", " =not at the start", "'=already"):
        assert safe_text(kept) == kept
    for value in (-1.5, -2, None, True, np.float64(-0.5)):
        assert safe_text(value) is value


def test_safe_cells_touches_text_not_numbers():
    frame = pd.DataFrame(
        {
            "name": ["=1+1", "-5 Lane", "Ash", None],
            "km": [-1.5, 2.0, np.nan, 0.0],
            "n": [-3, 1, 2, 4],
            "venue": [True, False, True, False],
            "kind": pd.Categorical(["@x", "a", "a", "@x"]),
            "=evil": ["a", "b", "c", "d"],
        }
    )
    safe = safe_cells(frame)
    assert safe["name"].tolist()[:3] == ["'=1+1", "'-5 Lane", "Ash"]
    assert safe["name"].isna().tolist() == [False, False, False, True]
    assert safe["km"].dtype == frame["km"].dtype
    assert safe["km"].iloc[0] == -1.5
    assert safe["n"].dtype == frame["n"].dtype
    assert safe["n"].iloc[0] == -3
    assert safe["venue"].tolist() == [True, False, True, False]
    assert safe["kind"].tolist() == ["'@x", "a", "a", "'@x"]
    assert list(safe.columns) == ["name", "km", "n", "venue", "kind", "'=evil"]
    assert frame["name"].iloc[0] == "=1+1"  # a copy: the frame given is not changed
    pd.testing.assert_frame_equal(safe_cells(safe), safe)  # once is enough
    # duplicated column names and no columns at all
    twice = pd.DataFrame([["=a", "=b"]], columns=["x", "x"])
    assert safe_cells(twice).iloc[0].tolist() == ["'=a", "'=b"]
    assert safe_cells(pd.DataFrame(index=[0, 1])).shape == (2, 0)


def test_write_csv_has_a_bom_numbers_as_numbers_and_reads_back(tmp_path):
    frame = pd.DataFrame({"name": ["=1+1", "Élan École"], "km": [-1.5, 2.25]})
    path = write_csv(frame, tmp_path / "t.csv")
    data = path.read_bytes()
    assert data.startswith(BOM)
    assert data == csv_bytes(frame)
    back = pd.read_csv(path)
    assert list(back.columns) == ["name", "km"]  # the BOM is not part of the header
    assert back["km"].tolist() == [-1.5, 2.25]
    assert back["name"].tolist() == ["'=1+1", "Élan École"]
    assert read_csv_text(path)["name"].tolist() == ["'=1+1", "Élan École"]
    assert _cells(path)[0] == ["name", "km"]


# ---------------------------------------------------------------------- a small layout


def _layout(ids: list[str] | None = None) -> Layout:
    rng = np.random.default_rng(5)
    ids = ids or [f"S{i:02d}" for i in range(8)]
    names = [HOSTILE.get(i, f"School {i}") for i in ids]
    cluster = [1, 1, 1, 1, 2, 2, 2, 2]
    xy = rng.normal(0, 2000, size=(8, 2)) + np.array([450_000.0, 130_000.0])
    frame = pd.DataFrame(
        {
            "centre_id": ids,
            "name": names,
            "row": range(2, 10),
            "pupils": rng.integers(50, 300, 8).astype(float),
            "cluster": cluster,
            "is_venue": [True, False, False, False, True, False, False, False],
        }
    )
    venue = {1: xy[0], 2: xy[4]}
    frame["distance"] = [float(np.hypot(*(xy[j] - venue[k]))) for j, k in enumerate(cluster)]
    centres = gpd.GeoDataFrame(
        frame, geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs="EPSG:27700"
    )
    excluded = pd.DataFrame(
        {
            "centre_id": ["X1"],
            "name": ["-Closed School"],
            "row": [11],
            "reason": ["=cmd|' /C calc'!A0"],
        }
    )
    total = float(frame["distance"].sum())
    return Layout(centres, excluded, total, total * 0.9, "m", "feasible", {"seed": 0}, {}, "<test>")


def test_every_csv_of_write_outputs_is_safe(tmp_path):
    files = write_outputs(_layout(), tmp_path / "out")
    written = [p for p in files.values() if p.suffix == ".csv"]
    assert {p.name for p in written} >= {"assignments.csv", "excluded.csv", "clusters.csv"}
    for path in written:
        assert path.read_bytes().startswith(BOM), path.name
        for row in _cells(path):
            assert not any(_unsafe(c) for c in row), (path.name, row)
    rows = {
        r["centre_id"]: r for r in csv.DictReader(files["assignments"].open(encoding="utf-8-sig"))
    }
    assert rows["S00"]["name"].startswith("'=HYPERLINK(")
    assert rows["S01"]["name"] == "'-5 Lane School"
    assert rows["S05"]["name"] == "Élan École"
    distances = pd.read_csv(files["assignments"])["distance_km"]
    assert pd.api.types.is_float_dtype(distances)
    excluded = pd.read_csv(files["excluded"])
    assert excluded["reason"].iloc[0] == "'=cmd|' /C calc'!A0"
    assert excluded["name"].iloc[0] == "'-Closed School"


def test_an_id_that_looks_like_a_formula_is_stored_neutralised(tmp_path):
    ids = ["=S0", "S01", "S02", "S03", "S04", "S05", "S06", "S07"]
    files = write_outputs(_layout(ids), tmp_path / "out")
    table = read_csv_text(files["assignments"])
    assert "'=S0" in set(table["centre_id"])
    assert "'=S0" in set(table["venue_id"])


# ---------------------------------------------------------------------- fresh, whole folders


def test_a_rerun_leaves_no_stale_file(tmp_path):
    out = tmp_path / "out"
    write_outputs(_layout(), out)
    (out / "moves.csv").write_text("centre_id,status\nS00,moved\n", encoding="utf-8")
    (out / "baselines.csv").write_text("method\nold\n", encoding="utf-8")
    (out / "plan").mkdir()
    (out / "plan" / "plan.json").write_text("{}", encoding="utf-8")
    (out / ".DS_Store").write_bytes(b"\0")  # a file browser's: not the user's own
    files = write_outputs(_layout(), out)
    assert not (out / "moves.csv").exists()
    assert not (out / "baselines.csv").exists()
    assert not (out / "plan").exists()  # a plan of the earlier layout is stale too
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in files.values())
    assert _hidden_siblings(out) == []
    assert all(p.parent == out for p in files.values())


def test_extra_files_are_written_in_the_same_folder_and_listed(tmp_path):
    out = tmp_path / "out"
    files = write_outputs(_layout(), out, extra_files={"scenario.toml": "[data]\n"})
    assert files["scenario"] == out / "scenario.toml"
    assert (out / "scenario.toml").read_text(encoding="utf-8") == "[data]\n"
    assert "scenario.toml" in json.loads((out / "run.json").read_text())["files"]
    for bad in ("../x.toml", "assignments.csv", "sub/x.txt"):
        with pytest.raises(ValueError, match=r"plain file name"):
            write_outputs(_layout(), tmp_path / "other", extra_files={bad: "x"})
    assert not (tmp_path / "other").exists()


def test_an_empty_folder_is_written_into_and_kept(tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    inode = out.stat().st_ino
    write_outputs(_layout(), out)
    assert out.stat().st_ino == inode  # the same folder, now full
    assert (out / "run.json").is_file()
    assert _hidden_siblings(out) == []


def test_a_rerun_from_inside_the_folder_keeps_the_working_directory(tmp_path, monkeypatch):
    out = tmp_path / "out"
    write_outputs(_layout(), out)
    (out / "moves.csv").write_text("stale\n", encoding="utf-8")
    monkeypatch.chdir(out)
    write_outputs(_layout(), ".")
    assert Path.cwd().exists()
    assert Path("run.json").is_file()
    assert not Path("moves.csv").exists()
    assert _hidden_siblings(out) == []


@pytest.mark.parametrize(
    "name", ["thesis.docx", "notes", "assignments_old.csv"], ids=["file", "folder", "csv"]
)
def test_a_folder_of_other_files_is_never_replaced(tmp_path, name):
    mine = tmp_path / "Documents"
    mine.mkdir()
    (mine / "run.json").write_text("{}", encoding="utf-8")  # even beside a run.json
    entry = mine / name
    if name == "notes":
        entry.mkdir()
    else:
        entry.write_text("mine", encoding="utf-8")
    with pytest.raises(InputError, match=r"choose an empty or new --out folder") as info:
        write_outputs(_layout(), mine)
    assert name in str(info.value)
    assert entry.exists()
    assert sorted(p.name for p in mine.iterdir()) == sorted(["run.json", name])
    assert _hidden_siblings(mine) == []


def test_a_folder_without_a_run_record_is_not_taken_for_a_run(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "assignments.csv").write_text("mine\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"no run\.json"):
        write_outputs(_layout(), out)
    assert (out / "assignments.csv").read_text(encoding="utf-8") == "mine\n"
    with pytest.raises(InputError, match=r"is a file"):
        check_folder(out / "assignments.csv", "layout")


def test_a_layout_folder_is_not_replaced_by_a_plan(tmp_path):
    out = tmp_path / "out"
    write_outputs(_layout(), out)
    assert foreign_entries(out, "layout") == []
    with pytest.raises(InputError, match=r"did not write"):
        check_folder(out, "plan")


def test_a_full_disk_half_way_changes_nothing(tmp_path, monkeypatch):
    out = tmp_path / "out"
    write_outputs(_layout(), out)
    (out / "moves.csv").write_text("earlier\n", encoding="utf-8")
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(export, "render_map", full)  # after the tables were written
    with pytest.raises(InputError) as info:
        write_outputs(_layout(), out)
    message = str(info.value)
    assert "No space left on device" in message
    assert "nothing was changed" in message
    assert "free some disk space" in message
    assert str(out) in message
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert _hidden_siblings(out) == []
    # a new folder is not left half-written either
    with pytest.raises(InputError):
        write_outputs(_layout(), tmp_path / "new")
    assert not (tmp_path / "new").exists()
    assert _hidden_siblings(tmp_path / "new") == []


def test_a_bug_half_way_changes_nothing_and_is_not_disguised(tmp_path, monkeypatch):
    out = tmp_path / "out"
    write_outputs(_layout(), out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in the report")

    monkeypatch.setattr(export, "write_report", broken)
    other = _layout([f"T{i:02d}" for i in range(8)])  # other tables, written before the bug
    with pytest.raises(RuntimeError, match=r"a bug in the report"):
        write_outputs(other, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert _hidden_siblings(out) == []


def test_no_permission_is_a_one_line_error(tmp_path, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(folder_module, "_sibling", denied)
    with pytest.raises(InputError, match=r"Permission denied.*you may write to"):
        write_outputs(_layout(), tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores permissions"
)
def test_a_read_only_folder_is_a_one_line_error(tmp_path):
    parent = tmp_path / "locked"
    out = parent / "out"
    write_outputs(_layout(), out)
    before = sorted(p.name for p in out.iterdir())
    parent.chmod(0o500)
    try:
        with pytest.raises(InputError, match=r"Permission denied"):
            write_outputs(_layout(), out)
    finally:
        parent.chmod(0o700)
    assert sorted(p.name for p in out.iterdir()) == before
    assert _hidden_siblings(out) == []


# ---------------------------------------------------------------------- the command line


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    """`clustering form` and `clustering plan` on 12 schools with formula-like names."""
    root = tmp_path_factory.mktemp("hostile")
    rng = np.random.default_rng(3)
    source = root / "hostile.csv"
    with source.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "name", "lat", "lon"])
        for i in range(12):
            cid = f"S{i:02d}"
            lat, lon = 51.0 + rng.uniform(0, 0.2), -1.2 + rng.uniform(0, 0.3)
            writer.writerow([cid, HOSTILE.get(cid, f"School {i}"), lat, lon])
    out = root / "out"
    flags = ["--min-size", "3", "--max-size", "5", "--time-limit", "2", "--quiet"]
    assert main(["form", str(source), "--out", str(out), *flags]) == 0
    assert main(["plan", str(out), "--time-limit", "2"]) == 0
    return source, out


def test_cli_outputs_of_hostile_names_are_safe(hostile_run):
    _, out = hostile_run
    csvs = sorted(out.rglob("*.csv"))
    assert {p.name for p in csvs} >= {"assignments.csv", "explanations.csv", "contacts.csv"}
    for path in csvs:
        assert path.read_bytes().startswith(BOM), path
        for row in _cells(path):
            assert not any(_unsafe(c) for c in row), (path, row)
    names = set(read_csv_text(out / "assignments.csv")["name"])
    assert {"'-5 Lane School", "'+44 Academy", "'@SUM(A1:A2)", "'=1+1", "Élan École"} <= names
    contacts = set(read_csv_text(out / "plan" / "contacts.csv")["name"])
    assert "'-5 Lane School" in contacts
    # file names come from cluster numbers, not cells
    plan = out / "plan"
    assert foreign_entries(plan, "plan") == []
    for sub, suffix in (("calendars", ".ics"), ("invitations", ".txt")):
        for p in (plan / sub).iterdir():
            assert p.suffix == suffix
            assert p.stem.startswith("cluster_")
            assert p.stem[8:].isdigit()
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert "scenario.toml" in run["files"]  # written inside the folder, before it moved in
    assert _hidden_siblings(out) == []
    assert _hidden_siblings(plan) == []


def test_cli_reads_its_own_bom_files_back(hostile_run, capsys):
    _, out = hostile_run
    capsys.readouterr()
    assert main(["explain", str(out), "S01"]) == 0
    assert "-5 Lane School" in capsys.readouterr().out
    layout = read_layout(out)
    assert len(layout.centres) == 12


def _copy(run: tuple[Path, Path], tmp_path: Path) -> Path:
    """A copy of the run's folder, beside a copy of its centres (scenario.toml's path)."""
    source, out = run
    shutil.copy(source, tmp_path / source.name)
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    return copy


def _edit_assignments(folder: Path, edit) -> Path:
    path = folder / "assignments.csv"
    table = read_csv_text(path)
    write_csv(edit(table), path)
    return path


def test_read_layout_names_a_duplicated_centre(hostile_run, tmp_path, capsys):
    copy = _copy(hostile_run, tmp_path)
    _edit_assignments(copy, lambda t: pd.concat([t, t.iloc[[2]]], ignore_index=True))
    with pytest.raises(InputError) as info:
        read_layout(copy)
    message = str(info.value)
    assert "assignments.csv" in message
    assert "row 14" in message
    assert "column 'centre_id'" in message
    assert "listed twice (first in row 4)" in message
    assert "Fix:" in message
    status = main(["plan", str(copy)])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1
    assert "listed twice" in err


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda t: t.drop(columns="cluster"), "no cluster column"),
        (lambda t: t.drop(columns="is_venue"), "column 'is_venue'"),
        (lambda t: t.assign(cluster=["x", *list(t["cluster"][1:])]), "row 2, column 'cluster'"),
        (lambda t: t.assign(centre_id=["", *list(t["centre_id"][1:])]), "has no centre id"),
        (lambda t: t.assign(is_venue="True"), "venues in cluster 1, not one"),
        (lambda t: t.assign(is_venue="False"), "marks 0 venues in cluster 1, not one"),
    ],
    ids=["no-cluster", "no-is-venue", "bad-cluster", "blank-id", "many-venues", "no-venue"],
)
def test_read_layout_names_what_is_wrong(hostile_run, tmp_path, edit, words):
    copy = _copy(hostile_run, tmp_path)
    _edit_assignments(copy, edit)
    with pytest.raises(InputError, match=r"assignments\.csv") as info:
        read_layout(copy)
    assert words in str(info.value)


def test_read_layout_names_missing_and_broken_files(hostile_run, tmp_path):
    with pytest.raises(InputError, match=r"does not exist"):
        read_layout(tmp_path / "nowhere")
    copy = _copy(hostile_run, tmp_path)
    (copy / "run.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match=r"run\.json is not JSON"):
        read_layout(copy)
    (copy / "run.json").write_text('{"objective": "lots"}', encoding="utf-8")
    with pytest.raises(InputError, match=r"objective is 'lots', not a number"):
        read_layout(copy)
    (copy / "run.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(InputError, match=r"not a JSON object"):
        read_layout(copy)
    (copy / "run.json").unlink()
    with pytest.raises(InputError, match=r"has no run\.json"):
        read_layout(copy)


def test_cli_refuses_a_folder_of_other_files_before_solving(tmp_path, capsys):
    mine = tmp_path / "Documents"
    mine.mkdir()
    (mine / "letter.txt").write_text("mine", encoding="utf-8")
    status, err = main(["form", "--out", str(mine)]), capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1
    assert "letter.txt" in err
    assert "choose an empty or new --out folder" in err
    assert sorted(p.name for p in mine.iterdir()) == ["letter.txt"]


def test_cli_replans_into_its_own_folder_and_refuses_others(hostile_run, tmp_path, capsys):
    copy = _copy(hostile_run, tmp_path)
    stale = copy / "plan" / "calendars" / "cluster_99.ics"
    stale.write_text("BEGIN:VCALENDAR\n", encoding="utf-8")
    assert main(["plan", str(copy), "--time-limit", "2"]) == 0
    assert not stale.exists()
    capsys.readouterr()
    # a plan written over the layout itself would destroy it: refused
    assert main(["plan", str(copy), "--out", str(copy)]) == 2
    assert "did not write" in capsys.readouterr().err
    assert (copy / "assignments.csv").is_file()


def test_a_plan_folder_survives_a_full_disk(hostile_run, tmp_path, monkeypatch):
    copy = _copy(hostile_run, tmp_path)
    layout = read_layout(copy)
    from clustering import PlanSettings, plan_network

    plan = plan_network(layout, PlanSettings().with_overrides(time_limit=2))
    before = sorted(str(p.relative_to(copy)) for p in (copy / "plan").rglob("*"))

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(plan_module, "ics_calendar", full)
    with pytest.raises(InputError, match=r"No space left on device"):
        plan_module.write_plan(plan, copy / "plan")
    assert sorted(str(p.relative_to(copy)) for p in (copy / "plan").rglob("*")) == before
    assert _hidden_siblings(copy / "plan") == []


@pytest.fixture
def logs(tmp_path, monkeypatch) -> Path:
    """Bug logs go to a folder of the test's own."""
    folder = tmp_path / "logs"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _failing_form(monkeypatch, exc: BaseException) -> None:
    def fail(*args, **kwargs):
        raise exc

    monkeypatch.setattr(cli_form, "run_scenario", fail)


def test_a_bug_is_one_line_with_a_log_and_status_3(logs, tmp_path, monkeypatch, capsys):
    _failing_form(monkeypatch, RuntimeError("boom\nsecond line"))
    status = main(["form", "--out", str(tmp_path / "out"), "--quiet"])
    captured = capsys.readouterr()
    assert status == 3
    assert captured.err.count("\n") == 1
    assert "Traceback" not in captured.err
    assert captured.err.startswith("error: unexpected RuntimeError: boom second line.")
    assert "This is a bug: please report it with the log at" in captured.err
    (log,) = logs.iterdir()
    assert str(log) in captured.err
    text = log.read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in text
    assert "RuntimeError: boom" in text
    assert "command: clustering form --out" in text
    assert "ortools" in text
    assert not (tmp_path / "out").exists()


def test_a_checker_failure_says_so_and_where_the_log_is(logs, tmp_path, monkeypatch, capsys):
    _failing_form(
        monkeypatch, AssertionError("layout failed the checker: cluster 3 has 13 members")
    )
    status = main(["form", "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert status == 3
    assert err.count("\n") == 1
    assert "the layout failed the independent check (cluster 3 has 13 members)" in err
    assert "not a problem with your data" in err
    (log,) = logs.iterdir()
    assert str(log) in err


def test_a_bug_without_a_log_still_is_one_line(tmp_path, monkeypatch, capsys):
    _failing_form(monkeypatch, KeyError("venue"))

    def no_log(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", no_log)
    status = main(["form", "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert status == 3
    assert err.count("\n") == 1
    assert "unexpected KeyError: 'venue'" in err
    assert "no log could be written: Read-only file system" in err


def test_interrupted_is_130(tmp_path, monkeypatch, capsys):
    _failing_form(monkeypatch, KeyboardInterrupt())
    assert main(["form", "--out", str(tmp_path / "out"), "--quiet"]) == 130
    assert capsys.readouterr().err.strip() == "interrupted"


def test_help_documents_the_exit_statuses():
    text = " ".join(_parser().format_help().split())
    for words in ("Exit status: 0 done", "2 a problem with the input", "3 a bug", "130"):
        assert words in text


def test_explain_finds_an_id_stored_neutralised(tmp_path, capsys):
    from clustering import SizeRule, form_clusters, load_centres

    source = tmp_path / "ids.csv"
    rng = np.random.default_rng(11)
    lines = ["id,name,lat,lon"] + [
        f"{'=S3' if i == 3 else f'S{i}'},School {i},{51 + rng.uniform(0, 0.1)},"
        f"{-1.2 + rng.uniform(0, 0.1)}"
        for i in range(8)
    ]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    layout = form_clusters(load_centres(source), SizeRule(3, 5), time_limit=2, baselines=False)
    out = tmp_path / "out"
    write_outputs(layout, out)
    assert "'=S3" in set(read_csv_text(out / "explanations.csv")["centre_id"])
    capsys.readouterr()
    for typed in ("=S3", "'=S3"):  # as in the centres file, or as in the CSV
        assert main(["explain", str(out), typed]) == 0
        assert f"School 3 ({typed})" in capsys.readouterr().out


def test_a_bug_in_a_real_process_prints_no_traceback(tmp_path):
    script = (
        "import sys\n"
        "import clustering.cli.form as form\n"
        "def fail(*a, **k):\n"
        "    raise ZeroDivisionError('division by zero')\n"
        "form.run_scenario = fail\n"
        "from clustering.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", script, "form", "--out", str(tmp_path / "out"), "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 3
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
    assert "unexpected ZeroDivisionError: division by zero" in result.stderr
    (log,) = tmp_path.glob("clustering-error-*.log")
    assert str(log) in result.stderr
    assert "ZeroDivisionError" in log.read_text(encoding="utf-8")


def test_a_folder_that_cannot_be_renamed_is_swapped_entry_by_entry(tmp_path, monkeypatch):
    out = tmp_path / "out"
    write_outputs(_layout(), out)
    (out / "moves.csv").write_text("stale\n", encoding="utf-8")
    rename = os.rename

    def busy(src, dst):  # as for a mount point
        if Path(src) == out:
            raise OSError(errno.EBUSY, "Device or resource busy")
        rename(src, dst)

    monkeypatch.setattr(folder_module.os, "rename", busy)
    inode = out.stat().st_ino
    write_outputs(_layout(), out)
    assert out.stat().st_ino == inode
    assert not (out / "moves.csv").exists()
    assert (out / "run.json").is_file()
    assert _hidden_siblings(out) == []


def test_a_failure_while_swapping_entries_puts_the_earlier_run_back(tmp_path, monkeypatch):
    out = tmp_path / "out"
    write_outputs(_layout(), out)
    (out / "moves.csv").write_text("earlier\n", encoding="utf-8")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    rename = os.rename
    moved_in = []

    def flaky(src, dst):
        if Path(src) == out:
            raise OSError(errno.EBUSY, "Device or resource busy")
        if Path(dst).parent == out and ".tmp-" in Path(src).parent.name:
            moved_in.append(Path(dst).name)
            if len(moved_in) == 3:  # the third new file fails
                raise OSError(errno.EIO, "Input/output error")
        rename(src, dst)

    monkeypatch.setattr(folder_module.os, "rename", flaky)
    with pytest.raises(InputError, match=r"Input/output error"):
        write_outputs(_layout([f"T{i:02d}" for i in range(8)]), out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert _hidden_siblings(out) == []


def test_a_formula_like_id_reads_back_as_itself(tmp_path, capsys):
    """An id stored as ``'=S0`` is ``=S0`` again for read_layout, plan and --previous."""
    source = tmp_path / "ids.csv"
    rng = np.random.default_rng(5)
    with source.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "name", "lat", "lon"])
        for i in range(10):
            cid = "=S0" if i == 0 else f"S{i:02d}"
            writer.writerow(
                [cid, f"School {i}", 51 + rng.uniform(0, 0.2), -1.2 + rng.uniform(0, 0.3)]
            )
    out = tmp_path / "out"
    flags = ["--min-size", "3", "--max-size", "5", "--time-limit", "2", "--quiet"]
    assert main(["form", str(source), "--out", str(out), *flags]) == 0
    assert "'=S0" in set(read_csv_text(out / "assignments.csv")["centre_id"])
    assert "=S0" in set(read_layout(out).assignments["centre_id"])
    assert main(["plan", str(out), "--time-limit", "2"]) == 0
    again = tmp_path / "again"
    previous = ["--previous", str(out / "assignments.csv"), "--lock-centre", "=S0"]
    assert main(["form", str(source), "--out", str(again), *flags, *previous]) == 0, (
        capsys.readouterr()
    )
    before = read_layout(out).assignments.set_index("centre_id")["cluster"]
    after = read_layout(again).assignments.set_index("centre_id")["cluster"]
    assert after["=S0"] == before["=S0"]


def test_a_plan_failing_its_check_is_a_bug_not_a_user_error(
    hostile_run, logs, tmp_path, monkeypatch, capsys
):
    from clustering.plan import network
    from clustering.plan.check import PlanCheck

    monkeypatch.setattr(network, "check_plan", lambda plan: PlanCheck(["meeting 2 on a holiday"]))
    out = tmp_path / "plan"
    status = main(["plan", str(hostile_run[1]), "--out", str(out), "--time-limit", "2"])
    err = capsys.readouterr().err
    assert status == 3
    assert "the plan failed the independent check (meeting 2 on a holiday)" in err
    assert not out.exists()


def test_the_solver_raising_mid_run_is_one_line_and_writes_nothing(
    logs, tmp_path, monkeypatch, capsys
):
    """A fault inside the search (after the first layout exists) is a bug: status 3, a
    log, and no output folder, not a half-written one."""
    from clustering.solver import lns

    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        raise MemoryError("injected fault in the neighbourhood search")

    monkeypatch.setattr(lns, "improve", broken)
    out = tmp_path / "out"
    status = main(["form", "--out", str(out), "--time-limit", "3", "--quiet"])
    err = capsys.readouterr().err
    assert calls, "the fault was never reached"
    assert status == 3
    assert err.count("\n") == 1
    assert "unexpected MemoryError: injected fault" in err
    assert not out.exists()
    assert _hidden_siblings(out) == []
