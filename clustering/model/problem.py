"""One instance, compiled: the centres taking part, their costs, rules and objective.

:func:`build_problem` turns what a user says (centres, a size rule, weights,
constraints, an optional travel matrix) into a :class:`Problem`: the centres
left out are moved to ``excluded`` with their reasons, the rules become arrays
over the centres that take part, and rules that cannot hold together are
reported before any solver runs. The solver reads a problem; the checker,
explanations, re-forming and baselines read the same problem from the layout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InfeasibleError, InputError
from ..input.load import Centres
from .costs import Costs, euclidean_costs, matrix_costs, read_cost_matrix
from .objective import Objective, Weights, build_objective
from .rules import Compiled, Constraints, compile_rules, eligible
from .sizes import Bounds, Quota, SizeRule

__all__ = ["Problem", "build_problem"]


@dataclass(frozen=True)
class Problem:
    """One instance, ready for the solver: every array is over ``centres.frame``'s rows.

    Attributes
    ----------
    centres
        The centres that take part (``frame``) and those left out with their
        reasons (``excluded``): closed, no coordinates, no consent, listed for
        exclusion, missing from the travel matrix, no value to size by.
    rule
        The size rule as the user gave it.
    constraints
        The constraints as the user gave them (by centre id).
    costs
        Member → venue costs (metres, or the travel matrix's unit).
    compiled
        The constraints as row indices (links, allowed pairs, coordinators, regions).
    objective
        Every weighted term of the objective.
    quotas
        Each quota with the centres that count for it; a willing coordinator
        per cluster is one more quota when a coordinator rule is set.
    loads
        Each centre's value of ``rule.size_by`` (``None`` without it).
    locked
        Previous cluster label → (member rows, venue row) of the clusters kept as they were.
    input_ids
        Every centre id of the input, excluded ones included.
    distances
        The travel matrix as given (a file or a frame), or ``None`` for straight lines.
    """

    centres: Centres
    rule: SizeRule
    constraints: Constraints
    costs: Costs
    compiled: Compiled
    objective: Objective
    quotas: tuple[tuple[Quota, np.ndarray], ...] = ()
    loads: np.ndarray | None = None
    locked: dict[str, tuple[np.ndarray, int]] = field(default_factory=dict)
    input_ids: tuple[str, ...] = ()
    distances: str | Path | pd.DataFrame | None = None

    @property
    def frame(self) -> pd.DataFrame:
        """The centres that take part (a GeoDataFrame in a metric CRS)."""
        return self.centres.frame

    @property
    def n(self) -> int:
        return len(self.centres.frame)

    @property
    def xy(self) -> np.ndarray:
        """Projected coordinates in metres, ``(n, 2)``."""
        frame = self.centres.frame
        return np.column_stack([frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy()])

    def hard_bounds(self) -> Bounds:
        """The pairwise rules as :class:`~clustering.model.sizes.Bounds` (no count yet)."""
        c = self.compiled
        return Bounds(
            self.n,
            self.rule.min_size,
            self.rule.max_size,
            0,
            allowed=c.allowed,
            together=tuple(c.together),
            apart=tuple(c.apart),
        )


def build_problem(
    centres: Centres,
    rule: SizeRule | None = None,
    *,
    distances: str | Path | pd.DataFrame | None = None,
    weights: Weights | None = None,
    constraints: Constraints | None = None,
) -> Problem:
    """Compile ``centres`` and the user's settings into a :class:`Problem`.

    Raises
    ------
    InputError
        A setting names a column or a centre the input does not have.
    InfeasibleError
        Rules that cannot hold together (checked before any solver runs).
    """
    rule = rule or SizeRule()
    constraints = constraints or Constraints()
    input_ids = tuple(centres.frame["centre_id"].tolist() + centres.excluded["centre_id"].tolist())
    known = set(map(str, input_ids))
    centres = _exclusions(centres, constraints, known)
    if rule.size_by is not None:
        centres = _require_weights(centres, rule.size_by)
    centres, costs = _costs(centres, distances)
    frame = centres.frame
    if len(frame) == 0:
        raise InfeasibleError("there are no centres to cluster (all were excluded)")
    compiled = compile_rules(
        frame,
        constraints,
        costs=costs.matrix,
        unit=costs.unit,
        known_ids=known,
        max_size=rule.max_size,
        min_size=rule.min_size,
    )
    objective = build_objective(
        frame,
        weights,
        unit=costs.unit,
        source=centres.source,
        pairs=compiled.pairs,
        moved=compiled.moved,
        crossings=compiled.crossings,
    )
    loads = None if rule.size_by is None else frame[rule.size_by].to_numpy(dtype=float)
    masks = _quota_masks(centres, rule)
    quotas = list(rule.quotas)
    if compiled.coordinators is not None:
        quotas.append(
            Quota(
                "coordinator",
                "eligible",
                1,
                None,
                about=f"a willing coordinator ({constraints.coordinator})",
            )
        )
        masks.append(compiled.coordinators)
    locked = _locked_clusters(frame, constraints, rule, masks, quotas, loads, compiled)
    return Problem(
        centres=centres,
        rule=rule,
        constraints=constraints,
        costs=costs,
        compiled=compiled,
        objective=objective,
        quotas=tuple(zip(quotas, masks, strict=True)),
        loads=loads,
        locked=locked,
        input_ids=input_ids,
        distances=distances,
    )


def _exclusions(centres: Centres, constraints: Constraints, known: set[str]) -> Centres:
    """Leave out centres the participation rule does not take, those without consent and
    those the exclusion list names (with reasons)."""
    frame = centres.frame
    if constraints.only is not None:
        ok = eligible(frame, constraints.only, source=constraints.source)
        centres = centres.exclude(~ok, f"not taking part (the rule is: {constraints.only})")
        frame = centres.frame
    if constraints.consent is not None:
        column = constraints.consent
        if column not in frame.columns:
            raise InputError(
                f"consent names {column!r}, which the centres do not have",
                file=constraints.source,
                column=column,
                fix="name the column that marks consent (yes/true/1)",
            )
        ok = eligible(frame, column, source=constraints.source)
        centres = centres.exclude(~ok, f"no consent ({column} is not yes)")
    if constraints.exclude:
        unknown = [c for c in constraints.exclude if str(c) not in known]
        if unknown:
            shown = ", ".join(repr(" ".join(str(c).split())[:40]) for c in unknown[:5])
            raise InputError(
                f"the exclusion list names {len(unknown)} id(s) the centres file does not "
                f"have: {shown}",
                file=constraints.source,
                fix="use centre ids from the input (e.g. URNs)",
            )
        ids = centres.frame["centre_id"].astype(str)
        for reason in sorted(set(map(str, constraints.exclude.values()))):
            listed = {str(c) for c, r in constraints.exclude.items() if str(r) == reason}
            centres = centres.exclude(ids.isin(listed).to_numpy(), reason)
            ids = centres.frame["centre_id"].astype(str)
    return centres


def _require_weights(centres: Centres, column: str) -> Centres:
    if column not in centres.frame.columns:
        raise InputError(
            f"size_by names {column!r}, which the centres do not have",
            file=centres.source,
            column=column,
            fix=f"use one of {', '.join(c for c in centres.frame.columns if c != 'geometry')}",
        )
    values = pd.to_numeric(centres.frame[column], errors="coerce")
    frame = centres.frame.copy()  # the caller's centres stay as they were
    frame[column] = values
    centres = Centres(frame, centres.excluded, centres.source, centres.schema, centres.columns)
    return centres.exclude(values.isna().to_numpy(), f"no {column} value to size clusters by")


def _costs(centres: Centres, distances) -> tuple[Centres, Costs]:
    frame = centres.frame
    if distances is None:
        xy = np.column_stack([frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy()])
        return centres, euclidean_costs(xy)
    ids = frame["centre_id"].astype(str).tolist()
    if isinstance(distances, pd.DataFrame):
        costs, missing = matrix_costs(distances, ids)
        name = "given"
    else:
        costs, missing = read_cost_matrix(distances, ids)
        name = Path(distances).name
    if missing:
        centres = centres.exclude(
            frame["centre_id"].isin(missing).to_numpy(), f"not in the travel matrix {name}"
        )
    found = centres.frame["centre_id"].astype(str).tolist()
    if len(found) == 0:
        raise InputError(
            "no centre of the input appears in the matrix",
            file=str(distances),
            fix="use the same ids as the centres file",
        )
    return centres, costs


def _quota_masks(centres: Centres, rule: SizeRule) -> list[np.ndarray]:
    """For each quota, which centres count towards it."""
    masks = []
    for quota in rule.quotas:
        if quota.column not in centres.frame.columns:
            raise InputError(
                f"a quota names {quota.column!r}, which the centres do not have",
                file=centres.source,
                column=quota.column,
                fix="use one of "
                + ", ".join(c for c in centres.frame.columns if c not in {"geometry", "row"}),
            )
        values = centres.frame[quota.column].astype(object)
        text = values.where(values.notna(), "").astype(str).str.strip().str.lower()
        masks.append((text == str(quota.value).strip().lower()).to_numpy())
    return masks


def _locked_clusters(frame, constraints, rule, masks, quotas, loads, compiled):
    """Previous clusters kept whole: label → (member rows, venue row), checked."""
    out: dict[str, tuple[np.ndarray, int]] = {}
    if not constraints.lock_clusters:
        return out
    prev = constraints.previous
    if prev is None:
        raise InputError(
            "lock_clusters needs the previous layout",
            file=constraints.source,
            fix="give previous = the assignments.csv of the layout being re-formed",
        )
    ids = frame["centre_id"].astype(str).to_numpy()
    labels = np.array([prev.cluster.get(c) for c in ids], dtype=object)
    known = set(prev.cluster.values())
    for label in map(str, constraints.lock_clusters):
        if label not in known:
            raise InputError(
                f"locked cluster {label!r} is not in the previous layout",
                file=prev.source,
                column="cluster",
                fix="lock clusters by the labels of the previous assignments.csv",
            )
        members = np.flatnonzero(labels == label)
        before = sum(1 for v in prev.cluster.values() if v == label)
        venue_id = prev.venue.get(label)
        if venue_id is None:
            raise InputError(
                f"the previous layout does not say which centre was cluster {label}'s venue, "
                "so the cluster cannot be kept as it was",
                file=prev.source,
                fix="give the assignments.csv of the earlier run (it has is_venue and venue_id)",
            )
        where = {c: k for k, c in enumerate(ids)}
        if venue_id is None or venue_id not in where or where[venue_id] not in members:
            raise InfeasibleError(
                f"locked cluster {label} cannot keep its venue ({venue_id}): it no longer "
                "takes part; unlock the cluster so it can be re-formed"
            )
        if not rule.min_size <= len(members) <= rule.max_size:
            raise InfeasibleError(
                f"locked cluster {label} now has {len(members)} members ({before} before), "
                f"outside the sizes {rule.min_size}–{rule.max_size}; unlock it"
            )
        if loads is not None:
            load = float(loads[members].sum())
            lo, hi = rule.min_weight or 0.0, rule.max_weight or np.inf
            if not lo - 1e-9 <= load <= hi + 1e-9:
                raise InfeasibleError(
                    f"locked cluster {label} has {rule.size_by} {load:g}, outside "
                    f"{lo:g}–{hi:g}; unlock it"
                )
        for quota, mask in zip(quotas, masks, strict=True):
            count = int(mask[members].sum())
            q_hi = rule.max_size if quota.max is None else quota.max
            if not quota.min <= count <= q_hi:
                raise InfeasibleError(
                    f"locked cluster {label} has {count} centre(s) with {quota.label()}, "
                    f"but each cluster needs {quota.min}–{q_hi}; unlock it"
                )
        if compiled.allowed is not None and not compiled.allowed[members, where[venue_id]].all():
            raise InfeasibleError(
                f"locked cluster {label} has members beyond the maximum distance "
                f"{constraints.max_distance:g} from its venue; unlock it or raise max_distance"
            )
        if compiled.regions is not None and len(set(compiled.regions[members].tolist())) > 1:
            raise InfeasibleError(
                f"locked cluster {label} spans several {constraints.boundary} areas, and "
                "clusters may not cross; unlock it or set cross_boundary = true"
            )
        inside = set(members.tolist())
        for g in compiled.apart:
            hit = inside & set(g.tolist())
            if len(hit) > 1:
                raise InfeasibleError(
                    f"locked cluster {label} holds centres that must be kept apart "
                    f"({', '.join(ids[sorted(hit)][:4])}); unlock it or drop the cannot-link"
                )
        for g in compiled.together:
            hit = inside & set(g.tolist())
            if hit and len(hit) < len(g):
                raise InfeasibleError(
                    f"locked cluster {label} holds only part of a must-link group "
                    f"({', '.join(ids[g][:4])}); unlock it or drop the link"
                )
        out[label] = (members, where[venue_id])
    return out
