"""The Streamlit explorer (app.py at the repo root), driven headless by AppTest."""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest

import clustering

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"


@pytest.fixture(autouse=True, scope="module")
def _keep_main_module():
    """AppTest leaves ``sys.modules["__main__"]`` pointing at the app script; put it back.

    Otherwise every process started later in the session (the sweep's workers, Dask's
    nannies) re-imports the app script as its main module and dies.
    """
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


def _app_module():
    spec = importlib.util.spec_from_file_location("explorer_app", APP)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # main() runs only as __main__
    return module


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


@pytest.fixture(scope="module")
def solved():
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    assert not at.exception
    assert not at.error
    assert at.selectbox(key="sample").value.startswith("Hampshire")
    at.number_input(key="time_limit").set_value(3)
    at.checkbox(key="deterministic").check()
    at.button(key="submit").click()
    at.run()
    return at


def test_hampshire_solves_and_shows_metrics_and_table(solved, tmp_path_factory):
    at = solved
    assert not at.exception
    assert not at.error
    metrics = _metrics(at)
    assert set(metrics) >= {"Objective", "Lower bound", "Gap", "Checker"}
    assert metrics["Checker"] == "passed"
    assert metrics["Objective"].endswith("km")
    assert len(at.dataframe) == 1
    (chart,) = at.get("deck_gl_json_chart")
    spec = json.loads(chart.proto.json)
    assert spec.get("mapStyle") is None
    assert spec.get("mapProvider") is None
    assert [layer["@@type"] for layer in spec["layers"]] == ["LineLayer", "ScatterplotLayer"]
    assert len(spec["layers"][1]["data"]) == at.session_state["layout"].centres.shape[0]
    assert "layout" in at.session_state
    assert at.session_state["layout"].n_clusters > 0
    scenario_file = tmp_path_factory.mktemp("app") / "scenario.toml"
    scenario_file.write_text(at.session_state["toml"], encoding="utf-8")
    scenario = clustering.load_scenario(scenario_file)
    assert scenario.sizes.min_size == 8
    assert scenario.deterministic
    assert Path(scenario.centres).name == "hampshire_primary_schools_2022.csv"


def test_a_contrast_weight_changes_the_objective_with_a_warm_start(solved):
    at = solved
    before = _metrics(at)["Objective"]
    at.number_input(key="w_fsm_pct").set_value(2.0)
    at.button(key="submit").click()
    at.run()
    assert not at.exception
    assert _metrics(at)["Objective"] != before
    assert at.session_state["layout"].params["weights"]["contrast"] == {"fsm_pct": 2.0}
    assert "warm start" in at.status[0].label


def test_a_table_without_ids_is_an_input_error_in_plain_words():
    app = _app_module()
    with pytest.raises(clustering.InputError, match="no id column"):
        app.load_frame(pd.DataFrame({"a": [1, 2], "b": [3, 4]}))


def test_uploads_are_capped_and_typed():
    app = _app_module()
    with pytest.raises(clustering.InputError, match="up to 20 MB"):
        app.load_bytes("big.csv", b"x" * (app.MAX_BYTES + 1))
    with pytest.raises(clustering.InputError, match="reads"):
        app.load_bytes("data.pkl", b"not read")
    with pytest.raises(clustering.InputError, match="rows; the app takes up to"):
        app.load_frame(pd.DataFrame({"id": range(app.MAX_ROWS + 1)}))


def test_a_malformed_upload_reads_as_an_input_error():
    app = _app_module()
    with pytest.raises(clustering.InputError):
        app.load_bytes("schools.csv", b"id,lat,lon\n1,91.5,-1\n2,not,a number\n")


def _bad_upload_script():
    import importlib.util

    import streamlit as st

    spec = importlib.util.spec_from_file_location("explorer_app", st.session_state["app_path"])
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    app.centres_or_error("schools.csv", b"name,lat,lon\nA,51.0,-1.2\nB,51.1,-1.3\n")


def test_a_bad_upload_shows_an_error_not_a_traceback():
    at = AppTest.from_function(_bad_upload_script, default_timeout=60)
    at.session_state["app_path"] = str(APP)
    at.run()
    assert not at.exception
    assert len(at.error) == 1
    message = at.error[0].value
    assert message.startswith("The file could not be used:")
    assert "no id column" in message
    assert "Traceback" not in message


def test_progress_reaches_the_calling_thread_only():
    app = _app_module()
    sample = ROOT / "data/sample/hampshire_primary_schools_2022.csv"
    centres = app.load_bytes("upload.csv", sample.read_bytes())  # through the upload path
    assert centres.source == "upload.csv"
    seen = []

    def on_progress(event, seconds):
        seen.append((threading.current_thread() is threading.main_thread(), event))

    layout = app.solve(
        centres,
        clustering.SizeRule(8, 12),
        clustering.Weights(),
        time_limit=2,
        seed=0,
        deterministic=True,
        start=None,
        on_progress=on_progress,
    )
    events = [e for _, e in seen if e is not None]
    assert all(main for main, _ in seen)
    assert events[-1].stage == "done"
    assert events[-1].objective == pytest.approx(layout.objective)
