"""Why no layout exists, in words: the smallest set of rule families CP-SAT finds in conflict."""

from __future__ import annotations

import numpy as np

from ..model.sizes import Bounds
from . import cpsat

__all__ = ["explain_infeasible", "likely_conflict"]


_FAMILY_WORDS = {
    "sizes": "clusters of {lo}–{hi} members",
    "weights": "a weight of {wlo:g}–{whi:g} per cluster",
    "count": "{p} clusters",
    "together": "the must-link groups (must-link, hard partnerships, locked centres)",
    "apart": "the cannot-link groups",
    "allowed": "the maximum distance to the venue",
}


def _family_text(name: str, bounds: Bounds) -> str:
    if name.startswith("quota:"):
        k = int(name.split(":")[1])
        _, q_lo, q_hi = bounds.quotas[k]
        label = bounds.quota_labels[k] if k < len(bounds.quota_labels) else f"quota {k + 1}"
        if q_hi >= bounds.max_size:
            return f"at least {q_lo} centre(s) with {label} per cluster"
        return f"{q_lo}–{q_hi} centres with {label} per cluster"
    return _FAMILY_WORDS.get(name, name).format(
        lo=bounds.min_size,
        hi=bounds.max_size,
        p=bounds.n_clusters,
        wlo=bounds.min_weight,
        whi=bounds.max_weight,
    )


def explain_infeasible(costs: np.ndarray, bounds: Bounds, *, seed: int = 0, where: str = "") -> str:
    """Why no layout exists, in words: the conflicting rules :func:`cpsat.diagnose` finds."""
    status, core = cpsat.diagnose(costs, bounds, time_limit=10.0, seed=seed)
    if status != "INFEASIBLE" or not core:
        return (
            f"no layout{where} meets every rule (CP-SAT proved it for these centres); "
            "loosen the sizes, quotas or links"
        )
    rules = "; ".join(_family_text(name, bounds) for name in core)
    return (
        f"no layout{where} meets these rules together: {rules}. "
        "Loosen one of them (the others can stay)"
    )


def likely_conflict(costs: np.ndarray, bounds: Bounds, *, seed: int) -> str:
    """For a search that found nothing: the rules a restricted model shows to conflict."""
    status, core = cpsat.diagnose(costs, bounds, candidates=24, time_limit=5.0, seed=seed)
    if status != "INFEASIBLE" or not core:
        return ""
    rules = "; ".join(_family_text(name, bounds) for name in core)
    return f". Near each centre, these rules conflict: {rules}"
