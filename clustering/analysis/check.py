"""The independent checker: the specification every layout must meet.

Written without the solver and without its data structures: it reads the
layout's table, recomputes distances from the coordinates (or looks them up in
the user's matrix by centre id), and lists every violation it finds. Every
layout the engine returns has passed it; tests use it to judge any layout.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..input.textfile import read_csv_text
from ..model.layout import Layout
from ..model.objective import Weights
from ..model.rules import Constraints
from ..model.sizes import SizeRule

__all__ = ["CheckReport", "check_layout"]

_REL_TOL = 1e-6


@dataclass
class CheckReport:
    """What the checker found; ``ok`` when there are no violations."""

    violations: list[str] = field(default_factory=list)
    recomputed_objective: float = math.nan
    #: objective terms the checker has no recomputation of its own for (terms added
    #: through :mod:`clustering.model.terms`): their parts come from their own module
    unchecked_terms: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def raise_if_failed(self) -> None:
        if self.violations:
            shown = "; ".join(self.violations[:10])
            more = len(self.violations) - 10
            raise AssertionError(
                f"layout failed the checker: {shown}" + (f" (+{more} more)" if more > 0 else "")
            )


def check_layout(
    layout: Layout,
    rule: SizeRule,
    *,
    input_ids: Iterable[str] | None = None,
    matrix: pd.DataFrame | str | Path | None = None,
    weights: Weights | None = None,
    constraints: Constraints | None = None,
) -> CheckReport:
    """Verify ``layout`` against ``rule``.

    Parameters
    ----------
    layout
        The layout to check.
    rule
        Size bounds, optional weight bounds and optional fixed cluster count.
    input_ids
        Every centre id of the input: each must be a member of exactly one
        cluster or excluded with a reason.
    matrix
        The user's cost matrix: its file (read here, independently of the
        engine's reader: ``from,to,<value>`` rows or a square table with ids in
        the first column and the header), or a square frame indexed by centre id
        (rows: member, columns: venue). A centre's cost to itself is zero.
        Without it, distances are straight lines between the projected
        coordinates, in metres.
    weights
        The objective's weights; the weighted total (travel plus contrast
        deviations, theme splits, split partnerships, moves and boundary
        crossings, recomputed here from the columns) must match
        ``layout.objective``. Travel alone when omitted.
    constraints
        Links, partnerships, coordinators, maximum distance, boundary, consent,
        exclusions and locks; each is verified.
    """
    report = CheckReport()
    bad = report.violations
    if matrix is not None and not isinstance(matrix, pd.DataFrame):
        matrix = _read_matrix(Path(matrix))
    frame = layout.centres
    ids = frame["centre_id"].astype(str)
    excluded_ids = layout.excluded["centre_id"].astype(str)

    # nothing lost, nothing twice
    for what, values in (("members", ids), ("excluded", excluded_ids)):
        dup = values[values.duplicated()]
        if len(dup):
            bad.append(f"{len(dup)} centre(s) listed twice among {what}, e.g. {dup.iloc[0]!r}")
    both = set(ids) & set(excluded_ids)
    if both:
        bad.append(f"{len(both)} centre(s) both in a cluster and excluded, e.g. {min(both)!r}")
    empty_reason = layout.excluded["reason"].fillna("").astype(str).str.strip() == ""
    if empty_reason.any():
        bad.append(f"{int(empty_reason.sum())} excluded centre(s) have no reason")
    if input_ids is not None:
        expected = {str(i) for i in input_ids}
        seen = set(ids) | set(excluded_ids)
        lost = expected - seen
        extra = seen - expected
        if lost:
            bad.append(
                f"{len(lost)} input centre(s) neither clustered nor excluded, e.g. {min(lost)!r}"
            )
        if extra:
            bad.append(f"{len(extra)} centre(s) not in the input, e.g. {min(extra)!r}")

    if frame["cluster"].isna().any():
        bad.append(f"{int(frame['cluster'].isna().sum())} member(s) have no cluster")
        return report

    # one venue per cluster, and it is a member
    venues = frame[frame["is_venue"].astype(bool)]
    per_cluster = venues.groupby("cluster").size()
    clusters = np.sort(frame["cluster"].unique())
    for k in clusters:
        count = int(per_cluster.get(k, 0))
        if count != 1:
            bad.append(f"cluster {k} has {count} venues (needs exactly 1)")

    # sizes, weights, cluster count
    sizes = frame.groupby("cluster").size()
    for k, size in sizes.items():
        if not rule.min_size <= size <= rule.max_size:
            bad.append(f"cluster {k} has {size} members, outside {rule.min_size}–{rule.max_size}")
    if rule.size_by is not None:
        loads = frame.groupby("cluster")[rule.size_by].sum()
        lo = rule.min_weight if rule.min_weight is not None else -math.inf
        hi = rule.max_weight if rule.max_weight is not None else math.inf
        for k, load in loads.items():
            if not lo - 1e-9 <= load <= hi + 1e-9:
                bad.append(f"cluster {k} has {rule.size_by} {load:g}, outside {lo:g}–{hi:g}")
    for quota in rule.quotas:
        if quota.column not in frame.columns:
            bad.append(f"quota column {quota.column!r} is missing from the layout")
            continue
        values = frame[quota.column].astype(object)
        text = values.where(values.notna(), "").astype(str).str.strip().str.lower()
        hits = (text == str(quota.value).strip().lower()).groupby(frame["cluster"]).sum()
        most = math.inf if quota.max is None else quota.max
        for k, have in hits.reindex(clusters, fill_value=0).items():
            if not quota.min <= have <= most:
                bad.append(
                    f"cluster {k} has {have} centre(s) with {quota.label()}, outside "
                    f"{quota.min}–{'' if quota.max is None else quota.max}"
                )
    if rule.n_clusters is not None and len(clusters) != rule.n_clusters:
        bad.append(f"{len(clusters)} clusters formed, {rule.n_clusters} were asked for")

    # distances and totals, recomputed
    if (per_cluster == 1).all() and len(per_cluster) == len(clusters):
        venue_index = pd.Series(venues.index, index=venues["cluster"].to_numpy())
        own_venue = venue_index.loc[frame["cluster"].to_numpy()].to_numpy()
        if matrix is None:
            x = frame.geometry.x.to_numpy()
            y = frame.geometry.y.to_numpy()
            pos = frame.index.get_indexer(own_venue)
            recomputed = np.hypot(x - x[pos], y - y[pos])
        else:
            venue_ids = ids.loc[own_venue].to_numpy()
            missing = set(ids) - set(matrix.index.astype(str))
            if missing:
                bad.append(f"{len(missing)} member(s) missing from the cost matrix")
                return report
            values = matrix.to_numpy(dtype=float)
            rows = matrix.index.astype(str).get_indexer(ids.to_numpy())
            cols = matrix.columns.astype(str).get_indexer(venue_ids)
            recomputed = values[rows, cols]
        stated = frame["distance"].to_numpy(dtype=float)
        off = ~np.isclose(stated, recomputed, rtol=_REL_TOL, atol=0.5 if matrix is None else 1e-6)
        if off.any():
            i = int(np.flatnonzero(off)[0])
            bad.append(
                f"{int(off.sum())} member distance(s) wrong, e.g. {ids.iloc[i]!r}: "
                f"stated {stated[i]:.3f}, recomputed {recomputed[i]:.3f}"
            )
        if constraints is not None:
            _check_constraints(bad, layout, constraints, recomputed, own_venue)
        total = _weighted_total(frame, float(recomputed.sum()), layout.unit, weights)
        if constraints is not None and weights is not None:
            total += _rule_terms(frame, constraints, weights, own_venue, layout.unit)
        if weights is not None and weights.extra:
            total += _registered_terms(report, layout, weights)
        report.recomputed_objective = total
        if not math.isclose(layout.objective, total, rel_tol=_REL_TOL, abs_tol=1.0):
            bad.append(f"objective {layout.objective:.3f} differs from the recomputed {total:.3f}")
        if layout.lower_bound > total * (1 + _REL_TOL) + 1e-6:
            bad.append(f"lower bound {layout.lower_bound:.3f} exceeds the objective {total:.3f}")
    return report


def _same(values: np.ndarray) -> bool:
    return len(set(values.tolist())) <= 1


def _check_constraints(bad, layout, constraints, distance, own_venue) -> None:
    """Every rule of ``constraints`` against the layout's table."""
    c = constraints
    frame = layout.centres
    ids = frame["centre_id"].astype(str).to_numpy()
    cluster = frame["cluster"].to_numpy()
    by_id = dict(zip(ids, cluster, strict=True))
    excluded = set(layout.excluded["centre_id"].astype(str))

    def present(group):
        return [str(g) for g in group if str(g) in by_id]

    for cid in map(str, c.exclude):
        if cid in by_id:
            bad.append(f"centre {cid} is on the exclusion list but in cluster {by_id[cid]}")
        elif cid not in excluded:
            bad.append(f"centre {cid} is on the exclusion list but not listed as excluded")
    if c.only is not None:
        takes_part = _meets(frame, c.only, c.source)
        if (~takes_part).any():
            bad.append(f"{int((~takes_part).sum())} member(s) do not meet the rule {c.only!r}")
    if c.consent is not None and c.consent in frame.columns:
        yes = _says_yes(frame[c.consent])
        if (~yes).any():
            bad.append(f"{int((~yes).sum())} member(s) have not consented ({c.consent})")
    groups = [present(g) for g in c.must_link]
    if c.partnerships_hard:
        groups += [present(pair) for pair in c.partnerships]
    for g in groups:
        if not _same(np.array([by_id[x] for x in g])):
            bad.append(f"must-link group {', '.join(g[:4])} is split over clusters")
    for g in c.cannot_link:
        g = present(g)
        labels = [by_id[x] for x in g]
        if len(set(labels)) < len(labels):
            bad.append(f"cannot-link group {', '.join(g[:4])} shares a cluster")
    if c.max_distance is not None:
        limit = c.max_distance * (1000.0 if layout.unit == "m" else 1.0)
        far = distance > limit * (1 + _REL_TOL) + 1e-6
        if far.any():
            i = int(np.flatnonzero(far)[0])
            bad.append(
                f"{int(far.sum())} member(s) travel beyond max_distance {c.max_distance:g}, "
                f"e.g. {ids[i]!r}"
            )
    if c.boundary is not None and not c.cross_boundary:
        region = frame[c.boundary].astype(str).to_numpy()
        for k in np.unique(cluster):
            if not _same(region[cluster == k]):
                bad.append(f"cluster {k} crosses the {c.boundary} boundary")
    if "coordinator" in frame.columns:
        coord = frame["coordinator"].astype(bool).to_numpy()
        counts = pd.Series(coord).groupby(cluster).sum()
        for k, have in counts.items():
            if have != 1:
                bad.append(f"cluster {k} has {int(have)} coordinators (needs exactly 1)")
        if c.coordinator is not None:
            ok = _meets(frame, c.coordinator, c.source)
            if (coord & ~ok).any():
                bad.append(f"{int((coord & ~ok).sum())} coordinator(s) are not eligible")
    elif c.coordinator is not None:
        bad.append("the layout names no coordinators")
    prev = c.previous
    if prev is not None:
        for label in map(str, c.lock_clusters):
            before = sorted(cid for cid, lab in prev.cluster.items() if lab == label)
            kept = [cid for cid in before if cid in by_id]
            now = {by_id[cid] for cid in kept}
            if len(now) != 1:
                bad.append(f"locked cluster {label} was split")
                continue
            (k,) = now
            members = sorted(ids[cluster == k].tolist())
            if members != sorted(kept):
                bad.append(f"locked cluster {label} changed its members")
            venue_ids = frame.loc[frame["is_venue"].astype(bool) & (frame["cluster"] == k)]
            if prev.venue.get(label) not in set(venue_ids["centre_id"].astype(str)):
                bad.append(f"locked cluster {label} changed its venue")
        locked = present(c.lock_centres)
        for a in locked:
            venue = prev.venue.get(prev.cluster.get(a, ""))
            if venue in by_id and by_id[venue] != by_id[a]:
                bad.append(f"locked centre {a} left its previous venue {venue}")
        for a in locked:
            for b in locked:
                if a < b:
                    same_before = prev.cluster.get(a) == prev.cluster.get(b)
                    if same_before != (by_id[a] == by_id[b]):
                        bad.append(f"locked centres {a} and {b} did not keep their clusters")


