"""Size-bounded k-means (the PyPI package ``k-means-constrained``), each cluster at its medoid.

A construction start for the engine and, in :mod:`clustering.analysis.baselines`,
the standard peer a layout is compared with.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..model.costs import Costs
from .medoids import venues_of_labels

__all__ = ["kmeans_constrained_venues"]


def kmeans_constrained_venues(
    xy: np.ndarray,
    bounds: Any,
    *,
    seed: int = 0,
    costs: Costs | np.ndarray | None = None,
    n_init: int = 4,
) -> np.ndarray | None:
    """Size-bounded k-means (``k-means-constrained``), each cluster meeting at its medoid.

    Parameters
    ----------
    xy
        ``(n, 2)`` projected coordinates in metres.
    bounds
        A :class:`~clustering.model.sizes.Bounds` (or anything with ``n_clusters``,
        ``min_size`` and ``max_size``). Only the member counts are respected:
        weight bounds (pupils per cluster) and quotas are ignored, as plain
        size-bounded k-means knows nothing of them.
    seed
        The random state of k-means.
    costs
        The cost matrix that picks each cluster's medoid (member → venue, so a
        user's travel-time matrix gives the venue the members reach soonest);
        straight lines from ``xy`` when omitted.
    n_init
        k-means starts; the one with the least inertia is kept.

    Returns
    -------
    numpy.ndarray or None
        ``venue_of`` (for each centre the index of its venue centre), or
        ``None`` when the package is not installed, the counts cannot be met
        (``n_clusters × min_size > n`` or ``n_clusters × max_size < n``) or
        k-means fails.
    """
    try:
        from k_means_constrained import KMeansConstrained
    except ImportError:
        return None
    xy = np.asarray(xy, dtype=float)
    n, p = len(xy), int(bounds.n_clusters)
    lo, hi = int(bounds.min_size), int(bounds.max_size)
    if n == 0 or p < 1 or not p * lo <= n <= p * hi:
        return None
    # kilometres: the package rounds distances × 1000 to int32, so metres would
    # overflow beyond about 2,000 km; kilometres keep metre precision
    km = (xy - xy.mean(axis=0)) / 1000.0
    try:
        with warnings.catch_warnings():  # schools sharing a site give duplicate points
            warnings.simplefilter("ignore")
            model = KMeansConstrained(
                n_clusters=p, size_min=lo, size_max=hi, random_state=seed, n_init=n_init
            )
            labels = np.asarray(model.fit_predict(km), dtype=np.int64)
    except (ValueError, RuntimeError):
        return None
    matrix = (
        np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2))
        if costs is None
        else (costs.matrix if isinstance(costs, Costs) else np.asarray(costs, dtype=float))
    )
    return venues_of_labels(matrix, labels)
