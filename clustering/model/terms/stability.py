"""Stability (re-forming): a member that meets with a cluster other than its previous one
counts 1. Weighted by ``Weights.stability`` (km per member moved); built from
``TermData.moved`` (``moved[i, j]``: member ``i`` meeting at venue ``j`` leaves its
previous cluster), which the rules compile from the previous layout.
"""

from __future__ import annotations

import pandas as pd

from .arcs import ArcTerm
from .base import TermData, register

__all__ = ["STABILITY", "StabilityTerm"]

#: the part's name
STABILITY = "members moved"


@register
class StabilityTerm(ArcTerm):
    """Members moved from their previous cluster (an arc term)."""

    weight_name = "stability"

    @classmethod
    def build(cls, frame: pd.DataFrame, weights, data: TermData) -> list[StabilityTerm]:
        if data.moved is None:
            return []
        return [cls(STABILITY, data.moved, weights.stability)]