# ------------------------------------------------------- who may coordinate, who consented
# The checker reads these itself, not with the model's reader (clustering.model.rules):
# a slip in one then shows as a disagreement instead of passing unseen in both.

#: cells (lower-cased, stripped) that say yes in a consent or coordinator column;
#: any number above 0 says yes too
_YES = frozenset({"yes", "y", "true", "t", "1", "x", "willing", "consented", "consent", "agreed"})
_RULE = re.compile(r"^\s*(.+?)\s*(==|!=|>=|<=|=|>|<|\bnot in\b|\bin\b)\s*(.+?)\s*$", re.IGNORECASE)


def _cells(values: pd.Series) -> np.ndarray:
    """The cells as stripped, lower-cased text; missing cells as ``""``."""
    return np.array(
        ["" if pd.isna(v) else str(v).strip().lower() for v in values.tolist()], dtype=object
    )


def _numbers(values: pd.Series) -> np.ndarray:
    """The cells as floats; text and missing cells as NaN."""
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _says_yes(values: pd.Series) -> np.ndarray:
    """Which cells of a yes/no column say yes."""
    positive = _numbers(values) > 0  # NaN is not
    return np.isin(_cells(values), list(_YES)) | positive


def _meets(frame: pd.DataFrame, rule: str, source: str) -> np.ndarray:
    """Which rows meet a coordinator rule: a yes/no column, or clauses joined by ``and``."""
    rule = str(rule).strip()
    if rule in frame.columns:
        return _says_yes(frame[rule])
    ok = np.ones(len(frame), dtype=bool)
    for clause in re.split(r"\s+and\s+", rule, flags=re.IGNORECASE):
        m = _RULE.match(clause)
        if m is None or m[1].strip() not in frame.columns:
            raise InputError(f"the checker cannot read the rule {clause!r}", file=source)
        column, op = frame[m[1].strip()], m[2].lower()
        value = m[3].strip().strip("\"'")
        cells = _cells(column)
        if op in ("in", "not in"):
            listed = {v.strip().strip("\"'").lower() for v in value.strip("[]()").split(",")}
            hit = np.isin(cells, list(listed))
            ok &= hit if op == "in" else ~hit
            continue
        wanted = float(pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0])
        if op in (">=", "<=", ">", "<"):
            if math.isnan(wanted):
                raise InputError(f"the checker cannot compare with {value!r}", file=source)
            have = _numbers(column)
            hit = {">=": have >= wanted, "<=": have <= wanted, ">": have > wanted}.get(
                op, have < wanted
            )
            ok &= hit & np.isfinite(have)
            continue
        if not math.isnan(wanted) and pd.api.types.is_numeric_dtype(column):
            hit = _numbers(column) == wanted
        else:
            hit = cells == value.lower()
        ok &= hit if op in ("==", "=") else ~hit
    return ok


