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
    closest: np.ndarray  # cluster of the nearest usable venue nearer than its own, or -1
    alt: np.ndarray  # rows × A cluster indices
    choice: Choice  # pairs in row-major order of ``alt``
    mix: list[dict[str, Any]]


def analyse(arrays: Arrays, rows: np.ndarray, alternatives: int) -> Analysis:
    """Rank each row's venue, and price moving it to its ``alternatives`` nearest clusters.

    Memory stays at a block of rows × clusters (:meth:`Arrays.venue_ranks`), and the
    priced pairs at rows × ``alternatives``, whatever the number of centres.
    """
    rows = np.asarray(rows, dtype=np.int64)
    ranks = arrays.venue_ranks(rows, alternatives)
    alt = ranks.alt
    pairs_i = np.repeat(rows, alt.shape[1])
    choice = choose(arrays, pairs_i, alt.ravel())
    return Analysis(rows, ranks.rank, ranks.reach, ranks.closest, alt, choice, _mix(arrays, rows))


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
