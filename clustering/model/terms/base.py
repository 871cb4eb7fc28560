"""The protocol every objective term follows, the data it is built from, and the registry.

A term is one weighted part of the objective (see :mod:`clustering.model.terms`
for how to add one). What it must say:

* ``weight_name`` (class): the entry of :class:`~clustering.model.weights.Weights`
  that prices it;
* ``build(frame, weights, data)`` (classmethod): its instances for these centres
  (none when it is not asked for);
* ``name`` and ``weight``: the part's name in :meth:`Objective.parts` and the km
  (or matrix units) one unit of it is worth;
* ``value(venue_of, labels)``: the part, in its own unit, for a layout;
* ``restricted(rows)``: the same term for the centres ``rows`` only (a sub-problem).

What it may add, each with a generic fallback here:

* ``cpsat(model)``: its CP-SAT encoding (integer coefficients). Without one the
  term is left out of the model, which then solves a relaxation: its bound stays
  valid (terms are never negative) and every layout it returns is re-priced with
  the whole objective before it is kept.
* ``exchange(clusters, travel_scale)``: the exact change of its cost during the
  exchange search. Without one the term is re-evaluated with ``value`` on each
  priced move (exact, ``O(n)`` per move). Either way, unless its state is
  ``vectorised`` (prices every candidate, as contrast does), the term — like
  themes and partnerships — corrects the price of each step's best candidate
  only: the search does not go looking for what improves it.
* ``what_if(clusters)``: the exact change of the part for many candidate moves at
  once (the explanations). Without one each changed layout is built and
  re-evaluated with ``value`` (exact, ``O(n)`` per candidate).

Terms with ``arc = True`` are counts charged per member for its venue
(``counts[i, j]``); they are folded into the member → venue costs, so the
construction, the bound and every search see them exactly, and need none of
the three.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np
import pandas as pd

from ...errors import InputError

if TYPE_CHECKING:
    from ..weights import Weights

__all__ = [
    "Clusters",
    "CpSatModel",
    "ExchangeDelta",
    "Moves",
    "Term",
    "TermData",
    "non_negative",
    "register",
    "registered",
    "require_column",
    "unregister",
]


@dataclass(frozen=True)
class TermData:
    """What the rules compiled for the terms, beside the centres' own columns.

    ``pairs`` are the soft partnerships (row indices); ``moved`` and
    ``crossings`` are ``(n, n)`` 0/1 counts: member ``i`` meeting at venue ``j``
    leaves its previous cluster / crosses its boundary.
    """

    unit: str
    source: str = "<centres>"
    pairs: np.ndarray | None = None
    moved: np.ndarray | None = None
    crossings: np.ndarray | None = None


@dataclass(frozen=True)
class CpSatModel:
    """The CP-SAT model a term adds its encoding to.

    ``x[i, j]`` is the boolean "centre ``i`` meets at venue ``j``" (``x[j, j]``:
    ``j`` is a venue), for each ``j`` in ``cand[i]``; ``members_of[j]`` lists
    the centres that may meet at ``j``. The objective is minimised in integer
    units: one cost unit (metre, or matrix unit) is ``scale`` of them.
    """

    model: Any  # ortools.sat.python.cp_model.CpModel
    x: dict[tuple[int, int], Any]
    cand: list[np.ndarray]
    members_of: list[list[int]]
    travel_scale: float
    scale: float

    def coefficient(self, weight: float) -> int:
        """Integer objective units per unit of a part weighted ``weight``, rounded down.

        Rounding down keeps every layout's integer total at most its true total,
        so the bound CP-SAT proves is a bound on the true totals too.
        """
        return int(np.floor(weight / self.travel_scale * self.scale))


@dataclass
class Clusters:
    """A layout as cluster indices: ``label[i]`` is centre ``i``'s cluster, ``venues[k]``
    cluster ``k``'s venue (row). The searches update ``label`` in place."""

    label: np.ndarray
    venues: np.ndarray

    @property
    def k(self) -> int:
        return len(self.venues)

    def venue_of(self, label: np.ndarray | None = None) -> np.ndarray:
        return self.venues[self.label if label is None else label]


