"""Explore clusters of schools in the browser: `make app` (Streamlit).

Built only on the public ``clustering`` API; the library itself never imports Streamlit.
The page is arranged from the panels in ``explorer/``: the sidebar's data (sample or
upload, columns, who takes part) and scenario loader, the settings form (one solve per
submit), the solve with live progress and a stop button, then the map with its metrics,
one school (explain, move by hand, undo), two layouts compared, and the network's
year planned (roles, meeting hosts and dates, pairs, the paperwork).
"""

from __future__ import annotations

import streamlit as st

import clustering
from explorer import compare, data, mapview, results, school, session, settings
from explorer import plan as year
from explorer.job import Job, progress_text
from explorer.session import Shown

MAP = "map"


def main() -> None:
    st.set_page_config(page_title="Clusters of schools", layout="wide")
    st.title("Clusters of schools")
    chosen = data.choose()
    if chosen is None:
        return
    state = st.session_state
    if state.get("data_key") != chosen.key:  # new data: the old layout no longer applies
        state["data_key"] = chosen.key
        session.forget()
    exclude, _, _ = data.participation(chosen.centres)
    settings.scenario_panel()
    shown = session.current()
    _drop_stale_locks(shown)
    asked = settings.form(chosen, exclude, shown.layout if shown else None)
    if asked is not None and asked.submitted and "job" not in state:
        state["job"] = start(chosen, asked, shown)
    if "job" in state:
        finish(state["job"])
    shown = session.current()
    if shown is None:
        st.info("Set what matters above, then press **Form clusters**.")
        return
    layout_tab, school_tab, compare_tab, plan_tab = st.tabs(
        ["Map and metrics", "One school: explain and move", "Compare layouts", "Plan the year"]
    )
    outlines = mapview.cached_outlines(chosen.key, shown.layout)
    with layout_tab:
        overview(shown, outlines)
    with school_tab:
        school.panel(shown)
    with compare_tab:
        compare.panel(outlines)
    with plan_tab:
        year.panel(shown)


def start(chosen: data.Data, asked: settings.Settings, shown: Shown | None) -> Job:
    """Start the solve the form asked for, warm from the layout on screen if there is one."""
    scenario = asked.scenario
    words = [f"sizes {scenario.sizes.min_size}–{scenario.sizes.max_size}"]
    words += [f"{a} {w:g}" for a, w in scenario.weights.contrast.items()]
    locks = scenario.constraints.lock_clusters
    if locks:
        words.append(f"clusters {', '.join(locks)} locked")
    if scenario.constraints.lock_centres:
        words.append(f"{len(scenario.constraints.lock_centres)} schools locked")
    job = Job.start(
        ", ".join(words),
        chosen.centres,
        scenario.sizes,
        time_limit=asked.time_limit,
        start=shown.layout if shown else None,
        distances=scenario.distances,
        weights=scenario.weights,
        constraints=scenario.constraints,
        seed=scenario.seed,
        workers=scenario.workers,
        gap_target=scenario.gap_target,
        deterministic=scenario.deterministic,
        baselines=asked.baselines,
    )
    job.settings["toml"] = settings.to_toml(scenario)
    return job


def finish(job: Job) -> None:
    """Show the running solve's progress until it ends; then put its layout on screen.

    The stop button reruns the page; the rerun finds the job still in the session,
    sets its stop event and waits here for the best checked layout so far.
    """
    state = st.session_state
    if job.running and st.button("Stop and keep the best layout", key="stop"):
        job.stop.set()
    warm = " from the layout on screen" if job.warm else ""
    with st.status(f"Forming clusters{warm}…", expanded=True) as status:
        bar = st.progress(0.0)
        line = st.empty()
        if job.last is not None:
            line.write(progress_text(job.last))
        while job.running or job.events(wait=0):
            for event in job.events():
                line.write(progress_text(event))
            bar.progress(min(1.0, job.seconds / max(job.time_limit, 1e-9)))
        job.wait()
        del state["job"]
        if job.error is not None:
            status.update(label="No layout", state="error")
            if isinstance(job.error, clustering.ClusteringError):
                st.error(str(job.error))
                return
            raise job.error
        bar.progress(1.0)
        layout = job.layout
        how = " (warm start from the previous layout)" if job.warm else ""
        if layout.stats.get("stopped"):
            how += " — stopped early"
        note = f"formed in {job.seconds:.1f} s{how}"
        status.update(label=f"Clusters {note}", state="complete", expanded=False)
    session.show(Shown(layout, job.settings["toml"], job.label, note=note))
    st.rerun()  # draw the form again, now with the locks a layout on screen offers


def overview(shown: Shown, outlines) -> None:
    layout = shown.layout
    undo = st.session_state.get("undo_stack") or []
    before = undo[-1].layout if undo else None
    st.success(f"**Layout on screen**: {shown.label}" + (f" — {shown.note}" if shown.note else ""))
    results.metrics(layout, before)
    left, right = st.columns([3, 2])
    with left:
        mapview.show(
            layout,
            outlines,
            key=MAP,
            selected=school.current_id(layout),
            on_select=lambda: school.select_from_map(MAP),
        )
        st.caption(
            "Colours: clusters; large dots: venues; lines: each member to its venue; "
            "grey: district or authority outlines. Hover a school for its figures; "
            "click one to select it (see **One school**)."
        )
    with right:
        results.table(layout)
        results.baselines(layout)
        results.excluded(layout)
    if shown.violations:
        st.warning(f"This layout breaks {len(shown.violations)} rule(s); see **One school**.")
    results.downloads(layout, shown.toml)


def _drop_stale_locks(shown: Shown | None) -> None:
    """Locks that name clusters or schools no longer on screen are let go."""
    state = st.session_state
    if shown is None:
        state.pop("lock_clusters", None)
        state.pop("lock_centres", None)
        return
    clusters = set(int(k) for k in shown.layout.centres["cluster"].unique())
    if "lock_clusters" in state:
        state["lock_clusters"] = [k for k in state["lock_clusters"] if k in clusters]
    labels = session.school_labels(shown.layout)
    if "lock_centres" in state:
        state["lock_centres"] = [n for n in state["lock_centres"] if n in labels]


if __name__ == "__main__":
    main()
