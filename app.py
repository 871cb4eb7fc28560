"""Explore clusters of schools in the browser: `make app` (Streamlit).

Built only on the public ``clustering`` API; the library itself never imports Streamlit.
Helpers above ``main`` are plain functions so the tests can call them directly.
"""

from __future__ import annotations

import hashlib
import queue
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd
import pydeck as pdk
import streamlit as st

import clustering

SAMPLES = {
    "Hampshire primary schools (2022)": "data/sample/hampshire_primary_schools_2022.csv",
    "Surrey primary schools (2022)": "data/sample/surrey_primary_schools_2022.csv",
    "Kentucky schools (2016–17)": "data/sample/kentucky_schools_2016_17.csv",
}
UPLOAD_TYPES = ("csv", "xlsx", "geojson", "gpkg")
MAX_BYTES = 20 * 1024 * 1024  # 20 MB
MAX_ROWS = 30_000
#: attributes a contrast weight may be given for, when the data has them
CONTRAST_ATTRIBUTES = (
    "fsm_pct",
    "frl_pct",
    "imd_decile",
    "ethnic_diversity",
    "pct_white",
    "urban_rural",
)
PALETTE = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
]


def load_bytes(name: str, data: bytes, path: str | None = None) -> clustering.Centres:
    """Centres from a file's bytes, within the size caps; raises ``InputError`` in plain words.

    ``path`` (a bundled sample) is read in place; otherwise the bytes are written to a
    temporary file with the upload's suffix and read by :func:`clustering.load_centres`
    (parsers only: nothing the user sends is evaluated or unpickled).
    """
    if len(data) > MAX_BYTES:
        raise clustering.InputError(
            f"{name} is {len(data) / 1e6:.1f} MB; the app takes files up to "
            f"{MAX_BYTES // (1024 * 1024)} MB."
        )
    suffix = Path(name).suffix.lower().lstrip(".")
    if suffix not in UPLOAD_TYPES:
        raise clustering.InputError(
            f"{name}: the app reads {', '.join('.' + t for t in UPLOAD_TYPES)} files."
        )
    if path is not None:
        centres = clustering.load_centres(path)
    else:
        with tempfile.TemporaryDirectory() as folder:
            file = Path(folder) / f"upload.{suffix}"
            file.write_bytes(data)
            centres = clustering.load_centres(file)
        centres.source = name
    return check_rows(centres, name)


def load_frame(frame: pd.DataFrame, name: str = "the table") -> clustering.Centres:
    """Centres from a frame, within the row cap; raises ``InputError`` in plain words."""
    if len(frame) > MAX_ROWS:
        raise clustering.InputError(too_many_rows(name, len(frame)))
    return check_rows(clustering.load_centres(frame), name)


def too_many_rows(name: str, n: int) -> str:
    return f"{name} has {n:,} rows; the app takes up to {MAX_ROWS:,}."


def check_rows(centres: clustering.Centres, name: str) -> clustering.Centres:
    n = len(centres) + len(centres.excluded)
    if n > MAX_ROWS:
        raise clustering.InputError(too_many_rows(name, n))
    return centres


@st.cache_data(max_entries=8, show_spinner="Reading and checking the schools…")
def cached_centres(name: str, data: bytes, path: str | None = None) -> clustering.Centres:
    """:func:`load_bytes`, cached by the file's bytes (and name)."""
    return load_bytes(name, data, path)


def contrast_attributes(centres: clustering.Centres) -> list[str]:
    """The attributes a contrast weight can be given for in these centres."""
    frame = centres.frame
    return [a for a in CONTRAST_ATTRIBUTES if a in frame.columns and frame[a].notna().any()]


def solve(centres, rule, weights, *, time_limit, seed, deterministic, start, on_progress):
    """Run :func:`clustering.form_clusters` on a worker thread; ``on_progress`` on this one.

    The engine reports from its own threads: the events go through a thread-safe queue
    and are handed to ``on_progress`` from the calling (Streamlit script) thread only.
    """
    events: queue.Queue[clustering.Progress] = queue.Queue()
    result: dict = {}

    def work() -> None:
        try:
            result["layout"] = clustering.form_clusters(
                centres,
                rule,
                weights=weights,
                time_limit=time_limit,
                seed=seed,
                deterministic=deterministic,
                start=start,
                progress=events.put,
                baselines=False,
            )
        except BaseException as error:  # handed back to the script thread
            result["error"] = error

    thread = threading.Thread(target=work, name="form-clusters", daemon=True)
    t0 = time.perf_counter()
    thread.start()
    while thread.is_alive() or not events.empty():
        try:
            event = events.get(timeout=0.2)
        except queue.Empty:
            on_progress(None, time.perf_counter() - t0)
            continue
        on_progress(event, time.perf_counter() - t0)
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["layout"]


