"""Sweeps: grids, the product of their axes, a row per task, resuming, failures, Dask.

Tasks are small (one or two Hampshire districts of 26–30 schools, 1–2 s limits) and most
run in this process (``workers=0``), so that solver calls can be counted; one test runs the
local process pool through the command line and one a Dask cluster that loses a worker.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.forkserver
import os
import signal
import time
from pathlib import Path

import dask
import distributed
import pandas as pd
import pytest

import clustering
import clustering.api.sweep as sweep_module
from clustering.analysis.check import check_layout
from clustering.api.sweep import Grid, read_grid, task_id
from clustering.cli import main
from clustering.errors import InputError
from clustering.input.load import load_centres
from clustering.model.layout import Layout

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
HAMPSHIRE = SAMPLE / "hampshire_primary_schools_2022.csv"

pytestmark = pytest.mark.timeout(120)


def _grid(folder: Path, text: str, name: str = "grid.toml") -> Path:
    path = folder / name
    scenario = (SAMPLE / "hampshire.toml").as_posix()
    path.write_text(f'scenario = "{scenario}"\n' + text, encoding="utf-8")
    return path


TWO_DISTRICTS = """
[vary]
contrast.fsm_pct = [0, 2]
area = { column = "district", values = ["Gosport", "Hart"] }
[task]
time_limit = 1
"""


@pytest.fixture
def calls(monkeypatch):
    """Count the engine's calls made by sweep tasks run in this process."""
    seen: list[dict] = []
    real = sweep_module.form_clusters

    def counted(centres, rule, **kwargs):
        seen.append({"n": len(centres), **kwargs})
        return real(centres, rule, **kwargs)

    monkeypatch.setattr(sweep_module, "form_clusters", counted)
    return seen


# ---------------------------------------------------------------- grids


def test_sample_grids_read_and_multiply():
    grid = read_grid(SAMPLE / "sweep_hampshire.toml")
    assert grid.contrast == {"fsm_pct": (0, 1, 2, 5)}
    assert grid.seeds == (0, 1)
    assert grid.n_tasks == 8
    tasks = grid.tasks()
    assert len(tasks) == 8
    assert len({t["id"] for t in tasks}) == 8
    weights = sorted({t["params"]["contrast"]["fsm_pct"] for t in tasks})
    assert weights == [0, 1, 2, 5]
    assert {t["params"]["time_limit"] for t in tasks} == {8.0}
    national = read_grid(SAMPLE / "sweep_national.toml")
    assert national.synthetic == {"seed": 0}
    assert national.n_tasks == 10
    assert national.area_column == "la"


def test_product_of_every_axis_and_stable_ids(tmp_path):
    path = _grid(
        tmp_path,
        """
[vary]
contrast = { fsm_pct = [0, 1, 3], urban_rural = [0, 5] }
sizes = [[8, 12], [6, 10]]
seed = [0, 1]
area = { column = "district" }
[task]
time_limit = 2
workers = 2
""",
    )
    grid = read_grid(path)
    tasks = grid.tasks()
    assert len(tasks) == 3 * 2 * 2 * 2 * 11  # every district of Hampshire, 11
    assert len({t["id"] for t in tasks}) == len(tasks)
    combos = {
        (
            t["params"]["area"],
            t["params"]["min_size"],
            t["params"]["contrast"]["fsm_pct"],
            t["params"]["contrast"]["urban_rural"],
            t["params"]["seed"],
        )
        for t in tasks
    }
    assert len(combos) == len(tasks)
    assert {t["params"]["workers"] for t in tasks} == {2}
    # ids are hashes of the parameters: the same on a second reading, anywhere
    again = read_grid(path).tasks()
    assert [t["id"] for t in tasks] == [t["id"] for t in again]
    assert all(t["id"] == task_id(t) for t in tasks)
    # … and change with any parameter
    other = path.read_text().replace("time_limit = 2", "time_limit = 3")
    changed = read_grid(_grid(tmp_path, other.split("\n", 1)[1], "other.toml")).tasks()
    assert not {t["id"] for t in tasks} & {t["id"] for t in changed}
    # tasks are plain data
    import pickle

    assert pickle.loads(pickle.dumps(tasks[0])) == tasks[0]


