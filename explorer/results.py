"""Beside the map: the overall metrics, the per-cluster table, the baselines, downloads."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

import clustering
from clustering.output.tables import csv_bytes


def cost(value: float, unit: str) -> str:
    """An objective or bound for people: km when the costs are metres."""
    return amount(value / 1000, "km") if unit == "m" else amount(value, unit)


def amount(value: float, unit: str) -> str:
    """A figure short enough for a metric: one decimal below 1,000, none from there on."""
    return f"{value:,.1f} {unit}" if abs(value) < 1000 else f"{value:,.0f} {unit}"


def figures(layout: clustering.Layout) -> dict[str, float]:
    """The headline numbers of a layout, for metrics and their changes."""
    summary = clustering.overall_summary(layout)
    scale = 1000.0 if layout.unit == "m" else 1.0
    return {
        "objective": layout.objective / scale,
        "lower_bound": layout.lower_bound / scale,
        "gap": layout.gap,
        "travel": float(summary["total_to_venue_km"]),
        "worst": float(summary["max_to_venue_km"]),
        "clusters": int(summary["n_clusters"]),
    }


def metrics(layout: clustering.Layout, before: clustering.Layout | None = None) -> None:
    """Objective, bound, gap, checker, travel; with ``before``, how each changed."""
    now = figures(layout)
    was = figures(before) if before is not None else None
    unit = "km" if layout.unit == "m" else layout.unit

    def delta(key: str, fmt: str = "{:+,.1f}") -> str | None:
        if was is None or abs(now[key] - was[key]) < 1e-9:
            return None
        return fmt.format(now[key] - was[key])

    m1, m2, m3, m4, m5, m6 = st.columns(6)
    m1.metric(
        "Objective", cost(layout.objective, layout.unit), delta("objective"), delta_color="inverse"
    )
    m2.metric("Lower bound", cost(layout.lower_bound, layout.unit))
    m3.metric("Gap", f"{layout.gap:.1%}")
    m4.metric("Travel", amount(now["travel"], unit), delta("travel"), delta_color="inverse")
    m5.metric("Longest trip", amount(now["worst"], unit), delta("worst"), delta_color="inverse")
    m6.metric("Checker", checker_word(layout))
    stopped = (
        " — stopped early: the best checked layout so far" if layout.stats.get("stopped") else ""
    )
    st.caption(
        f"{layout.n_clusters} clusters of {len(layout.centres):,} schools; "
        f"{len(layout.excluded):,} excluded; status {layout.status}{stopped}"
    )


def checker_word(layout: clustering.Layout) -> str:
    verdict = layout.stats.get("checker")
    return {"passed": "passed", "failed": "rules broken"}.get(verdict, "not run")


def table(layout: clustering.Layout) -> None:
    st.dataframe(
        clustering.cluster_summary(layout), hide_index=True, key="cluster_table", height=320
    )


def baselines(layout: clustering.Layout) -> None:
    if layout.baselines is None:
        return
    st.markdown("**Beside the layouts people would otherwise use**")
    st.dataframe(layout.baselines, hide_index=True, key="baselines_table")


def excluded(layout: clustering.Layout) -> None:
    if len(layout.excluded):
        with st.expander(f"{len(layout.excluded):,} schools excluded, with reasons"):
            st.dataframe(layout.excluded, hide_index=True)


def files(layout: clustering.Layout) -> dict[str, bytes]:
    """Every output file of :func:`clustering.write_outputs`, as bytes by name."""
    with tempfile.TemporaryDirectory() as folder:
        written = clustering.write_outputs(layout, Path(folder) / "out")
        return {
            key: Path(path).read_bytes() for key, path in written.items() if Path(path).is_file()
        }


def downloads(layout: clustering.Layout, toml: str) -> None:
    """Assignments CSV, GeoJSON, the HTML report and the scenario file."""
    outputs: dict[str, bytes] = {}

    def output(key: str):
        def read() -> bytes:  # made when the button is clicked, then kept
            if not outputs:
                outputs.update(files(layout))
            return outputs[key]

        return read

    offered = [
        ("Assignments (CSV)", csv_bytes(layout.assignments), "assignments.csv",
         "text/csv", "download_csv"),
        ("Schools (GeoJSON)", output("centres_geojson"), "centres.geojson",
         "application/geo+json", "download_centres_geojson"),
        ("Clusters (GeoJSON)", output("clusters_geojson"), "clusters.geojson",
         "application/geo+json", "download_clusters_geojson"),
        ("Report (HTML)", output("report"), "report.html", "text/html", "download_report"),
        ("Scenario (TOML)", toml.encode(), "scenario.toml", "application/toml", "download_toml"),
    ]  # fmt: skip
    for column, (label, data, name, mime, key) in zip(
        st.columns(len(offered)), offered, strict=True
    ):
        column.download_button(label, data, file_name=name, mime=mime, on_click="ignore", key=key)
