"""Scenario files: reading, validation errors, round trips and the CLI."""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clustering import InputError, Quota, SizeRule
from clustering.api.form import run_scenario
from clustering.cli import main
from clustering.input.files import EXCLUDED_BY_SCENARIO, PreviousLayout, read_exclusions
from clustering.model.objective import Weights
from clustering.model.rules import Constraints
from clustering.model.scenario import Scenario, load_scenario, scenario_to_toml

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
        ("[objective]\nstability = -1\n", "objective.stability: -1 must be 0 or more"),
        ("[objective]\npartnerships = 'lots'\n", "objective.partnerships: 'lots' is not a"),
        ("[objective.themes]\ndiocese = -1\n", "objective.themes.diocese: -1 must be 0"),
        ("[objective.themes]\ndiocese = true\n", "objective.themes.diocese: True is not"),
        ("[constraint]\nmax_distance = 5\n", "[constraint]: unknown table"),
        ("[constraints]\nmax_dist = 5\n", "constraints.max_dist: unknown key"),
        ("[constraints]\nmax_distance = 0\n", "constraints.max_distance: 0 must be greater"),
        ("[constraints]\nmax_distance = '5'\n", "constraints.max_distance: '5' is not a number"),
        ("[constraints]\nboundary = ' '\n", "constraints.boundary: ' ' must not be empty"),
        ("[constraints]\ncross_boundary = 'yes'\n", "constraints.cross_boundary: 'yes' is not"),
        ("[constraints]\ncoordinator = 3\n", "constraints.coordinator: 3 is not text"),
        ("[constraints]\nconsent = ''\n", "constraints.consent: '' must not be empty"),
        ("[constraints]\nmust_link = '1,2'\n", "constraints.must_link: '1,2' is not a list"),
        ("[constraints]\nmust_link = ['1', '2']\n", "constraints.must_link #1: '1' is not a"),
        ("[constraints]\nmust_link = [['1', '1']]\n", "must_link #1: needs at least two"),
        ("[constraints]\ncannot_link = [['1', 2.5]]\n", "cannot_link #1: 2.5 is not a centre"),
        ("[constraints]\ncannot_link = [['1', true]]\n", "cannot_link #1: True is not a"),
        ("[constraints]\nmust_link_file = 7\n", "constraints.must_link_file: 7 is not text"),
        ("[constraints]\nexclude = '115852'\n", "constraints.exclude: '115852' is not a list"),
        ("[constraints]\nexclude = [['1']]\n", "constraints.exclude: ['1'] is not a centre"),
        ("[constraints]\nexclude = {1 = 3}\n", "constraints.exclude.1: 3 is not a reason"),
        ("[constraints]\nexclude_file = ''\n", "constraints.exclude_file: '' must not be"),
        ("[partnerships]\nweight = 2\n", "partnerships.weight: unknown key"),
        ("[partnerships]\nhard = 1\n", "partnerships.hard: 1 is not true or false"),
        ("[partnerships]\npairs = [['1', '2', '3']]\n", "partnerships.pairs #1: has 3 ids"),
        ("[previous]\nassignments = 3\n", "previous.assignments: 3 is not text"),
        ("[previous]\nlock_clusters = '3'\n", "previous.lock_clusters: '3' is not a list"),
        ("[previous]\nlock_clusters = [1.5]\n", "lock_clusters: 1.5 is not a cluster label"),
        ("[previous]\nlock_centres = ['']\n", "previous.lock_centres: '' is not a centre"),
        # settings that only make sense together
        ("[objective]\nboundary = 2\n", "objective.boundary: 2 per member across"),
        (
            "[objective]\nboundary = 2\n[constraints]\nboundary = 'district'\n",
            "needs cross_boundary = true",
        ),
        ("[constraints]\ncross_boundary = true\n", "constraints.cross_boundary: needs"),
        ("[objective]\npartnerships = 2\n", "objective.partnerships: 2 per partnership"),
        ("[partnerships]\nhard = true\n", "partnerships.hard: needs the partnerships"),
        ("[objective]\nstability = 3\n", "objective.stability: 3 per member moved needs"),
        ("[previous]\nlock_clusters = ['3']\n", "previous.lock_clusters: needs the previous"),
        ("[previous]\nlock_centres = [115850]\n", "previous.lock_centres: needs the previous"),
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


