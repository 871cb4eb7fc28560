"""The explorer in a real browser: what a person sees and does, end to end.

The app is served headless on loopback (``streamlit run app.py``) and Debian's
``chromium`` is driven by Playwright through ``executable_path`` — never a browser build
Playwright would download. One journey, in order: load the bundled sample, form clusters,
change a contrast weight and re-solve, download the assignments, lock a cluster and
re-solve with a long time limit, stop that solve with the button, and download again to
see the locked cluster kept. Screenshots go to ``$SCREENSHOTS_DIR`` (the README's picture
is ``SCREENSHOTS_DIR=docs/images pytest tests/test_browser.py``), else to a temporary
folder.

Without ``chromium`` on the machine the test is skipped, except under ``CI=true``, where
`.ci/run` installs it and its absence is a failure.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium")
if CHROMIUM is None:
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI needs Debian's chromium for tests/test_browser.py (.ci/run)")
    pytest.skip("no chromium on this machine (apt-get install chromium)", allow_module_level=True)
pytest.importorskip("streamlit")
playwright = pytest.importorskip("playwright.sync_api")
Image = pytest.importorskip("PIL.Image")

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: a first page load imports the whole toolkit (about 10 s here, more on a cold disk)
LOAD = 180_000
SOLVE = 120_000

pytestmark = pytest.mark.timeout(600)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """``streamlit run app.py`` on a free loopback port, polled until healthy, then stopped."""
    port = _free_port()
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"streamlit-{port}.log", "w+")  # noqa: SIM115
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                log.seek(0)
                pytest.fail(f"streamlit exited with {process.returncode}:\n{log.read()}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("streamlit did not answer /_stcore/health within 120 s")
            time.sleep(0.3)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=20)
        log.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = os.environ.get("SCREENSHOTS_DIR")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def page(server):
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1440, "height": 1000})
            page = context.new_page()
            page.set_default_timeout(60_000)
            page.goto(server)
            yield page
        finally:
            browser.close()


# --- what a person sees -------------------------------------------------------------------


def _idle(page) -> None:
    """Wait until the script's run is over: no running indicator, nothing left greyed out."""
    page.wait_for_timeout(500)  # the indicator shows a moment after a run starts
    page.wait_for_function(
        """() => !document.querySelector('[data-testid="stStatusWidget"]')
                 && !document.querySelector('[data-stale="true"]')""",
        timeout=SOLVE,
    )
    page.get_by_role("button", name="Scenario (TOML)").wait_for()  # the page's last element


def _on_screen(page, words: str):
    """The 'Layout on screen' banner once it names ``words``."""
    banner = page.locator('[data-testid="stAlert"]', has_text="Layout on screen").filter(
        has_text=words
    )
    banner.wait_for(timeout=SOLVE)
    _idle(page)
    return banner.inner_text()


def _metrics(page) -> dict[str, tuple[str, str]]:
    """Each metric's label → (value, delta) as shown."""
    shown = {}
    for metric in page.locator('[data-testid="stMetric"]').all():
        label = metric.locator('[data-testid="stMetricLabel"]').inner_text().strip()
        value = metric.locator('[data-testid="stMetricValue"]').inner_text().strip()
        delta = metric.locator('[data-testid="stMetricDelta"]')
        shown[label] = (value, delta.inner_text().strip() if delta.count() else "")
    clipped = page.locator('[data-testid="stMetricValue"]').evaluate_all(
        """els => els.filter(e => [e, ...e.querySelectorAll('*')].some(
               x => x.scrollWidth > x.clientWidth + 1)).map(e => e.innerText)"""
    )
    assert not clipped, f"metric values cut short on screen: {clipped}"
    return shown


def _coloured_pixels(page, selector: str) -> int:
    """How many strongly coloured pixels the element shows (cluster colours, not grey)."""
    png = page.locator(selector).first.screenshot()
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)
    return int(((rgb.max(axis=2) - rgb.min(axis=2)) > 80).sum())


def _shot(page, path: Path) -> None:
    """A screenshot of the layout on screen: the page scrolled to the map's tab."""
    page.get_by_role("tab", name="Map and metrics").evaluate(
        "e => e.scrollIntoView({block: 'start'})"
    )
    page.wait_for_timeout(500)
    page.screenshot(path=path)
    page.get_by_role("button", name="Form clusters").scroll_into_view_if_needed()


def _number(page, label: str, value: float) -> None:
    box = page.get_by_role("spinbutton", name=label, exact=True)
    box.fill(f"{value:g}")
    box.blur()