def _rule_terms(frame, constraints, weights, own_venue, unit) -> float:
    """Weighted theme splits, split partnerships, moves and crossings, in cost units."""
    per_km = 0.001 if unit == "m" else 1.0
    c = constraints
    cluster = frame["cluster"].to_numpy()
    ids = frame["centre_id"].astype(str).to_numpy()
    pos = frame.index.get_indexer(own_venue)
    value = 0.0
    for attr, weight in weights.themes.items():
        cells = frame[attr].astype(object).where(frame[attr].notna(), "").astype(str)
        spread: dict[str, set] = {}
        for k, cell in zip(cluster, cells, strict=True):
            for theme in cell.replace("|", ";").split(";"):
                theme = theme.strip()
                if theme and theme.lower() != "none":
                    spread.setdefault(theme, set()).add(k)
        value += weight * sum(len(v) - 1 for v in spread.values())
    if weights.partnerships > 0 and not c.partnerships_hard:
        by_id = dict(zip(ids, cluster, strict=True))
        split = sum(
            1
            for a, b in c.partnerships
            if str(a) in by_id
            and str(b) in by_id
            and str(a) != str(b)
            and by_id[str(a)] != by_id[str(b)]
        )
        value += weights.partnerships * split
    if weights.stability > 0 and c.previous is not None:
        before = np.array([c.previous.cluster.get(x) for x in ids], dtype=object)
        moved = np.array(
            [b is not None and before[v] != b for b, v in zip(before, pos, strict=True)]
        )
        value += weights.stability * int(moved.sum())
    if weights.boundary > 0 and c.boundary is not None and c.cross_boundary:
        region = frame[c.boundary].astype(object).where(frame[c.boundary].notna(), "")
        region = region.astype(str).str.strip().to_numpy()
        crossing = (region != region[pos]) & (region != "") & (region[pos] != "")
        value += weights.boundary * int(crossing.sum())
    return value / per_km


