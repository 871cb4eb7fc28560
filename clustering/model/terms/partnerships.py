"""Partnerships: each existing partnership whose two schools end up in different clusters
counts 1. Weighted by ``Weights.partnerships`` (km per partnership split). The
partnerships are an edge list (``TermData.pairs``, row indices); hard ones are
rules instead (must-link) and never reach this term.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .base import Clusters, CpSatModel, Moves, Term, TermData, register

__all__ = ["PairTerm"]


@register
@dataclass(frozen=True)
class PairTerm(Term):
    """Existing partnerships: ``pairs[e] = (i, k)``; a pair split between clusters counts 1."""

    weight_name = "partnerships"
    name = "partnerships split"

    pairs: np.ndarray
    weight: float

    @classmethod
    def build(cls, frame: pd.DataFrame, weights, data: TermData) -> list[PairTerm]:
        if data.pairs is None or not len(data.pairs):
            return []
        return [cls(np.asarray(data.pairs, dtype=np.int64).reshape(-1, 2), weights.partnerships)]

    def broken(self, venue_of: np.ndarray) -> float:
        if len(self.pairs) == 0:
            return 0.0
        return float(np.count_nonzero(venue_of[self.pairs[:, 0]] != venue_of[self.pairs[:, 1]]))

    def value(self, venue_of: np.ndarray, labels: np.ndarray) -> float:
        return self.broken(venue_of)

    def restricted(self, rows: np.ndarray) -> PairTerm:
        """The pairs with both centres among ``rows`` (possibly none)."""
        p = self.pairs
        where = np.full(max(int(rows.max(initial=-1)), int(p.max(initial=-1))) + 1, -1)
        where[rows] = np.arange(len(rows))
        local = where[p].reshape(-1, 2)
        return PairTerm(local[(local >= 0).all(axis=1)], self.weight)

    def cpsat(self, m: CpSatModel):
        """``split[e]`` is 1 when the two centres of partnership ``e`` meet at different venues."""
        coefficient = m.coefficient(self.weight)
        if coefficient <= 0 or len(self.pairs) == 0:
            return 0
        out = []
        for e, (a, b) in enumerate(self.pairs.tolist()):
            split = m.model.new_bool_var(f"split[{e}]")
            for u, w in ((a, b), (b, a)):
                for j in m.cand[u].tolist():
                    other = m.x.get((w, j))
                    m.model.add(split >= m.x[u, j] - (0 if other is None else other))
            out.append(split)
        return coefficient * sum(out)

    def exchange(self, clusters: Clusters, travel_scale: float) -> _Partners | None:
        if self.weight <= 0 or len(self.pairs) == 0:
            return None
        return _Partners(self, clusters, travel_scale)

    def what_if(self, clusters: Clusters):
        partners = _partners(self.pairs)
        k_of = clusters.label

        def changes(m: Moves) -> np.ndarray:
            d = np.zeros(len(m))
            for c in range(len(m)):
                ic, jc, ac, bc = int(m.i[c]), int(m.j[c]), int(m.a[c]), int(m.b[c])
                if ic not in partners and jc not in partners:
                    continue
                for q in partners.get(ic, ()):
                    after = ac if q == jc else k_of[q]
                    d[c] += int(after != bc) - int(k_of[q] != ac)
                if jc >= 0:
                    for q in partners.get(jc, ()):
                        if q == ic:
                            continue
                        d[c] += int(k_of[q] != ac) - int(k_of[q] != bc)
            return d

        return changes


def _partners(pairs: np.ndarray) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for a, b in pairs.tolist():
        out.setdefault(a, []).append(b)
        out.setdefault(b, []).append(a)
    return out


class _Partners:
    """Each centre's partners; a move prices the pairs it splits or joins."""

    vectorised = False

    def __init__(self, term: PairTerm, clusters: Clusters, travel_scale: float):
        self.label = clusters.label  # shared with the search, updated by it
        self.w = term.weight / travel_scale
        self.partner = _partners(term.pairs)

    def delta(self, moves, label) -> float:
        out = 0.0
        moved = [int(i) for i, _, _ in moves]
        for i, _, _ in moves:
            for other in self.partner.get(int(i), ()):
                if other in moved and other < i:
                    continue  # counted from the other end
                before = self.label[i] != self.label[other]
                after = label[i] != label[other]
                out += self.w * (int(after) - int(before))
        return out

    def apply(self, moves) -> None:
        pass
