"""The public explanations: :func:`explain_centre` (one centre, as a dict),
:func:`explanation_text` (the same as a paragraph) and :func:`explanations` (every
member, as a table), with the sentence that says why each centre is where it is."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ...errors import InputError
from ...input.files import norm_id
from ...model.layout import Layout
from .analyse import Analysis, analyse, best
from .arrays import Arrays, Choice
from .rules import binding, blockers, size_note
from .words import ordinal, parts_text, rank_words

__all__ = ["explain_centre", "explanation_text", "explanations"]


def _move_words(arrays: Arrays, ch: Choice, c: int) -> str:
    """``moving to cluster 4``, or ``swapping into cluster 4 with NAME (ID)`` (and why)."""
    j = int(ch.j[c])
    lb = arrays.label(int(ch.b[c]))
    if j < 0:
        return f"moving to cluster {lb}"
    note = size_note(arrays, ch, c)
    swap = f"swapping into cluster {lb} with {arrays.who(j)}"
    return f"{note}, and {swap}" if note else swap


def _why(arrays: Arrays, an: Analysis, p: int, bindings: list[dict[str, str]]) -> str:
    """One sentence: where it meets, and why it does not meet elsewhere."""
    r = int(an.rows[p])
    a = int(arrays.k_of[r])
    own = arrays.costs[r, arrays.venue_of[r]]
    rank = int(an.rank[p])
    width = an.alt.shape[1]
    closest = None
    if arrays.venue_of[r] == r:
        head = f"It is cluster {arrays.label(a)}'s venue"
    elif rank == 1:
        head = f"Its venue is the nearest it could use ({arrays.dist(own)})"
    else:
        closest = int(an.closest[p])
        there = arrays.costs[r, arrays.venues[closest]]
        head = (
            f"Its venue is the {ordinal(rank)} nearest it could use ({arrays.dist(own)}; "
            f"cluster {arrays.label(closest)}'s is {arrays.dist(there)})"
        )
    hard = [
        b["text"]
        for b in bindings
        if b["text"].startswith("must stay") or b["rule"] == "locked cluster"
    ]
    if hard:
        return f"{head}; it {hard[0]}." if hard[0].startswith("must") else f"{head}; {hard[0]}."
    if width == 0:
        return f"{head}; there is no other cluster."
    # why not the nearer venue, when there is one among those priced; else the best move
    c = best(an, p)
    if closest is not None:
        hit = np.flatnonzero(an.alt[p] == closest)
        if len(hit):
            c = p * width + int(hit[0])
    ch = an.choice
    blocked = blockers(arrays, ch, c)
    total = float(ch.total[c])
    what = _move_words(arrays, ch, c)
    unit = arrays.unit_text
    if blocked:
        tail = f"{what} is not allowed: {'; '.join(blocked[:2])}"
    elif total > 1e-9:
        tail = f"{what} would add {total:,.2f} {unit} to the total ({parts_text(arrays, ch, c)})"
    elif total < -1e-9:
        tail = (
            f"{what} would lower the total by {-total:,.2f} {unit} "
            f"({parts_text(arrays, ch, c)}); the search did not find this"
        )
    else:
        tail = f"{what} would leave the total unchanged"
    return f"{head}; {tail}."


def _alternative_dicts(arrays: Arrays, an: Analysis, p: int) -> list[dict[str, Any]]:
    r = int(an.rows[p])
    width = an.alt.shape[1]
    ch = an.choice
    out = []
    for c in range(p * width, (p + 1) * width):
        b = int(ch.b[c])
        j = int(ch.j[c])
        nv = int(ch.new_venue[c])
        out.append(
            {
                "cluster": arrays.label(b),
                "venue_id": arrays.ids[arrays.venues[b]],
                "venue_distance": float(arrays.costs[r, arrays.venues[b]] * arrays.factor),
                "kind": "move" if j < 0 else "swap",
                "swap_with": None if j < 0 else arrays.ids[j],
                "swap_with_name": None if j < 0 else arrays.names[j],
                "why_swap": size_note(arrays, ch, c),
                "new_venue_of_own_cluster": (
                    arrays.ids[nv] if nv >= 0 and nv != arrays.venue_of[r] else None
                ),
                "change": float(ch.total[c]),
                "parts": {name: float(d[c]) for name, d in ch.parts.items()},
                "blocked_by": blockers(arrays, ch, c),
            }
        )
    return out


def _mix_dicts(arrays: Arrays, an: Analysis, p: int) -> list[dict[str, Any]]:
    r = int(an.rows[p])
    size = int(arrays.size[arrays.k_of[r]])
    out = []
    for m in an.mix:
        t = m["term"]
        item = {
            "attribute": t.attribute,
            "kind": t.kind,
            "weight": t.weight,
            "deviation_with": float(m["with"][p]),
            "deviation_without": float(m["without"][p]),
        }
        if t.kind == "numeric":
            item["off_area_mean_with"] = item["deviation_with"] / size
            item["off_area_mean_without"] = (
                item["deviation_without"] / (size - 1) if size > 1 else 0.0
            )
            value = arrays.layout.centres[t.attribute].iloc[r]
            item["value"] = None if pd.isna(value) else float(value)
        else:
            value = arrays.layout.centres[t.attribute].iloc[r]
            item["value"] = "unknown" if pd.isna(value) else str(value)
        out.append(item)
    return out


def _row_of(layout: Layout, centre_id) -> int | dict[str, Any]:
    cid = norm_id(centre_id)
    ids = layout.centres["centre_id"].astype(str).to_numpy()
    hit = np.flatnonzero(ids == cid)
    if len(hit):
        return int(hit[0])
    excluded = layout.excluded
    if len(excluded) and "centre_id" in excluded.columns:
        rows = excluded[excluded["centre_id"].astype(str) == cid]
        if len(rows):
            row = rows.iloc[0]
            return {
                "centre_id": cid,
                "name": str(row.get("name", "") if pd.notna(row.get("name", "")) else ""),
                "excluded": True,
                "reason": str(row.get("reason", "")),
                "why": f"It takes no part in the layout: {row.get('reason', '')}.",
            }
    raise InputError(
        f"centre {cid!r} is not in the layout",
        fix="use a centre_id from assignments.csv",
    )


def explain_centre(layout: Layout, centre_id, *, alternatives: int = 3) -> dict[str, Any]:
    """Why ``centre_id`` is in its cluster and what moving it would cost.

    Parameters
    ----------
    layout
        A layout made by :func:`clustering.form_clusters` (its ``problem`` is used).
    centre_id
        The centre's id (as in ``assignments.csv``).
    alternatives
        How many other clusters to price: those whose venues are nearest it.

    Returns
    -------
    dict
        ``centre_id``, ``name``, ``cluster``, ``is_venue``, ``venue_id``,
        ``venue_name``, ``distance`` and ``unit`` (km, or the matrix unit),
        ``venue_rank`` (1 = the nearest venue it could use) and
        ``venues_in_reach``; ``nearer_venues`` (cluster, venue id, distance of
        each usable venue nearer than its own); ``mix`` (per contrast
        attribute: ``deviation_with``/``deviation_without`` its cluster's
        deviation from the area's mix, in the objective's units, and for numeric
        attributes ``off_area_mean_with``/``_without``); ``binding`` (list of
        ``{"rule", "text"}``); ``alternatives`` (per cluster priced: ``cluster``,
        ``venue_id``, ``venue_distance``, ``kind`` ``"move"`` or ``"swap"``,
        ``swap_with``, ``why_swap`` (the size rule a plain move would break),
        ``new_venue_of_own_cluster`` (when it is its cluster's
        venue), ``change`` of the weighted total in km (or the matrix unit),
        ``parts`` (the change of each part, in its own unit) and ``blocked_by``
        (the rules it would break, in words)); ``best_alternative`` (the
        cheapest that breaks no rule, else the cheapest; ``None`` with one
        cluster); ``why`` (one sentence). For an excluded centre:
        ``centre_id``, ``name``, ``excluded`` (True), ``reason`` and ``why``.

    Raises
    ------
    InputError
        When the centre is not in the layout.
    ValueError
        When the layout has no solved problem (it was not made by the engine).
    """
    arrays = Arrays(layout)
    r = _row_of(layout, centre_id)
    if isinstance(r, dict):
        return r
    an = analyse(arrays, np.array([r]), alternatives)
    a = int(arrays.k_of[r])
    v = int(arrays.venue_of[r])
    bindings = binding(arrays, r, (int(an.rank[0]), int(an.reach[0])))
    dv, _, near = arrays.venue_block(np.array([r]))
    dv, nearer = dv[0], np.flatnonzero(near[0])
    nearer = nearer[np.argsort(dv[nearer], kind="stable")]
    alts = _alternative_dicts(arrays, an, 0)
    chosen = best(an, 0)
    return {
        "centre_id": arrays.ids[r],
        "name": arrays.names[r],
        "cluster": arrays.label(a),
        "is_venue": bool(v == r),
        "venue_id": arrays.ids[v],
        "venue_name": arrays.names[v],
        "distance": float(arrays.costs[r, v] * arrays.factor),
        "unit": arrays.suffix,
        "venue_rank": int(an.rank[0]),
        "venues_in_reach": int(an.reach[0]),
        "nearer_venues": [
            {
                "cluster": arrays.label(int(c)),
                "venue_id": arrays.ids[arrays.venues[c]],
                "distance": float(dv[c] * arrays.factor),
            }
            for c in nearer
        ],
        "mix": _mix_dicts(arrays, an, 0),
        "binding": bindings,
        "alternatives": alts,
        "best_alternative": None if chosen is None else alts[chosen],
        "why": _why(arrays, an, 0, bindings),
    }


def explanation_text(layout: Layout, centre_id, *, alternatives: int = 3) -> str:
    """:func:`explain_centre` as a short readable paragraph."""
    e = explain_centre(layout, centre_id, alternatives=alternatives)
    who = f"{e['name']} ({e['centre_id']})" if e.get("name") else str(e["centre_id"])
    if e.get("excluded"):
        return f"{who} takes no part in the layout: {e['reason']}."
    unit = "km" if e["unit"] == "km" else e["unit"]
    lines = [
        f"{who} is in cluster {e['cluster']}"
        + (
            ", as its venue."
            if e["is_venue"]
            else f", meeting at {e['venue_name']} ({e['venue_id']}), {e['distance']:,.1f} {unit} "
            f"away: the {rank_words(e['venue_rank'])} of the {e['venues_in_reach']} "
            "venues it could use."
        )
    ]
    for m in e["mix"]:
        if m["kind"] == "numeric" and "off_area_mean_with" in m:
            lines.append(
                f"{m['attribute']}: its cluster's mean is {m['off_area_mean_with']:.2f} from the "
                f"area's with it, {m['off_area_mean_without']:.2f} without it."
            )
        else:
            lines.append(
                f"{m['attribute']} ({m['value']}): {m['deviation_with']:.2f} schools out of the "
                f"area's mix with it, {m['deviation_without']:.2f} without it."
            )
    if e["binding"]:
        lines.append("Rules: " + "; ".join(b["text"] for b in e["binding"]) + ".")
    for alt in e["alternatives"]:
        how = (
            "moving"
            if alt["kind"] == "move"
            else f"{alt['why_swap'] or 'as a swap'}; swapping with "
            f"{alt['swap_with_name'] or alt['swap_with']}"
        )
        text = (
            f"Cluster {alt['cluster']} (venue {alt['venue_distance']:,.1f} {unit} away): "
            f"{how} would change the total by {alt['change']:+,.2f} {unit}"
        )
        if alt["blocked_by"]:
            text += " but is not allowed: " + "; ".join(alt["blocked_by"])
        lines.append(text + ".")
    lines.append(e["why"])
    return " ".join(lines)


def explanations(layout: Layout, alternatives: int = 3) -> pd.DataFrame:
    """One row per member centre: why it is where it is, and its best alternative.

    Columns: ``centre_id``, ``name``, ``cluster``, ``is_venue``, ``venue_id``,
    ``distance_km`` (``distance_<unit>`` for a travel matrix), ``venue_rank``
    (1 = the nearest venue it could use), ``venues_in_reach``,
    ``nearest_other_cluster`` (the other cluster whose venue is nearest), for
    each contrast attribute ``<attr>_deviation`` and ``<attr>_deviation_without``
    (its cluster's deviation from the area's mix with and without it),
    ``binding`` (the rules that bind it, in words), ``best_alternative_cluster``,
    ``best_alternative_move`` (``move`` or ``swap with NAME (ID)``),
    ``best_alternative_change`` (the change of the weighted total, in km or
    the matrix unit), ``best_alternative_travel_km`` (the change of total
    travel; ``_<unit>`` for a travel matrix), ``best_alternative_blocked_by``
    (the rules it would break; empty when none), ``alternatives`` (every
    priced cluster in short) and ``why``.
    The best alternative is the cheapest of the ``alternatives`` nearest other
    clusters that breaks no rule, else the cheapest.

    Raises
    ------
    ValueError
        When the layout has no solved problem (it was not made by the engine).
    """
    arrays = Arrays(layout)
    rows = np.arange(arrays.n)
    an = analyse(arrays, rows, alternatives)
    ch = an.choice
    width = an.alt.shape[1]
    suffix = arrays.suffix
    distance = arrays.costs[rows, arrays.venue_of] * arrays.factor
    table: dict[str, Any] = {
        "centre_id": arrays.ids,
        "name": arrays.names,
        "cluster": arrays.labels[arrays.k_of],
        "is_venue": arrays.venue_of == rows,
        "venue_id": arrays.ids[arrays.venue_of],
        f"distance_{suffix}": np.round(distance, 3) if suffix == "km" else distance,
        "venue_rank": an.rank,
        "venues_in_reach": an.reach,
        "nearest_other_cluster": pd.array(
            arrays.labels[an.alt[:, 0]] if width else [pd.NA] * arrays.n, dtype="Int64"
        ),
    }
    for m in an.mix:
        attr = m["term"].attribute
        table[f"{attr}_deviation"] = np.round(m["with"], 3)
        table[f"{attr}_deviation_without"] = np.round(m["without"], 3)
    blocked = ch.blocked()
    rules, best_cluster, best_move, best_change, best_travel, best_block = [], [], [], [], [], []
    summary, why = [], []
    for p in range(arrays.n):
        r = int(rows[p])
        b = binding(arrays, r, (int(an.rank[p]), int(an.reach[p])))
        rules.append("; ".join(x["text"] for x in b))
        c = best(an, p)
        if c is None:
            best_cluster.append(pd.NA)
            best_move.append("")
            best_change.append(np.nan)
            best_travel.append(np.nan)
            best_block.append("")
        else:
            j = int(ch.j[c])
            best_cluster.append(arrays.label(int(ch.b[c])))
            note = size_note(arrays, ch, c)
            best_move.append(
                "move" if j < 0 else f"swap with {arrays.who(j)}" + (f" ({note})" if note else "")
            )
            best_change.append(round(float(ch.total[c]), 3))
            best_travel.append(round(float(ch.parts["travel"][c]), 3))
            best_block.append("; ".join(blockers(arrays, ch, c)) if blocked[c] else "")
        items = []
        for c2 in range(p * width, (p + 1) * width):
            text = f"{arrays.label(int(ch.b[c2]))}: {float(ch.total[c2]):+.2f}"
            if ch.j[c2] >= 0:
                text += " (swap)"
            if blocked[c2]:
                text += f" blocked: {blockers(arrays, ch, c2)[0]}"
            items.append(text)
        summary.append(" | ".join(items))
        why.append(_why(arrays, an, p, b))
    table["binding"] = rules
    table["best_alternative_cluster"] = pd.array(best_cluster, dtype="Int64")
    table["best_alternative_move"] = best_move
    table["best_alternative_change"] = best_change
    table[f"best_alternative_travel_{suffix}"] = best_travel
    table["best_alternative_blocked_by"] = best_block
    table["alternatives"] = summary
    table["why"] = why
    return pd.DataFrame(table)
