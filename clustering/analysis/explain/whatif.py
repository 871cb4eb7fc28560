"""The what-if: the exact change of every part of the objective, and the rules broken, if a
centre moved to another cluster (or swapped into it).

:func:`evaluate` prices given candidates; :func:`choose` prices a plain move where
the size and weight rules allow one, else the best swap. Each term of the
objective prices the candidates itself (:meth:`clustering.model.terms.Term.what_if`).
:class:`WhatIf` and :class:`MoveCosts` are the public face of both, for the reports
beside the explanations (re-forming).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...model.layout import Layout
from ...model.terms import Moves
from .arrays import Arrays, Choice
from .rules import blockers, broken, size_note
from .words import parts_text

__all__ = ["Choice", "MoveCosts", "WhatIf", "choose", "evaluate"]


def _rest(arrays: Arrays, a: int, i: int, j: int) -> np.ndarray:
    m = arrays.members[a]
    m = m[m != i]
    return np.append(m, j) if j >= 0 else m


def evaluate(arrays: Arrays, i: np.ndarray, b: np.ndarray, j: np.ndarray) -> Choice:
    """Exact changes and broken rules of each candidate: ``i`` to cluster ``b``,
    and, where ``j >= 0``, ``j`` (a member of ``b``) to ``i``'s cluster."""
    i, b, j = (np.asarray(x, dtype=np.int64) for x in (i, b, j))
    a = arrays.k_of[i]
    va, vb = arrays.venues[a], arrays.venues[b]

    # a venue that moves hands its cluster to the member that serves the rest best
    new_va = va.copy()
    host_ok = np.ones(len(i), dtype=bool)
    rests: dict[int, np.ndarray] = {}
    for c in np.flatnonzero(i == va):
        rest = _rest(arrays, int(a[c]), int(i[c]), int(j[c]))
        rests[c] = rest
        if len(rest) == 0:
            new_va[c] = -1
            continue
        score = arrays.arc[np.ix_(rest, rest)].sum(axis=0)
        if arrays.allowed is not None:
            ok = arrays.allowed[np.ix_(rest, rest)].all(axis=0)
            if ok.any():
                score = np.where(ok, score, np.inf)
            else:
                host_ok[c] = False
        new_va[c] = rest[int(np.argmin(score))]

    moves = Moves(i, b, j, a, va, vb, new_va, rests, arrays.clusters, arrays.members)
    parts = {"travel": moves.matrix_change(arrays.costs) * arrays.objective.travel_scale}
    for name, changes in arrays.what_if:
        parts[name] = changes(moves)
    parts = {name: parts[name] for name in arrays.base_parts}  # the objective's order
    total = sum(arrays.weights[name] * d for name, d in parts.items())

    flags = broken(arrays, moves, host_ok)
    names = list(flags)
    return Choice(i, b, j, new_va, total, parts, np.vstack([flags[k] for k in names]), names)


def choose(arrays: Arrays, i: np.ndarray, b: np.ndarray) -> Choice:
    """For each pair (centre ``i``, cluster ``b``): a plain move when the size and
    weight bounds allow it, otherwise the best swap with a member of ``b``."""
    i, b = np.asarray(i, dtype=np.int64), np.asarray(b, dtype=np.int64)
    plain = evaluate(arrays, i, b, np.full(len(i), -1))
    size_rules = [
        k
        for k, name in enumerate(plain.names)
        if name in ("full", "small") or name.startswith("weight")
    ]
    plain.size_flags = np.zeros_like(plain.flags)
    plain.size_flags[size_rules] = plain.flags[size_rules]
    need = plain.size_flags.any(axis=0)
    pairs = np.flatnonzero(need)
    if len(pairs) == 0:
        return plain
    partners = arrays.padded[b[pairs]]
    ok = (partners >= 0) & (partners != arrays.venues[b[pairs]][:, None])
    pair_of = np.broadcast_to(pairs[:, None], partners.shape)[ok]
    if len(pair_of) == 0:
        return plain
    swap = evaluate(arrays, i[pair_of], b[pair_of], partners[ok])
    # per pair: the cheapest swap that breaks no rule, else the cheapest of all
    order = np.lexsort((swap.total, swap.blocked(), pair_of))
    first = np.ones(len(order), dtype=bool)
    first[1:] = pair_of[order][1:] != pair_of[order][:-1]
    best = order[first]
    where = pair_of[best]
    out = plain
    out.j[where] = swap.j[best]
    out.new_venue[where] = swap.new_venue[best]
    out.total[where] = swap.total[best]
    for name in out.parts:
        out.parts[name][where] = swap.parts[name][best]
    out.flags[:, where] = swap.flags[:, best]
    return out


