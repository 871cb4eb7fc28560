"""Re-forming: who moved between the previous layout and this one, and why.

When a layout is formed with a previous layout
(``Constraints.previous``), :func:`moves` lists every centre of the previous
layout or of the current input with its status:

``stayed``
    in a cluster with the same label as before (the engine keeps a previous
    cluster's number for the new cluster that keeps most of its members);
``moved``
    in a cluster with another label;
``joined``
    taking part now, not in the previous layout;
``left``
    in the previous layout, not taking part now (excluded, with the reason,
    or no longer in the input);
``excluded``
    in the input, excluded, and not in the previous layout either.

The reason of a move is derived from the data: the previous cluster was
dissolved, its venue left or changed, the trip to the new venue is shorter,
moving back would break a rule (a full cluster — after how many new centres
joined it —, a quota, a link, the maximum distance), and always, when moving
back is possible, its exact cost with the objective (a plain move back, or the
best swap when the size bounds forbid one; see :mod:`clustering.analysis.explain`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..model.layout import Layout
from .explain import WhatIf, can_explain, rank_words

__all__ = ["STATUSES", "has_previous", "moves", "moves_summary"]

#: every status, in the order tables and summaries list them
STATUSES = ("stayed", "moved", "joined", "left", "excluded")


def _previous(layout: Layout):
    problem = getattr(layout, "problem", None)
    return None if problem is None else problem.constraints.previous


def has_previous(layout: Layout) -> bool:
    """Whether :func:`moves` can report on ``layout``: re-formed, with its solved problem."""
    return _previous(layout) is not None and can_explain(layout)


def moves(layout: Layout) -> pd.DataFrame:
    """One row per centre of the previous layout or of the current input.

    Parameters
    ----------
    layout
        A layout formed by :func:`clustering.form_clusters` with
        ``constraints.previous`` set.

    Returns
    -------
    pandas.DataFrame
        Columns ``centre_id``, ``name``, ``previous_cluster`` (text, as in the
        previous ``assignments.csv``; empty when none), ``cluster`` (Int64;
        missing when it takes no part), ``status`` (see :data:`STATUSES`),
        ``reason`` (empty for ``stayed``), ``previous_venue_id`` (the venue
        its previous cluster had), ``venue_id``, ``distance_km`` (to its venue
        now; ``distance_<unit>`` for a travel matrix), ``back_distance_km``
        (to the current venue of the cluster carrying its previous label) and
        ``move_back_change`` (for a mover: the change of the weighted total,
        in km or the matrix unit, if it moved back; a swap when the size bounds
        forbid a plain move) with ``move_back_swap_with`` (the centre it would
        swap with; empty for a plain move). Members come first in the layout's order, then
        the excluded, then the centres no longer in the input.

    Raises
    ------
    ValueError
        When the layout was not formed from a previous layout, or has no
        solved problem.
    """
    prev = _previous(layout)
    if prev is None:
        raise ValueError("the layout was not re-formed from a previous layout")
    if not can_explain(layout):
        raise ValueError("this layout has no solved problem (layout.problem)")
    what = WhatIf(layout)
    n = what.n
    suffix = what.suffix
    unit = what.unit_text
    rank = what.venue_rank()
    prev_of = np.array([prev.cluster.get(cid) for cid in what.ids], dtype=object)
    now = np.array([str(int(x)) for x in what.labels[what.cluster_of]], dtype=object)
    new = np.array([p is None for p in prev_of], dtype=bool)
    status = np.where(new, "joined", np.where(prev_of == now, "stayed", "moved"))

    # who joined each (current) cluster, and where each previous cluster's members are
    joined_in = np.bincount(what.cluster_of[status == "joined"], minlength=what.k)
    excluded = layout.excluded
    ex_ids = (
        excluded["centre_id"].astype(str).tolist()
        if len(excluded) and "centre_id" in excluded
        else []
    )
    ex_reason = dict(
        zip(ex_ids, excluded["reason"].astype(str).tolist() if ex_ids else [], strict=True)
    )
    ex_name = dict(
        zip(
            ex_ids,
            excluded["name"].astype(object).where(excluded["name"].notna(), "").astype(str)
            if ex_ids and "name" in excluded
            else [""] * len(ex_ids),
            strict=True,
        )
    )

    def gone(cid: str) -> str:
        return ex_reason.get(cid) or "no longer in the input"

    by_label: dict[str, list[str]] = {}
    for cid, label in prev.cluster.items():
        by_label.setdefault(str(label), []).append(cid)

    # moving back, priced for every mover whose previous label still exists
    movers = np.flatnonzero(status == "moved")
    back_k = np.array([_index(what, prev_of[r]) for r in movers])
    can_back = movers[back_k >= 0]
    priced = what.price(can_back, back_k[back_k >= 0]) if len(can_back) else None
    pos = {int(r): p for p, r in enumerate(can_back)}

    reason = np.array([""] * n, dtype=object)
    back_change = np.full(n, np.nan)
    back_swap = np.array([""] * n, dtype=object)
    back_distance = np.full(n, np.nan)
    for r in np.flatnonzero(status == "joined"):
        a = int(what.cluster_of[r])
        away = what.distance_text(what.costs[r, what.venue_of[r]])
        reason[r] = (
            f"new: not in the previous layout; meets at cluster {what.label(a)}'s venue, "
            f"{away} away (the {rank_words(int(rank[r]))} it could use)"
        )
    for r in movers:
        r = int(r)
        label = str(prev_of[r])
        c_now = what.label(int(what.cluster_of[r]))
        clauses: list[str] = []
        old_venue = prev.venue.get(label)
        k_back = what.cluster_index(label)
        if k_back is None:
            members = by_label.get(label, [])
            left = [cid for cid in members if cid not in what.row_of]
            elsewhere = sorted(
                {
                    what.label(int(what.cluster_of[what.row_of[cid]]))
                    for cid in members
                    if cid in what.row_of
                }
            )
            where = ", ".join(map(str, elsewhere))
            detail = (
                f"{len(left)} of its {len(members)} members left, the others are now in "
                f"clusters {where}"
                if left
                else f"its members are now in clusters {where}"
            )
            clauses.append(f"its previous cluster {label} was dissolved ({detail})")
        else:
            v_back = int(what.venues[k_back])
            if old_venue is not None and old_venue not in what.row_of:
                clauses.append(
                    f"its previous venue {_name(ex_name, old_venue)} left ({gone(old_venue)}); "
                    f"cluster {label} now meets at {what.who(v_back)}"
                )
            elif old_venue is not None and what.ids[v_back] != old_venue:
                clauses.append(
                    f"cluster {label} now meets at {what.who(v_back)} instead of "
                    f"{what.who(what.row_of[old_venue])}"
                )
            d_now = what.costs[r, what.venue_of[r]]
            d_back = what.costs[r, v_back]
            back_distance[r] = d_back * what.factor
            if d_back - d_now > 1e-9:
                clauses.append(
                    f"its trip to cluster {c_now}'s venue is {what.distance_text(d_back - d_now)} "
                    f"shorter than to cluster {label}'s"
                )
            c = pos[r]
            back_change[r] = float(priced.change[c])
            blocked = priced.blocked_by(c)
            j = int(priced.swap_with[c])
            back_swap[r] = what.ids[j] if j >= 0 else ""
            how = "moving back" if j < 0 else f"swapping back with {what.who(j)}"
            if blocked:
                words = []
                for text in blocked:
                    new = int(joined_in[k_back])
                    if text.startswith(f"cluster {label} is full") and new:
                        text += f" after {new} new centre{'s' if new > 1 else ''} joined it"
                    words.append(text)
                clauses.append(f"{how} is not allowed: {'; '.join(words)}")
            else:
                change = float(priced.change[c])
                parts = priced.parts_text(c)
                new = int(joined_in[k_back])
                if j >= 0 and new and what.size[k_back] >= what.max_size:
                    clauses.append(
                        f"cluster {label} is full ({what.size[k_back]} members, {new} of them new)"
                    )
                if change > 1e-9:
                    clauses.append(
                        f"re-formed to lower the total: {how} would cost {change:+,.2f} {unit} "
                        f"({parts})"
                    )
                elif change < -1e-9:
                    clauses.append(
                        f"{how} would lower the total by {-change:,.2f} {unit} ({parts}); "
                        "the search did not find this"
                    )
                else:
                    clauses.append(f"{how} would leave the total unchanged")
        reason[r] = "; ".join(clauses)

    distance = what.costs[np.arange(n), what.venue_of] * what.factor
    members = pd.DataFrame(
        {
            "centre_id": what.ids,
            "name": what.names,
            "previous_cluster": [p or "" for p in prev_of],
            "cluster": pd.array(what.labels[what.cluster_of], dtype="Int64"),
            "status": status,
            "reason": reason,
            "previous_venue_id": [prev.venue.get(p, "") if p else "" for p in prev_of],
            "venue_id": what.ids[what.venue_of],
            f"distance_{suffix}": np.round(distance, 3) if suffix == "km" else distance,
            f"back_distance_{suffix}": np.round(back_distance, 3)
            if suffix == "km"
            else back_distance,
            "move_back_change": np.round(back_change, 3),
            "move_back_swap_with": back_swap,
        }
    )
    rows: list[dict[str, Any]] = []
    for cid in ex_ids:
        label = prev.cluster.get(cid)
        rows.append(
            {
                "centre_id": cid,
                "name": ex_name.get(cid, ""),
                "previous_cluster": label or "",
                "status": "left" if label is not None else "excluded",
                "reason": ex_reason.get(cid, ""),
                "previous_venue_id": prev.venue.get(label, "") if label else "",
            }
        )
    known = set(what.ids) | set(ex_ids)
    for cid, label in prev.cluster.items():
        if cid not in known:
            rows.append(
                {
                    "centre_id": cid,
                    "name": "",
                    "previous_cluster": label,
                    "status": "left",
                    "reason": "no longer in the input",
                    "previous_venue_id": prev.venue.get(label, ""),
                }
            )
    others = pd.DataFrame(rows, columns=list(members.columns))
    others["cluster"] = pd.array([pd.NA] * len(others), dtype="Int64")
    others["venue_id"] = ""
    out = pd.concat([members, others], ignore_index=True) if len(others) else members
    out["cluster"] = out["cluster"].astype("Int64")
    text = ("reason", "previous_cluster", "previous_venue_id", "venue_id", "name")
    for col in (*text, "move_back_swap_with"):
        out[col] = out[col].fillna("").astype(str)
    return out


def _index(what: WhatIf, label) -> int:
    """The index of the cluster now carrying ``label``, ``-1`` when none does."""
    k = what.cluster_index(label)
    return -1 if k is None else k


def _name(ex_name: dict[str, str], cid: str) -> str:
    name = ex_name.get(cid, "")
    return f"{name} ({cid})" if name and name != cid else cid


def moves_summary(table: pd.DataFrame) -> dict[str, Any]:
    """Counts per status and the share of the previous layout's members that stayed.

    Returns
    -------
    dict
        A count per status of :data:`STATUSES`; ``previous_members``
        (stayed + moved + left); ``stayed_share`` (stayed / previous
        members) and ``stayed_share_of_remaining`` (stayed / (stayed +
        moved)), ``None`` when undefined.
    """
    counts = table["status"].value_counts()
    out: dict[str, Any] = {s: int(counts.get(s, 0)) for s in STATUSES}
    previous = out["stayed"] + out["moved"] + out["left"]
    remaining = out["stayed"] + out["moved"]
    out["previous_members"] = previous
    out["stayed_share"] = out["stayed"] / previous if previous else None
    out["stayed_share_of_remaining"] = out["stayed"] / remaining if remaining else None
    return out
