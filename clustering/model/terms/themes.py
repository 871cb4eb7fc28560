"""Themes: members of a cluster should share them.

A themes column is multi-valued (themes, diocese, trust, federation): each cell
lists values separated by ``;`` or ``|``. Splits = ``Σ_theme (clusters holding
it − 1)``: a theme whose schools sit in one cluster costs nothing, one spread
over four clusters costs 3. Weighted by ``Weights.themes`` (column → km per
extra cluster a theme is spread over).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from .base import (
    Clusters,
    CpSatModel,
    Moves,
    Term,
    TermData,
    non_negative,
    register,
    require_column,
)

__all__ = ["THEME_SEPARATORS", "ThemeTerm", "theme_values"]

#: separators between the values of a multi-valued (themes) cell
THEME_SEPARATORS = r"[;|]"


@register
@dataclass(frozen=True)
class ThemeTerm(Term):
    """Shared themes: ``holders[i, t]`` says centre ``i`` holds theme ``labels[t]``."""

    weight_name = "themes"

    attribute: str
    holders: np.ndarray
    labels: tuple[str, ...]
    weight: float

    @property
    def name(self) -> str:
        return f"{self.attribute} splits"

    @classmethod
    def build(cls, frame: pd.DataFrame, weights, data: TermData) -> list[ThemeTerm]:
        out = []
        for attr, weight in weights.themes.items():
            non_negative(f"themes weight for {attr!r}", weight, data.source)
            require_column(frame, attr, "themes", data.source)
            out.append(_theme(frame[attr], attr, float(weight)))
        return out

    def splits(self, labels: np.ndarray) -> float:
        """``Σ_theme (clusters holding it − 1)`` for cluster labels ``0..k-1``."""
        if self.holders.shape[1] == 0 or len(labels) == 0:
            return 0.0
        k = int(labels.max()) + 1
        held = np.zeros((k, self.holders.shape[1]), dtype=bool)
        rows, cols = np.nonzero(self.holders)
        held[labels[rows], cols] = True
        spread = held.sum(axis=0)
        return float(np.maximum(spread - 1, 0).sum())

    def value(self, venue_of: np.ndarray, labels: np.ndarray) -> float:
        return self.splits(labels)

    def restricted(self, rows: np.ndarray) -> ThemeTerm:
        return replace(self, holders=self.holders[rows])

    def cpsat(self, m: CpSatModel):
        """``held[t, j]`` is 1 when a holder of theme ``t`` meets at ``j``; they are priced."""
        coefficient = m.coefficient(self.weight)
        if coefficient <= 0:
            return 0
        out = []
        shared = 0  # themes held by two or more: each is in at least one cluster
        for t in range(self.holders.shape[1]):
            holders = np.flatnonzero(self.holders[:, t])
            if len(holders) < 2:
                continue
            shared += 1
            for j in set().union(*(m.cand[int(i)].tolist() for i in holders)):
                held = m.model.new_bool_var(f"held[{self.attribute},{t},{j}]")
                for i in holders:
                    if (int(i), j) in m.x:
                        m.model.add_implication(m.x[int(i), j], held)
                out.append(held)
        # splits = clusters holding a theme − 1, so the objective matches Objective.parts
        return coefficient * (sum(out) - shared)

    def exchange(self, clusters: Clusters, travel_scale: float) -> _Held | None:
        if self.weight <= 0:
            return None
        return _Held(self, clusters, travel_scale)

    def what_if(self, clusters: Clusters):
        h = self.holders.astype(np.int64)
        held = np.zeros((clusters.k, h.shape[1]), dtype=np.int64)
        np.add.at(held, clusters.label, h)

        def changes(m: Moves) -> np.ndarray:
            d = np.zeros(len(m))
            step = max(1, 2_000_000 // max(h.shape[1], 1))  # bounded memory
            for s in range(0, len(m), step):
                sl = slice(s, s + step)
                shift = h[m.i[sl]] - m.has[sl, None] * h[m.jj[sl]]
                qa, qb = held[m.a[sl]], held[m.b[sl]]
                d[sl] = (
                    ((qa - shift) > 0).sum(axis=1)
                    - (qa > 0).sum(axis=1)
                    + ((qb + shift) > 0).sum(axis=1)
                    - (qb > 0).sum(axis=1)
                )
            return d

        return changes


class _Held:
    """How many holders of each theme each cluster has; a theme counts where it is held."""

    vectorised = False

    def __init__(self, term: ThemeTerm, clusters: Clusters, travel_scale: float):
        self.holders = term.holders
        self.counts = np.zeros((clusters.k, term.holders.shape[1]))
        np.add.at(self.counts, clusters.label, term.holders.astype(float))
        self.w = term.weight / travel_scale

    def delta(self, moves, label) -> float:
        touched = sorted({c for _, a, b in moves for c in (a, b)})
        where = {c: k for k, c in enumerate(touched)}
        before = self.counts[touched]  # only the clusters the moves touch change
        after = before.copy()
        for i, a, b in moves:
            after[where[a]] -= self.holders[i]
            after[where[b]] += self.holders[i]
        return self.w * ((after > 0).sum() - (before > 0).sum())

    def apply(self, moves) -> None:
        for i, a, b in moves:
            self.counts[a] -= self.holders[i]
            self.counts[b] += self.holders[i]


def theme_values(values: pd.Series) -> list[list[str]]:
    """Each cell's themes: split on ``;`` or ``|``, stripped, empty and "none" dropped."""
    out = []
    for cell in values.astype(object).where(values.notna(), ""):
        parts = re.split(THEME_SEPARATORS, str(cell))
        out.append(sorted({p.strip() for p in parts if p.strip() and p.strip().lower() != "none"}))
    return out


def _theme(values: pd.Series, attr: str, weight: float) -> ThemeTerm:
    cells = theme_values(values)
    labels = tuple(sorted({t for cell in cells for t in cell}))
    index = {t: k for k, t in enumerate(labels)}
    holders = np.zeros((len(cells), len(labels)), dtype=bool)
    for i, cell in enumerate(cells):
        holders[i, [index[t] for t in cell]] = True
    return ThemeTerm(attr, holders, labels, weight)