def cost(value: float, unit: str) -> str:
    """An objective or bound for people: km when the costs are metres."""
    return f"{value / 1000:,.1f} km" if unit == "m" else f"{value:,.1f} {unit}"


def map_frames(layout: clustering.Layout) -> tuple[list[dict], list[dict]]:
    """Points (schools) and lines (member → venue) in WGS84, as plain records for pydeck."""
    centres = layout.centres.to_crs(4326)
    lon, lat = centres.geometry.x.to_numpy(), centres.geometry.y.to_numpy()
    clusters = centres["cluster"].to_numpy()
    venues = centres["is_venue"].to_numpy()
    names = centres["name"].astype(str).to_numpy()
    venue_at = {
        int(clusters[i]): (float(lon[i]), float(lat[i])) for i in range(len(centres)) if venues[i]
    }
    points, lines = [], []
    for i in range(len(centres)):
        k = int(clusters[i])
        colour = list(PALETTE[k % len(PALETTE)])
        points.append(
            {
                "lon": float(lon[i]),
                "lat": float(lat[i]),
                "name": names[i],
                "cluster": k,
                "role": "venue" if venues[i] else "member",
                "radius": 500 if venues[i] else 180,
                "colour": colour,
            }
        )
        if not venues[i]:
            vx, vy = venue_at[k]
            lines.append({"from": [float(lon[i]), float(lat[i])], "to": [vx, vy], "colour": colour})
    return points, lines


def deck(layout: clustering.Layout) -> pdk.Deck:
    points, lines = map_frames(layout)
    view = pdk.ViewState(
        latitude=sum(p["lat"] for p in points) / len(points),
        longitude=sum(p["lon"] for p in points) / len(points),
        zoom=8,
    )
    return pdk.Deck(
        map_style=None,  # no base map: nothing is fetched from a tile server
        map_provider=None,
        initial_view_state=view,
        layers=[
            pdk.Layer(
                "LineLayer",
                lines,
                get_source_position="from",
                get_target_position="to",
                get_color="colour",
                get_width=1,
            ),
            pdk.Layer(
                "ScatterplotLayer",
                points,
                get_position=["lon", "lat"],
                get_fill_color="colour",
                get_radius="radius",
                radius_min_pixels=2,
                pickable=True,
            ),
        ],
        tooltip={"text": "{name}\ncluster {cluster} ({role})"},
    )


def scenario_toml(source: str, rule, weights, *, time_limit, seed, deterministic) -> str:
    scenario = clustering.Scenario(
        centres=source,
        sizes=rule,
        weights=weights,
        time_limit=time_limit,
        seed=seed,
        deterministic=deterministic,
    )
    return clustering.scenario_to_toml(scenario)


def centres_or_error(name: str, data: bytes, where: str | None = None):
    """The centres, or ``None`` after saying in plain words (no traceback) why not."""
    try:
        return cached_centres(name, data, where)
    except clustering.InputError as error:
        st.error(f"The file could not be used: {error}")
        return None


def choose_data() -> tuple[clustering.Centres, str, str] | None:
    """The sidebar: a sample or an upload → (centres, data key, source name), or None."""
    st.sidebar.header("Schools")
    choice = st.sidebar.radio("Data", ["Bundled sample", "Upload a file"], key="data_choice")
    if choice == "Bundled sample":
        label = st.sidebar.selectbox("Sample", list(SAMPLES), key="sample")
        path = SAMPLES[label]
        data = Path(path).read_bytes()
        name, where = Path(path).name, path
    else:
        upload = st.sidebar.file_uploader(
            f"CSV, Excel, GeoJSON or GeoPackage (up to {MAX_BYTES // (1024 * 1024)} MB, "
            f"{MAX_ROWS:,} rows)",
            type=list(UPLOAD_TYPES),
            key="upload",
        )
        if upload is None:
            st.info("Choose a file in the sidebar, or use a bundled sample.")
            return None
        data, name, where = upload.getvalue(), upload.name, None
    centres = centres_or_error(name, data, where)
    if centres is None:
        return None
    key = hashlib.sha256(data).hexdigest()
    st.sidebar.caption(f"{len(centres):,} schools take part; {len(centres.excluded):,} excluded.")
    return centres, key, str(Path(where).resolve()) if where else name


