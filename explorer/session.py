"""What one browser session holds: the layout on screen, its undo stack and its history.

Everything lives in ``st.session_state``, which Streamlit keeps per session: one
user's data and layouts are never visible in another's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import streamlit as st

import clustering

#: layouts kept for comparison, newest last
HISTORY = 12
UNDO = 30


@dataclass
class Shown:
    """A layout on screen, the scenario that made it and how it came about."""

    layout: clustering.Layout
    toml: str
    label: str
    violations: list[str] = field(default_factory=list)
    #: how it was made, e.g. "formed in 2.3 s (warm start from the previous layout)"
    note: str = ""


def current() -> Shown | None:
    return st.session_state.get("shown")


def show(shown: Shown, *, undoable: bool = True) -> None:
    """Put a layout on screen; the one before goes on the undo stack and into the history."""
    state = st.session_state
    before = state.get("shown")
    if undoable and before is not None:
        state.setdefault("undo_stack", []).append(before)
        del state["undo_stack"][:-UNDO]
    state["shown"] = shown
    history = state.setdefault("history", [])
    history.append(shown)
    del history[:-HISTORY]
    # the comparison follows: the layout before against the one now on screen
    labels = history_labels(history)
    if len(labels) >= 2:
        state["compare_a"], state["compare_b"] = labels[-2], labels[-1]


def history_labels(history: list[Shown]) -> list[str]:
    """One label per layout of the history, numbered (the same change may recur)."""
    return [f"{i + 1}. {s.label}" for i, s in enumerate(history)]


def undo() -> bool:
    """Back to the layout before the last change; False when there is none."""
    state = st.session_state
    stack = state.get("undo_stack") or []
    if not stack:
        return False
    state["shown"] = stack.pop()
    return True


def forget() -> None:
    """New data: nothing on screen applies to it any more."""
    for key in ("shown", "undo_stack", "history", "job", "selected_school"):
        st.session_state.pop(key, None)


def school_labels(layout: clustering.Layout) -> dict[str, str]:
    """ "Name (id)" → id for every member of the layout."""
    frame = layout.centres
    return {
        f"{n} ({i})": str(i)
        for n, i in zip(frame["name"].astype(str), frame["centre_id"].astype(str), strict=True)
    }
