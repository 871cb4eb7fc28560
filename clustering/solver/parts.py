"""The independent parts a problem is solved in: boundary areas, and large parts cut in two.

A hard boundary splits the centres into areas no cluster crosses; a fixed
cluster count is shared among them. A part above :data:`PART_MAX` centres is
halved along its longer side until each area is small enough (memory and time
grow as the square of a part's size).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..errors import InfeasibleError
from ..model.sizes import Bounds, SizeRule, resolve

__all__ = ["PART_MAX", "allocate", "parts_of", "split_large"]


#: centres above which a part is cut into areas solved one by one (memory and
#: time grow as the square of a part's size)
PART_MAX = 2000


def allocate(sizes: dict[str, int], rule: SizeRule, total: int) -> dict[str, int]:
    """Share ``total`` clusters among parts of the given sizes, within what each can fill."""
    lo = {r: -(-m // rule.max_size) for r, m in sizes.items()}
    hi = {r: m // rule.min_size for r, m in sizes.items()}
    if sum(lo.values()) > total or sum(hi.values()) < total:
        raise InfeasibleError(
            f"{total} clusters cannot be shared among the areas: they need between "
            f"{sum(lo.values())} and {sum(hi.values())} clusters"
        )
    n = sum(sizes.values())
    out = {r: min(max(round(total * m / n), lo[r]), hi[r]) for r, m in sizes.items()}
    while sum(out.values()) != total:
        step = 1 if sum(out.values()) < total else -1
        # the area whose clusters are furthest from the target size moves first
        movable = [r for r in out if lo[r] <= out[r] + step <= hi[r]]
        r = max(movable, key=lambda r: step * (sizes[r] / out[r] if out[r] else np.inf))
        out[r] += step
    return out


def resolve_rows(rows, rule, loads, masks) -> Bounds:
    """:func:`resolve` for the centres ``rows`` (their loads and quota masks)."""
    return resolve(
        rule, len(rows), None if loads is None else loads[rows], [m[rows] for m in masks]
    )


def parts_of(free, regions, rule, boundary, loads, masks):
    """The independent parts to solve: one per boundary area, or all free centres."""

    def bounds_for(rows, part_rule, where):
        try:
            return resolve_rows(rows, part_rule, loads, masks)
        except InfeasibleError as exc:
            raise InfeasibleError(f"{where}{exc}") from None

    if len(free) == 0:
        return []  # every cluster is locked
    if regions is None:
        return [("", free, bounds_for(free, rule, ""))]
    areas: dict[str, np.ndarray] = {}
    for r in sorted(set(regions[free].tolist())):
        areas[r] = free[regions[free] == r]
    counts = None
    if rule.n_clusters is not None:
        counts = allocate({r: len(rows) for r, rows in areas.items()}, rule, rule.n_clusters)
    out = []
    for r, rows in areas.items():
        part_rule = replace(rule, n_clusters=None if counts is None else counts[r])
        out.append((f"{r}: ", rows, bounds_for(rows, part_rule, f"in {boundary} {r}: ")))
    return out


def split_large(parts, xy, rule, loads, masks):
    """Parts above :data:`PART_MAX` centres, cut into areas solved one by one.

    Each part is halved along its longer side, the halves getting cluster
    counts in proportion to their centres, until every area is small enough.
    A cut whose halves cannot meet the rules is not made. Returns
    ``(name, rows, bounds, part)``: areas of the same ``part`` share its bound.
    """
    out = []

    def cut(name, rows, bounds, part):
        n, k = len(rows), bounds.n_clusters
        if n <= PART_MAX or k < 2:
            out.append((name, rows, bounds, part))
            return
        pts = xy[rows]
        axis = int(np.argmax(np.ptp(pts, axis=0)))
        order = rows[np.argsort(pts[:, axis], kind="stable")]
        k1 = k // 2
        n1 = round(n * k1 / k)
        halves = [(np.sort(order[:n1]), k1), (np.sort(order[n1:]), k - k1)]
        try:
            resolved = [
                resolve_rows(sub, replace(rule, n_clusters=kk), loads, masks) for sub, kk in halves
            ]
        except InfeasibleError:
            out.append((name, rows, bounds, part))
            return
        for h, ((sub, _), b) in enumerate(zip(halves, resolved, strict=True)):
            cut(f"{name.rstrip(': ')}{'/' if name else 'area '}{h + 1}: ", sub, b, part)

    for part, (name, rows, bounds) in enumerate(parts):
        cut(name, rows, bounds, part)
    return out
