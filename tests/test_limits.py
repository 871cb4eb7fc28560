"""Limits: the shared deadline, stopping a solve (an event, Ctrl-C), progress from threads,
and the largest input taken.

None of these is a timing benchmark: the deadline is checked on a fake clock and on the
solver's own deterministic clock (work, not seconds), or against the documented margin,
which is far above what the steps that cannot be cut short take on the samples.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import clustering
from clustering.api import form as api_form
from clustering.errors import InputError
from clustering.solver.clock import Clock, margin
from clustering.solver.progress import Progress, serialised

ROOT = Path(__file__).resolve().parent.parent
HAMPSHIRE = ROOT / "data" / "sample" / "hampshire_primary_schools_2022.csv"


@pytest.fixture(scope="module")
def hampshire():
    return clustering.load_centres(HAMPSHIRE)


# ------------------------------------------------------------------ the clock


class FakeTimer:
    """A wall clock that moves only when told."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_margin_is_two_seconds_or_five_percent():
    assert margin(1) == 2.0
    assert margin(40) == 2.0
    assert margin(60) == pytest.approx(3.0)
    assert margin(600) == pytest.approx(30.0)


def test_every_budget_is_capped_by_the_shared_deadline():
    timer = FakeTimer()
    clock = Clock(limit=10.0, timer=timer)
    assert clock.remaining() == 10.0
    assert clock.budget(3.0) == 3.0
    timer.t += 8.5
    assert clock.remaining() == pytest.approx(1.5)
    assert clock.budget(3.0) == pytest.approx(1.5)  # a phase asking for more gets what is left
    assert not clock.expired
    timer.t += 2.0
    assert clock.budget(3.0) == 0.0  # past the deadline: nothing, never a negative budget
    assert clock.expired
    assert Clock(timer=timer).remaining() == float("inf")  # no deadline


def test_a_stopped_clock_has_no_time_left():
    stop = threading.Event()
    clock = Clock(limit=100.0, stop=stop, timer=FakeTimer())
    assert clock.budget(5.0) == 5.0
    stop.set()
    assert clock.expired
    assert clock.budget(5.0) == 0.0
    assert clock.since(clock.now()) == float("inf")


# ------------------------------------------------------------------ the deadline kept


def test_many_areas_keep_the_deadline_on_the_solvers_clock(hampshire):
    """11 districts in 1 (deterministic) second: before, each area took at least 0.2 s
    of budget, a 0.3 s bound and a 1 s CP-SAT call whatever the time left."""
    limit = 1.0
    layout = clustering.form_clusters(
        hampshire,
        constraints=clustering.Constraints(boundary="district"),
        time_limit=limit,
        deterministic=True,
        baselines=False,
    )
    stats = layout.stats
    assert stats["parts"] > 5
    assert stats["checker"] == "passed"
    assert stats["clock_seconds"] <= limit + margin(limit)
    assert stats["time_limit_margin"] == margin(limit)
    assert layout.n_clusters == stats["n_clusters"]


def test_a_short_wall_clock_limit_is_kept(hampshire):
    limit = 2.0
    layout = clustering.form_clusters(hampshire, time_limit=limit, baselines=False)
    stats = layout.stats
    # the solve's own figure: compiling, construction, bound and search (the checker
    # runs after it and is reported apart)
    assert stats["seconds"] <= limit + margin(limit)
    assert stats["clock_seconds"] <= stats["seconds"]
    assert stats["check_seconds"] >= 0
    assert layout.status in ("feasible", "optimal")


# ------------------------------------------------------------------ stopping


def test_a_stop_event_set_from_a_thread_keeps_the_best_checked_layout(hampshire):
    stop = threading.Event()
    timer = threading.Timer(1.0, stop.set)
    timer.start()
    t = time.perf_counter()
    try:
        layout = clustering.form_clusters(hampshire, time_limit=120, stop=stop)
    finally:
        timer.cancel()
    wall = time.perf_counter() - t
    assert layout.status == "stopped"
    assert layout.stats["stopped"] is True
    assert layout.stats["checker"] == "passed"
    assert layout.baselines is None  # not formed once stopped
    assert wall < 30  # far below the 120 s asked for (about 1 s once stopped)
    assert layout.objective >= layout.lower_bound


