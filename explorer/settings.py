"""The scenario: edited in one form (one solve per submit), loaded from and saved to TOML.

The form edits a :class:`clustering.Scenario`, the same object the CLI reads from a
scenario file, so a scenario saved here repeats with ``clustering form --scenario``.
Parts of a loaded scenario the form does not show (a travel matrix, ``size_by``,
stability, consent…) are kept as they were.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import streamlit as st

import clustering

from .data import ROOT, SAMPLES, Data, choice_columns
from .session import school_labels

#: attributes a contrast weight may be given for, when the data has them
CONTRAST_ATTRIBUTES = (
    "fsm_pct",
    "frl_pct",
    "imd_decile",
    "ethnic_diversity",
    "pct_white",
    "urban_rural",
    "phase",
    "religious_character",
)
#: bundled scenarios offered in the sidebar (sweep grids are not scenarios)
BUNDLED = {
    p.stem: p
    for p in sorted((ROOT / "data" / "sample").glob("*.toml"))
    if not p.stem.startswith("sweep")
}
LINK_KINDS = ("must link", "cannot link")
NONE = "(none)"


@dataclass
class Settings:
    """What one submit of the form asks for."""

    scenario: clustering.Scenario
    submitted: bool
    #: the time limit for this solve: the re-solve limit when starting from a layout
    time_limit: float
    warm: bool
    baselines: bool


def contrast_attributes(centres: clustering.Centres) -> list[str]:
    """The attributes a contrast weight can be given for in these centres."""
    frame = centres.frame
    return [a for a in CONTRAST_ATTRIBUTES if a in frame.columns and frame[a].notna().any()]


def theme_columns(centres: clustering.Centres) -> list[str]:
    """Text columns that can hold themes (affiliations, trust, diocese…)."""
    frame = centres.frame
    skip = {"centre_id", "name", "row", "geometry"}
    return [
        str(c)
        for c in frame.columns
        if c not in skip and not pd.api.types.is_numeric_dtype(frame[c]) and frame[c].notna().any()
    ]


def links_table(constraints: clustering.Constraints) -> pd.DataFrame:
    """Must-link and cannot-link groups as rows of an editable table."""
    rows = [("must link", ", ".join(g)) for g in constraints.must_link]
    rows += [("cannot link", ", ".join(g)) for g in constraints.cannot_link]
    return pd.DataFrame(rows, columns=["kind", "centre ids"]).astype("string")


def links_from(table: pd.DataFrame) -> tuple[tuple[tuple[str, ...], ...], ...]:
    """(must_link, cannot_link) from the edited table; ids split on commas or semicolons.

    Raises ``InputError`` naming the row when a kind is unknown or a group has
    fewer than two ids.
    """
    must, cannot = [], []
    for i, (kind, ids) in enumerate(zip(table["kind"], table["centre ids"], strict=True), 1):
        if _blank(kind) and _blank(ids):
            continue
        group = tuple(x.strip() for x in str(ids).replace(";", ",").split(",") if x.strip())
        if kind not in LINK_KINDS:
            raise clustering.InputError(
                f"links table row {i}: kind {kind!r} is neither 'must link' nor 'cannot link'"
            )
        if len(group) < 2:
            raise clustering.InputError(
                f"links table row {i}: a group needs two or more centre ids, separated by commas"
            )
        (must if kind == "must link" else cannot).append(group)
    return tuple(must), tuple(cannot)


def quotas_table(rule: clustering.SizeRule) -> pd.DataFrame:
    rows = [(q.column, q.value, q.min, q.max) for q in rule.quotas]
    frame = pd.DataFrame(rows, columns=["column", "value", "min", "max"])
    return frame.astype({"column": "string", "value": "string", "min": "Int64", "max": "Int64"})


def quotas_from(table: pd.DataFrame) -> tuple[clustering.Quota, ...]:
    """Quotas from the edited table; raises ``InputError`` naming the row."""
    out = []
    for i, row in enumerate(table.itertuples(index=False), 1):
        column, value, low, high = row
        if _blank(column) and _blank(value):
            continue
        if _blank(column) or _blank(value):
            raise clustering.InputError(f"quotas table row {i}: give both a column and a value")
        low = 0 if _blank(low) else int(low)
        high = None if _blank(high) else int(high)
        out.append(clustering.Quota(str(column), str(value), min=low, max=high))
    return tuple(out)


def _blank(value) -> bool:
    return (
        value is None
        or value is pd.NA
        or (isinstance(value, float) and math.isnan(value))
        or (isinstance(value, str) and not value.strip())
    )


def read_pairs_upload(name: str, data: bytes) -> tuple[tuple[str, str], ...]:
    """Partnership pairs from an uploaded CSV (two columns of centre ids), as the CLI reads them."""
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / "partnerships.csv"
        file.write_bytes(data)
        try:
            read = clustering.Scenario().with_constraints(files={"partnerships": str(file)})
        except clustering.InputError as error:
            raise clustering.InputError(str(error).replace(str(file), name)) from None
    return read.constraints.partnerships


def read_scenario_upload(name: str, data: bytes) -> clustering.Scenario:
    """A scenario from an uploaded TOML file (files it names must be stated inline instead)."""
    if len(data) > 1024 * 1024:
        raise clustering.InputError(f"{name} is over 1 MB: that is not a scenario file")
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / "scenario.toml"
        file.write_bytes(data)
        try:
            return flatten(clustering.load_scenario(file))
        except clustering.InputError as error:
            raise clustering.InputError(
                str(error).replace(str(file), name)
                + " (an uploaded scenario cannot name other files: state them inline, "
                "or load a bundled scenario)"
            ) from None


def flatten(scenario: clustering.Scenario) -> clustering.Scenario:
    """The scenario with what its files held stated inline (so it saves as one file)."""
    return clustering.Scenario(
        centres=scenario.centres,
        distances=scenario.distances,
        columns=dict(scenario.columns),
        crs=scenario.crs,
        include_closed=scenario.include_closed,
        sizes=scenario.sizes,
        weights=scenario.weights,
        time_limit=scenario.time_limit,
        seed=scenario.seed,
        workers=scenario.workers,
        gap_target=scenario.gap_target,
        deterministic=scenario.deterministic,
        constraints=replace(scenario.constraints, previous=None, lock_centres=(), lock_clusters=()),
    )


def apply(scenario: clustering.Scenario) -> None:
    """Put a loaded scenario into the form's widgets (call from a button's callback)."""
    state = st.session_state
    rule, w, c = scenario.sizes, scenario.weights, scenario.constraints
    state["base_scenario"] = scenario
    state["min_size"], state["max_size"] = int(rule.min_size), int(rule.max_size)
    state["n_clusters"] = int(rule.n_clusters or 0)
    state["time_limit"] = float(scenario.time_limit)
    state["seed"] = int(scenario.seed)
    state["deterministic"] = bool(scenario.deterministic)
    for key in [k for k in state if str(k).startswith("w_")]:
        state[key] = 0.0
    for attribute, value in w.contrast.items():
        state[f"w_{attribute}"] = float(value)
    state["themes"] = list(w.themes)
    state["theme_weight"] = float(max(w.themes.values(), default=3.0))
    state["coordinator"] = c.coordinator or ""
    state["boundary"] = c.boundary or NONE
    state["cross_boundary"] = bool(c.cross_boundary)
    state["boundary_weight"] = float(w.boundary)
    state["max_distance"] = float(c.max_distance or 0.0)
    state["partnership_weight"] = float(w.partnerships)
    state["partnerships_hard"] = bool(c.partnerships_hard)
    state["scenario_pairs"] = tuple(c.partnerships)
    state["editor_version"] = state.get("editor_version", 0) + 1
    if scenario.centres:
        where = Path(scenario.centres).resolve()
        for label, path in SAMPLES.items():
            if (ROOT / path).resolve() == where:
                state["data_choice"], state["sample"] = "Bundled sample", label


def scenario_panel() -> None:
    """The sidebar's scenario loader: a bundled scenario or an uploaded TOML file."""
    with st.sidebar.expander("Load a scenario"):
        st.selectbox("Bundled scenario", list(BUNDLED), key="bundled_scenario")
        st.button("Load bundled scenario", key="load_bundled", on_click=_load_bundled)
        st.file_uploader("Or a scenario file (.toml)", type=["toml"], key="scenario_upload")
        st.button("Load uploaded scenario", key="load_upload", on_click=_load_upload)
        message = st.session_state.pop("scenario_message", None)
        if message:
            (st.error if message[0] == "error" else st.success)(message[1])


