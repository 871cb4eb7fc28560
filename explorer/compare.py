"""Two layouts side by side: their metrics, which schools differ, on two maps."""

from __future__ import annotations

import streamlit as st

import clustering

from . import mapview, session


def panel(outlines) -> None:
    history: list[session.Shown] = st.session_state.get("history") or []
    if len(history) < 2:
        st.info("Form clusters twice (e.g. after changing a weight) to compare the two layouts.")
        return
    labels = session.history_labels(history)
    state = st.session_state
    for key, default in (("compare_a", labels[-2]), ("compare_b", labels[-1])):
        if state.get(key) not in labels:
            state[key] = default
    a, b = st.columns(2)
    first = a.selectbox("Layout A", labels, key="compare_a")
    second = b.selectbox("Layout B", labels, key="compare_b")
    one, two = history[labels.index(first)], history[labels.index(second)]
    comparison = clustering.compare_layouts(one.layout, two.layout)
    st.metric("Schools in the same cluster in both", f"{comparison.same_share:.1%}")
    st.dataframe(comparison.metrics, hide_index=True, key="compare_metrics")
    moved = comparison.moved
    st.markdown(f"**{len(moved):,} schools differ**")
    st.dataframe(moved, hide_index=True, key="compare_moved")
    ids = set(moved["centre_id"].astype(str)) if len(moved) else set()
    left, right = st.columns(2)
    with left:
        mapview.show(one.layout, outlines, key="map_a", highlight=ids, height=420)
    with right:
        mapview.show(
            two.layout,
            outlines,
            key="map_b",
            highlight=ids,
            height=420,
            relabel=dict(comparison.matching),
        )