def _numpy_scenario() -> Scenario:
    """A scenario as code that computed its numbers with numpy would build it."""
    return Scenario(
        centres=str(SAMPLE / "hampshire_primary_schools_2022.csv"),
        sizes=SizeRule(
            np.int64(6),
            np.int64(14),
            n_clusters=np.int64(40),
            target_size=np.float64(10.5),
            size_by="pupils",
            min_weight=np.float64(100.25),
            max_weight=np.int32(5000),
            quotas=(Quota("phase", "primary", np.int64(1), np.int64(9)),),
        ),
        weights=Weights(
            travel=np.float64(0.5),
            contrast={"fsm_pct": np.float64(2.5), "urban_rural": np.int64(7)},
            themes={"Diocese (name)": np.float32(1.5)},
            partnerships=np.float64(4.0),
        ),
        constraints=Constraints(
            partnerships=(("a", "b"),),
            max_distance=np.float64(12.75),
            lock_centres=(),
        ),
        time_limit=np.float64(12.5),
        seed=np.int64(7),
        workers=np.int64(1),
        gap_target=np.float64(0.01),
    )


def test_numpy_numbers_are_written_as_plain_toml_numbers(tmp_path):
    text = scenario_to_toml(_numpy_scenario(), relative_to=tmp_path)
    assert text.startswith("# Written by clustering; `clustering form --scenario THIS_FILE`")
    assert "np." not in text
    assert "numpy" not in text
    doc = tomllib.loads(text)
    assert doc["sizes"] == {
        "min": 6,
        "max": 14,
        "clusters": 40,
        "target": 10.5,
        "by": "pupils",
        "min_weight": 100.25,
        "max_weight": 5000,
    }
    assert doc["quota"] == [{"column": "phase", "value": "primary", "min": 1, "max": 9}]
    assert doc["objective"] == {
        "travel": 0.5,
        "partnerships": 4.0,
        "contrast": {"fsm_pct": 2.5, "urban_rural": 7.0},
        "themes": {"Diocese (name)": 1.5},
    }
    assert doc["constraints"] == {"max_distance": 12.75}
    assert doc["partnerships"] == {"pairs": [["a", "b"]]}
    assert doc["solver"] == {
        "time_limit": 12.5,
        "seed": 7,
        "workers": 1,
        "gap_target": 0.01,
        "deterministic": False,
    }
    assert doc["data"]["centres"] == str(
        Path(os.path.relpath(SAMPLE / "hampshire_primary_schools_2022.csv", tmp_path))
    )
    for table in ("sizes", "solver", "objective"):
        for key, value in doc[table].items():
            assert type(value) in (int, float, str, dict, bool), (table, key, value)
    assert type(doc["objective"]["contrast"]["urban_rural"]) is float  # a weight: a float


def test_write_read_write_is_stable(tmp_path):
    first = scenario_to_toml(_numpy_scenario(), relative_to=tmp_path)
    path = tmp_path / "scenario.toml"
    path.write_text(first, encoding="utf-8")
    again = load_scenario(path)
    assert again.sizes.min_size == 6
    assert type(again.sizes.min_size) is int
    second = scenario_to_toml(again, relative_to=tmp_path)
    assert second == first
    path.write_text(second, encoding="utf-8")
    assert load_scenario(path) == again


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
    from clustering.model.sizes import Quota

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


# ---------------------------------------------------------------- constraints

FULL = """
[data]
centres = "centres.csv"

[objective]
travel = 1.0
partnerships = 2.0
stability = 3.0
boundary = 2.0

[objective.contrast]
fsm_pct = 1

[objective.themes]
diocese = 2.0
"Trusts (name)" = 0.5

[constraints]
max_distance = 15
boundary = "district"
cross_boundary = true
coordinator = "ofsted in Good, Outstanding"
consent = "consented"
must_link = [["115850", 115851], ["7", "8"]]
must_link_file = "groups.csv"
cannot_link = [["1", "2", "3"]]
cannot_link_file = "apart.csv"
exclude = ["115852"]
exclude_file = "not_taking_part.csv"

[partnerships]
file = "partnerships.csv"
hard = false

[previous]
assignments = "out/previous/assignments.csv"
lock_clusters = ["3", 7]
lock_centres = ["115850"]
"""


def _rule_files(folder: Path) -> None:
    (folder / "groups.csv").write_text("group,centre_id\na,115850\na,115851\nb,1\nb,2\n")
    (folder / "apart.csv").write_text("group,centre_id\nx,10\nx,11\n")
    (folder / "partnerships.csv").write_text("centre_a,centre_b\n115850,115860\n5,6\n")
    (folder / "not_taking_part.csv").write_text(
        "centre_id,reason\n115853,closing in July\n115854,\n"
    )
    previous = folder / "out" / "previous"
    previous.mkdir(parents=True)
    (previous / "assignments.csv").write_text(
        "centre_id,cluster,is_venue\n115850,3,True\n115851,3,False\n115860,7,True\n999,,False\n"
    )


@pytest.fixture
def full(tmp_path) -> Path:
    _rule_files(tmp_path)
    path = tmp_path / "full.toml"
    path.write_text(FULL)
    return path