def main() -> None:
    st.set_page_config(page_title="Clusters of schools", layout="wide")
    st.title("Clusters of schools")
    chosen = choose_data()
    if chosen is None:
        return
    centres, key, source = chosen
    state = st.session_state
    if state.get("data_key") != key:  # new data: the old layout no longer applies
        state["data_key"] = key
        state.pop("layout", None)

    attributes = contrast_attributes(centres)
    with st.form("settings"):
        a, b, c, d = st.columns(4)
        min_size = a.number_input("Min size", 1, 1000, 8, key="min_size")
        max_size = b.number_input("Max size", 1, 1000, 12, key="max_size")
        time_limit = c.number_input("Time limit (s)", 1, 600, 10, key="time_limit")
        seed = d.number_input("Seed", 0, 2**31 - 1, 0, key="seed")
        st.caption("Contrast weights: km that one unit of a cluster's difference is worth")
        weight_cols = st.columns(max(1, len(attributes)))
        contrast = {}
        for col, attribute in zip(weight_cols, attributes, strict=False):
            w = col.number_input(attribute, 0.0, 1000.0, 0.0, step=1.0, key=f"w_{attribute}")
            if w > 0:
                contrast[attribute] = float(w)
        deterministic = st.checkbox(
            "Deterministic (one worker, time counted in solver work)", key="deterministic"
        )
        submitted = st.form_submit_button("Form clusters", key="submit")

    if min_size > max_size:
        st.error("Min size must not be above max size.")
        return
    rule = clustering.SizeRule(int(min_size), int(max_size))
    weights = clustering.Weights(contrast=contrast)
    if submitted:
        run(centres, rule, weights, int(time_limit), int(seed), bool(deterministic), source)
    if "layout" in state:
        show(state["layout"], state["toml"])


def run(centres, rule, weights, time_limit, seed, deterministic, source) -> None:
    state = st.session_state
    start = state.get("layout")
    with st.status("Forming clusters…", expanded=True) as status:
        bar = st.progress(0.0)
        line = st.empty()

        def on_progress(event, seconds):
            bar.progress(min(1.0, seconds / max(time_limit, 1)))
            if event is not None:
                gap = (
                    (event.objective - event.lower_bound) / event.objective
                    if event.objective
                    else 0
                )
                line.write(
                    f"{event.stage}: objective {event.objective:,.0f}, "
                    f"bound {event.lower_bound:,.0f}, gap {gap:.2%} ({event.seconds:.1f} s)"
                )

        try:
            layout = solve(
                centres,
                rule,
                weights,
                time_limit=time_limit,
                seed=seed,
                deterministic=deterministic,
                start=start,
                on_progress=on_progress,
            )
        except clustering.ClusteringError as error:
            status.update(label="No layout", state="error")
            st.error(str(error))
            return
        bar.progress(1.0)
        warm = " (warm start from the previous layout)" if start is not None else ""
        status.update(label=f"Clusters formed{warm}", state="complete", expanded=False)
    state["layout"] = layout
    state["toml"] = scenario_toml(
        source, rule, weights, time_limit=time_limit, seed=seed, deterministic=deterministic
    )


def show(layout: clustering.Layout, toml: str) -> None:
    left, right = st.columns([3, 2])
    with left:
        st.pydeck_chart(deck(layout))
    with right:
        m1, m2 = st.columns(2)
        m1.metric("Objective", cost(layout.objective, layout.unit))
        m2.metric("Lower bound", cost(layout.lower_bound, layout.unit))
        m3, m4 = st.columns(2)
        m3.metric("Gap", f"{layout.gap:.2%}")
        m4.metric("Checker", "passed" if layout.stats.get("checker") == "passed" else "not run")
        st.caption(f"{layout.n_clusters} clusters, status {layout.status}")
        st.dataframe(clustering.cluster_summary(layout), hide_index=True)
    a, b = st.columns(2)
    a.download_button(
        "Assignments (CSV)",
        layout.assignments.to_csv(index=False).encode(),
        file_name="assignments.csv",
        mime="text/csv",
        key="download_csv",
    )
    b.download_button(
        "Scenario (TOML)",
        toml.encode(),
        file_name="scenario.toml",
        mime="application/toml",
        key="download_toml",
    )


if __name__ == "__main__":
    main()
