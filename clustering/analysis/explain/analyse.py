"""Per centre: the venues it could use, the other clusters to price, and the mix with and
without it — what every explanation of a set of centres is read from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...model.objective import Weights, build_objective
from ..metrics import CONTRAST_REPORTED
from .arrays import Arrays, Choice
from .whatif import choose

__all__ = ["Analysis", "analyse", "best"]


@dataclass
class Analysis:
    """What the explanations of the centres ``rows`` are read from (one entry per row)."""

    rows: np.ndarray
    rank: np.ndarray  # of its venue among those it could use (1 = the nearest)
    reach: np.ndarray  # venues it could use
    dv: np.ndarray  # every centre's cost to every venue (centres × clusters)
    nearer: np.ndarray  # rows × clusters: usable venues nearer than its own
    alt: np.ndarray  # rows × A cluster indices
    choice: Choice  # pairs in row-major order of ``alt``
    mix: list[dict[str, Any]]


def analyse(arrays: Arrays, rows: np.ndarray, alternatives: int) -> Analysis:
    """Rank each row's venue, and price moving it to its ``alternatives`` nearest clusters."""
    dv, usable, rank, nearer = arrays.venue_table()
    alt = _alternatives(arrays, rows, alternatives, dv)
    pairs_i = np.repeat(rows, alt.shape[1])
    choice = choose(arrays, pairs_i, alt.ravel())
    return Analysis(
        rows,
        rank[rows],
        usable[rows].sum(axis=1),
        dv,
        nearer[rows],
        alt,
        choice,
        _mix(arrays, rows),
    )


def best(an: Analysis, p: int) -> int | None:
    """Pair index of row position ``p``'s best alternative: cheapest unblocked, else cheapest."""
    width = an.alt.shape[1]
    if width == 0:
        return None
    idx = np.arange(p * width, (p + 1) * width)
    blocked = an.choice.blocked()[idx]
    total = an.choice.total[idx]
    pick = np.lexsort((total, blocked))[0]
    return int(idx[pick])


def _alternatives(arrays: Arrays, rows: np.ndarray, count: int, dv: np.ndarray) -> np.ndarray:
    """The ``count`` other clusters whose venues are nearest each row (rows × count)."""
    count = min(count, arrays.k - 1)
    if count <= 0:
        return np.zeros((len(rows), 0), dtype=np.int64)
    d = dv[rows].copy()
    d[np.arange(len(rows)), arrays.k_of[rows]] = np.inf
    part = np.argpartition(d, count - 1, axis=1)[:, :count] if count < arrays.k else None
    if part is None:
        part = np.argsort(d, axis=1)[:, :count]
    inner = np.take_along_axis(d, part, axis=1)
    return np.take_along_axis(part, np.argsort(inner, axis=1, kind="stable"), axis=1)


def _mix(arrays: Arrays, rows: np.ndarray) -> list[dict[str, Any]]:
    """Per contrast attribute (weighted, or always reported): the cluster's deviation
    with and without each row."""
    terms = list(arrays.objective.contrast)
    have = {t.attribute for t in terms}
    centres = arrays.layout.centres
    extra = [
        a
        for a in CONTRAST_REPORTED
        if a not in have and a in centres.columns and centres[a].notna().any()
    ]
    if extra:
        built = build_objective(
            centres, Weights(1.0, {a: 0.0 for a in extra}), unit=arrays.layout.unit
        )
        terms += list(built.contrast)
    out = []
    a = arrays.k_of[rows]
    for t in terms:
        s = np.zeros((arrays.k, t.scores.shape[1]))
        np.add.at(s, arrays.k_of, t.scores)
        with_ = t.factor * np.abs(s[a]).sum(axis=1)
        without = t.factor * np.abs(s[a] - t.scores[rows]).sum(axis=1)
        out.append({"term": t, "with": with_, "without": without})
    return out