@dataclass
class Moves:
    """Candidate changes of a layout, one per index ``c``.

    Centre ``i[c]`` (of cluster ``a[c]``, venue ``va[c]``) joins cluster ``b[c]``
    (venue ``vb[c]``); where ``j[c] >= 0``, ``j[c]`` (a member of ``b[c]``) joins
    ``i``'s cluster in exchange. Every venue stays, except that a venue that moves
    hands its cluster to ``new_va[c]`` (``-1``: the cluster vanishes);
    ``rests[c]`` are then the members its cluster keeps.
    """

    i: np.ndarray
    b: np.ndarray
    j: np.ndarray
    a: np.ndarray
    va: np.ndarray
    vb: np.ndarray
    new_va: np.ndarray
    rests: dict[int, np.ndarray]
    clusters: Clusters
    members: list[np.ndarray]  # per cluster
    has: np.ndarray = field(init=False)
    hf: np.ndarray = field(init=False)
    jj: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.has = self.j >= 0
        self.hf = self.has.astype(float)
        self.jj = np.where(self.has, self.j, self.i)  # a stand-in where there is no partner

    def __len__(self) -> int:
        return len(self.i)

    def matrix_change(self, x) -> np.ndarray:
        """The change of ``Σ_members x[member, venue]`` for each candidate."""
        i, jj, hf, va, vb = self.i, self.jj, self.hf, self.va, self.vb
        d = x[i, vb] - x[i, va] + hf * (x[jj, va] - x[jj, vb])
        for c, rest in self.rests.items():
            after = x[rest, self.new_va[c]].sum() if self.new_va[c] >= 0 else 0.0
            before = x[self.members[self.a[c]], va[c]].sum()
            d[c] = after - before + x[i[c], vb[c]] - hf[c] * x[jj[c], vb[c]]
        return d

    def venue_of(self, c: int) -> np.ndarray:
        """The whole layout (each centre's venue row) after candidate ``c``."""
        out = self.clusters.venue_of().copy()
        i, j, va, new_va = int(self.i[c]), int(self.j[c]), int(self.va[c]), int(self.new_va[c])
        own = va
        if i == va and new_va >= 0:
            own = new_va
            out[self.members[self.a[c]]] = new_va
        out[i] = self.vb[c]
        if j >= 0:
            out[j] = own
        return out


class ExchangeDelta(Protocol):
    """One term's running state in the exchange search, in cost units.

    ``delta(moves, label)`` is the change if each ``(centre, from, to)`` of
    ``moves`` were made (``label`` shows them made; the shared
    ``Clusters.label`` does not yet); ``apply(moves)`` is called once they are
    (``Clusters.label`` shows them). With ``vectorised = True`` the search also
    calls ``swaps(a, b, ia, ib)`` (every swap of a member of ``ia`` in cluster
    ``a`` with one of ``ib`` in ``b``: an ``(len(ia), len(ib))`` array) and
    ``moves(a, b, ia)`` on every candidate, and never ``delta``.
    """

    vectorised: bool

    def delta(self, moves: list[tuple[int, int, int]], label: np.ndarray) -> float: ...

    def apply(self, moves: list[tuple[int, int, int]]) -> None: ...