def test_the_first_interrupt_sets_the_event_and_the_second_raises():
    notices = []
    stop = threading.Event()
    before = signal.getsignal(signal.SIGINT)
    with api_form.stop_on_interrupt(stop, lambda: notices.append("stopping")):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        assert stop.is_set()
        assert notices == ["stopping"]
        with pytest.raises(KeyboardInterrupt):  # noqa: PT012 (the signal arrives in the sleep)
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1.0)
    assert signal.getsignal(signal.SIGINT) is before


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process")
def test_ctrl_c_in_the_cli_writes_the_best_layout_so_far(tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "clustering.cli", "form", str(HAMPSHIRE), "--out", str(out)]
    proc = subprocess.Popen(
        [*cmd, "--time-limit", "300"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # wait until the solve reports (it has started), then press Ctrl-C once
    deadline = time.monotonic() + 120
    seen = ""
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        seen += line
        if "construction" in line or "lns" in line or "cp-sat" in line:
            break
        if proc.poll() is not None:
            break
    proc.send_signal(signal.SIGINT)
    try:
        _stdout, stderr = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 0, seen + stderr
    assert "Stopping" in seen + stderr
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "stopped"
    assert (out / "assignments.csv").exists()


# ------------------------------------------------------------------ progress


def test_progress_is_one_call_at_a_time_and_names_its_area(hampshire):
    inside = threading.Lock()
    overlapped = []
    events: list[Progress] = []

    def progress(event: Progress) -> None:
        if not inside.acquire(blocking=False):
            overlapped.append(event)
            return
        try:
            events.append(event)
            time.sleep(0.001)  # widen the window two threads could meet in
        finally:
            inside.release()

    layout = clustering.form_clusters(
        hampshire,
        constraints=clustering.Constraints(boundary="district"),
        time_limit=4,
        progress=progress,
        baselines=False,
    )
    assert not overlapped
    districts = set(layout.centres["district"].astype(str))
    areas = {e.area for e in events if e.stage != "done"}
    assert areas
    assert None not in areas
    assert areas <= districts
    for e in events:
        if e.area is not None:
            assert e.stage.startswith(e.area)
    assert events[-1].stage == "done"
    assert events[-1].area is None
    # what the CLI and the explorer read is all there
    for e in events:
        assert isinstance(e.stage, str)
        assert all(isinstance(x, float) for x in (e.seconds, e.objective, e.lower_bound))


def test_one_part_reports_speak_for_the_whole(hampshire):
    events: list[Progress] = []
    clustering.form_clusters(hampshire, time_limit=1.5, progress=events.append, baselines=False)
    assert events
    assert all(e.area is None for e in events)


def test_serialised_runs_calls_from_threads_one_after_another():
    active, most = [0], [0]
    lock = threading.Lock()

    def slow(event: Progress) -> None:
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        time.sleep(0.002)
        with lock:
            active[0] -= 1

    say = serialised(slow)
    assert serialised(say) is say
    assert serialised(None) is None
    threads = [
        threading.Thread(target=lambda: [say(Progress(0.0, 1.0, 0.0, "x")) for _ in range(20)])
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most[0] == 1


# ------------------------------------------------------------------ the largest input


def test_more_centres_than_the_maximum_are_refused_before_solving(hampshire, monkeypatch):
    monkeypatch.setattr(api_form, "MAX_CENTRES", 100)
    with pytest.raises(InputError) as caught:
        clustering.form_clusters(hampshire, time_limit=1)
    text = str(caught.value)
    assert f"{len(hampshire):,} centres" in text
    assert "100" in text
    assert "split" in text
    assert "area" in text


def test_the_maximum_is_above_the_supported_size_and_the_same_for_files_and_frames():
    from clustering.input.table import MAX_ROWS

    assert api_form.SUPPORTED_CENTRES >= 30_000
    assert api_form.MAX_CENTRES == MAX_ROWS == 50_000


def test_a_shared_cluster_count_over_many_centres_gets_a_bound_in_blocks(hampshire, monkeypatch):
    """Above SHARED_BOUND_MAX free centres the whole-set bound (a free × free array) is
    replaced by each member's nearest centre in its area: valid, and memory in blocks."""
    from clustering.solver import engine

    monkeypatch.setattr(engine, "SHARED_BOUND_MAX", 100)
    layout = clustering.form_clusters(
        hampshire,
        clustering.SizeRule(8, 12, n_clusters=45),
        constraints=clustering.Constraints(boundary="district"),
        time_limit=3,
        deterministic=True,
        baselines=False,
    )
    assert "nearest-centre bound" in layout.stats["bound_note"]
    assert layout.stats["checker"] == "passed"
    assert layout.n_clusters == 45
    assert 0 < layout.lower_bound <= layout.objective


def test_the_nearest_centre_bound_is_below_every_layout():
    import numpy as np

    from clustering.solver.areas import nearest_bound

    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 1000, size=(40, 2))
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    regions = np.repeat([0, 1], 20)
    free = np.arange(40)
    value = nearest_bound(lambda r, c: d[r, c], free, regions, 4)
    for _ in range(200):  # random layouts of 4 venues, two in each region
        venues = np.concatenate([rng.choice(20, 2, replace=False), 20 + rng.choice(20, 2, False)])
        cost = sum(d[i, venues[venues // 20 == i // 20]].min() for i in range(40))
        assert value <= cost + 1e-9
    assert value > 0
