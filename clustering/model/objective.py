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

* **themes** (a multi-valued column: themes, diocese, trust, federation):
  members of a cluster should share them. Splits = ``Σ_theme (clusters holding
  it − 1)``: a theme whose schools sit in one cluster costs nothing, one spread
  over four clusters costs 3.
* **partnerships** (an edge list): each existing partnership whose two schools
  end up in different clusters counts 1.
* **arc terms**, charged per member for the venue it meets at: *stability*
  (a member that meets with a cluster other than its previous one counts 1)
  and *boundary* (a member whose venue lies across its LA/district boundary
  counts 1). They are folded into the member → venue cost matrix, so the
  construction, the lower bound and every re-solve see them exactly.

A weight says how many km of travel one unit of its part is worth. Missing
numeric values count at the area mean (no deviation); missing categories form a
category of their own ("unknown").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from ..errors import InputError

__all__ = [
    "ArcTerm",
    "ContrastTerm",
    "Objective",
    "PairTerm",
    "ThemeTerm",
    "Weights",
    "build_objective",
]


@dataclass(frozen=True)
class Weights:
    """How much each part of the objective counts.

    ``travel`` multiplies km (or the matrix unit); each ``contrast`` entry maps
    an attribute to the km that one unit of its deviation is worth.
    """

    travel: float = 1.0
    contrast: Mapping[str, float] = field(default_factory=dict)
    #: column → km per extra cluster a theme is spread over
    themes: Mapping[str, float] = field(default_factory=dict)
    #: km per existing partnership split between clusters
    partnerships: float = 0.0
    #: km per member that leaves its previous cluster (re-forming)
    stability: float = 0.0
    #: km per member whose venue lies across its boundary (when crossing is allowed)
    boundary: float = 0.0

    def to_dict(self) -> dict:
        return {
            "travel": self.travel,
            "contrast": dict(self.contrast),
            "themes": dict(self.themes),
            "partnerships": self.partnerships,
            "stability": self.stability,
            "boundary": self.boundary,
        }

    @property
    def travel_only(self) -> bool:
        """Whether every weight but travel is zero."""
        return not (
            any(v > 0 for v in self.contrast.values())
            or any(v > 0 for v in self.themes.values())
            or self.partnerships > 0
            or self.stability > 0
            or self.boundary > 0
        )


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
class ThemeTerm:
    """Shared themes: ``holders[i, t]`` says centre ``i`` holds theme ``labels[t]``."""

    attribute: str
    holders: np.ndarray
    labels: tuple[str, ...]
    weight: float

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


@dataclass(frozen=True)
class PairTerm:
    """Existing partnerships: ``pairs[e] = (i, k)``; a pair split between clusters counts 1."""

    pairs: np.ndarray
    weight: float

    def broken(self, venue_of: np.ndarray) -> float:
        if len(self.pairs) == 0:
            return 0.0
        return float(np.count_nonzero(venue_of[self.pairs[:, 0]] != venue_of[self.pairs[:, 1]]))


@dataclass(frozen=True)
class ArcTerm:
    """A count charged per member for its venue: ``counts[i, j]`` if ``i`` meets at ``j``."""

    name: str
    counts: np.ndarray
    weight: float


