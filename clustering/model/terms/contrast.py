"""Contrast: each cluster's mix of an attribute should be the area's.

* on a *numeric* attribute ``a`` (FSM %, IMD decile, …): each cluster's mean
  should be the area's mean. Deviation = ``Σ_k n_k·|mean_k − ā|``, in "school ×
  attribute units": one school one percentage point of FSM off the area's mean
  counts 1. Divided by the number of centres it is the average distance of a
  school's cluster mean from the area mean. Missing values count at the mean.
* on a *categorical* attribute (urban/rural, phase, religious character, …):
  each cluster's mix should be the area's mix. Deviation =
  ``Σ_k Σ_c |count_kc − n_k·share_c| / 2``, in schools: how many schools would
  have to change category for every cluster to mirror the area. Missing
  categories form a category of their own ("unknown").

Weighted by ``Weights.contrast`` (attribute → km per unit of deviation).
"""

from __future__ import annotations

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

__all__ = ["ContrastTerm"]


@register
@dataclass(frozen=True)
class ContrastTerm(Term):
    """One attribute's deviation, ready to evaluate or model.

    ``scores`` is ``(n, m)``: for a numeric attribute one column ``a_i − ā``;
    for a categorical one a column per category, ``[i in c] − share_c``. The
    deviation of a cluster is ``factor · Σ_columns |Σ_{i in cluster} scores[i]|``
    (``factor`` is 1 for numeric, ½ for categorical).
    """

    weight_name = "contrast"

    attribute: str
    kind: str
    scores: np.ndarray
    weight: float
    labels: tuple[str, ...]
    factor: float
    unit: str

    @property
    def name(self) -> str:
        return self.attribute

    @classmethod
    def build(cls, frame: pd.DataFrame, weights, data: TermData) -> list[ContrastTerm]:
        out = []
        for attr, weight in weights.contrast.items():
            non_negative(f"contrast weight for {attr!r}", weight, data.source)
            require_column(frame, attr, "contrast", data.source)
            out.append(_term(frame[attr], attr, float(weight)))
        return out

    def deviation(self, labels: np.ndarray) -> np.ndarray:
        """Deviation per cluster, for cluster labels ``0..k-1`` (one per centre)."""
        k = int(labels.max()) + 1 if len(labels) else 0
        sums = np.zeros((k, self.scores.shape[1]))
        np.add.at(sums, labels, self.scores)
        return self.factor * np.abs(sums).sum(axis=1)

    def value(self, venue_of: np.ndarray, labels: np.ndarray) -> float:
        return float(self.deviation(labels).sum()) if len(venue_of) else 0.0

    def restricted(self, rows: np.ndarray) -> ContrastTerm:
        return replace(self, scores=self.scores[rows])

    def cpsat(self, m: CpSatModel):
        """Deviation of each possible cluster (one per venue) from the area's mix.

        ``dev[j, c] ≥ |Σ_i round(R·score[i, c]) · x[i, j]|``; the resolution ``R``
        keeps each unit of ``dev`` worth about ten units of the integer objective.
        The scores are rounded, so CP-SAT's bound is not a bound with this term.
        """
        if self.weight <= 0:
            return 0
        per_unit = self.weight / m.travel_scale * m.scale * self.factor
        resolution = int(np.clip(per_unit // 10, 1, 1000))
        coefficient = max(1, round(per_unit / resolution))
        scores = np.rint(self.scores * resolution).astype(np.int64)
        x, model = m.x, m.model
        out = []
        for j, members in enumerate(m.members_of):
            for c in range(scores.shape[1]):
                total = sum(int(scores[i, c]) * x[i, j] for i in members if scores[i, c])
                if isinstance(total, int):
                    continue
                top = int(np.abs(scores[members, c]).sum())
                dev = model.new_int_var(0, top, f"dev[{self.attribute},{j},{c}]")
                model.add(dev >= total)
                model.add(dev >= -total)
                out.append(dev)
        return coefficient * sum(out)

    def exchange(self, clusters: Clusters, travel_scale: float) -> _Sums | None:
        if self.weight <= 0:
            return None
        return _Sums(self, clusters, travel_scale)

    def what_if(self, clusters: Clusters):
        sums = np.zeros((clusters.k, self.scores.shape[1]))
        np.add.at(sums, clusters.label, self.scores)

        def changes(m: Moves) -> np.ndarray:
            shift = self.scores[m.i] - m.hf[:, None] * self.scores[m.jj]
            sa, sb = sums[m.a], sums[m.b]
            return self.factor * (
                np.abs(sa - shift).sum(axis=1)
                - np.abs(sa).sum(axis=1)
                + np.abs(sb + shift).sum(axis=1)
                - np.abs(sb).sum(axis=1)
            )

        return changes


class _Sums:
    """The clusters' running score sums: every swap and move priced at once, exactly."""

    vectorised = True

    def __init__(self, term: ContrastTerm, clusters: Clusters, travel_scale: float):
        self.s = term.scores
        self.w = term.weight * term.factor / travel_scale
        self.total = np.zeros((clusters.k, self.s.shape[1]))
        np.add.at(self.total, clusters.label, self.s)

    def swaps(self, a: int, b: int, ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
        s, total = self.s, self.total
        diff = s[ia][:, None, :] - s[ib][None, :, :]  # what a loses, b gains
        before = np.abs(total[a]).sum() + np.abs(total[b]).sum()
        after = np.abs(total[a] - diff).sum(axis=2) + np.abs(total[b] + diff).sum(axis=2)
        return self.w * (after - before)

    def moves(self, a: int, b: int, ia: np.ndarray) -> np.ndarray:
        s, total = self.s, self.total
        before = np.abs(total[a]).sum() + np.abs(total[b]).sum()
        after = np.abs(total[a] - s[ia]).sum(axis=1) + np.abs(total[b] + s[ia]).sum(axis=1)
        return self.w * (after - before)

    def delta(self, moves, label) -> float:  # never called: the sweep prices every candidate
        raise NotImplementedError

    def apply(self, moves) -> None:
        s, total = self.s, self.total
        if len(moves) == 2:  # a swap, as the sweep makes it
            (i, a, b), (j, _, _) = moves
            total[a] += s[j] - s[i]
            total[b] += s[i] - s[j]
        else:
            for i, a, b in moves:
                total[a] -= s[i]
                total[b] += s[i]


def _term(values: pd.Series, attr: str, weight: float) -> ContrastTerm:
    numeric = pd.api.types.is_numeric_dtype(values)
    if numeric:
        a = values.to_numpy(dtype=float)
        mean = float(np.nanmean(a)) if np.isfinite(a).any() else 0.0
        centred = np.where(np.isfinite(a), a - mean, 0.0)
        return ContrastTerm(attr, "numeric", centred[:, None], weight, (attr,), 1.0, "school·unit")
    cats = values.astype(object).where(values.notna(), "unknown").astype(str)
    labels = tuple(sorted(cats.unique()))
    onehot = (cats.to_numpy()[:, None] == np.array(labels)[None, :]).astype(float)
    share = onehot.mean(axis=0)
    return ContrastTerm(attr, "categorical", onehot - share, weight, labels, 0.5, "schools")
