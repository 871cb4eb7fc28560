"""Quality per term: each part of the objective against a reference of its own.

The lower bound the engine proves (``Layout.lower_bound``) covers the member → venue
terms; with contrast, themes or partnerships weighted it counts them as zero, so the
gap of the whole weighted objective says little (58–68 % on the bundled full
scenarios). :func:`layout_quality` instead reports every weighted part beside a
reference of its own:

* **travel**: a proven lower bound on travel alone under the same rules — the
  engine's bound when travel is the whole objective, otherwise the bound of the
  engine's travel-only run under the same rules (the geography-only baseline, or a
  run made here). The best travel that run found is given too.
* **each other part** (a contrast deviation, theme splits, partnerships split,
  members moved, boundary crossings): a *proven* lower bound over every layout of
  these ``k`` clusters and sizes, computed directly (0 where nothing better is
  known; see :func:`term_bound`), and — when references are computed — the *best
  found* value: the least value the same engine reaches with only that part
  weighted (travel weighted :data:`REFERENCE_TRAVEL_WEIGHT`, a tie-break), under
  the same rules, in a short time, each such layout passing the independent
  checker. A best-found value is a heuristic's result, never called a bound.

The *reference* of a part is its best-found value when there is one (a layout
reaching it exists, so ``value − reference`` is room that is certainly there), and
its proven bound otherwise; where the two meet it is the proven minimum. The
*room left* is ``value − reference``, absolute, relative to the value, and weighted
(km, the objective's unit), and the part with the most weighted room is named.

The per-term bounds also give a bound on the weighted objective stronger than the
travel-only one, with no new assumption: for every layout ``L`` each part is at
least its own bound, so ``total(L) ≥ w_travel · bound_travel + Σ w_t · bound_t``
(the minimum of a sum is at least the sum of the minima). :attr:`Quality.bound` is
the larger of that and the engine's bound.

A stronger bound on the weighted objective comes from a Lagrangian relaxation whose
subproblems price the deviations (:func:`priced_bound`): categorical ones by the whole
schools a cluster of each size must be off, numeric ones through ``w|x| ≥ μx`` on a grid
of ``μ``. :attr:`Quality.bound` is the strongest of the three.

Computing the references costs time: :data:`QUALITY_SHARE` of the layout's time limit
for all of them together — :data:`PRICED_SHARE` of it for the priced bound, the rest
for the best-found runs, split evenly (at least :data:`MIN_REFERENCE_SECONDS` each;
when they do not all fit, the parts with the largest weighted values get theirs and the
others keep the best of the layout's own value and the geography-only layout's).
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InfeasibleError, SolverError
from ..model.layout import Layout, cluster_labels
from ..model.objective import Objective
from ..model.terms import ArcTerm, ContrastTerm, PairTerm, ThemeTerm
from ..model.weights import Weights
from ..solver.engine import solve
from .check import check_layout

__all__ = [
    "MIN_REFERENCE_SECONDS",
    "QUALITY_SHARE",
    "REFERENCE_TRAVEL_WEIGHT",
    "Quality",
    "TermQuality",
    "categorical_bound",
    "layout_quality",
    "priced_bound",
    "quality_budget",
    "term_bound",
]

#: the share of the layout's time limit all best-found references together may take
QUALITY_SHARE = 0.5
#: the least time one reference run is given, seconds
MIN_REFERENCE_SECONDS = 1.0
#: the travel weight of a reference run (the part's own weight is 1): a tie-break only
REFERENCE_TRAVEL_WEIGHT = 1e-3
#: the name of the travel part
TRAVEL = "travel"
#: the share of the quality budget the priced Lagrangian bound may take (the reference
#: runs share the rest)
PRICED_SHARE = 1 / 3
#: price at most this many multiplier combinations per subproblem (a grid per numeric
#: deviation priced: 9 values for one, 3 each for two; on Kentucky's 1,435 schools with
#: two numeric deviations, 3 × 3 reached 17,249 km in 4.2 s where 5 × 5 reached 8,859)
PRICED_COMBINATIONS = 9
#: subgradient steps per second of the priced bound's share in a deterministic run
PRICED_STEPS_PER_SECOND = 25
#: centres above which the priced bound is not computed (it holds n × n arrays)
PRICED_MAX_CENTRES = 2500

_TOL = 1e-9


def quality_budget(time_limit: float) -> float:
    """Seconds all best-found references of a layout solved in ``time_limit`` may take."""
    return QUALITY_SHARE * float(time_limit)


@dataclass(frozen=True)
class TermQuality:
    """One weighted part of the objective beside its reference.

    ``value``, ``bound`` and ``best_found`` are in the part's own unit (travel in km
    or the matrix unit); ``weight`` converts one unit into the objective's unit.
    """

    name: str
    kind: str  # "travel", "contrast", "themes", "partnerships", "arc" or "other"
    unit: str
    weight: float
    value: float
    #: proven: no layout of these clusters and sizes under these rules has less
    #: (``None``: not computed)
    bound: float | None
    bound_source: str
    #: the least value a layout the engine formed reached (heuristic; ``None``: none)
    best_found: float | None = None
    best_found_source: str = ""

    @property
    def reference(self) -> float | None:
        """The best-found value when there is one, otherwise the proven bound."""
        return self.best_found if self.best_found is not None else self.bound

    @property
    def reference_kind(self) -> str:
        """``"proven minimum"``, ``"best found"``, ``"proven bound"`` or ``"none"``."""
        if self.best_found is not None:
            exact = self.bound is not None and self.best_found <= self.bound + _TOL * max(
                1.0, abs(self.bound)
            )
            return "proven minimum" if exact else "best found"
        return "proven bound" if self.bound is not None else "none"

    @property
    def room(self) -> float | None:
        """``value − reference`` (never below 0), in the part's unit."""
        ref = self.reference
        return None if ref is None else max(0.0, self.value - ref)

    @property
    def room_share(self) -> float | None:
        """:attr:`room` as a fraction of the value (0 when the value is 0)."""
        room = self.room
        if room is None:
            return None
        return room / self.value if self.value > _TOL else 0.0

    @property
    def weighted_room(self) -> float | None:
        """:attr:`room` times the weight: the objective's unit (km)."""
        room = self.room
        return None if room is None else self.weight * room

    @property
    def room_to_bound(self) -> float | None:
        """``value − bound``: at most this much can be gained on this part alone."""
        return None if self.bound is None else max(0.0, self.value - self.bound)

    def to_dict(self) -> dict[str, Any]:
        return {
            "term": self.name,
            "kind": self.kind,
            "unit": self.unit,
            "weight": self.weight,
            "value": self.value,
            "weighted_value": self.weight * self.value,
            "bound": self.bound,
            "bound_source": self.bound_source,
            "best_found": self.best_found,
            "best_found_source": self.best_found_source,
            "reference": self.reference,
            "reference_kind": self.reference_kind,
            "room": self.room,
            "room_pct": None if self.room_share is None else 100.0 * self.room_share,
            "weighted_room": self.weighted_room,
            "room_to_bound": self.room_to_bound,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TermQuality:
        return cls(
            name=d["term"],
            kind=d["kind"],
            unit=d["unit"],
            weight=float(d["weight"]),
            value=float(d["value"]),
            bound=None if d.get("bound") is None else float(d["bound"]),
            bound_source=d.get("bound_source", ""),
            best_found=None if d.get("best_found") is None else float(d["best_found"]),
            best_found_source=d.get("best_found_source", ""),
        )


@dataclass(frozen=True)
class Quality:
    """Every weighted part of a layout beside its reference (:func:`layout_quality`).

    Figures are in the objective's unit (km for straight lines, else the matrix unit).
    """

    terms: tuple[TermQuality, ...]
    unit: str
    objective: float
    #: the engine's bound (``Layout.lower_bound``), in the objective's unit
    engine_bound: float
    #: ``"computed"``, ``"skipped"`` (asked not to) or ``"not needed"`` (travel alone)
    references: str = "not needed"
    budget_seconds: float = 0.0
    seconds: float = 0.0
    notes: tuple[str, ...] = field(default_factory=tuple)
    #: a Lagrangian bound on the weighted objective whose subproblems price the
    #: deviations (:func:`priced_bound`), in the objective's unit; ``None``: not computed
    priced_bound: float | None = None
    #: what it priced, its iterations and seconds
    priced: Mapping[str, Any] = field(default_factory=dict)

    @property
    def separable_bound(self) -> float | None:
        """``Σ weight × bound`` over the parts: a valid bound on the weighted objective
        (``None`` when some weighted part has no bound)."""
        if any(t.bound is None for t in self.terms if t.weight > 0):
            return None
        return float(sum(t.weight * t.bound for t in self.terms if t.weight > 0))

    @property
    def bound(self) -> float:
        """The strongest of the engine's bound, :attr:`separable_bound` and :attr:`priced_bound`."""
        found = [b for b in (self.separable_bound, self.priced_bound) if b is not None]
        return max([self.engine_bound, *found])

    @property
    def gap(self) -> float:
        """``(objective − bound) / objective`` with :attr:`bound` (0 when both are 0)."""
        if self.objective <= 0:
            return 0.0
        return max(0.0, (self.objective - self.bound) / self.objective)

    @property
    def most_room(self) -> TermQuality | None:
        """The part with the most weighted room left (``None`` when none has any)."""
        rooms = [(t.weighted_room, t) for t in self.terms if t.weighted_room is not None]
        rooms = [(r, t) for r, t in rooms if r > _TOL * max(1.0, abs(self.objective))]
        return max(rooms, key=lambda rt: rt[0])[1] if rooms else None

    def table(self) -> pd.DataFrame:
        """One row per part (:meth:`TermQuality.to_dict`)."""
        return pd.DataFrame([t.to_dict() for t in self.terms])

    def line(self) -> str:
        """One sentence naming the part with room left (what the command line prints)."""
        best = self.most_room
        if best is None:
            if self.references == "skipped" and len(self.terms) > 1:
                return (
                    "Room left per term: best-found references not computed "
                    "(--quality computes them)."
                )
            return "Room left per term: none; every part is at its reference."
        share = best.room_share or 0.0
        against = {
            "proven bound": "its proven bound",
            "proven minimum": "its proven minimum",
            "best found": "the best found with it alone",
        }[best.reference_kind]
        return (
            f"Most room left: {best.name} ({_fmt(best.value)} against {_fmt(best.reference)} "
            f"{against}: {100 * share:.1f} % of it, {_fmt(best.weighted_room)} {self.unit} "
            f"weighted); whole objective {_fmt(self.objective)} {self.unit}, bound "
            f"{_fmt(self.bound)} (gap {100 * self.gap:.1f} %)."
        )

    def to_dict(self) -> dict[str, Any]:
        best = self.most_room
        return {
            "unit": self.unit,
            "objective": self.objective,
            "engine_bound": self.engine_bound,
            "separable_bound": self.separable_bound,
            "priced_bound": self.priced_bound,
            "priced": dict(self.priced),
            "bound": self.bound,
            "gap": self.gap,
            "gap_pct": 100.0 * self.gap,
            "most_room": None if best is None else best.name,
            "references": self.references,
            "budget_seconds": self.budget_seconds,
            "seconds": self.seconds,
            "notes": list(self.notes),
            "terms": [t.to_dict() for t in self.terms],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Quality:
        return cls(
            terms=tuple(TermQuality.from_dict(t) for t in d["terms"]),
            unit=d["unit"],
            objective=float(d["objective"]),
            engine_bound=float(d["engine_bound"]),
            references=d.get("references", "not needed"),
            budget_seconds=float(d.get("budget_seconds", 0.0)),
            seconds=float(d.get("seconds", 0.0)),
            notes=tuple(d.get("notes", ())),
            priced_bound=None if d.get("priced_bound") is None else float(d["priced_bound"]),
            priced=dict(d.get("priced") or {}),
        )


def _fmt(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:,.1f}" if abs(x) >= 10 else f"{x:,.2f}"


# proven bounds ----------------------------------------------------------------


def _cluster_floor(n: int, share: np.ndarray) -> float:
    """The least ``½ Σ_c |x_c − n·share_c|`` over whole ``x ≥ 0`` with ``Σ x = n``.

    With ``a = n·share`` (``Σ a = n``), each ``x_c`` is ``a_c`` rounded down or up and
    exactly ``m = n − Σ floor(a)`` of them are rounded up: best the ``m`` with the
    largest fractional parts.
    """
    a = n * share
    low = np.floor(a + 1e-12)
    r = np.clip(a - low, 0.0, 1.0)
    m = round(float(n - low.sum()))
    order = np.sort(r)[::-1]
    up = order[:m]
    cost = r.sum() - up.sum() + (1.0 - up).sum()
    return 0.5 * float(cost)


def categorical_bound(share: np.ndarray, n_free: int, k_free: int, lo: int, hi: int) -> float:
    """A proven bound on a categorical deviation over ``k_free`` clusters of ``lo..hi``.

    Each cluster of ``n`` members holds whole numbers of each category, so its
    deviation ``½ Σ_c |count_c − n·share_c|`` is at least :func:`_cluster_floor`;
    the least sum over sizes that add up to ``n_free`` is found by dynamic
    programming. ``inf`` when no such sizes exist.
    """
    if k_free <= 0:
        return 0.0 if n_free == 0 else math.inf
    sizes = np.arange(max(lo, 1), hi + 1)
    cost = np.array([_cluster_floor(int(s), share) for s in sizes])
    dp = np.full(n_free + 1, math.inf)
    dp[0] = 0.0
    for _ in range(k_free):
        new = np.full(n_free + 1, math.inf)
        for s, c in zip(sizes, cost, strict=True):
            if s <= n_free:
                new[s:] = np.minimum(new[s:], dp[: n_free + 1 - s] + c)
        dp = new
    return float(dp[n_free])


def _components(pairs: np.ndarray) -> list[int]:
    """The sizes of the connected components of the graph with edges ``pairs``."""
    parent: dict[int, int] = {}

    def find(a: int) -> int:
        while parent.setdefault(a, a) != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in pairs.tolist():
        ra, rb = find(int(a)), find(int(b))
        if ra != rb:
            parent[ra] = rb
    roots = [find(a) for a in list(parent)]
    return list(np.unique(roots, return_counts=True)[1]) if roots else []


def term_bound(term: Any, layout: Layout) -> tuple[float, str]:
    """A proven lower bound on one part over every layout with the layout's clusters.

    Over layouts of ``layout.n_clusters`` clusters of the rule's sizes (locked
    clusters as they are), whatever their other rules:

    * a categorical contrast deviation: :func:`categorical_bound` (whole schools);
    * theme splits: a theme held by ``h`` centres spans at least ``⌈h / max size⌉``
      clusters, so it splits at least that minus 1 times;
    * partnerships split: a connected group of ``s`` partnered centres spans at
      least ``⌈s / max size⌉`` clusters, and a connected graph cut into ``c`` parts
      has at least ``c − 1`` edges between them;
    * anything else (numeric deviations, members moved, boundary crossings): 0,
      since no part is ever negative.

    Returns the bound and a few words saying where it comes from.
    """
    problem = layout.problem
    rule = problem.rule
    locked = problem.locked
    locked_sizes = [len(members) for members, _ in locked.values()]
    largest = max([int(rule.max_size), *locked_sizes])
    if isinstance(term, ContrastTerm) and term.kind == "categorical":
        share = _shares(term)
        fixed = 0.0
        locked_rows = np.zeros(problem.n, dtype=bool)
        for members, _ in locked.values():
            fixed += term.factor * float(np.abs(term.scores[members].sum(axis=0)).sum())
            locked_rows[members] = True
        n_free = int((~locked_rows).sum())
        k_free = layout.n_clusters - len(locked)
        free = categorical_bound(share, n_free, k_free, int(rule.min_size), int(rule.max_size))
        if not math.isfinite(free):
            return 0.0, "0 (no sizes fit: nothing better known)"
        return fixed + free, (
            f"whole schools per category in {k_free} clusters of "
            f"{rule.min_size}–{rule.max_size} (exact over sizes)"
        )
    if isinstance(term, ThemeTerm):
        held = term.holders.sum(axis=0)
        value = float(np.maximum(np.ceil(held / largest) - 1, 0).sum())
        return value, f"each theme's holders over at most {largest} per cluster"
    if isinstance(term, PairTerm):
        sizes = _components(np.asarray(term.pairs).reshape(-1, 2))
        value = float(sum(max(0, math.ceil(s / largest) - 1) for s in sizes))
        return value, f"partnered groups larger than {largest} must be cut"
    return 0.0, "0 (no part is negative; nothing better known)"


def _shares(term: ContrastTerm) -> np.ndarray:
    """The area's share of each category: the scores are ``[i in c] − share_c``, and
    every category is held by some centre, whose score is then ``1 − share_c``."""
    return 1.0 - term.scores.max(axis=0)


def _kind(term: Any) -> str:
    if isinstance(term, ContrastTerm):
        return "contrast"
    if isinstance(term, ThemeTerm):
        return "themes"
    if isinstance(term, PairTerm):
        return "partnerships"
    if isinstance(term, ArcTerm) or getattr(term, "arc", False):
        return "arc"
    return "other"


def _unit(term: Any, travel_unit: str) -> str:
    if isinstance(term, ContrastTerm):
        return term.unit
    return "count"


# a Lagrangian bound that prices the deviations -----------------------------------


def priced_bound(
    layout: Layout,
    *,
    seconds: float,
    max_iterations: int | None = None,
    stop=None,
) -> tuple[float, dict[str, Any]] | None:
    """A Lagrangian bound on the weighted objective whose subproblems price the deviations.

    The relaxation: drop every rule but the cluster count ``k`` and the sizes (and the
    maximum distance, kept as forbidden pairs), and relax "each centre in exactly one
    cluster" with multipliers ``λ``. For any ``λ`` and any layout ``L`` of ``k``
    clusters ``S`` (venue ``j ∈ S``)::

        Σ_S [Σ_{i∈S} a_ij + Σ_numeric w|Σ_{i∈S} s_i| + Σ_categorical w·dev(S)]
          = Σ_i λ_i + Σ_S [Σ_{i∈S} (a_ij − λ_i) + …] ≥ Σ_i λ_i + (the k least v_j(λ))

    where ``a`` are the member → venue costs with the arc terms (travel, boundary
    crossings, members moved) and ``v_j(λ)`` is the least cost of any one cluster at
    venue ``j``. Each ``v_j`` is bounded below without enumerating sets: a categorical
    deviation of ``n`` members is at least :func:`_cluster_floor` (whole schools), and
    ``w|x| ≥ μx`` for every ``|μ| ≤ w``, so for each size and each ``μ`` on a grid the
    cluster costs at least its venue plus the ``size − 1`` least ``a_ij − λ_i + μ·s_i``;
    the largest over the grid is kept. Theme splits and partnerships split are added
    with their own bounds (:func:`term_bound`); numeric deviations beyond the
    :data:`PRICED_COMBINATIONS` grid count 0. Any ``λ`` gives a valid bound; subgradient
    steps search for a good one for ``seconds`` (or, with ``max_iterations``, that many
    steps whatever the clock: reproducible), or until ``stop`` is set.

    Returns the bound in the objective's unit and what it priced, or ``None`` when
    there is nothing to price, the layout has locked clusters larger or smaller than
    the sizes allow, or the centres are more than :data:`PRICED_MAX_CENTRES`.
    """
    problem = layout.problem
    objective = problem.objective
    n = problem.n
    weighted = [t for t in objective.all_terms if t.weight > 0 and not getattr(t, "arc", False)]
    contrast = [t for t in weighted if isinstance(t, ContrastTerm)]
    if not contrast or n > PRICED_MAX_CENTRES or n < 2:
        return None
    t0 = time.perf_counter()
    scale = objective.travel_scale
    rule = problem.rule
    locked_sizes = [len(members) for members, _ in problem.locked.values()]
    lo = min([int(rule.min_size), *locked_sizes])
    hi = min(max([int(rule.max_size), *locked_sizes]), n)
    sizes = np.arange(max(lo, 1), hi + 1)
    k = layout.n_clusters
    costs = np.asarray(objective.arc_costs(problem.costs.matrix), dtype=float)
    allowed = problem.compiled.allowed
    if allowed is not None:
        costs = np.where(allowed, costs, np.inf)
    by_venue = np.ascontiguousarray(costs.T)  # [j, i]: member i at venue j
    floor = np.zeros(len(sizes))
    for t in contrast:
        if t.kind == "categorical":
            share = _shares(t)
            floor += np.array([_cluster_floor(int(z), share) for z in sizes]) * (t.weight / scale)
    numeric = [t for t in contrast if t.kind == "numeric"]
    venue_of = layout.venue_of
    labels = _labels(venue_of)
    numeric.sort(key=lambda t: -t.weight * t.value(venue_of, labels))
    priced, grid = [], 1
    for m in range(min(len(numeric), 2), 0, -1):
        g = min(9, int(PRICED_COMBINATIONS ** (1 / m) + 1e-9))
        g -= g % 2 == 0
        if g >= 3:
            priced, grid = numeric[:m], g
            break
    shifts = [np.zeros(n)]
    if priced:
        axes = [np.linspace(-t.weight / scale, t.weight / scale, grid) for t in priced]
        scores = np.column_stack([t.scores[:, 0] for t in priced])
        shifts = [scores @ np.array(mu) for mu in itertools.product(*axes)]
    outside = sum(
        t.weight * term_bound(t, layout)[0] for t in weighted if isinstance(t, ThemeTerm | PairTerm)
    )
    # the inside part of the layout's own cost (cost units): an upper bound for the steps
    inside = (
        layout.objective
        - sum(
            t.weight * t.value(venue_of, labels)
            for t in weighted
            if isinstance(t, ThemeTerm | PairTerm)
        )
        / scale
    )
    idx = np.arange(n)
    lam = costs[idx, venue_of].copy()
    best, iterations, theta, stall = -np.inf, 0, 2.0, 0
    big = hi - 1
    while True:
        if max_iterations is not None:
            if iterations >= max_iterations:
                break
        elif time.perf_counter() - t0 >= seconds:
            break
        if stop is not None and stop.is_set():
            break
        iterations += 1
        val = np.full((n, len(sizes)), -np.inf)
        pick = np.zeros((n, len(sizes)), dtype=np.int64)
        for c, shift in enumerate(shifts):
            reduced = by_venue - lam[None, :] + shift[None, :]
            own = reduced[idx, idx].copy()
            reduced[idx, idx] = np.inf
            if big > 0:
                least = np.partition(reduced, big - 1, axis=1)[:, :big]
                least.sort(axis=1)
                prefix = np.concatenate([np.zeros((n, 1)), np.cumsum(least, axis=1)], axis=1)
            else:
                prefix = np.zeros((n, 1))
            value = own[:, None] + prefix[:, sizes - 1] + floor[None, :]
            value = np.where(np.isnan(value), np.inf, value)
            better = value > val
            val = np.where(better, value, val)
            pick = np.where(better, c, pick)
        per_venue = val.min(axis=1)
        size_of = val.argmin(axis=1)
        chosen = np.argpartition(per_venue, k - 1)[:k]
        total = float(lam.sum() + per_venue[chosen].sum())
        if not np.isfinite(total):
            break
        if not np.isfinite(best) or total > best + 1e-9 * max(1.0, abs(best)):
            best, stall = total, 0
        else:
            stall += 1
            if stall >= 10:
                theta, stall = theta / 2, 0
        g = np.ones(n)
        for j in chosen:
            z = int(sizes[size_of[j]])
            row = by_venue[j] - lam + shifts[pick[j, size_of[j]]]
            row[j] = np.inf
            g[np.argsort(row, kind="stable")[: z - 1]] -= 1
            g[j] -= 1
        norm = float((g * g).sum())
        if norm == 0 or theta < 1e-4:
            break
        lam = lam + theta * max(inside - total, 1e-9 * max(1.0, abs(inside))) / norm * g
    if not np.isfinite(best):
        return None
    bound = best * scale * (1 - 1e-9) + outside
    info = {
        "priced": [t.name for t in priced],
        "categorical_floor": [t.name for t in contrast if t.kind == "categorical"],
        "grid": grid,
        "iterations": iterations,
        "seconds": time.perf_counter() - t0,
        "sizes": [int(sizes[0]), int(sizes[-1])],
        "clusters": k,
    }
    return bound, info


# reference runs ---------------------------------------------------------------


def _alone(objective: Objective, name: str | None) -> Objective:
    """The objective with only ``name`` weighted (1; travel the tie-break), or travel alone."""
    terms = tuple(replace(t, weight=(1.0 if t.name == name else 0.0)) for t in objective.all_terms)
    travel = 1.0 if name is None else REFERENCE_TRAVEL_WEIGHT
    weights = _weights_alone(objective.weights, terms, travel)
    return Objective(weights, objective.travel_scale, terms)


def _weights_alone(weights: Weights, terms, travel: float) -> Weights:
    """:class:`Weights` saying what the reweighted terms say (the checker reads them)."""
    contrast = {t.attribute: t.weight for t in terms if isinstance(t, ContrastTerm)}
    themes = {t.attribute: t.weight for t in terms if isinstance(t, ThemeTerm)}
    pair = next((t.weight for t in terms if isinstance(t, PairTerm)), 0.0)
    arcs = {type(t).weight_name: t.weight for t in terms if getattr(t, "arc", False)}
    return Weights(
        travel=travel,
        contrast={k: v for k, v in contrast.items() if k in weights.contrast},
        themes={k: v for k, v in themes.items() if k in weights.themes},
        partnerships=pair,
        stability=arcs.get("stability", 0.0),
        boundary=arcs.get("boundary", 0.0),
    )


@dataclass
class _Run:
    venue_of: np.ndarray
    lower_bound: float  # cost units
    seconds: float
    checked: bool


def _reference_run(
    layout: Layout,
    objective: Objective,
    *,
    time_limit: float,
    seed: int,
    workers: int,
    deterministic: bool,
    stop,
    start: bool = True,
) -> _Run | None:
    """Solve the layout's problem with ``objective`` instead; the layout checked, or None.

    The search starts from the layout when ``start`` (a part the layout was mixed for),
    otherwise from a new construction (an arc term, which the construction prices).
    """
    problem = replace(layout.problem, objective=objective)
    t = time.perf_counter()
    try:
        solution = solve(
            problem,
            time_limit=time_limit,
            seed=seed,
            workers=workers,
            start=layout.venue_of if start else None,
            deterministic=deterministic,
            stop=stop,
        )
    except (InfeasibleError, SolverError):
        return None
    seconds = time.perf_counter() - t
    venue_of = solution.venue_of
    n = problem.n
    frame = problem.frame.copy()
    frame["cluster"] = cluster_labels(venue_of, frame, problem.constraints.previous)
    frame["is_venue"] = venue_of == np.arange(n)
    frame["distance"] = problem.costs.matrix[np.arange(n), venue_of]
    frame["coordinator"] = solution.coordinator
    candidate = Layout(
        centres=frame,
        excluded=problem.centres.excluded.reset_index(drop=True),
        objective=objective.cost(problem.costs.matrix, venue_of),
        lower_bound=float(solution.lower_bound),
        unit=problem.costs.unit,
        status="feasible",
        source=problem.centres.source,
        problem=problem,
    )
    report = check_layout(
        candidate,
        problem.rule,
        input_ids=problem.input_ids,
        matrix=problem.distances,
        weights=objective.weights,
        constraints=problem.constraints,
    )
    return _Run(venue_of, float(solution.lower_bound), seconds, bool(report.ok))


def _geography_row(layout: Layout) -> dict[str, Any] | None:
    """The geography-only baseline's row of ``layout.baselines`` (its parts), if any."""
    table = layout.baselines
    if table is None or "baseline" not in table.columns:
        return None
    rows = table.loc[table["baseline"] == "geography only"]
    if rows.empty or str(rows.iloc[0].get("note", "")):
        return None
    return rows.iloc[0].to_dict()


def _part_column(term: Any) -> str:
    if isinstance(term, ContrastTerm):
        return f"{term.attribute}_deviation"
    return "_".join(str(term.name).split())


# the whole ----------------------------------------------------------------------


def layout_quality(
    layout: Layout,
    *,
    references: bool | None = None,
    time_limit: float | None = None,
    seed: int | None = None,
    workers: int | None = None,
    stop=None,
) -> Quality:
    """Each weighted part of ``layout``'s objective beside its own reference.

    Parameters
    ----------
    layout
        A layout formed by the engine (it needs ``layout.problem``). When
        ``layout.stats["quality"]`` holds a record (forming makes one) and
        ``references`` is not given, that record is returned.
    references
        Compute the best-found references (solver runs): by default only when
        some part besides travel has weight. ``False``: the proven bounds alone
        (and the travel bound when it is at hand: the engine's own when travel is
        the whole objective, else the geography-only baseline's).
    time_limit
        Seconds for all the reference runs together (default: :func:`quality_budget`
        of the layout's time limit), split evenly among them, at least
        :data:`MIN_REFERENCE_SECONDS` each.
    seed, workers
        For the reference runs (default: the layout's; ``deterministic`` as it was).
    stop
        An event that ends the reference runs early.

    Returns
    -------
    Quality
        Travel first, then each weighted part in the objective's order.

    Raises
    ------
    ValueError
        The layout has no problem (e.g. it was read back from files).
    """
    stored = layout.stats.get("quality")
    if references is None and isinstance(stored, Mapping) and "terms" in stored:
        return Quality.from_dict(stored)
    problem = layout.problem
    if problem is None:
        raise ValueError("this layout has no compiled problem (read from files?): form it first")
    t0 = time.perf_counter()
    objective = problem.objective
    scale = objective.travel_scale
    unit = "km" if problem.costs.unit == "m" else problem.costs.unit
    venue_of = layout.venue_of
    parts = objective.parts(problem.costs.matrix, venue_of)
    weighted = [t for t in objective.all_terms if t.weight > 0]
    travel_alone = not weighted
    if references is None:
        references = not travel_alone
    params = layout.params
    if time_limit is None:
        time_limit = quality_budget(params.get("time_limit", 20.0))
    seed = int(params.get("seed", 0) if seed is None else seed)
    workers = int(params.get("workers", 2) if workers is None else workers)
    deterministic = bool(params.get("deterministic", False))
    notes: list[str] = []
    geo = layout.stats.get("geography_only")
    geo_row = _geography_row(layout)

    # travel: its bound under the same rules
    w_travel = objective.weights.travel
    travel_bound: float | None = None
    travel_source = "not computed (references off)"
    travel_best: float | None = None
    best_source = ""
    if travel_alone and w_travel > 0:
        travel_bound = layout.lower_bound * scale / w_travel
        travel_source = "the engine's bound (travel is the whole objective)"
    elif isinstance(geo, Mapping) and geo.get("lower_bound_km") is not None:
        travel_bound = float(geo["lower_bound_km"])
        travel_best = float(geo["travel_km"])
        travel_source = "the engine's bound for travel alone, same rules (geography-only run)"
        best_source = "the geography-only layout"
    priced: tuple[float, dict[str, Any]] | None = None
    priced_seconds = 0.0
    if references and any(isinstance(t, ContrastTerm) for t in weighted):
        priced_seconds = PRICED_SHARE * time_limit
        if stop is None or not stop.is_set():
            priced = priced_bound(
                layout,
                seconds=priced_seconds,
                # deterministic runs count steps, not seconds
                max_iterations=int(PRICED_STEPS_PER_SECOND * priced_seconds)
                if deterministic
                else None,
                stop=stop,
            )
    runs = 0 if travel_bound is not None or not references else 1
    runs += len(weighted) if references else 0
    left = time_limit - priced_seconds
    # within the budget: when it cannot give every run its least time, the parts with
    # the largest weighted values get theirs and the others only their proven bound
    fit = max(1, int(left // MIN_REFERENCE_SECONDS + 1e-9))
    if runs > fit:
        labels_now = _labels(venue_of)
        ranked = sorted(weighted, key=lambda t: -t.weight * t.value(venue_of, labels_now))
        keep = fit - (runs - len(weighted))
        run_for = {t.name for t in ranked[: max(0, keep)]}
        runs = fit
    else:
        run_for = {t.name for t in weighted}
    per_run = max(MIN_REFERENCE_SECONDS, left / runs) if runs else 0.0
    spent = 0.0

    def run(name: str | None, start: bool = True) -> _Run | None:
        nonlocal spent
        if stop is not None and stop.is_set():
            return None
        result = _reference_run(
            layout,
            _alone(objective, name),
            time_limit=per_run,
            seed=seed,
            workers=workers,
            deterministic=deterministic,
            stop=stop,
            start=start,
        )
        if result is not None:
            spent += result.seconds
            if not result.checked:
                what = name or TRAVEL
                notes.append(f"the reference layout for {what} failed the checker: unused")
                return None
        return result

    if travel_bound is None and references:
        result = run(None, start=False)
        if result is not None:
            travel_bound = result.lower_bound * scale
            travel_best = objective.parts(problem.costs.matrix, result.venue_of)["travel"]
            travel_source = f"the engine's bound for travel alone, same rules ({per_run:.3g} s run)"
            best_source = f"the engine, travel alone ({per_run:.3g} s)"
    if travel_best is not None and parts[TRAVEL] < travel_best:
        travel_best, best_source = parts[TRAVEL], "this layout"
    rows = [
        TermQuality(
            TRAVEL,
            "travel",
            unit,
            w_travel,
            parts[TRAVEL],
            travel_bound,
            travel_source,
            travel_best,
            best_source,
        )
    ]
    for term in weighted:
        value = parts[term.name]
        bound, source = term_bound(term, layout)
        best: float | None = None
        found = ""
        if references:
            candidates = [(value, "this layout")]
            if geo_row is not None and _part_column(term) in geo_row:
                got = geo_row[_part_column(term)]
                if got is not None and not pd.isna(got):
                    candidates.append((float(got), "the geography-only layout"))
            result = None
            if term.name in run_for:
                result = run(term.name, start=not getattr(term, "arc", False))
            else:
                notes.append(f"{term.name}: no reference run (the budget fits {runs} runs)")
            if result is not None:
                got = float(term.value(result.venue_of, _labels(result.venue_of)))
                candidates.append((got, f"the engine with it alone ({per_run:.3g} s)"))
            best, found = min(candidates, key=lambda c: c[0])
            if best < bound - 1e-6 * max(1.0, abs(bound)):  # never: the bound is proven
                notes.append(f"{term.name}: a layout reached {best:g}, below the bound {bound:g}")
        rows.append(
            TermQuality(
                term.name,
                _kind(term),
                _unit(term, unit),
                float(term.weight),
                float(value),
                float(bound),
                source,
                best,
                found,
            )
        )
    status = "not needed" if travel_alone else ("computed" if references else "skipped")
    if stop is not None and stop.is_set() and references:
        status = "stopped"
    return Quality(
        terms=tuple(rows),
        unit=unit,
        objective=layout.objective * scale,
        engine_bound=layout.lower_bound * scale,
        references=status,
        budget_seconds=float(time_limit) if runs else 0.0,
        seconds=time.perf_counter() - t0,
        notes=tuple(notes),
        priced_bound=None if priced is None else priced[0],
        priced={} if priced is None else priced[1],
    )


def _labels(venue_of: np.ndarray) -> np.ndarray:
    return np.unique(venue_of, return_inverse=True)[1]