@dataclass(frozen=True)
class Objective:
    """The objective of one instance: weights, the travel scale and every term."""

    weights: Weights
    travel_scale: float  # multiplies costs into km (0.001) or the matrix unit (1)
    terms: tuple[ContrastTerm, ...] = ()
    themes: tuple[ThemeTerm, ...] = ()
    partnerships: PairTerm | None = None
    arcs: tuple[ArcTerm, ...] = ()

    @property
    def has_contrast(self) -> bool:
        """Whether a term beyond the member → venue costs counts (contrast, themes, pairs).

        Arc terms are not counted: they live in :meth:`arc_costs`.
        """
        return (
            any(t.weight > 0 for t in self.terms)
            or any(t.weight > 0 for t in self.themes)
            or (self.partnerships is not None and self.partnerships.weight > 0)
        )

    def arc_costs(self, costs: np.ndarray) -> np.ndarray:
        """Member → venue costs with the travel weight and every arc term, in cost units."""
        out = costs * self.weights.travel
        for arc in self.arcs:
            if arc.weight > 0:
                out = out + arc.counts * (arc.weight / self.travel_scale)
        return out

    def arc_at(self, costs, rows, cols) -> np.ndarray:
        """:meth:`arc_costs` read at ``[rows, cols]`` only (pairs or an ``np.ix_`` block).

        ``costs`` may compute on demand (:class:`clustering.costs.StraightLines`).
        """
        out = np.asarray(costs[rows, cols], dtype=float) * self.weights.travel
        for arc in self.arcs:
            if arc.weight > 0:
                out = out + arc.counts[rows, cols] * (arc.weight / self.travel_scale)
        return out

    def restricted(self, rows: np.ndarray) -> Objective:
        """The same objective for the centres ``rows`` only (a sub-problem)."""
        rows = np.asarray(rows)
        terms = tuple(replace(t, scores=t.scores[rows]) for t in self.terms)
        themes = tuple(replace(t, holders=t.holders[rows]) for t in self.themes)
        pairs = None
        if self.partnerships is not None:
            p = self.partnerships.pairs
            where = np.full(max(int(rows.max(initial=-1)), int(p.max(initial=-1))) + 1, -1)
            where[rows] = np.arange(len(rows))
            local = where[p].reshape(-1, 2)
            pairs = PairTerm(local[(local >= 0).all(axis=1)], self.partnerships.weight)
        arcs = tuple(replace(a, counts=a.counts[np.ix_(rows, rows)]) for a in self.arcs)
        return Objective(self.weights, self.travel_scale, terms, themes, pairs, arcs)

    def parts(self, costs: np.ndarray, venue_of: np.ndarray) -> dict[str, float]:
        """Each part in its own unit: travel in km (or the matrix unit), the rest as defined."""
        n = len(venue_of)
        idx = np.arange(n)
        out = {"travel": float(costs[idx, venue_of].sum()) * self.travel_scale}
        labels = np.unique(venue_of, return_inverse=True)[1]
        for term in self.terms:
            out[term.attribute] = float(term.deviation(labels).sum()) if n else 0.0
        for theme in self.themes:
            out[f"{theme.attribute} splits"] = theme.splits(labels)
        if self.partnerships is not None:
            out["partnerships split"] = self.partnerships.broken(venue_of)
        for arc in self.arcs:
            out[arc.name] = float(arc.counts[idx, venue_of].sum())
        return out

    def weighted(self) -> dict[str, float]:
        """Each part's weight (km, or matrix units, per unit of the part)."""
        out = {"travel": self.weights.travel}
        out.update({t.attribute: t.weight for t in self.terms})
        out.update({f"{t.attribute} splits": t.weight for t in self.themes})
        if self.partnerships is not None:
            out["partnerships split"] = self.partnerships.weight
        out.update({a.name: a.weight for a in self.arcs})
        return out

    def cost(self, costs: np.ndarray, venue_of: np.ndarray) -> float:
        """The weighted total in cost units (metres, or the matrix unit): what is minimised."""
        parts = self.parts(costs, venue_of)
        weights = self.weighted()
        value = sum(weights[name] * part for name, part in parts.items())
        return value / self.travel_scale


#: names of the arc terms, by the weight that prices them
STABILITY = "members moved"
BOUNDARY = "boundary crossings"
#: separators between the values of a multi-valued (themes) cell
THEME_SEPARATORS = r"[;|]"


def build_objective(
    frame: pd.DataFrame,
    weights: Weights | None,
    *,
    unit: str,
    source: str = "<centres>",
    pairs: np.ndarray | None = None,
    moved: np.ndarray | None = None,
    crossings: np.ndarray | None = None,
) -> Objective:
    """Build every term of the objective for ``frame`` (the centres taking part).

    ``pairs`` are the soft partnerships (row indices); ``moved`` and
    ``crossings`` are ``(n, n)`` 0/1 counts: member ``i`` meeting at venue ``j``
    leaves its previous cluster / crosses its boundary.
    """
    weights = weights or Weights()
    _non_negative("travel", weights.travel, source)
    for name in ("partnerships", "stability", "boundary"):
        _non_negative(name, getattr(weights, name), source)
    terms = []
    for attr, weight in weights.contrast.items():
        _non_negative(f"contrast weight for {attr!r}", weight, source)
        _column(frame, attr, "contrast", source)
        terms.append(_term(frame[attr], attr, float(weight)))
    themes = []
    for attr, weight in weights.themes.items():
        _non_negative(f"themes weight for {attr!r}", weight, source)
        _column(frame, attr, "themes", source)
        themes.append(_theme(frame[attr], attr, float(weight)))
    pair_term = None
    if pairs is not None and len(pairs):
        pair_term = PairTerm(np.asarray(pairs, dtype=np.int64).reshape(-1, 2), weights.partnerships)
    arcs = []
    if moved is not None:
        arcs.append(ArcTerm(STABILITY, moved, weights.stability))
    if crossings is not None:
        arcs.append(ArcTerm(BOUNDARY, crossings, weights.boundary))
    scale = 0.001 if unit == "m" else 1.0
    return Objective(weights, scale, tuple(terms), tuple(themes), pair_term, tuple(arcs))


def _non_negative(name: str, value: float, source: str) -> None:
    if not value >= 0:
        raise InputError(f"{name} weight {value:g} is negative", file=source, fix="use 0 or more")


def _column(frame: pd.DataFrame, attr: str, what: str, source: str) -> None:
    if attr not in frame.columns:
        raise InputError(
            f"{what} names {attr!r}, which the centres do not have",
            file=source,
            column=attr,
            fix="use one of " + ", ".join(c for c in frame.columns if c not in {"geometry", "row"}),
        )


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
