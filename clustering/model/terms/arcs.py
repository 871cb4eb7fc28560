"""Arc terms: a count charged per member for the venue it meets at.

``counts[i, j]`` is what member ``i`` meeting at venue ``j`` counts (0 or 1 for
stability and boundary). Arc terms are folded into the member → venue cost
matrix (:meth:`Objective.arc_costs`), so the construction, the lower bound,
CP-SAT and every re-solve see them exactly; they need no encoding of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .base import Clusters, CpSatModel, Moves, Term

__all__ = ["ArcTerm"]


@dataclass(frozen=True)
class ArcTerm(Term):
    """A count charged per member for its venue: ``counts[i, j]`` if ``i`` meets at ``j``."""

    arc = True

    name: str
    counts: np.ndarray
    weight: float

    def value(self, venue_of: np.ndarray, labels: np.ndarray) -> float:
        return float(self.counts[np.arange(len(venue_of)), venue_of].sum())

    def restricted(self, rows: np.ndarray) -> ArcTerm:
        return replace(self, counts=self.counts[np.ix_(rows, rows)])

    def cpsat(self, m: CpSatModel):
        return 0  # in the member → venue costs already

    def exchange(self, clusters: Clusters, travel_scale: float) -> None:
        return None  # in the member → venue costs already

    def what_if(self, clusters: Clusters):
        def changes(m: Moves) -> np.ndarray:
            return m.matrix_change(self.counts) * 1.0

        return changes
