"""Scenario files: reading, validation errors, round trips and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clustering import InputError, SizeRule
from clustering.cli import main
from clustering.objective import Weights
from clustering.scenario import Scenario, load_scenario, scenario_to_toml

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"


def test_bundled_scenarios_load_with_paths_resolved():
    hants = load_scenario(SAMPLE / "hampshire.toml")
    assert Path(hants.centres) == SAMPLE / "hampshire_primary_schools_2022.csv"
    assert hants.sizes == SizeRule(8, 12)
    assert hants.time_limit == 20
    ky = load_scenario(SAMPLE / "kentucky.toml")
    assert ky.sizes.size_by == "pupils"
    assert (ky.sizes.min_weight, ky.sizes.max_weight) == (1500, 8000)


def test_mixed_scenario_has_contrast_weights():
    mixed = load_scenario(SAMPLE / "hampshire_mixed.toml")
    assert mixed.weights.travel == 1.0
    assert dict(mixed.weights.contrast) == {"fsm_pct": 1.0, "urban_rural": 5.0}


def test_round_trip_through_toml(tmp_path):
    original = Scenario(
        weights=Weights(0.5, {"fsm_pct": 2.0, "urban_rural": 7.5}),
        centres=str(SAMPLE / "kentucky_schools_2016_17.csv"),
        columns={"id": "sch_id"},
        crs="EPSG:4326",
        sizes=SizeRule(6, 14, n_clusters=120, size_by="pupils", max_weight=9000.5),
        time_limit=12.5,
        seed=7,
        workers=1,
        gap_target=0.01,
    )
    out = tmp_path / "runs" / "a"
    out.mkdir(parents=True)
    (out / "scenario.toml").write_text(scenario_to_toml(original, relative_to=out))
    text = (out / "scenario.toml").read_text()
    assert '"../' in text  # data paths are written relative to the scenario's folder
    again = load_scenario(out / "scenario.toml")
    assert Path(again.centres).resolve() == Path(original.centres).resolve()
    assert again.sizes == original.sizes
    assert again.weights == original.weights
    assert (again.columns, again.crs, again.time_limit, again.seed, again.workers) == (
        {"id": "sch_id"},
        "EPSG:4326",
        12.5,
        7,
        1,
    )


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[size]\nmin = 8\n", "[size]: unknown table"),
        ("[sizes]\nminimum = 8\n", "sizes.minimum: unknown key"),
        ("[sizes]\nmin = true\n", "sizes.min: True is not a whole number"),
        ("[sizes]\nmin = 'eight'\n", "sizes.min: 'eight' is not a whole number"),
        ("[sizes]\nmin = 0\n", "sizes.min: 0 must be at least 1"),
        ("[sizes]\nmin = 9\nmax = 8\n", "sizes.max: 8 is below sizes.min 9"),
        ("[sizes]\nmax_weight = 3000\n", "sizes.max_weight: needs sizes.by"),
        ("[solver]\ngap_target = 1.5\n", "solver.gap_target: 1.5 must be at least 0"),
        ("[solver]\ntime_limit = nan\n", "solver.time_limit: nan is not a finite number"),
        ("[data.columns]\nidentifier = 'URN'\n", "data.columns.identifier: unknown field"),
        ("[sizes]\nmin = 8\nmin = 9\n", "not valid TOML"),
        ("sizes = 3\n", "sizes: must be a table"),
        ("[objective.contrast]\nfsm_pct = -1\n", "objective.contrast.fsm_pct: -1 must be 0"),
        ("[objective.contrast]\nfsm_pct = 'high'\n", "objective.contrast.fsm_pct: 'high' is not"),
        ("[objective]\ntravel = -2\n", "objective.travel: -2 must be 0 or more"),
    ],
)
def test_invalid_scenarios_name_file_and_key(tmp_path, text, words):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        load_scenario(path)
    message = str(info.value)
    assert "bad.toml" in message
    assert words in message
    assert "Fix:" in message


def test_toml_syntax_error_gives_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[sizes]\nmin = 8\nmax = = 12\n")
    with pytest.raises(InputError, match="line 3"):
        load_scenario(path)


def test_cli_flags_override_scenario_and_run_records_it(tmp_path):
    scenario = tmp_path / "s.toml"
    scenario.write_text(
        f'[data]\ncentres = "{SAMPLE / "hampshire_primary_schools_2022.csv"}"\n'
        "[sizes]\nmin = 8\nmax = 12\n[solver]\ntime_limit = 60\nseed = 3\n"
    )
    out = tmp_path / "out"
    status = main(
        [
            "form",
            "--scenario",
            str(scenario),
            "--out",
            str(out),
            "--time-limit",
            "4",
            "--max-size",
            "14",
            "--quiet",
        ]
    )
    assert status == 0
    run = json.loads((out / "run.json").read_text())
    assert run["params"]["time_limit"] == 4
    assert run["params"]["seed"] == 3
    assert run["params"]["rule"]["max_size"] == 14
    saved = load_scenario(out / "scenario.toml")
    assert saved.time_limit == 4
    assert saved.seed == 3
    assert saved.sizes.max_size == 14
    assert Path(saved.centres).resolve() == SAMPLE / "hampshire_primary_schools_2022.csv"


def test_cli_reports_bad_scenario_without_traceback(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text("[sizes]\nmin = 0\n")
    assert main(["form", "--scenario", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "sizes.min" in err


def test_quotas_in_a_scenario(tmp_path):
    from clustering.spec import Quota

    path = tmp_path / "q.toml"
    path.write_text(
        '[[quota]]\ncolumn = "phase"\nvalue = "high"\nmin = 1\n\n'
        '[[quota]]\ncolumn = "type"\nvalue = "A3"\nmax = 1\n'
    )
    scenario = load_scenario(path)
    assert scenario.sizes.quotas == (Quota("phase", "high", 1, None), Quota("type", "A3", 0, 1))
    (tmp_path / "again.toml").write_text(scenario_to_toml(scenario))
    assert load_scenario(tmp_path / "again.toml").sizes.quotas == scenario.sizes.quotas
    path.write_text('[[quota]]\ncolumn = "phase"\nvalue = "high"\nmin = 3\nmax = 1\n')
    with pytest.raises(InputError, match=r"quota #1\.max: is below min"):
        load_scenario(path)