def test_constraints_are_read_with_their_files(full):
    scenario = load_scenario(full)
    folder = full.parent
    c = scenario.constraints
    # files first, then what is stated inline; a group given twice counts once
    assert c.must_link == (("115850", "115851"), ("1", "2"), ("7", "8"))
    assert c.cannot_link == (("10", "11"), ("1", "2", "3"))
    assert c.partnerships == (("115850", "115860"), ("5", "6"))
    assert c.partnerships_hard is False
    assert c.exclude == {
        "115852": EXCLUDED_BY_SCENARIO,
        "115853": "closing in July",
        "115854": EXCLUDED_BY_SCENARIO,
    }
    assert (c.max_distance, c.boundary, c.cross_boundary) == (15.0, "district", True)
    assert (c.coordinator, c.consent) == ("ofsted in Good, Outstanding", "consented")
    assert c.previous == PreviousLayout(
        {"115850": "3", "115851": "3", "115860": "7"},
        {"3": "115850", "7": "115860"},
        str(folder / "out" / "previous" / "assignments.csv"),
    )
    assert (c.lock_clusters, c.lock_centres) == (("3", "7"), ("115850",))
    assert c.source == str(full)
    assert scenario.constraint_files == {
        "must_link": str(folder / "groups.csv"),
        "cannot_link": str(folder / "apart.csv"),
        "exclude": str(folder / "not_taking_part.csv"),
        "partnerships": str(folder / "partnerships.csv"),
        "previous": str(folder / "out" / "previous" / "assignments.csv"),
    }
    assert scenario.weights == Weights(
        1.0,
        {"fsm_pct": 1.0},
        themes={"diocese": 2.0, "Trusts (name)": 0.5},
        partnerships=2.0,
        stability=3.0,
        boundary=2.0,
    )


def test_round_trip_with_constraints_is_equal(full):
    scenario = load_scenario(full)
    text = scenario_to_toml(scenario, relative_to=full.parent)
    written = tomllib.loads(text)["constraints"]
    assert written["must_link_file"] == "groups.csv"  # files by name, not by content
    assert written["must_link"] == [["7", "8"]]  # only what no file holds is inline
    assert written["exclude"] == ["115852"]
    full.write_text(text)  # same path, so the sources agree too
    assert load_scenario(full) == scenario


def test_round_trip_into_another_folder(full):
    scenario = load_scenario(full)
    out = full.parent / "runs" / "a"
    out.mkdir(parents=True)
    (out / "scenario.toml").write_text(scenario_to_toml(scenario, relative_to=out))
    assert '"../../groups.csv"' in (out / "scenario.toml").read_text()
    again = load_scenario(out / "scenario.toml")
    files = {k: Path(v).resolve() for k, v in again.constraint_files.items()}
    assert files == {k: Path(v).resolve() for k, v in scenario.constraint_files.items()}
    previous = replace(again.constraints.previous, source=scenario.constraints.previous.source)
    assert replace(again.constraints, source=str(full), previous=previous) == scenario.constraints
    assert again.weights == scenario.weights


def test_round_trip_of_constraints_stated_in_python(tmp_path):
    original = Scenario(
        weights=Weights(themes={"Diocese (name)": 1.5}, partnerships=4.0),
        constraints=Constraints(
            must_link=(("a", "b", "c"),),
            cannot_link=(("d", "e"),),
            partnerships=(("a", "f"), ("g", "h")),
            partnerships_hard=True,
            coordinator='ofsted = "Good"',
            max_distance=12.5,
            exclude={"x": "closing in July", "y": EXCLUDED_BY_SCENARIO},
            consent="willing",
        ),
    )
    path = tmp_path / "s.toml"
    path.write_text(scenario_to_toml(original))
    again = load_scenario(path)
    assert again == replace(original, constraints=replace(original.constraints, source=str(path)))


