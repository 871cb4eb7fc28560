"""The weighted objective: travel plus every registered term.

``total = travel_weight × travel + Σ_terms weight × part``

*Travel* is the member → venue cost, in km for straight-line metres, otherwise
in the travel matrix's unit. The terms — contrast, themes, partnerships,
stability, boundary, and any registered beyond them — each live in a module of
:mod:`clustering.model.terms`, which says what each one counts and how to add
one. A weight says how many km of travel one unit of its part is worth.

*Arc terms* (stability, boundary) are charged per member for the venue it
meets at; they are folded into the member → venue cost matrix
(:meth:`Objective.arc_costs`), so the construction, the lower bound and every
re-solve see them exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .terms import (
    BOUNDARY,
    STABILITY,
    THEME_SEPARATORS,
    ArcTerm,
    ContrastTerm,
    PairTerm,
    Term,
    TermData,
    ThemeTerm,
    non_negative,
    registered,
    theme_values,
)
from .weights import Weights

__all__ = [
    "BOUNDARY",
    "STABILITY",
    "THEME_SEPARATORS",
    "ArcTerm",
    "ContrastTerm",
    "Objective",
    "PairTerm",
    "ThemeTerm",
    "Weights",
    "build_objective",
    "theme_values",
]


@dataclass(frozen=True)
class Objective:
    """The objective of one instance: weights, the travel scale and every term.

    ``all_terms`` holds every term in the order of the registry
    (:func:`clustering.model.terms.registered`); ``contrast``, ``themes``,
    ``partnerships`` and ``arcs`` pick out the built-in kinds.
    """

    weights: Weights
    travel_scale: float  # multiplies costs into km (0.001) or the matrix unit (1)
    all_terms: tuple[Term, ...] = ()

    @property
    def contrast(self) -> tuple[ContrastTerm, ...]:
        return tuple(t for t in self.all_terms if isinstance(t, ContrastTerm))

    @property
    def terms(self) -> tuple[ContrastTerm, ...]:
        """The contrast terms (the name :mod:`clustering.solver.part` and the baselines read)."""
        return self.contrast

    @property
    def themes(self) -> tuple[ThemeTerm, ...]:
        return tuple(t for t in self.all_terms if isinstance(t, ThemeTerm))

    @property
    def partnerships(self) -> PairTerm | None:
        return next((t for t in self.all_terms if isinstance(t, PairTerm)), None)

    @property
    def arcs(self) -> tuple[Term, ...]:
        """The arc terms: counts per member → venue, in :meth:`arc_costs`."""
        return tuple(t for t in self.all_terms if t.arc)

    @property
    def has_contrast(self) -> bool:
        """Whether a term beyond the member → venue costs counts (contrast, themes, pairs, …).

        Arc terms are not counted: they live in :meth:`arc_costs`.
        """
        return any(not t.arc and t.weight > 0 for t in self.all_terms)

    def arc_costs(self, costs: np.ndarray) -> np.ndarray:
        """Member → venue costs with the travel weight and every arc term, in cost units."""
        out = costs * self.weights.travel
        for arc in self.arcs:
            if arc.weight > 0:
                out = out + arc.counts * (arc.weight / self.travel_scale)
        return out

    def arc_at(self, costs, rows, cols) -> np.ndarray:
        """:meth:`arc_costs` read at ``[rows, cols]`` only (pairs or an ``np.ix_`` block).

        ``costs`` may compute on demand (:class:`clustering.model.costs.StraightLines`).
        """
        out = np.asarray(costs[rows, cols], dtype=float) * self.weights.travel
        for arc in self.arcs:
            if arc.weight > 0:
                out = out + arc.counts[rows, cols] * (arc.weight / self.travel_scale)
        return out

    def restricted(self, rows: np.ndarray) -> Objective:
        """The same objective for the centres ``rows`` only (a sub-problem)."""
        rows = np.asarray(rows)
        terms = tuple(t.restricted(rows) for t in self.all_terms)
        return Objective(self.weights, self.travel_scale, terms)

    def parts(self, costs: np.ndarray, venue_of: np.ndarray) -> dict[str, float]:
        """Each part in its own unit: travel in km (or the matrix unit), the rest as defined."""
        n = len(venue_of)
        idx = np.arange(n)
        out = {"travel": float(costs[idx, venue_of].sum()) * self.travel_scale}
        labels = np.unique(venue_of, return_inverse=True)[1]
        for term in self.all_terms:
            out[term.name] = term.value(venue_of, labels)
        return out

    def weighted(self) -> dict[str, float]:
        """Each part's weight (km, or matrix units, per unit of the part)."""
        out = {"travel": self.weights.travel}
        out.update({t.name: t.weight for t in self.all_terms})
        return out

    def cost(self, costs: np.ndarray, venue_of: np.ndarray) -> float:
        """The weighted total in cost units (metres, or the matrix unit): what is minimised."""
        parts = self.parts(costs, venue_of)
        weights = self.weighted()
        value = sum(weights[name] * part for name, part in parts.items())
        return value / self.travel_scale


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
    """Build every registered term of the objective for ``frame`` (the centres taking part).

    ``pairs`` are the soft partnerships (row indices); ``moved`` and
    ``crossings`` are ``(n, n)`` 0/1 counts: member ``i`` meeting at venue ``j``
    leaves its previous cluster / crosses its boundary.
    """
    weights = weights or Weights()
    data = TermData(unit, source, pairs, moved, crossings)
    kinds = registered()
    non_negative("travel", weights.travel, source)
    for kind in kinds:  # every single-number weight first, then each kind's own checks
        weight = weights.get(kind.weight_name, None)
        if isinstance(weight, int | float):
            non_negative(kind.weight_name, weight, source)
    terms = [term for kind in kinds for term in kind.build(frame, weights, data)]
    scale = 0.001 if unit == "m" else 1.0
    return Objective(weights, scale, tuple(terms))
