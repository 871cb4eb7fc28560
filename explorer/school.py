"""One school: why it is where it is, what a move would cost; move it by hand, undo."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import clustering

from . import session
from .session import Shown, school_labels

KEY = "selected_school"


def select_from_map(map_key: str) -> None:
    """The map's ``on_select`` callback: the clicked school becomes the selected one."""
    from .mapview import clicked

    centre = clicked(map_key)
    shown = session.current()
    if centre is None or shown is None:
        return
    for label, cid in school_labels(shown.layout).items():
        if cid == centre:
            st.session_state[KEY] = label


def current_id(layout: clustering.Layout) -> str | None:
    """The selected school's id as the page starts drawing (before the selectbox is drawn)."""
    label = st.session_state.get(KEY)
    return school_labels(layout).get(label) if label else None


def selected(layout: clustering.Layout) -> str | None:
    """The selected school's id (the selectbox, kept in step with map clicks)."""
    labels = school_labels(layout)
    if st.session_state.get(KEY) not in labels:
        st.session_state.pop(KEY, None)
    label = st.selectbox(
        "School (or click one on the map)",
        list(labels),
        index=None,
        key=KEY,
        placeholder="Choose a school",
    )
    cid = labels.get(label) if label else None
    return cid


def panel(shown: Shown) -> None:
    layout = shown.layout
    cid = selected(layout)
    left, right = st.columns(2)
    with right:
        move(shown, cid)
    with left:
        if cid is not None:
            explain(layout, cid)


def explain(layout: clustering.Layout, cid: str) -> None:
    if layout.problem is None:
        st.info("This layout was read back from files: explanations need the solve that made it.")
        return
    e = clustering.explain_centre(layout, cid)
    st.markdown(
        f"**{e['name']}** — cluster {e['cluster']}" + (" (its venue)" if e["is_venue"] else "")
    )
    st.write(e["why"])
    unit = e["unit"]
    st.caption(
        f"Trip to its venue ({e['venue_name']}): {e['distance']:,.1f} {unit}; "
        f"the {e['venue_rank']}. nearest of {e['venues_in_reach']} venues it could use."
    )
    if e["binding"]:
        st.markdown("**Rules that bind it**")
        for rule in e["binding"]:
            st.write(f"- {rule['text']}")
    if e["alternatives"]:
        rows = [
            {
                "cluster": a["cluster"],
                "how": a["kind"]
                if a["kind"] == "move"
                else f"swap with {a.get('swap_with_name', a['swap_with'])}",
                f"change ({unit})": round(float(a["change"]), 2),
                "breaks": "; ".join(a.get("blocked_by") or []) or "nothing",
            }
            for a in e["alternatives"]
        ]
        st.markdown("**What a move would cost**")
        st.dataframe(pd.DataFrame(rows), hide_index=True, key="alternatives")
    if e["mix"]:
        st.markdown("**Its cluster's mix with and without it**")
        mix = pd.DataFrame(e["mix"])[["attribute", "value", "deviation_with", "deviation_without"]]
        mix["value"] = mix["value"].astype("string")  # numbers and categories in one column
        st.dataframe(mix, hide_index=True, key="mix")


def move(shown: Shown, cid: str | None) -> None:
    layout = shown.layout
    st.markdown("**Move by hand**")
    clusters = sorted(int(k) for k in layout.centres["cluster"].unique())
    own = None
    if cid is not None:
        own = int(
            layout.centres.loc[layout.centres["centre_id"].astype(str) == cid, "cluster"].iloc[0]
        )
    options = [k for k in clusters if k != own]
    target = st.selectbox("Move it to cluster", options, key="move_to", disabled=cid is None)
    a, b = st.columns(2)
    if a.button("Move", key="move", disabled=cid is None or target is None):
        try:
            moved, report = clustering.move_centre(layout, cid, int(target))
        except (clustering.ClusteringError, ValueError) as error:
            st.error(str(error))
        else:
            name = layout.centres.loc[layout.centres["centre_id"].astype(str) == cid, "name"].iloc[
                0
            ]
            session.show(
                Shown(
                    moved, shown.toml, f"moved {name} to cluster {target}", list(report.violations)
                )
            )
            st.rerun()
    if b.button("Undo", key="undo", disabled=not st.session_state.get("undo_stack")):
        session.undo()
        st.rerun()
    if shown.violations:
        st.warning(
            f"This layout breaks {len(shown.violations)} rule(s), as the checker finds:\n\n"
            + "\n".join(f"- {v}" for v in shown.violations[:20])
        )
    elif shown.label.startswith("moved"):
        st.success("The checker finds every rule still holds.")