def _load_bundled() -> None:
    name = st.session_state.get("bundled_scenario")
    _load(lambda: flatten(clustering.load_scenario(BUNDLED[name])), f"{name}.toml")


def _load_upload() -> None:
    upload = st.session_state.get("scenario_upload")
    if upload is None:
        st.session_state["scenario_message"] = ("error", "Choose a scenario file first.")
        return
    _load(lambda: read_scenario_upload(upload.name, upload.getvalue()), upload.name)


def _load(read, name: str) -> None:
    try:
        scenario = read()
    except clustering.InputError as error:
        st.session_state["scenario_message"] = ("error", f"The scenario was not loaded: {error}")
        return
    apply(scenario)
    st.session_state["scenario_message"] = ("ok", f"Loaded {name}.")


def form(data: Data, exclude: dict[str, str], layout: clustering.Layout | None) -> Settings | None:
    """The settings form; ``None`` (after saying why) when what it holds cannot be used."""
    state = st.session_state
    base: clustering.Scenario = state.get("base_scenario") or clustering.Scenario()
    centres = data.centres
    attributes = contrast_attributes(centres)
    version = state.get("editor_version", 0)
    with st.form("settings"):
        st.subheader("Settings")
        a, b, c, d, e, f = st.columns(6)
        min_size = a.number_input("Min size", 1, 1000, 8, key="min_size")
        max_size = b.number_input("Max size", 1, 1000, 12, key="max_size")
        n_clusters = c.number_input("Clusters (0 = from sizes)", 0, 10_000, 0, key="n_clusters")
        time_limit = d.number_input("Time limit (s)", 1.0, 600.0, 10.0, key="time_limit")
        resolve = e.number_input(
            "Re-solve time limit (s)",
            0.5,
            600.0,
            2.0,
            key="resolve_limit",
            help="a solve that starts from the layout on screen (after a change) gets this",
        )
        seed = f.number_input("Seed", 0, 2**31 - 1, 0, key="seed")

        st.markdown(
            "**Contrast** — km that one unit of a cluster's difference from the area is worth"
        )
        contrast = {}
        for col, attribute in zip(st.columns(max(1, len(attributes))), attributes, strict=False):
            w = col.number_input(attribute, 0.0, 1000.0, 0.0, step=1.0, key=f"w_{attribute}")
            if w > 0:
                contrast[attribute] = float(w)

        with st.expander("Themes, quotas, coordinator, boundary, distance"):
            t1, t2 = st.columns([3, 1])
            themes = t1.multiselect(
                "Theme columns (values separated by ';' share a theme)",
                theme_columns(centres),
                key="themes",
            )
            theme_weight = t2.number_input(
                "Theme weight (km per extra cluster)", 0.0, 1000.0, 3.0, key="theme_weight"
            )
            st.caption(
                "Quotas: each cluster holds between min and max centres whose column is value"
            )
            quota_edit = st.data_editor(
                quotas_table(base.sizes),
                num_rows="dynamic",
                key=f"quotas_{version}",
                column_config={
                    "column": st.column_config.SelectboxColumn(options=choice_columns(centres)),
                },
            )
            coordinator = st.text_input(
                "Coordinator rule (a yes/no column, or e.g. 'ofsted in Good, Outstanding')",
                key="coordinator",
            )
            b1, b2, b3, b4 = st.columns(4)
            boundary = b1.selectbox(
                "Boundary column", [NONE, *choice_columns(centres)], key="boundary"
            )
            cross = b2.checkbox("Crossing allowed (priced)", key="cross_boundary")
            boundary_weight = b3.number_input(
                "Boundary weight (km per member across)", 0.0, 1000.0, 0.0, key="boundary_weight"
            )
            max_distance = b4.number_input(
                "Max distance (km, 0 = none)", 0.0, 1000.0, 0.0, key="max_distance"
            )

        with st.expander("Must-link, cannot-link and partnerships"):
            st.caption("One group a row: centre ids separated by commas")
            links_edit = st.data_editor(
                links_table(base.constraints),
                num_rows="dynamic",
                key=f"links_{version}",
                column_config={
                    "kind": st.column_config.SelectboxColumn(options=list(LINK_KINDS)),
                },
            )
            p1, p2, p3 = st.columns([2, 1, 1])
            pairs_file = p1.file_uploader(
                "Partnerships (CSV: two columns of centre ids, one pair a row)",
                type=["csv"],
                key="partnerships_file",
            )
            partnership_weight = p2.number_input(
                "Partnership weight (km per pair split)", 0.0, 1000.0, 0.0, key="partnership_weight"
            )
            hard = p3.checkbox("Keep partners together", key="partnerships_hard")

        locks_clusters, locks_centres = [], []
        if layout is not None:
            l1, l2 = st.columns(2)
            clusters = sorted(int(k) for k in layout.centres["cluster"].unique())
            locks_clusters = l1.multiselect(
                "Lock clusters",
                clusters,
                key="lock_clusters",
                help="kept exactly as on screen (members and venue); the rest is re-solved",
            )
            names = school_labels(layout)
            locks_centres = l2.multiselect(
                "Lock schools",
                list(names),
                key="lock_centres",
                help="each stays in its cluster on screen",
            )
            locks_centres = [names[n] for n in locks_centres]
        o1, o2 = st.columns(2)
        baselines = o1.checkbox(
            "Compare with the layouts people would otherwise use (slower)", key="baselines"
        )
        deterministic = o2.checkbox(
            "Deterministic (one worker, time counted in solver work)", key="deterministic"
        )
        submitted = st.form_submit_button("Form clusters", key="submit", type="primary")

    if min_size > max_size:
        st.error("Min size must not be above max size.")
        return None
    try:
        must, cannot = links_from(links_edit)
        quotas = quotas_from(quota_edit)
        pairs = (
            read_pairs_upload(pairs_file.name, pairs_file.getvalue())
            if pairs_file is not None
            else state.get("scenario_pairs", base.constraints.partnerships)
        )
    except clustering.InputError as error:
        st.error(f"The settings cannot be used: {error}")
        return None
    previous = None
    if layout is not None and (locks_clusters or locks_centres):
        previous = previous_of(layout)
    rule = replace(
        base.sizes,
        min_size=int(min_size),
        max_size=int(max_size),
        n_clusters=int(n_clusters) or None,
        quotas=quotas,
    )
    weights = replace(
        base.weights,
        contrast=contrast,
        themes={t: float(theme_weight) for t in themes},
        boundary=float(boundary_weight),
        partnerships=float(partnership_weight),
    )
    constraints = replace(
        base.constraints,
        must_link=must,
        cannot_link=cannot,
        partnerships=tuple(pairs),
        partnerships_hard=bool(hard),
        coordinator=coordinator.strip() or None,
        boundary=None if boundary == NONE else boundary,
        cross_boundary=bool(cross),
        max_distance=float(max_distance) or None,
        exclude={**dict(base.constraints.exclude), **exclude},
        previous=previous,
        lock_clusters=tuple(str(k) for k in locks_clusters),
        lock_centres=tuple(locks_centres),
        source="the app's settings",
    )
    warm = layout is not None
    scenario = clustering.Scenario(
        centres=str((ROOT / data.source).resolve())
        if (ROOT / data.source).exists()
        else data.source,
        distances=base.distances,
        columns=data.columns,
        crs=data.crs,
        include_closed=base.include_closed,
        sizes=rule,
        weights=weights,
        time_limit=float(time_limit),
        seed=int(seed),
        workers=base.workers,
        gap_target=base.gap_target,
        deterministic=bool(deterministic),
        constraints=constraints,
    )
    return Settings(
        scenario=scenario,
        submitted=bool(submitted),
        time_limit=float(resolve if warm else time_limit),
        warm=warm,
        baselines=bool(baselines),
    )


def previous_of(layout: clustering.Layout) -> clustering.PreviousLayout:
    """The layout on screen as the "previous" layout that locks refer to."""
    frame = layout.centres
    ids = frame["centre_id"].astype(str)
    labels = frame["cluster"].astype(int).astype(str)
    venues = frame["is_venue"].astype(bool).to_numpy()
    return clustering.PreviousLayout(
        cluster=dict(zip(ids, labels, strict=True)),
        venue=dict(zip(labels[venues], ids[venues], strict=True)),
        source="the layout on screen",
    )


def to_toml(scenario: clustering.Scenario) -> str:
    """The scenario file to save: locks left out (they refer to the layout on screen)."""
    kept = replace(
        scenario,
        constraints=replace(scenario.constraints, previous=None, lock_centres=(), lock_clusters=()),
    )
    return clustering.scenario_to_toml(kept)