@dataclass
class MoveCosts:
    """What moving each centre ``rows[c]`` to cluster ``clusters[c]`` would cost.

    Each is a plain move where the size and weight rules allow one; otherwise
    the best swap with a member of that cluster (not its venue): the cheapest
    that breaks no rule, else the cheapest of all. A venue that moves hands its
    cluster to the member that serves the rest at least cost.

    Attributes
    ----------
    rows, clusters : numpy.ndarray
        The centres (rows of ``layout.centres``) and the cluster indices priced.
    swap_with : numpy.ndarray
        The row each swaps with, ``-1`` for a plain move.
    new_venue : numpy.ndarray
        The venue (row) of the centre's own cluster afterwards; ``-1`` when the
        cluster would vanish.
    change : numpy.ndarray
        The change of the weighted total, in km (or the travel matrix's unit):
        ``objective.cost`` of the changed layout minus that of the layout,
        times the travel scale.
    parts : dict of str to numpy.ndarray
        The change of each part of the objective, in its own unit.
    """

    rows: np.ndarray
    clusters: np.ndarray
    swap_with: np.ndarray
    new_venue: np.ndarray
    change: np.ndarray
    parts: dict[str, np.ndarray]
    _arrays: Arrays = field(repr=False)
    _choice: Choice = field(repr=False)

    def __len__(self) -> int:
        return len(self.rows)

    def blocked(self) -> np.ndarray:
        """Whether each would break a rule."""
        return self._choice.blocked()

    def blocked_by(self, c: int) -> list[str]:
        """The rules candidate ``c`` would break, in words (empty when none)."""
        return blockers(self._arrays, self._choice, c)

    def why_swap(self, c: int) -> str:
        """Why candidate ``c`` is a swap: the size or weight rules a plain move would break
        (empty for a plain move)."""
        return size_note(self._arrays, self._choice, c)

    def parts_text(self, c: int) -> str:
        """The weighted parts candidate ``c`` changes, in prose.

        E.g. ``travel +1.20 km, fsm_pct +3.4 (×1)``; ``no part changes`` when none does.
        """
        return parts_text(self._arrays, self._choice, c)


class WhatIf:
    """A layout as arrays over its centres and clusters, and the cost of moving centres.

    Centres are the rows of ``layout.centres``; clusters are indexed ``0..k-1``
    in the order of their venue rows. This is what the explanations use,
    exposed for the reports beside them (:mod:`clustering.analysis.reform`).

    Parameters
    ----------
    layout
        A layout made by :func:`clustering.form_clusters` (its ``problem`` is used).

    Attributes
    ----------
    n, k : int
        The numbers of centres and clusters.
    ids, names : numpy.ndarray
        Each row's centre id, and name (empty when it has none).
    row_of : dict of str to int
        The row of each centre id.
    cluster_of : numpy.ndarray
        Each row's cluster index.
    venue_of : numpy.ndarray
        Each row's venue (a row).
    venues, labels, size : numpy.ndarray
        Each cluster's venue (a row), label (as in ``layout.centres["cluster"]``)
        and number of members.
    max_size : int
        The most members a cluster may have.
    costs : numpy.ndarray
        ``(n, n)`` member → venue costs (metres, or the travel matrix's unit).
    factor : float
        Multiplies costs into the distances reported (km for metres).
    suffix, unit_text : str
        The distance unit in column names and in prose (``km``, or the matrix unit).

    Raises
    ------
    ValueError
        When the layout has no solved problem (see :func:`can_explain`).

    Examples
    --------
    >>> what = WhatIf(layout)                                  # doctest: +SKIP
    >>> costs = what.price([5], [what.cluster_index("3")])     # doctest: +SKIP
    >>> costs.change[0], costs.blocked_by(0)                   # doctest: +SKIP
    (1.84, [])
    """

    def __init__(self, layout: Layout):
        self._arrays = arrays = Arrays(layout)
        self.n, self.k = arrays.n, arrays.k
        self.ids, self.names, self.row_of = arrays.ids, arrays.names, arrays.row_of
        self.cluster_of, self.venue_of = arrays.k_of, arrays.venue_of
        self.venues, self.labels, self.size = arrays.venues, arrays.labels, arrays.size
        self.max_size = arrays.max_size
        self.costs, self.factor = arrays.costs, arrays.factor
        self.suffix, self.unit_text = arrays.suffix, arrays.unit_text

    def cluster_index(self, label) -> int | None:
        """The index of the cluster labelled ``label`` (text or number), ``None`` if none is."""
        return self._arrays.index_of_label.get(str(label))

    def label(self, k: int) -> int:
        """Cluster ``k``'s label."""
        return self._arrays.label(k)

    def who(self, row: int) -> str:
        """A centre in prose: ``Name (id)``, or its id alone."""
        return self._arrays.who(row)

    def distance_text(self, cost: float) -> str:
        """A cost as a distance in prose, e.g. ``3.2 km``."""
        return self._arrays.dist(cost)

    def venue_rank(self) -> np.ndarray:
        """Each row's venue's rank among the venues it could use (1 = the nearest)."""
        arrays = self._arrays
        return arrays.venue_ranks(np.arange(arrays.n)).rank

    def price(self, rows, clusters) -> MoveCosts:
        """What moving each centre ``rows[c]`` to cluster index ``clusters[c]`` would cost.

        Parameters
        ----------
        rows, clusters
            Equal-length sequences: centres (rows) and the clusters (indices) to
            move them to, each other than the centre's own.

        Returns
        -------
        MoveCosts
            The change of the total and of each part, the swap partner where a
            swap was priced, and the rules each would break.
        """
        choice = choose(self._arrays, rows, clusters)
        return MoveCosts(
            choice.i,
            choice.b,
            choice.j,
            choice.new_venue,
            choice.total,
            choice.parts,
            self._arrays,
            choice,
        )
