"""The weighted objective: travel plus contrast (community cohesion) terms.

``total = travel_weight × travel + Σ_attr weight_attr × deviation_attr``

* **travel**: member → venue cost, in km for straight-line metres, otherwise in
  the travel matrix's unit.
* **contrast** on a *numeric* attribute ``a`` (FSM %, IMD decile, …): each
  cluster's mean should be the area's mean. Deviation = ``Σ_k n_k·|mean_k − ā|``,
  in "school × attribute units": one school one percentage point of FSM off the
  area's mean counts 1. Divided by the number of centres it is the average
  distance of a school's cluster mean from the area mean.
* **contrast** on a *categorical* attribute (urban/rural, phase, religious
  character, …): each cluster's mix should be the area's mix. Deviation =
  ``Σ_k Σ_c |count_kc − n_k·share_c| / 2``, in schools: how many schools would
  have to change category for every cluster to mirror the area.

A weight says how many km of travel one unit of deviation is worth. Missing
numeric values count at the area mean (no deviation); missing categories form a
category of their own ("unknown").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .errors import InputError

__all__ = ["ContrastTerm", "Objective", "Weights", "build_objective"]


@dataclass(frozen=True)
class Weights:
    """How much each part of the objective counts.

    ``travel`` multiplies km (or the matrix unit); each ``contrast`` entry maps
    an attribute to the km that one unit of its deviation is worth.
    """

    travel: float = 1.0
    contrast: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"travel": self.travel, "contrast": dict(self.contrast)}


@dataclass(frozen=True)
class ContrastTerm:
    """One attribute's deviation, ready to evaluate or model.

    ``scores`` is ``(n, m)``: for a numeric attribute one column ``a_i − ā``;
    for a categorical one a column per category, ``[i in c] − share_c``. The
    deviation of a cluster is ``factor · Σ_columns |Σ_{i in cluster} scores[i]|``
    (``factor`` is 1 for numeric, ½ for categorical).
    """

    attribute: str
    kind: str
    scores: np.ndarray
    weight: float
    labels: tuple[str, ...]
    factor: float
    unit: str

    def deviation(self, labels: np.ndarray) -> np.ndarray:
        """Deviation per cluster, for cluster labels ``0..k-1`` (one per centre)."""
        k = int(labels.max()) + 1 if len(labels) else 0
        sums = np.zeros((k, self.scores.shape[1]))
        np.add.at(sums, labels, self.scores)
        return self.factor * np.abs(sums).sum(axis=1)


@dataclass(frozen=True)
class Objective:
    """The objective of one instance: weights, the travel scale and contrast terms."""

    weights: Weights
    travel_scale: float  # multiplies costs into km (0.001) or the matrix unit (1)
    terms: tuple[ContrastTerm, ...] = ()

    @property
    def has_contrast(self) -> bool:
        return any(t.weight > 0 for t in self.terms)

    def parts(
        self, costs: np.ndarray, venue_of: np.ndarray, rows: np.ndarray | None = None
    ) -> dict[str, float]:
        """Each part in its own unit: travel in km (or the matrix unit), deviations as defined.

        ``rows`` says where the centres of a sub-problem sit in the full arrays.
        """
        n = len(venue_of)
        out = {"travel": float(costs[np.arange(n), venue_of].sum()) * self.travel_scale}
        labels = np.unique(venue_of, return_inverse=True)[1]
        for term in self.terms:
            scores = term.scores if rows is None else term.scores[rows]
            k = int(labels.max()) + 1 if n else 0
            sums = np.zeros((k, scores.shape[1]))
            np.add.at(sums, labels, scores)
            out[term.attribute] = float(term.factor * np.abs(sums).sum())
        return out

    def cost(
        self, costs: np.ndarray, venue_of: np.ndarray, rows: np.ndarray | None = None
    ) -> float:
        """The weighted total in cost units (metres, or the matrix unit): what is minimised.

        A contrast weight is in km (or matrix units) per unit of deviation.
        """
        parts = self.parts(costs, venue_of, rows)
        value = self.weights.travel * parts["travel"]
        for term in self.terms:
            value += term.weight * parts[term.attribute]
        return value / self.travel_scale


def build_objective(
    frame: pd.DataFrame, weights: Weights | None, *, unit: str, source: str = "<centres>"
) -> Objective:
    """Build the contrast terms for ``frame`` (the centres taking part)."""
    weights = weights or Weights()
    if weights.travel < 0:
        raise InputError(
            f"travel weight {weights.travel:g} is negative", file=source, fix="use 0 or more"
        )
    terms = []
    for attr, weight in weights.contrast.items():
        if weight < 0:
            raise InputError(
                f"contrast weight for {attr!r} is negative ({weight:g})",
                file=source,
                fix="use 0 or more",
            )
        if attr not in frame.columns:
            raise InputError(
                f"contrast names {attr!r}, which the centres do not have",
                file=source,
                column=attr,
                fix="use one of "
                + ", ".join(c for c in frame.columns if c not in {"geometry", "row"}),
            )
        terms.append(_term(frame[attr], attr, float(weight)))
    scale = 0.001 if unit == "m" else 1.0
    return Objective(weights, scale, tuple(terms))


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
