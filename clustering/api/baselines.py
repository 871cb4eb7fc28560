"""The layouts people would otherwise use, formed beside a layout (``Layout.baselines``)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ..analysis.baselines import GEOGRAPHY_ONLY, compare, district_venues
from ..errors import InfeasibleError, SolverError
from ..input.load import Centres
from ..model.layout import Layout
from ..model.sizes import Bounds
from ..solver.kmeans import kmeans_constrained_venues

__all__ = ["baselines_beside"]


def baselines_beside(
    layout: Layout,
    given: Centres,
    geography_only: Callable[[Centres, Layout], Layout],
    *,
    seed: int = 0,
) -> pd.DataFrame:
    """``layout`` beside geography only, size-bounded k-means and districts as clusters.

    ``geography_only(centres, start)`` forms the travel-only layout under the
    same rules (called only when the layout's weights ask for more than travel);
    its travel and its proven bound on travel alone (in the objective's unit, km
    for straight lines) are kept in ``layout.stats["geography_only"]``
    (:func:`clustering.analysis.quality.layout_quality` reads them).
    """
    problem = layout.problem
    costs, objective = problem.costs, problem.objective
    rule, constraints = problem.rule, problem.constraints
    frame = layout.centres
    n = len(frame)
    others: dict[str, np.ndarray | None] = {}
    if not objective.weights.travel_only:
        try:
            geo = geography_only(given, layout)
            scale = objective.travel_scale
            layout.stats["geography_only"] = {
                "travel_km": geo.objective * scale,
                "lower_bound_km": geo.lower_bound * scale,
                "status": geo.status,
                "seconds": geo.stats.get("seconds"),
            }
            row = {c: k for k, c in enumerate(frame["centre_id"].astype(str))}
            geo_rows = np.array([row[c] for c in geo.centres["centre_id"].astype(str)])
            geo_venue = np.empty(n, dtype=np.int64)
            geo_venue[geo_rows] = geo_rows[geo.venue_of]
            others[GEOGRAPHY_ONLY] = geo_venue
        except (InfeasibleError, SolverError):
            others[GEOGRAPHY_ONLY] = None
    xy = np.column_stack([frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy()])
    bounds = Bounds(n, rule.min_size, rule.max_size, layout.n_clusters)
    others["k-means with size bounds"] = kmeans_constrained_venues(
        xy, bounds, seed=seed, costs=costs.matrix, n_init=1
    )
    column = constraints.boundary or "district"
    if column in frame.columns:
        others[f"{column}s as clusters"] = district_venues(frame, column, costs)
    return compare(layout.venue_of, others, costs, objective, bounds, costs.unit)