class Term:
    """One weighted part of the objective; subclass it (see :mod:`.base` for the protocol).

    Subclasses are usually frozen dataclasses holding the term's arrays (one
    row per centre) with ``weight`` and, unless ``name`` is a property, ``name``.
    """

    #: the entry of :class:`~clustering.model.weights.Weights` that prices this kind:
    #: a field (``contrast``, ``themes``, ``partnerships``, ``stability``, ``boundary``)
    #: or a key of ``Weights.extra``
    weight_name: ClassVar[str] = ""
    #: a count charged per member for its venue (``counts[i, j]``), folded into the
    #: member → venue costs
    arc: ClassVar[bool] = False

    name: str
    weight: float

    @classmethod
    def build(cls, frame: pd.DataFrame, weights: Weights, data: TermData) -> Sequence[Term]:
        """This kind's terms for the centres ``frame`` (``[]`` when not asked for).

        Raise :class:`~clustering.errors.InputError` for a weight or a column the
        centres cannot have.
        """
        raise NotImplementedError

    def value(self, venue_of: np.ndarray, labels: np.ndarray) -> float:
        """The part in its own unit; ``labels`` numbers the clusters ``0..k-1`` (by venue)."""
        raise NotImplementedError

    def restricted(self, rows: np.ndarray) -> Term:
        """The same term for the centres ``rows`` only (rows renumbered ``0..len-1``)."""
        raise NotImplementedError

    def cpsat(self, model: CpSatModel) -> Any:
        """A linear expression (integer objective units) for CP-SAT to minimise, or ``None``
        when the term has no encoding (it is then left out: see the module notes)."""
        return None

    def exchange(self, clusters: Clusters, travel_scale: float) -> ExchangeDelta | None:
        """Its state in the exchange search, or ``None`` when it cannot change the cost."""
        if self.weight <= 0:
            return None
        return _Recount(self, clusters, travel_scale)

    def what_if(self, clusters: Clusters) -> Callable[[Moves], np.ndarray]:
        """For the layout ``clusters``: a function giving the part's change for each move."""
        venue_of = clusters.venue_of()
        base = self.value(venue_of, clusters.label)

        def changes(moves: Moves) -> np.ndarray:
            out = np.empty(len(moves))
            for c in range(len(moves)):
                after = moves.venue_of(c)
                out[c] = self.value(after, np.unique(after, return_inverse=True)[1]) - base
            return out

        return changes


class _Recount:
    """The generic exchange state: re-evaluate the term on the changed labels."""

    vectorised = False

    def __init__(self, term: Term, clusters: Clusters, travel_scale: float):
        self.term, self.clusters = term, clusters
        self.w = term.weight / travel_scale
        self.current = self._value(clusters.label)

    def _value(self, label: np.ndarray) -> float:
        return self.term.value(self.clusters.venue_of(label), label)

    def delta(self, moves, label) -> float:
        return self.w * (self._value(label) - self.current)

    def apply(self, moves) -> None:
        self.current = self._value(self.clusters.label)


_REGISTRY: list[type[Term]] = []


def register(kind: type[Term]) -> type[Term]:
    """Add a kind of term to the objective (use as a class decorator); returns it.

    Terms are built, reported and modelled in the order they were registered.
    Registering the same class twice does nothing.

    Raises
    ------
    ValueError
        Another registered kind already uses ``kind.weight_name``.
    """
    if kind in _REGISTRY:
        return kind
    if not kind.weight_name:
        raise ValueError(f"{kind.__name__} has no weight_name")
    for other in _REGISTRY:
        if other.weight_name == kind.weight_name:
            raise ValueError(
                f"{kind.__name__}: the weight {kind.weight_name!r} already prices {other.__name__}"
            )
    _REGISTRY.append(kind)
    return kind


def unregister(kind: type[Term]) -> None:
    """Take a kind of term out of the objective (objectives built before keep it)."""
    if kind in _REGISTRY:
        _REGISTRY.remove(kind)


def registered() -> tuple[type[Term], ...]:
    """Every kind of term, in the order the objective builds them."""
    return tuple(_REGISTRY)


def non_negative(name: str, value: float, source: str) -> None:
    """Raise the input error for a negative weight ``value`` (named ``name``)."""
    if not value >= 0:
        raise InputError(f"{name} weight {value:g} is negative", file=source, fix="use 0 or more")


def require_column(frame: pd.DataFrame, attr: str, what: str, source: str) -> None:
    """Raise the input error for a term (``what``) naming a column the centres lack."""
    if attr not in frame.columns:
        raise InputError(
            f"{what} names {attr!r}, which the centres do not have",
            file=source,
            column=attr,
            fix="use one of " + ", ".join(c for c in frame.columns if c not in {"geometry", "row"}),
        )
