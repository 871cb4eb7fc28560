"""What a layout must satisfy, and the cheap checks that run before any solver.

:class:`SizeRule` is what the user says (sizes, an optional weight, an
optional number of clusters). :func:`resolve` turns it into the numbers the
engine uses for ``n`` centres, or raises :class:`InfeasibleError` saying in
plain words why no layout can exist.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import InfeasibleError

__all__ = ["Bounds", "Quota", "SizeRule", "resolve"]


@dataclass(frozen=True)
class Quota:
    """Each cluster holds between ``min`` and ``max`` centres whose ``column`` is ``value``.

    For example ``Quota("phase", "high", min=1)``: at least one high school per
    cluster; ``Quota("type", "A3", max=1)``: at most one special school.
    Values compare as text, ignoring case and surrounding spaces.
    """

    column: str
    value: str
    min: int = 0
    max: int | None = None
    #: how messages name the centres that count (default ``column = 'value'``)
    about: str = ""

    def label(self) -> str:
        return self.about or f"{self.column} = {self.value!r}"


@dataclass(frozen=True)
class SizeRule:
    """The size of clusters.

    Parameters
    ----------
    min_size, max_size
        Members per cluster, venue included ("roughly ten": 8–12).
    n_clusters
        A fixed number of clusters. When omitted, ``round(n / target_size)``
        clamped to what the size bounds allow.
    target_size
        The size aimed at when ``n_clusters`` is omitted; defaults to the
        middle of the size bounds.
    size_by
        A numeric column (e.g. ``"pupils"``) whose total per cluster must lie in
        ``[min_weight, max_weight]``.
    """

    min_size: int = 8
    max_size: int = 12
    n_clusters: int | None = None
    target_size: float | None = None
    size_by: str | None = None
    min_weight: float | None = None
    max_weight: float | None = None
    quotas: tuple[Quota, ...] = ()

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Bounds:
    """Resolved numbers for one instance: sizes, weights and cluster count."""

    n: int
    min_size: int
    max_size: int
    n_clusters: int
    weights: np.ndarray | None = None
    min_weight: float = 0.0
    max_weight: float = math.inf
    #: per quota: (members that count, least per cluster, most per cluster)
    quotas: tuple[tuple[np.ndarray, int, int], ...] = ()
    #: ``allowed[i, j]``: centre ``i`` may meet at venue ``j`` (max distance, boundary);
    #: ``allowed[j, j]``: ``j`` may be a venue. ``None``: every pair.
    allowed: np.ndarray | None = None
    #: groups of centres that must share a cluster (must-link, hard partnerships, locks)
    together: tuple[np.ndarray, ...] = ()
    #: groups of centres no two of which may share a cluster (cannot-link)
    apart: tuple[np.ndarray, ...] = ()
    #: how messages name each quota
    quota_labels: tuple[str, ...] = ()

    def restricted(self, rows: np.ndarray, n_clusters: int) -> Bounds:
        """The same rules for the centres ``rows`` forming ``n_clusters`` clusters."""
        rows = np.asarray(rows)

        def local(groups, whole):
            # must-link groups only when wholly inside (a group cut by the edge of
            # a sub-problem is already split); cannot-link groups as far as inside
            if not groups:
                return ()
            where = {int(r): k for k, r in enumerate(rows)}
            out = []
            for g in groups:
                inside = [where[int(i)] for i in g if int(i) in where]
                if len(inside) > 1 and (not whole or len(inside) == len(g)):
                    out.append(np.asarray(inside, dtype=np.int64))
            return tuple(out)

        return Bounds(
            len(rows),
            self.min_size,
            self.max_size,
            n_clusters,
            None if self.weights is None else self.weights[rows],
            self.min_weight,
            self.max_weight,
            tuple((mask[rows], lo, hi) for mask, lo, hi in self.quotas),
            None if self.allowed is None else self.allowed[np.ix_(rows, rows)],
            local(self.together, True),
            local(self.apart, False),
            self.quota_labels,
        )

    def violations(self, venue_of: np.ndarray) -> list[str]:
        """What ``venue_of`` breaks, in words (empty when it meets every rule)."""
        out: list[str] = []
        venues, labels = np.unique(venue_of, return_inverse=True)
        if np.any(venue_of[venues] != venues):
            out.append("a venue is not a member of its own cluster")
        sizes = np.bincount(labels)
        if len(venues) != self.n_clusters:
            out.append(f"{len(venues)} clusters instead of {self.n_clusters}")
        if np.any(sizes < self.min_size) or np.any(sizes > self.max_size):
            out.append("a cluster size is out of bounds")
        if self.weights is not None:
            load = np.bincount(labels, weights=self.weights)
            if np.any(load < self.min_weight - 1e-9) or np.any(load > self.max_weight + 1e-9):
                out.append("a cluster weight is out of bounds")
        for mask, lo, hi in self.quotas:
            counts = np.bincount(labels, weights=mask.astype(float), minlength=len(venues))
            if np.any(counts < lo) or np.any(counts > hi):
                out.append("a quota is not met")
                break
        if self.allowed is not None and not self.allowed[np.arange(len(venue_of)), venue_of].all():
            out.append("a centre meets at a venue it may not use")
        if any(len(set(venue_of[g].tolist())) > 1 for g in self.together):
            out.append("a must-link group is split")
        if any(len(set(venue_of[g].tolist())) < len(g) for g in self.apart):
            out.append("a cannot-link group shares a cluster")
        return out


def resolve(
    rule: SizeRule,
    n: int,
    weights: np.ndarray | None = None,
    quota_masks: list[np.ndarray] | None = None,
) -> Bounds:
    """Check ``rule`` against ``n`` centres (their weights, who counts for each quota)
    and fix the cluster count."""
    lo, hi = int(rule.min_size), int(rule.max_size)
    if lo < 1:
        raise InfeasibleError(f"the minimum cluster size must be at least 1 (got {lo})")
    if hi < lo:
        raise InfeasibleError(f"the maximum cluster size {hi} is below the minimum {lo}; swap them")
    if n == 0:
        raise InfeasibleError("there are no centres to cluster (all were excluded)")
    if rule.size_by is None and (rule.min_weight is not None or rule.max_weight is not None):
        raise InfeasibleError(
            "min_weight/max_weight need size_by, the column to sum (e.g. size_by='pupils')"
        )
    if rule.target_size is not None and not (
        math.isfinite(rule.target_size) and rule.target_size > 0
    ):
        raise InfeasibleError(f"the target size must be above 0 (got {rule.target_size})")
    k_lo, k_hi = math.ceil(n / hi), n // lo
    reasons = f"{n} centres in clusters of {lo}–{hi}"
    w_lo, w_hi = 0.0, math.inf
    if rule.size_by is not None:
        if weights is None:
            raise InfeasibleError(f"size_by={rule.size_by!r} needs a weight for every centre")
        w_lo = float(rule.min_weight or 0.0)
        w_hi = float(rule.max_weight) if rule.max_weight is not None else math.inf
        if w_hi < w_lo:
            raise InfeasibleError(
                f"the maximum {rule.size_by} per cluster ({w_hi:g}) is below the minimum ({w_lo:g})"
            )
        heavy = np.flatnonzero(weights > w_hi)
        if len(heavy):
            raise InfeasibleError(
                f"{len(heavy)} centre(s) alone exceed the maximum {rule.size_by} per cluster "
                f"({w_hi:g}); the largest has {weights[heavy].max():g}. Raise max_weight"
            )
        total = float(weights.sum())
        if w_hi < math.inf:
            k_lo = max(k_lo, math.ceil(total / w_hi - 1e-9))
        if w_lo > 0:
            k_hi = min(k_hi, math.floor(total / w_lo + 1e-9))
        reasons += f" with {w_lo:g}–{w_hi:g} {rule.size_by} each ({total:g} in all)"
    if rule.n_clusters is not None:
        k = int(rule.n_clusters)
        if k < 1:
            raise InfeasibleError(f"the number of clusters must be at least 1 (got {k})")
        if not k_lo <= k <= k_hi:
            raise InfeasibleError(
                f"{k} clusters are impossible for {reasons}: "
                + _allowed(k_lo, k_hi)
                + "; change the number of clusters or the size bounds"
            )
    else:
        if k_lo > k_hi and n < lo:
            raise InfeasibleError(
                f"only {n} centre(s) take part, fewer than the smallest cluster allowed ({lo}); "
                f"lower the minimum size to {max(n, 1)} or fewer (--min-size {max(n, 1)}), "
                "or add centres"
            )
        if k_lo > k_hi:
            raise InfeasibleError(
                f"no number of clusters fits {reasons}: "
                + _allowed(k_lo, k_hi)
                + "; widen the size bounds"
            )
        target = rule.target_size if rule.target_size is not None else (lo + hi) / 2
        k = min(max(round(n / target), k_lo), k_hi)
    quotas = []
    for quota, mask in zip(rule.quotas, quota_masks or [], strict=True):
        q_lo = int(quota.min)
        q_hi = hi if quota.max is None else int(quota.max)
        have = int(mask.sum())
        if q_lo < 0 or q_hi < q_lo:
            raise InfeasibleError(f"the quota on {quota.label()} needs 0 <= min <= max")
        if have < k * q_lo:
            raise InfeasibleError(
                f"{k} clusters each need at least {q_lo} centre(s) with {quota.label()} "
                f"but only {have} centres have it; lower the quota or form fewer clusters"
            )
        if q_hi < lo and n - have < k * (lo - q_hi):
            raise InfeasibleError(
                f"{k} clusters of at least {lo} may hold at most {q_hi} centre(s) with "
                f"{quota.label()} each, which needs {k * (lo - q_hi)} other centres; "
                f"there are {n - have}"
            )
        if have > k * q_hi:
            raise InfeasibleError(
                f"{have} centres have {quota.label()} but {k} clusters may hold at most "
                f"{q_hi} each ({k * q_hi} in all); raise the quota's max"
            )
        quotas.append((np.asarray(mask, dtype=bool), q_lo, q_hi))
    labels = tuple(q.label() for q in rule.quotas)
    return Bounds(n, lo, hi, k, weights, w_lo, w_hi, tuple(quotas), quota_labels=labels)


def _allowed(k_lo: int, k_hi: int) -> str:
    if k_lo > k_hi:
        return f"at least {k_lo} clusters are needed but at most {k_hi} can be filled"
    if k_lo == k_hi:
        return f"only {k_lo} cluster(s) are possible"
    return f"between {k_lo} and {k_hi} clusters are possible"