def test_inline_scenario_and_python_grid(tmp_path):
    path = tmp_path / "inline.toml"
    path.write_text(
        f"""
[scenario.data]
centres = "{HAMPSHIRE.as_posix()}"
[scenario.sizes]
min = 7
max = 11
[vary]
seed = [3, 4]
""",
        encoding="utf-8",
    )
    tasks = read_grid(path).tasks()
    assert [(t["params"]["min_size"], t["params"]["seed"]) for t in tasks] == [(7, 3), (7, 4)]
    grid = Grid(
        scenario=clustering.load_scenario(SAMPLE / "hampshire.toml"),
        contrast={"fsm_pct": (0.0, 1.0)},
        sizes=((8, 12),),
    )
    assert grid.n_tasks == 2
    assert len(grid.tasks()) == 2


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        ("colour = 1\n", "colour", "unknown key"),
        ("[vary]\nsizes = [[12, 8]]\n", "vary.sizes", "1 <= min <= max"),
        ("[vary]\nsizes = [8, 12]\n", "vary.sizes", "is not [min, max]"),
        ("[vary]\ncontrast.fsm_pct = [-1]\n", "vary.contrast.fsm_pct", "weight of 0 or more"),
        ("[vary]\ncontrast.fsm_pct = []\n", "vary.contrast.fsm_pct", "is not a list"),
        ("[vary]\ncontrast.wealth = [1]\n", "vary.contrast.wealth", "no column 'wealth'"),
        ("[vary]\nseed = [0, 0]\n", "vary", "two tasks are the same"),
        ("[vary]\nseed = [-1]\n", "vary.seed", "whole number of 0 or more"),
        ("[vary]\nshoe_size = [1]\n", "vary.shoe_size", "unknown key"),
        ("[vary]\narea = { column = 'parish' }\n", "vary.area.column", "not a column"),
        (
            "[vary]\narea = { column = 'district', values = ['Atlantis'] }\n",
            "vary.area.values",
            "no centre has district = 'Atlantis'",
        ),
        ("[task]\ntime_limit = 0\n", "task.time_limit", "not above 0"),
        ("[task]\nworkers = 0\n", "task.workers", "1 or more"),
        ("[data]\nsynthetic = { schools = 0 }\n", "data.synthetic.schools", "1 or more"),
        ("[data]\nsynthetic = { size = 10 }\n", "data.synthetic.size", "unknown key"),
        ("[vary\n", None, "not valid TOML"),
    ],
)
def test_bad_grids_name_the_file_and_key(tmp_path, text, key, words):
    path = _grid(tmp_path, text)
    with pytest.raises(InputError) as info:
        read_grid(path).tasks()
    message = str(info.value)
    assert str(path) in message
    if key is not None:
        assert f"{key}:" in message
    assert words in message
    assert "Fix:" in message