def _registered_terms(report: CheckReport, layout: Layout, weights) -> float:
    """Weighted parts of terms added by a module of their own, in cost units.

    The checker recomputes every built-in term itself. A term registered since
    (``Weights.extra``) is evaluated by its own ``value`` on this layout's
    clusters, and named in ``report.unchecked_terms``; without the compiled
    problem it cannot be evaluated, which is a violation.
    """
    wanted = {k for k, v in weights.extra.items() if isinstance(v, int | float) and v > 0}
    if not wanted:
        return 0.0
    problem = layout.problem
    if problem is None:
        report.violations.append(
            f"cannot recompute the objective terms {sorted(wanted)}: the layout carries no "
            "compiled problem (it was read back from files)"
        )
        return 0.0
    per_km = 0.001 if layout.unit == "m" else 1.0
    venue_of = layout.venue_of
    labels = np.unique(venue_of, return_inverse=True)[1]
    value = 0.0
    for term in problem.objective.all_terms:
        if getattr(term, "weight_name", None) in wanted:
            value += term.weight * float(term.value(venue_of, labels))
            report.unchecked_terms.append(term.name)
    return value / per_km


def _weighted_total(frame: pd.DataFrame, travel: float, unit: str, weights) -> float:
    """Travel plus weighted contrast deviations, in travel's cost units."""
    if weights is None:
        return travel
    per_km = 0.001 if unit == "m" else 1.0
    value = weights.travel * travel * per_km
    cluster = frame["cluster"].to_numpy()
    for attr, weight in weights.contrast.items():
        column = frame[attr]
        if pd.api.types.is_numeric_dtype(column):
            centred = (column - column.mean()).fillna(0.0)
            deviation = centred.groupby(cluster).sum().abs().sum()
        else:
            cats = column.astype(object).where(column.notna(), "unknown").astype(str)
            counts = pd.crosstab(cluster, cats)
            share = cats.value_counts(normalize=True).reindex(counts.columns)
            expected = np.outer(counts.sum(axis=1), share)
            deviation = 0.5 * np.abs(counts.to_numpy() - expected).sum()
        value += weight * float(deviation)
    return value / per_km


