"""Boundary crossing (a soft boundary): a member whose venue lies across its LA/district
boundary counts 1. Weighted by ``Weights.boundary`` (km per crossing); built from
``TermData.crossings`` (``crossings[i, j]``: member ``i`` meeting at venue ``j``
crosses), which the rules compile when clusters may cross the boundary.
"""

from __future__ import annotations

import pandas as pd

from .arcs import ArcTerm
from .base import TermData, register

__all__ = ["BOUNDARY", "BoundaryTerm"]

#: the part's name
BOUNDARY = "boundary crossings"


@register
class BoundaryTerm(ArcTerm):
    """Members meeting across their boundary (an arc term)."""

    weight_name = "boundary"

    @classmethod
    def build(cls, frame: pd.DataFrame, weights, data: TermData) -> list[BoundaryTerm]:
        if data.crossings is None:
            return []
        return [cls(BOUNDARY, data.crossings, weights.boundary)]
