"""Size-bounded k-means (the PyPI package ``k-means-constrained``), each cluster at its medoid.

A construction start for the engine and, in :mod:`clustering.analysis.baselines`,
the standard peer a layout is compared with.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..model.costs import DENSE_MAX, Costs, StraightLines
from .medoids import venues_of_labels

__all__ = ["KMEANS_MAX", "kmeans_constrained_venues"]

#: above this many points, size-bounded k-means runs in areas of at most this many,
#: cut along their longer side with cluster counts in proportion (the package's flow
#: has points × clusters arcs: 2,000 points took 6 s, 4,000 took 34 s, 24,000 ran for
#: many minutes in several GB). The engine's parts (``parts.PART_MAX``, 2,000) and the
#: samples are never cut
KMEANS_MAX = 2000


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

    Above :data:`KMEANS_MAX` points the points are cut into areas of at most
    that many (halved along the longer side, cluster counts in proportion and
    within the size bounds) and k-means runs in each.

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
    labels = np.empty(n, dtype=np.int64)
    first = 0
    for rows, count in _areas(xy, np.arange(n), p, lo, hi):
        # kilometres: the package rounds distances × 1000 to int32, so metres would
        # overflow beyond about 2,000 km; kilometres keep metre precision
        pts = xy[rows]
        km = (pts - pts.mean(axis=0)) / 1000.0
        try:
            with warnings.catch_warnings():  # schools sharing a site give duplicate points
                warnings.simplefilter("ignore")
                model = KMeansConstrained(
                    n_clusters=count, size_min=lo, size_max=hi, random_state=seed, n_init=n_init
                )
                labels[rows] = first + np.asarray(model.fit_predict(km), dtype=np.int64)
        except (ValueError, RuntimeError):
            return None
        first += count
    if costs is not None:
        matrix = costs.matrix if isinstance(costs, Costs) else costs
    elif n > DENSE_MAX:
        matrix = StraightLines(xy)  # read cluster by cluster, never whole
    else:
        matrix = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2))
    return venues_of_labels(matrix, labels)


def _areas(xy: np.ndarray, rows: np.ndarray, p: int, lo: int, hi: int):
    """``rows`` cut into areas of at most :data:`KMEANS_MAX` points: ``(rows, clusters)``.

    Each cut halves the cluster count along the longer side and gives the halves
    points in proportion, moved within what their counts allow; an area that no
    cut fits stays whole.
    """
    n = len(rows)
    if n <= KMEANS_MAX or p < 2:
        return [(rows, p)]
    pts = xy[rows]
    axis = int(np.argmax(np.ptp(pts, axis=0)))
    order = rows[np.argsort(pts[:, axis], kind="stable")]
    k1 = p // 2
    least, most = max(k1 * lo, n - (p - k1) * hi), min(k1 * hi, n - (p - k1) * lo)
    if least > most:
        return [(rows, p)]
    n1 = int(np.clip(round(n * k1 / p), least, most))
    return _areas(xy, np.sort(order[:n1]), k1, lo, hi) + _areas(
        xy, np.sort(order[n1:]), p - k1, lo, hi
    )
