"""The Streamlit explorer (app.py and explorer/), driven headless by AppTest.

One module-scoped session forms clusters on the Hampshire sample; the tests after it
change a weight, lock a cluster, move a school by hand, undo, and compare, each on
the page a person sees. The panels' plain functions are tested directly.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import sys
import threading
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest

import clustering
from explorer import data, job, mapview, results, settings
from explorer import plan as plan_panel

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
HAMPSHIRE = ROOT / "data/sample/hampshire_primary_schools_2022.csv"


@pytest.fixture(autouse=True, scope="module")
def _keep_main_module():
    """AppTest leaves ``sys.modules["__main__"]`` pointing at the app script; put it back.

    Otherwise every process started later in the session (the sweep's workers, Dask's
    nannies) re-imports the app script as its main module and dies.
    """
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _shown(at: AppTest) -> clustering.Layout:
    return at.session_state["shown"].layout


def _ok(at: AppTest) -> None:
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]


def _frame(at: AppTest, *columns: str) -> pd.DataFrame:
    """The first table on the page with these columns (tables carry no key in AppTest)."""
    for element in at.dataframe:
        value = element.value
        if set(columns) <= set(value.columns):
            return value
    raise AssertionError(f"no table with columns {columns}")


def _deck(at: AppTest, key: str = "map") -> dict:
    charts = [c for c in at.get("deck_gl_json_chart") if c.proto.id and key in c.proto.id]
    charts = charts or list(at.get("deck_gl_json_chart"))
    return json.loads(charts[0].proto.json)


@pytest.fixture(scope="module")
def app() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.run()
    _ok(at)
    assert at.selectbox(key="sample").value.startswith("Hampshire")
    assert at.info[0].value.startswith("Set what matters")
    at.number_input(key="time_limit").set_value(3)
    at.checkbox(key="deterministic").check()
    at.button(key="submit").click()
    at.run()
    return at


def test_a_first_solve_shows_the_map_metrics_table_and_downloads(app, tmp_path):
    at = app
    _ok(at)
    metrics = _metrics(at)
    assert set(metrics) >= {"Objective", "Lower bound", "Gap", "Travel", "Longest trip", "Checker"}
    assert metrics["Checker"] == "passed"
    # what was left out on reading, counted by reason first, then row by row
    reasons = [t.value for t in at.sidebar.text]
    assert reasons == ["93 × closed (EstablishmentStatus (name) = Closed)"]
    left_out = at.sidebar.dataframe[0].value
    assert list(left_out.columns[:2]) == ["reason", "name"]
    assert len(left_out) == 93
    layout = _shown(at)
    assert metrics["Objective"] == results.cost(layout.objective, "m")
    assert layout.stats["checker"] == "passed"
    assert 0 < layout.lower_bound <= layout.objective
    assert layout.params["time_limit"] == 3
    # the map: outlines, member → venue lines, one point per school, no base map
    spec = _deck(at)
    assert spec.get("mapStyle") is None
    assert [layer["@@type"] for layer in spec["layers"]] == [
        "GeoJsonLayer",
        "LineLayer",
        "ScatterplotLayer",
    ]
    assert len(spec["layers"][0]["data"]["features"]) == 11  # Hampshire's districts
    assert len(spec["layers"][2]["data"]) == len(layout.centres)
    assert len(spec["layers"][1]["data"]) == len(layout.centres) - layout.n_clusters
    table = _frame(at, "cluster", "size")
    assert len(table) == layout.n_clusters
    labels = {b.label for b in at.get("download_button")}
    assert labels == {
        "Assignments (CSV)",
        "Schools (GeoJSON)",
        "Clusters (GeoJSON)",
        "Report (HTML)",
        "Scenario (TOML)",
    }
    # the scenario saved from the page repeats with the CLI's reader
    file = tmp_path / "scenario.toml"
    file.write_text(at.session_state["shown"].toml, encoding="utf-8")
    scenario = clustering.load_scenario(file)
    assert scenario.sizes.min_size == 8
    assert scenario.deterministic
    assert Path(scenario.centres).name == HAMPSHIRE.name


def test_a_contrast_weight_re_solves_warm_and_shows_the_change(app):
    at = app
    before = _shown(at)
    at.number_input(key="w_fsm_pct").set_value(2.0)
    at.button(key="submit").click()
    at.run()
    _ok(at)
    after = _shown(at)
    assert after is not before
    assert after.params["weights"]["contrast"] == {"fsm_pct": 2.0}
    assert after.params["time_limit"] == at.number_input(key="resolve_limit").value
    assert after.objective != before.objective
    assert any("warm start from the previous layout" in m.value for m in at.success)
    objective = next(m for m in at.metric if m.label == "Objective")
    assert objective.proto.delta  # the change from the layout before is shown


def test_a_locked_cluster_keeps_its_members_through_a_re_solve(app):
    at = app
    before = _shown(at).centres
    at.multiselect(key="lock_clusters").select(3)
    at.number_input(key="w_fsm_pct").set_value(0.0)
    at.button(key="submit").click()
    at.run()
    _ok(at)
    after = _shown(at)
    kept = set(before.loc[before["cluster"] == 3, "centre_id"])
    assert set(after.centres.loc[after.centres["cluster"] == 3, "centre_id"]) == kept
    assert list(after.params["constraints"]["lock_clusters"]) == ["3"]
    # the saved scenario leaves locks out: they name the layout on screen
    assert "lock_clusters" not in at.session_state["shown"].toml
    at.multiselect(key="lock_clusters").unselect(3)
    at.run()


def test_a_school_is_explained_moved_by_hand_and_the_move_undone(app):
    at = app
    layout = _shown(at)
    frame = layout.centres
    member = frame[~frame["is_venue"]].iloc[0]
    label = f"{member['name']} ({member['centre_id']})"
    at.selectbox(key="selected_school").set_value(label)
    at.run()
    _ok(at)
    shown = " ".join(m.value for m in at.markdown)
    assert f"**{member['name']}** — cluster {member['cluster']}" in shown
    assert _frame(at, "cluster", "how", "breaks").shape[0] > 0
    # the map rings the selected school
    points = _deck(at)["layers"][2]["data"]
    ringed = [p["centre_id"] for p in points if p["ring_width"]]
    assert ringed == [str(member["centre_id"])]
    target = int(frame.loc[frame["cluster"] != member["cluster"], "cluster"].iloc[0])
    at.selectbox(key="move_to").set_value(target)
    at.button(key="move").click()
    at.run()
    assert not at.exception
    moved = _shown(at)
    assert moved.status == "edited"
    row = moved.centres.set_index("centre_id").loc[member["centre_id"]]
    assert row["cluster"] == target
    assert moved.objective == pytest.approx(
        clustering.move_centre(layout, member["centre_id"], target)[0].objective
    )
    word = _metrics(at)["Checker"]
    assert word == ("passed" if moved.stats["checker"] == "passed" else "rules broken")
    if word == "rules broken":
        assert at.warning, "a broken rule is named on the page"
    at.button(key="undo").click()
    at.run()
    _ok(at)
    assert _shown(at) is layout


def test_two_layouts_are_compared_on_the_page(app):
    at = app
    history = at.session_state["history"]
    assert len(history) >= 3
    compare_a = at.selectbox(key="compare_a")
    compare_a.set_value(compare_a.options[0])  # the first solve against the latest layout
    at.run()
    _ok(at)
    metrics = _frame(at, "metric", "a", "b", "change")
    assert "objective" in set(metrics["metric"])
    moved = _frame(at, "centre_id", "cluster_a", "cluster_b", "status")
    assert at.selectbox(key="compare_b").value.endswith(history[-1].label)
    expected = clustering.compare_layouts(history[0].layout, history[-1].layout)
    assert len(moved) == len(expected.moved)
    maps = [c for c in at.get("deck_gl_json_chart")]
    assert len(maps) == 3  # the main map and the two compared


def test_the_year_is_planned_for_the_layout_on_screen(app):
    at = app
    layout = _shown(at)
    at.date_input(key="plan_start").set_value(dt.date(2026, 9, 1))
    at.date_input(key="plan_end").set_value(dt.date(2027, 7, 31))
    at.number_input(key="plan_meetings").set_value(3)
    at.text_input(key="plan_coordinator").set_value("ofsted in Good, Outstanding")
    at.text_input(key="plan_mentor_rule").set_value("ofsted in Outstanding")
    at.text_input(key="plan_mentee_rule").set_value("ofsted in Requires improvement")
    at.button(key="plan_submit").click()
    at.run()
    _ok(at)
    made = at.session_state["plan"][1]
    assert made.stats["checker"] == "passed"
    assert made.settings.calendar is None  # the bundled calendar is passed as a frame
    assert made.settings.meetings == 3
    roles = _frame(at, "coordinator_id", "deputy_id", "lead_id")
    assert len(roles) == layout.n_clusters
    meetings = _frame(at, "host_id", "date", "can_attend")
    assert len(meetings) == 3 * layout.n_clusters
    # England's (illustrative) term dates applied: nothing in the October half term
    assert not pd.to_datetime(meetings["date"]).between("2026-10-24", "2026-11-01").any()
    assert any(b.label.startswith("The plan") for b in at.get("download_button"))
    archive = zipfile.ZipFile(io.BytesIO(plan_panel.files(made)))
    names = set(archive.namelist())
    assert {"plan/meetings.csv", "plan/plan.html", "plan/calendars/cluster_01.ics"} <= names


def test_uploaded_term_dates_errors_name_the_upload():
    bad = b"applies_to,kind,start,end\nall,term,2026-09-01,someday\n"
    with pytest.raises(clustering.InputError) as caught:
        plan_panel.read_terms("our_terms.csv", bad)
    assert caught.value.file == "our_terms.csv"
    assert (caught.value.row, caught.value.column) == (2, "end")


def test_a_bundled_scenario_fills_the_form():
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    at.selectbox(key="bundled_scenario").set_value("hampshire_mixed")
    at.button(key="load_bundled").click()
    at.run()
    _ok(at)
    scenario = clustering.load_scenario(ROOT / "data/sample/hampshire_mixed.toml")
    for attribute, weight in scenario.weights.contrast.items():
        assert at.number_input(key=f"w_{attribute}").value == pytest.approx(weight)
    assert at.number_input(key="min_size").value == scenario.sizes.min_size
    assert any("Loaded hampshire_mixed.toml" in s.value for s in at.success)


def test_choosing_who_takes_part_excludes_the_others_with_a_reason():
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    at.selectbox(key="only_column").set_value("type")
    at.run()
    kept = at.multiselect(key="only_type")
    academies = [v for v in kept.options if "academy" in v.lower()]
    for value in academies:
        kept.unselect(value)
    at.run()
    _ok(at)
    centres = clustering.load_centres(HAMPSHIRE)
    out = data.not_taking_part(centres, "type", [v for v in kept.options if v not in academies])
    assert out
    assert all(reason.startswith("not taking part: type is not") for reason in out.values())
    assert any(
        f"{len(centres) - len(out):,} schools take part" in c.value for c in at.sidebar.caption
    )
    at.number_input(key="time_limit").set_value(2)
    at.checkbox(key="deterministic").check()
    at.button(key="submit").click()
    at.run()
    _ok(at)
    layout = _shown(at)
    excluded = layout.excluded.set_index("centre_id")["reason"]
    assert set(out) <= set(excluded.index.astype(str))
    assert not set(out) & set(layout.centres["centre_id"].astype(str))


def _bad_upload_script():
    from explorer import data

    data.read_or_explain("schools.csv", b"name,lat,lon\nA,51.0,-1.2\nB,51.1,-1.3\n")


def test_a_bad_upload_shows_the_reason_in_plain_words_not_a_traceback():
    at = AppTest.from_function(_bad_upload_script, default_timeout=60)
    at.run()
    assert not at.exception
    (error,) = at.error
    assert error.value.startswith("The file could not be used: schools.csv: no id column")
    assert "Traceback" not in error.value
    assert "/tmp" not in error.value  # the upload's name, not its temporary copy


def test_uploads_are_capped_and_typed():
    with pytest.raises(clustering.InputError, match="up to 20 MB"):
        data.load_bytes("big.csv", b"x" * (data.MAX_BYTES + 1))
    with pytest.raises(clustering.InputError, match="reads"):
        data.load_bytes("data.pkl", b"not read")
    with pytest.raises(clustering.InputError, match="rows; the app takes up to"):
        data.load_frame(pd.DataFrame({"id": range(data.MAX_ROWS + 1)}))


def test_a_malformed_upload_names_its_row_and_column():
    with pytest.raises(clustering.InputError, match=r"^schools\.csv, row 3, column 'lat'"):
        data.load_bytes("schools.csv", b"id,lat,lon\n1,51.5,-1\n2,not,-1\n")


def test_an_upload_reads_like_the_file_and_columns_can_be_mapped():
    sample = HAMPSHIRE.read_bytes()
    centres = data.load_bytes("upload.csv", sample)
    assert centres.source == "upload.csv"
    assert len(centres) == len(clustering.load_centres(HAMPSHIRE))
    odd = b"code,school,northing,easting\n1,A,150000,450000\n2,B,151000,451000\n"
    header = data.header("odd.csv", odd)
    assert header == ["code", "school", "northing", "easting"]
    mapped = data.load_bytes(
        "odd.csv",
        odd,
        columns={"id": "code", "name": "school", "x": "easting", "y": "northing"},
        crs="EPSG:27700",
    )
    assert list(mapped.frame["centre_id"]) == ["1", "2"]


def test_links_and_quotas_tables_read_back_or_name_the_bad_row():
    table = pd.DataFrame(
        {"kind": ["must link", "cannot link", None], "centre ids": ["1, 2", "3;4;5", None]}
    )
    assert settings.links_from(table) == ((("1", "2"),), (("3", "4", "5"),))
    with pytest.raises(clustering.InputError, match="row 1: a group needs two"):
        settings.links_from(pd.DataFrame({"kind": ["must link"], "centre ids": ["1"]}))
    with pytest.raises(clustering.InputError, match="row 1: kind 'sometimes'"):
        settings.links_from(pd.DataFrame({"kind": ["sometimes"], "centre ids": ["1,2"]}))
    quotas = settings.quotas_from(
        pd.DataFrame({"column": ["phase"], "value": ["high"], "min": [1], "max": [pd.NA]})
    )
    assert quotas == (clustering.Quota("phase", "high", min=1, max=None),)
    with pytest.raises(clustering.InputError, match="quotas table row 1: give both"):
        settings.quotas_from(
            pd.DataFrame({"column": ["phase"], "value": [None], "min": [1], "max": [2]})
        )


def test_an_uploaded_scenario_error_names_the_upload():
    with pytest.raises(clustering.InputError, match=r"mine\.toml") as caught:
        settings.read_scenario_upload("mine.toml", b"[sizes]\nmin_size = 'eight'\n")
    assert "/tmp" not in str(caught.value)


def test_the_map_draws_every_school_once_with_venues_larger():
    centres = clustering.load_centres(HAMPSHIRE)
    layout = clustering.form_clusters(centres, time_limit=2, baselines=False, deterministic=True)
    points, lines = mapview.records(layout, selected=str(layout.centres["centre_id"].iloc[0]))
    assert len(points) == len(layout.centres)
    assert len(lines) == len(layout.centres) - layout.n_clusters
    venues = [p for p in points if p["role"] == "venue"]
    assert len(venues) == layout.n_clusters
    assert min(p["radius"] for p in venues) > max(
        p["radius"] for p in points if p["role"] == "member" and not p["ring_width"]
    )
    assert all(-2.0 < p["lon"] < -0.7 and 50.6 < p["lat"] < 51.4 for p in points)
    deck = mapview.deck(layout, clustering.outlines(layout))
    assert deck.map_style is None


def test_a_job_reports_progress_and_stops_on_request():
    centres = clustering.load_centres(HAMPSHIRE)
    running = job.Job.start(
        "test", centres, clustering.SizeRule(8, 12), time_limit=120, baselines=False
    )
    seen = []
    deadline = time.perf_counter() + 60
    while not seen and time.perf_counter() < deadline:
        seen += running.events(wait=0.5)
    assert seen, "progress arrived from the worker thread"
    running.stop.set()
    running.wait(timeout=60)
    assert not running.running
    assert running.error is None
    assert running.layout.stats["stopped"] is True
    assert running.layout.stats["checker"] == "passed"
    assert running.seconds < 60
    text = job.progress_text(seen[-1])
    assert "objective" in text
    assert "bound" in text
    assert threading.current_thread() is threading.main_thread()