def test_constraint_file_errors_name_the_file_row_column_and_key(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[constraints]\nmust_link_file = "missing.csv"\n')
    with pytest.raises(InputError) as info:
        load_scenario(path)
    message = str(info.value)
    assert "missing.csv" in message
    assert f"constraints.must_link_file in {path}" in message
    (tmp_path / "out.csv").write_text("centre_id,reason\n1,gone\n,gone\n")
    path.write_text('[constraints]\nexclude_file = "out.csv"\n')
    with pytest.raises(InputError, match=r"out\.csv, row 3, column 'centre_id': no centre id"):
        load_scenario(path)
    (tmp_path / "prev.csv").write_text("centre_id,venue\n1,2\n")
    path.write_text('[previous]\nassignments = "prev.csv"\n')
    with pytest.raises(InputError, match=r"no 'cluster' column.*previous\.assignments in"):
        load_scenario(path)
    (tmp_path / "folder.csv").mkdir()
    path.write_text('[partnerships]\nfile = "folder.csv"\n')
    with pytest.raises(InputError, match="cannot read it"):
        load_scenario(path)


def test_locks_must_name_the_previous_layout(full):
    text = FULL.replace('lock_clusters = ["3", 7]', 'lock_clusters = ["3", 99]')
    full.write_text(text)
    with pytest.raises(InputError) as info:
        load_scenario(full)
    assert "previous.lock_clusters: cluster '99' is not in the previous layout" in str(info.value)
    assert "use one of its clusters: 3, 7" in str(info.value)
    full.write_text(FULL.replace('lock_centres = ["115850"]', 'lock_centres = ["999"]'))
    with pytest.raises(InputError, match=r"previous\.lock_centres: centre '999' has no cluster"):
        load_scenario(full)


def test_read_exclusions(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("URN,why\n101.0,\n 102 ,x\n\n")
    assert read_exclusions(path) == {"101": EXCLUDED_BY_SCENARIO, "102": EXCLUDED_BY_SCENARIO}
    path.write_text("name,centre_id,Reason\nA,1,moving\nB,1,again\n")
    with pytest.raises(InputError, match="row 3, column 'centre_id': centre 1 appears twice"):
        read_exclusions(path)
    path.write_text("")
    with pytest.raises(InputError, match="the file is empty"):
        read_exclusions(path)


def test_with_constraints_replaces_a_file_and_keeps_what_is_inline(full):
    scenario = load_scenario(full)
    other = full.parent / "other.csv"
    other.write_text("centre_id\n42\n")
    changed = scenario.with_constraints(files={"exclude": str(other)}, max_distance=9.0)
    assert changed.constraints.exclude == {
        "115852": EXCLUDED_BY_SCENARIO,
        "42": EXCLUDED_BY_SCENARIO,
    }
    assert changed.constraint_files["exclude"] == str(other)
    assert changed.constraints.max_distance == 9.0
    assert changed.constraints.must_link == scenario.constraints.must_link
    assert scenario.constraints.max_distance == 15.0  # the original is unchanged


def test_scenario_with_constraints_forms_clusters_that_respect_them(tmp_path):
    """End to end: needs ``form_clusters(..., constraints=...)`` from the engine."""
    n = 30
    pd.DataFrame(
        {
            "id": [f"S{i:02d}" for i in range(n)],
            "name": [f"School {i}" for i in range(n)],
            "lat": [51.0 + 0.01 * (i % 6) + 0.002 * i for i in range(n)],
            "lon": [-1.2 + 0.013 * (i // 6) for i in range(n)],
            "district": ["West" if i < 15 else "East" for i in range(n)],
        }
    ).to_csv(tmp_path / "centres.csv", index=False)
    (tmp_path / "away.csv").write_text("centre_id,reason\nS20,closing in July\n")
    path = tmp_path / "s.toml"
    path.write_text(
        '[data]\ncentres = "centres.csv"\n[sizes]\nmin = 4\nmax = 6\n'
        '[constraints]\nboundary = "district"\nmust_link = [["S00", "S14"]]\n'
        'cannot_link = [["S01", "S02"]]\nexclude = ["S03"]\nexclude_file = "away.csv"\n'
        "[solver]\ntime_limit = 3\n"
    )
    layout = run_scenario(load_scenario(path))
    rows = layout.assignments.set_index("centre_id")
    assert rows.loc["S03", "excluded_reason"] == EXCLUDED_BY_SCENARIO
    assert rows.loc["S20", "excluded_reason"] == "closing in July"
    members = rows[rows["cluster"].notna()]
    assert len(members) == n - 2
    assert members.loc["S00", "cluster"] == members.loc["S14", "cluster"]
    assert members.loc["S01", "cluster"] != members.loc["S02", "cluster"]
    for _, group in members.groupby("cluster"):
        assert len({int(c[1:]) < 15 for c in group.index}) == 1  # inside one district
    assert layout.stats["checker"] == "passed"


def test_the_api_cli_and_scenario_files_share_one_default_time_limit():
    import inspect

    from clustering import DEFAULT_TIME_LIMIT, ClusterFormer, Scenario, form_clusters
    from clustering.cli import _parser

    assert inspect.signature(form_clusters).parameters["time_limit"].default == DEFAULT_TIME_LIMIT
    assert ClusterFormer().time_limit == DEFAULT_TIME_LIMIT
    assert Scenario().time_limit == DEFAULT_TIME_LIMIT
    form = _parser()._subparsers._group_actions[0].choices["form"]
    (flag,) = [a for a in form._actions if "--time-limit" in a.option_strings]
    assert flag.default is None  # the scenario's value applies unless the flag is given
    assert f"default {DEFAULT_TIME_LIMIT:g}" in flag.help
