"""Edit a layout by hand: move one centre to another cluster, re-price it, check it.

What a person adjusting a layout in the app does. The edited layout keeps its
lower bound (it bounds every layout of the problem), its objective is recomputed
from the layout's own objective, and the independent checker says which rules
the edit breaks — it is reported, not raised, so the person can see and undo it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from ..errors import InputError
from ..model.layout import Layout
from ..solver.coordinators import coordinator_of
from .check import CheckReport, check_layout

__all__ = ["move_centre"]


def move_centre(layout: Layout, centre_id: object, cluster: int) -> tuple[Layout, CheckReport]:
    """A copy of ``layout`` with ``centre_id`` moved into cluster ``cluster``, and its check.

    The target cluster keeps its venue. When the centre was its old cluster's
    venue, the old cluster meets at the remaining member with the least total
    cost to the others. Coordinators are re-picked by the layout's coordinator
    rule. ``distance``, ``is_venue``, ``coordinator``, the objective and its
    parts are recomputed; ``stats["checker"]`` is ``"passed"`` or ``"failed"``
    and ``status`` is ``"edited"``.

    Parameters
    ----------
    layout
        A layout made by :func:`clustering.form_clusters` (its ``problem`` is used).
    centre_id
        The centre to move (as in ``assignments.csv``).
    cluster
        The label of an existing cluster to move it into.

    Returns
    -------
    (Layout, CheckReport)
        The edited layout and what the checker found (``report.violations``
        names every rule the edit breaks).

    Examples
    --------
    >>> import clustering
    >>> centres = clustering.load_centres("data/sample/surrey_primary_schools_2022.csv")
    >>> layout = clustering.form_clusters(centres, time_limit=2, baselines=False)
    >>> member = layout.centres[~layout.centres["is_venue"]].iloc[0]
    >>> other = 1 if member["cluster"] != 1 else 2
    >>> moved, report = clustering.move_centre(layout, member["centre_id"], other)
    >>> moved.objective >= layout.lower_bound
    True
    """
    problem = layout.problem
    if problem is None:
        raise InputError(
            "this layout was read back from files, so it cannot be re-priced",
            fix="move centres in a layout made by form_clusters in this session",
        )
    frame = layout.centres
    ids = frame["centre_id"].astype(str).to_numpy()
    rows = np.flatnonzero(ids == str(centre_id).strip())
    if len(rows) == 0:
        raise InputError(f"no centre {centre_id!r} in this layout", fix="use an id from it")
    i = int(rows[0])
    labels = frame["cluster"].astype(int).to_numpy()
    if int(cluster) not in set(labels.tolist()):
        raise InputError(
            f"there is no cluster {cluster} in this layout",
            fix=f"use a cluster from 1 to {labels.max()}",
        )
    costs = problem.costs.matrix
    n = len(frame)
    venue_of = _venue_rows(frame)
    old = labels[i]
    new_labels = labels.copy()
    new_labels[i] = int(cluster)
    if old != int(cluster):
        target_venue = venue_of[np.flatnonzero(labels == int(cluster))[0]]
        was_venue = venue_of[i] == i
        venue_of[i] = target_venue
        if was_venue:
            rest = np.flatnonzero(new_labels == old)
            if len(rest):
                totals = costs[np.ix_(rest, rest)].sum(axis=0)
                venue_of[rest] = rest[int(np.argmin(totals))]
    edited = frame.copy()
    edited["cluster"] = new_labels
    edited["is_venue"] = venue_of == np.arange(n)
    edited["distance"] = costs[np.arange(n), venue_of]
    edited["coordinator"] = coordinator_of(venue_of, costs, problem.compiled.coordinators)
    # the quality record measured the layout before the move: it is measured again on request
    stats = {k: v for k, v in layout.stats.items() if k not in ("stopped", "quality")}
    stats["objective_parts"] = problem.objective.parts(costs, venue_of)
    out = replace(
        layout,
        centres=edited,
        objective=float(problem.objective.cost(costs, venue_of)),
        status="edited",
        stats=stats,
        baselines=None,
    )
    # straight lines are recomputed by the checker; a travel matrix (in any unit) is
    # the one the layout was formed with
    matrix = None
    if problem.costs.source != "euclidean":
        matrix = pd.DataFrame(costs, index=ids, columns=ids)
    report = check_layout(
        out,
        problem.rule,
        input_ids=problem.input_ids,
        matrix=matrix,
        weights=problem.objective.weights,
        constraints=problem.constraints,
    )
    stats["checker"] = "passed" if report.ok else "failed"
    return out, report


def _venue_rows(frame: pd.DataFrame) -> np.ndarray:
    """Each centre's venue as a row number."""
    labels = frame["cluster"].astype(int).to_numpy()
    venues = np.flatnonzero(frame["is_venue"].astype(bool).to_numpy())
    row_of = {int(labels[v]): int(v) for v in venues}
    return np.array([row_of[int(k)] for k in labels])