def _submit(page) -> None:
    page.get_by_role("button", name="Form clusters").click()


def _download_assignments(page, folder: Path, name: str) -> pd.DataFrame:
    with page.expect_download() as info:
        page.get_by_role("button", name="Assignments (CSV)").click()
    download = info.value
    assert download.suggested_filename == "assignments.csv"
    target = folder / name
    download.save_as(target)
    return pd.read_csv(target, dtype={"centre_id": str})


def _members(assignments: pd.DataFrame, cluster: int) -> set[str]:
    return set(assignments.loc[assignments["cluster"] == cluster, "centre_id"])


def test_a_person_forms_reweights_locks_stops_and_downloads(page, shots, tmp_path):
    # the bundled sample is on screen, the form waits for a first solve
    page.get_by_role("button", name="Form clusters").wait_for(timeout=LOAD)
    page.get_by_text("Set what matters above").wait_for()
    reading = page.get_by_text(re.compile(r"[\d,]+ schools read")).inner_text()
    schools_read = int(re.search(r"([\d,]+) schools read", reading).group(1).replace(",", ""))

    # form clusters
    _number(page, "Time limit (s)", 3)
    _submit(page)
    banner = _on_screen(page, "sizes 8–12")
    assert "formed in" in banner
    caption = page.get_by_text(re.compile(r"\d+ clusters of [\d,]+ schools")).inner_text()
    n_clusters, n_schools = (
        int(x.replace(",", "")) for x in re.search(r"(\d+) clusters of ([\d,]+)", caption).groups()
    )
    assert n_schools == schools_read
    first = _metrics(page)
    assert first["Checker"][0] == "passed"
    assert first["Objective"][0].endswith("km")
    assert float(first["Gap"][0].rstrip("%")) >= 0
    # the map is drawn (clusters in colour, no tile server) and the table holds every cluster
    chart = '[data-testid="stDeckGlJsonChart"]'
    page.locator(f"{chart} canvas").first.wait_for()
    page.wait_for_timeout(1000)  # deck.gl draws on the next animation frames
    assert _coloured_pixels(page, chart) > 500
    grid = page.locator('[data-testid="stDataFrame"] table[role="grid"]').first
    assert int(grid.get_attribute("aria-rowcount")) == n_clusters + 1  # + the header row
    _shot(page, shots / "app.png")

    # change a weight and re-solve: warm from the layout on screen, the change is shown
    _number(page, "fsm_pct", 2)
    _submit(page)
    banner = _on_screen(page, "fsm_pct 2")
    assert "warm start from the previous layout" in banner
    reweighted = _metrics(page)
    assert reweighted["Objective"][0] != first["Objective"][0]
    assert reweighted["Objective"][1], "the objective's change from the layout before"
    assert reweighted["Checker"][0] == "passed"
    _shot(page, shots / "app-reweighted.png")

    # the assignments download: every school read, each in a cluster or excluded
    before = _download_assignments(page, tmp_path, "before.csv")
    assert len(before) == n_schools + int(
        re.search(r"([\d,]+) excluded", caption).group(1).replace(",", "")
    )
    assert before["centre_id"].is_unique
    assert before["cluster"].notna().sum() == n_schools
    assert before["cluster"].nunique() == n_clusters

    # lock a cluster, re-solve with a long limit and stop it: the best checked layout so far
    locks = page.locator('[data-testid="stMultiSelect"]', has_text="Lock clusters")
    locks.locator("input").click()
    page.keyboard.press("ArrowDown")  # opens the list when the click only focused the box
    page.get_by_role("option", name="3", exact=True).click()
    page.keyboard.press("Escape")
    _number(page, "Re-solve time limit (s)", 120)
    _submit(page)
    stop = page.get_by_role("button", name="Stop and keep the best layout")
    stop.wait_for(timeout=SOLVE)
    page.get_by_text(re.compile(r"objective .* bound", re.IGNORECASE)).first.wait_for(timeout=SOLVE)
    started = time.monotonic()
    stop.click()
    banner = _on_screen(page, "clusters 3 locked")
    assert time.monotonic() - started < 60, "the stop button ends a 120 s solve early"
    assert "stopped early" in banner
    stopped = _metrics(page)
    assert stopped["Checker"][0] == "passed"
    _shot(page, shots / "app-locked-stopped.png")
    after = _download_assignments(page, tmp_path, "after.csv")
    assert _members(after, 3) == _members(before, 3)
    assert len(after) == len(before)