def test_a_bad_base_scenario_is_named(tmp_path):
    path = tmp_path / "g.toml"
    path.write_text('scenario = "missing.toml"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"missing.toml.*file not found"):
        read_grid(path)
    path.write_text('scenario = "."\n', encoding="utf-8")
    with pytest.raises(InputError, match="is a folder, not a file"):
        read_grid(path)
    path.write_text("[scenario.sizes]\nmin = 0\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"g.toml \[scenario\].*sizes.min"):
        read_grid(path)
    path.write_text("[scenario.sizes]\nmin = 8\n", encoding="utf-8")
    with pytest.raises(InputError, match="scenario: names no centres"):
        read_grid(path)


# ---------------------------------------------------------------- running


def test_every_task_is_a_checked_row_with_its_layout_and_a_rerun_resumes(tmp_path, calls):
    grid = _grid(tmp_path, TWO_DISTRICTS)
    out = tmp_path / "out"
    seen = []
    table = clustering.sweep(grid, out, workers=0, progress=lambda r, d, n: seen.append((d, n)))
    tasks = read_grid(grid).tasks()
    assert len(calls) == 4
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert list(table["task_id"]) == [t["id"] for t in tasks]
    assert (table["status"] == "ok").all(), table["reason"].tolist()
    assert table["checker_ok"].all()
    assert set(table["area"]) == {"Gosport", "Hart"}
    assert sorted(table["contrast_fsm_pct"].unique()) == [0, 2]
    assert (table["n_centres"] == table["area"].map({"Gosport": 26, "Hart": 29})).all()
    assert (table["lower_bound"] <= table["objective"] + 1e-6).all()
    for column in ("travel", "gap", "deviation_fsm_pct", "version_ortools", "solver_status"):
        assert table[column].notna().all(), column
    # the weight reaches the engine: mixing buys contrast, and its travel is no less than
    # the travel-only task's lower bound (a bound on the travel of any layout of the area)
    for _, area in table.groupby("area"):
        plain, mixed = area.sort_values("contrast_fsm_pct").to_dict("records")
        assert mixed["deviation_fsm_pct"] < plain["deviation_fsm_pct"]
        assert mixed["travel"] >= plain["lower_bound"] - 1e-3
    # each layout is on disk, and the independent checker passes it as read back
    centres = load_centres(HAMPSHIRE)
    for row in table.to_dict("records"):
        layout = pd.read_csv(out / "layouts" / f"{row['task_id']}.csv", dtype={"centre_id": str})
        members = centres.frame[centres.frame["district"] == row["area"]]
        assert sorted(layout["centre_id"]) == sorted(members["centre_id"])
        frame = members.merge(layout[["centre_id", "cluster", "is_venue"]], on="centre_id")
        frame["is_venue"] = frame["is_venue"].astype(bool)
        venue = frame[frame["is_venue"]].set_index("cluster").geometry
        venues = venue.loc[frame["cluster"]].reset_index(drop=True)
        frame["distance"] = frame.geometry.distance(venues, align=False)
        total = float(frame["distance"].sum())
        rebuilt = Layout(frame, centres.excluded.iloc[0:0], total, 0.0, "m", "feasible")
        assert check_layout(rebuilt, clustering.SizeRule(8, 12)).ok
        assert rebuilt.objective / 1000 == pytest.approx(row["travel"], abs=0.05)
    # a second run skips every finished task
    again = clustering.sweep(grid, out, workers=0)
    assert len(calls) == 4
    pd.testing.assert_frame_equal(again, table)
    # a lost row (a sweep killed before it) is run again, once
    lines = (out / "results.csv").read_text().splitlines(keepends=True)
    (out / "results.csv").write_text("".join(lines[:-1]) + lines[-1][:40])  # half a line
    again = clustering.sweep(grid, out, workers=0)
    assert len(calls) == 5
    assert calls[-1]["seed"] == 0
    assert calls[-1]["time_limit"] == 1.0
    assert list(again["task_id"]) == list(table["task_id"])
    assert pd.read_csv(out / "results.csv")["task_id"].is_unique


def test_failed_and_infeasible_tasks_are_rows_and_the_sweep_goes_on(tmp_path, monkeypatch):
    grid = _grid(
        tmp_path,
        """
[vary]
sizes = [[8, 12], [40, 50]]
seed = [0, 7]
area = { column = "district", values = ["Gosport"] }
[task]
time_limit = 1
""",
    )
    real = sweep_module.form_clusters

    def flaky(centres, rule, **kwargs):
        if kwargs["seed"] == 7 and rule.min_size == 8:
            raise RuntimeError("the machine caught fire")
        return real(centres, rule, **kwargs)

    monkeypatch.setattr(sweep_module, "form_clusters", flaky)
    table = clustering.sweep(grid, tmp_path / "out", workers=0)
    assert len(table) == 4
    by = {(r["min_size"], r["seed"]): r for r in table.to_dict("records")}
    assert by[(8, 0)]["status"] == "ok"
    assert by[(8, 7)]["status"] == "failed"
    assert by[(8, 7)]["reason"] == "RuntimeError: the machine caught fire"
    for seed in (0, 7):
        assert by[(40, seed)]["status"] == "infeasible"
        assert "only 26 centre(s) take part" in by[(40, seed)]["reason"]
    layouts = sorted(p.stem for p in (tmp_path / "out" / "layouts").glob("*.csv"))
    assert layouts == [by[(8, 0)]["task_id"]]
    # --retry-failed runs the failed task again (now it works) and replaces its row
    monkeypatch.setattr(sweep_module, "form_clusters", real)
    table = clustering.sweep(grid, tmp_path / "out", workers=0, retry_failed=True)
    assert len(table) == 4
    assert (table["status"] == "ok").sum() == 2


def test_cli_sweep_with_local_processes_and_its_errors(tmp_path, capsys):
    grid = _grid(
        tmp_path,
        """
[vary]
contrast.fsm_pct = [0, 1]
area = { column = "district", values = ["Gosport"] }
[task]
time_limit = 1
""",
    )
    out = tmp_path / "out"
    status = main(["sweep", str(grid), "--out", str(out), "--workers", "2"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert captured.err.count(" ok ") == 2  # one progress line a task
    assert "[2/2]" in captured.err
    assert "2 tasks (2 ok)" in captured.out
    results = pd.read_csv(out / "results.csv")
    assert len(results) == 2
    assert results["checker_ok"].all()
    assert not results["worker"].str.endswith(f":{os.getpid()}").any()  # other processes
    # again: nothing to run, quietly
    status = main(["sweep", str(grid), "--out", str(out), "--quiet"])
    captured = capsys.readouterr()
    assert status == 0
    assert captured.err == ""
    assert "ran 0 now" in captured.out
    # a bad grid: one line, exit status 2
    bad = _grid(tmp_path, "[vary]\nsizes = [[12, 8]]\n", "bad.toml")
    status = main(["sweep", str(bad), "--out", str(tmp_path / "bad")])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("error: ")
    assert err.count("\n") == 1
    assert "bad.toml" in err
    assert "vary.sizes" in err
    status = main(["sweep", str(tmp_path / "nope.toml")])
    assert status == 2
    assert "file not found" in capsys.readouterr().err


# ---------------------------------------------------------------- Dask


def _children() -> dict[int, str]:
    import psutil

    out = {}
    for p in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            out[p.pid] = " ".join(p.cmdline())
    return out


def test_dask_cluster_losing_a_worker_loses_no_task(tmp_path):

    grid = _grid(
        tmp_path,
        """
[vary]
contrast.fsm_pct = [0, 1, 2]
area = { column = "district", values = ["Gosport", "Hart"] }
[task]
time_limit = 2
""",
    )
    # worker processes forked from a server that has imported the package once (as the local
    # pool does, and as distributed's own tests do) instead of each importing it afresh:
    # the same processes, started in a fraction of the time
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["distributed", "clustering.api.sweep"])
    multiprocessing.forkserver.ensure_running()
    before = set(_children())
    config = dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"})
    config.__enter__()
    cluster = distributed.LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address=None,
    )
    client = distributed.Client(cluster, set_as_default=False)  # the sweep makes its own
    killed: list[tuple[int, tuple]] = []
    try:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")

        def kill_a_busy_worker(row, done, total):
            if killed:
                return
            pids = client.run(os.getpid)
            busy = {a: keys for a, keys in client.processing().items() if keys}
            address = next(iter(busy), next(iter(pids)))
            os.kill(pids[address], signal.SIGKILL)
            killed.append((pids[address], busy.get(address, ())))

        table = clustering.sweep(
            grid,
            tmp_path / "out",
            scheduler=cluster.scheduler_address,
            progress=kill_a_busy_worker,
        )
    finally:
        client.close()
        cluster.close(timeout=30)
        config.__exit__(None, None, None)
    assert killed, "no worker was killed"
    tasks = read_grid(grid).tasks()
    results = pd.read_csv(tmp_path / "out" / "results.csv")
    # every task exactly once, none lost, none twice, all checked
    assert sorted(results["task_id"]) == sorted(t["id"] for t in tasks)
    assert results["task_id"].is_unique
    assert (results["status"] == "ok").all(), results["reason"].tolist()
    assert results["checker_ok"].all()
    assert len(table) == len(tasks)
    # the tasks the killed worker held were finished by another
    pid, keys = killed[0]
    lost = {k.removeprefix("clustering-sweep-") for k in keys}
    held = results[results["task_id"].isin(lost)]
    assert len(held) == len(lost)
    assert not held["worker"].str.endswith(f":{pid}").any()
    # no process of the cluster is left behind
    deadline = time.monotonic() + 20
    while (set(_children()) - before) and time.monotonic() < deadline:
        time.sleep(0.5)
    left = {p: c for p, c in _children().items() if p not in before}
    stray = {p: c for p, c in left.items() if "resource_tracker" not in c}
    assert not [c for c in stray.values() if "forkserver" in c]  # started before, stays
    for p in stray:
        os.kill(p, signal.SIGKILL)
    assert not stray, stray


def test_an_unreachable_scheduler_is_a_user_error(tmp_path, monkeypatch):
    grid = _grid(tmp_path, "[task]\ntime_limit = 1\n")
    monkeypatch.setattr(sweep_module, "CONNECT_TIMEOUT", "2s")
    with pytest.raises(InputError, match="cannot reach the Dask scheduler"):
        clustering.sweep(grid, tmp_path / "out", scheduler="tcp://127.0.0.1:1")


def test_a_deterministic_base_scenario_gives_deterministic_tasks(tmp_path):
    path = tmp_path / "det.toml"
    path.write_text(
        f"""
[scenario.data]
centres = "{HAMPSHIRE.as_posix()}"
[scenario.sizes]
min = 6
max = 9
[scenario.objective.contrast]
fsm_pct = 2
[scenario.solver]
deterministic = true
[vary]
area = {{ column = "district", values = ["Gosport"] }}
[task]
time_limit = 1
""",
        encoding="utf-8",
    )
    (task,) = read_grid(path).tasks()
    assert task["params"]["deterministic"] is True
    first = clustering.sweep(path, tmp_path / "a", workers=0)
    again = clustering.sweep(path, tmp_path / "b", workers=0)
    assert first["deterministic"].all()
    assert first["objective"].tolist() == again["objective"].tolist()
    layout = f"layouts/{task['id']}.csv"
    assert (tmp_path / "a" / layout).read_text() == (tmp_path / "b" / layout).read_text()
