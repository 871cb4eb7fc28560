"""The command line on the bundled sample, and its handling of user errors."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from clustering.cli import _parser, _scenario, main
from clustering.input.files import EXCLUDED_BY_SCENARIO
from clustering.model.scenario import load_scenario

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


# ---------------------------------------------------------------- rule flags


def _flags(*args: str):
    """The scenario the command line would run, without solving."""
    return _scenario(_parser().parse_args(["form", *args]))


@pytest.fixture
def rule_files(tmp_path) -> Path:
    (tmp_path / "partners.csv").write_text("a,b\n115850,115851\n")
    (tmp_path / "away.csv").write_text("centre_id,reason\n115852,closing\n")
    (tmp_path / "assignments.csv").write_text(
        "centre_id,cluster,is_venue\n115850,3,True\n115851,3,False\n115860,7,True\n"
    )
    return tmp_path


def test_rule_flags_reach_the_scenario(rule_files):
    d = rule_files
    scenario = _flags(
        str(HAMPSHIRE),
        "--theme",
        "diocese=2",
        "--theme",
        "trust=0.5",
        "--partnerships",
        str(d / "partners.csv"),
        "--hard-partnerships",
        "--partnership-weight",
        "1.5",
        "--coordinator",
        "ofsted in Good, Outstanding",
        "--max-distance",
        "15",
        "--boundary",
        "district",
        "--cross-boundary",
        "--boundary-weight",
        "2",
        "--consent",
        "consented",
        "--exclude",
        str(d / "away.csv"),
        "--previous",
        str(d / "assignments.csv"),
        "--stability",
        "3",
        "--lock-cluster",
        "3",
        "--lock-cluster",
        "7",
        "--lock-centre",
        "115860",
    )
    w, c = scenario.weights, scenario.constraints
    assert dict(w.themes) == {"diocese": 2.0, "trust": 0.5}
    assert (w.partnerships, w.stability, w.boundary) == (1.5, 3.0, 2.0)
    assert c.partnerships == (("115850", "115851"),)
    assert c.partnerships_hard is True
    assert c.coordinator == "ofsted in Good, Outstanding"
    assert (c.max_distance, c.boundary, c.cross_boundary) == (15.0, "district", True)
    assert c.consent == "consented"
    assert c.exclude == {"115852": "closing"}
    assert c.previous.cluster == {"115850": "3", "115851": "3", "115860": "7"}
    assert (c.lock_clusters, c.lock_centres) == (("3", "7"), ("115860",))
    assert c.source == "the command line"
    assert scenario.constraint_files == {
        "partnerships": str(d / "partners.csv"),
        "exclude": str(d / "away.csv"),
        "previous": str(d / "assignments.csv"),
    }


def test_rule_flags_override_the_scenario(rule_files):
    d = rule_files
    (d / "other.csv").write_text("centre_id\n115853\n")
    path = d / "s.toml"
    path.write_text(
        "[objective]\nstability = 1.0\n[objective.themes]\ndiocese = 1.0\n"
        '[constraints]\nexclude = ["1"]\nexclude_file = "away.csv"\nmax_distance = 20\n'
        '[previous]\nassignments = "assignments.csv"\nlock_clusters = ["3"]\n'
    )
    scenario = _flags(
        "--scenario",
        str(path),
        "--exclude",
        str(d / "other.csv"),
        "--max-distance",
        "12",
        "--lock-cluster",
        "7",
        "--theme",
        "trust=2",
        "--stability",
        "4",
    )
    c = scenario.constraints
    # the file named by the flag replaces the scenario's; inline exclusions stay
    assert c.exclude == {"1": EXCLUDED_BY_SCENARIO, "115853": EXCLUDED_BY_SCENARIO}
    assert c.max_distance == 12.0
    assert c.lock_clusters == ("3", "7")  # locks add up
    assert c.source == str(path)
    assert dict(scenario.weights.themes) == {"diocese": 1.0, "trust": 2.0}
    assert scenario.weights.stability == 4.0
    assert _flags("--scenario", str(path)).constraints.exclude == {
        "1": EXCLUDED_BY_SCENARIO,
        "115852": "closing",
    }


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--theme", "diocese=x"], "--theme 'diocese=x' is not COLUMN=WEIGHT"),
        (["--theme", "diocese"], "is not COLUMN=WEIGHT"),
        (["--max-distance", "0"], "--max-distance 0 is not allowed"),
        (["--stability", "-1"], "--stability -1 is not allowed"),
        (["--partnership-weight", "inf"], "--partnership-weight inf is not allowed"),
        (["--boundary-weight", "2"], "objective.boundary: 2 per member across the boundary"),
        (["--boundary", "district", "--boundary-weight", "2"], "needs cross_boundary = true"),
        (["--cross-boundary"], "constraints.cross_boundary: needs constraints.boundary"),
        (["--partnership-weight", "1"], "objective.partnerships: 1 per partnership split"),
        (["--hard-partnerships"], "partnerships.hard: needs the partnerships"),
        (["--stability", "1"], "objective.stability: 1 per member moved needs"),
        (["--lock-cluster", "3"], "previous.lock_clusters: needs the previous layout"),
        (["--lock-centre", "115850"], "previous.lock_centres: needs the previous layout"),
        (["--lock-cluster", " "], "--lock-cluster needs a value"),
        (["--exclude", "nowhere.csv"], "nowhere.csv: file not found"),
        (["--partnerships", "nowhere.csv"], "the pairs file does not exist"),
        (["--previous", "nowhere.csv"], "the previous layout file does not exist"),
    ],
)
def test_bad_rule_flags_are_one_line_errors(flags, words, tmp_path, capsys):
    status, err = _main(capsys, "form", str(HAMPSHIRE), "--out", str(tmp_path), *flags)
    assert status == 2
    assert err.startswith("error: ")
    assert words in err
    assert "Traceback" not in err
    assert not (tmp_path / "assignments.csv").exists()


def test_lock_flags_are_checked_against_the_previous_layout(rule_files, capsys):
    status, err = _main(
        capsys,
        "form",
        str(HAMPSHIRE),
        "--previous",
        str(rule_files / "assignments.csv"),
        "--lock-cluster",
        "99",
    )
    assert status == 2
    assert "cluster '99' is not in the previous layout" in err
    assert "use one of its clusters: 3, 7" in err


def test_cli_forms_clusters_with_rules_and_saves_them(tmp_path):
    """End to end: needs ``form_clusters(..., constraints=...)`` from the engine."""
    n = 24
    pd.DataFrame(
        {
            "id": [f"S{i:02d}" for i in range(n)],
            "name": [f"School {i}" for i in range(n)],
            "lat": [51.0 + 0.01 * (i % 6) + 0.002 * i for i in range(n)],
            "lon": [-1.2 + 0.013 * (i // 6) for i in range(n)],
            "district": ["West" if i < 12 else "East" for i in range(n)],
        }
    ).to_csv(tmp_path / "centres.csv", index=False)
    (tmp_path / "away.csv").write_text("centre_id,reason\nS05,closing in July\n")
    out = tmp_path / "out"
    status = main(
        [
            "form",
            str(tmp_path / "centres.csv"),
            "--out",
            str(out),
            "--min-size",
            "4",
            "--max-size",
            "6",
            "--boundary",
            "district",
            "--exclude",
            str(tmp_path / "away.csv"),
            "--time-limit",
            "2",
            "--quiet",
        ]
    )
    assert status == 0
    rows = pd.read_csv(out / "assignments.csv", dtype=str).set_index("centre_id")
    assert rows.loc["S05", "excluded_reason"] == "closing in July"
    members = rows[rows["cluster"].notna()]
    for _, group in members.groupby("cluster"):
        assert len({int(c[1:]) < 12 for c in group.index}) == 1  # inside one district
    saved = load_scenario(out / "scenario.toml")
    assert saved.constraints.boundary == "district"
    assert saved.constraints.exclude == {"S05": "closing in July"}
    assert Path(saved.constraint_files["exclude"]).resolve() == (tmp_path / "away.csv").resolve()


# ---------------------------------------------------------------- the package's shape

#: modules of clustering.cli that are not subcommands
_HELPERS = {"options", "console", "__main__"}


def _subcommand_modules() -> dict[str, object]:
    import importlib
    import pkgutil

    import clustering.cli as cli

    names = [m.name for m in pkgutil.iter_modules(cli.__path__) if m.name not in _HELPERS]
    return {name: importlib.import_module(f"clustering.cli.{name}") for name in names}


def test_every_subcommand_module_is_registered_and_runs_its_own_run():
    modules = _subcommand_modules()
    assert {"form", "explain"} <= set(modules)
    parser = _parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(action.choices) == set(modules)
    for name, module in modules.items():
        assert callable(module.register), name
        assert action.choices[name].get_default("run") is module.run, name


def test_python_m_lists_the_subcommands():
    result = _run("--help")
    assert result.returncode == 0, result.stderr
    assert "form" in result.stdout
    assert "explain" in result.stdout


def test_scenario_flags_are_shared_not_owned_by_form():
    from clustering.cli.options import add_scenario_options, scenario_from_args

    parser = argparse.ArgumentParser()
    add_scenario_options(parser)
    scenario = scenario_from_args(parser.parse_args(["--min-size", "5", "--time-limit", "3"]))
    assert (scenario.sizes.min_size, scenario.time_limit) == (5, 3.0)
    assert scenario.centres.endswith("hampshire_primary_schools_2022.csv")  # the default


def test_progress_follows_each_area_on_its_own():
    from rich.console import Console

    from clustering.cli.console import print_progress
    from clustering.solver.progress import Progress

    err = Console(file=io.StringIO(), width=200)
    show = print_progress(err, quiet=False, metres=True)
    show(Progress(1.0, 5_000.0, 4_000.0, "A: lns", area="A"))
    show(Progress(1.5, 9_000.0, 8_000.0, "B: lns", area="B"))  # larger, but another area
    show(Progress(2.0, 5_500.0, 4_000.0, "A: lns", area="A"))  # worse for A: not shown
    show(Progress(3.0, 13_900.0, 12_000.0, "done"))
    lines = err.file.getvalue().splitlines()
    assert [line.split()[2] for line in lines] == ["A:", "B:", "done"]