def _plain_id(text: str) -> str:
    text = str(text).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if "." in text and number.is_integer() else text


def _read_matrix(path: Path) -> pd.DataFrame:
    """A square member × venue frame from a matrix file, with a zero diagonal.

    The parsing is the checker's own (not the engine's); only the decoding of
    the text (UTF-8 or cp1252) is shared.
    """
    table = read_csv_text(path)
    lower = [c.strip().lower() for c in table.columns]
    if "from" in lower and "to" in lower and len(table.columns) >= 3:
        src = table.iloc[:, lower.index("from")].map(_plain_id)
        dst = table.iloc[:, lower.index("to")].map(_plain_id)
        value_col = next(i for i, c in enumerate(lower) if c not in ("from", "to"))
        values = table.iloc[:, value_col].astype(float)
        square = pd.DataFrame({"a": src, "b": dst, "v": values}).pivot_table(
            index="a", columns="b", values="v", aggfunc="first"
        )
    else:
        square = table.set_index(table.columns[0])
        square.index = square.index.map(_plain_id)
        square.columns = [_plain_id(c) for c in square.columns]
        square = square.astype(float)
    ids = sorted(set(square.index) | set(square.columns))
    square = square.reindex(index=ids, columns=ids)
    values = square.to_numpy(dtype=float, copy=True)
    np.fill_diagonal(values, 0.0)
    return pd.DataFrame(values, index=ids, columns=ids)
