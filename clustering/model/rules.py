"""Constraints beyond sizes, stated by centre id, and their compilation to row indices.

:class:`Constraints` is what a user says: keep these schools together, keep
those apart, existing partnerships (hard or priced), who may coordinate a
cluster, a maximum distance to the venue, a boundary not to cross, who has
not consented, and — when re-forming — the previous layout with the centres
and clusters that are locked. :func:`compile_rules` turns it into the arrays
the engine uses for one set of centres, or raises :class:`InfeasibleError`
saying in plain words which rules conflict.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import networkx as nx
import numpy as np
import pandas as pd

from ..errors import InfeasibleError, InputError
from ..input.files import PreviousLayout, norm_id
from ..input.schemas import YES_VALUES

__all__ = [
    "Compiled",
    "Constraints",
    "compile_rules",
    "eligible",
]


@dataclass(frozen=True)
class Constraints:
    """Everything a layout must respect besides sizes and quotas (all optional).

    Parameters
    ----------
    must_link
        Groups of centre ids that must share a cluster.
    cannot_link
        Groups of centre ids no two of which may share a cluster.
    partnerships
        Existing partnerships as pairs of centre ids (e.g. federations, feeder
        links). Kept together when ``partnerships_hard``; otherwise each split
        costs ``Weights.partnerships`` km.
    coordinator
        Who may coordinate a cluster: a column whose yes/true/1 marks willing
        centres, or a rule such as ``"ofsted in Good, Outstanding"`` or
        ``"pupils >= 200"`` (clauses joined by ``and``). Every cluster gets one
        coordinator among its members; no centre coordinates two.
    max_distance
        The longest member → venue trip allowed, in km for straight-line
        distances, otherwise in the travel matrix's unit.
    boundary
        A column (LA, district): clusters stay inside it unless
        ``cross_boundary``, in which case each member meeting across it costs
        ``Weights.boundary`` km.
    exclude
        Centre id → reason: centres left out (e.g. not taking part this year).
    consent
        A column: centres whose value is not yes/true/1 are left out ("no consent").
    only
        Which rows of the file take part, in the grammar of ``coordinator``
        (e.g. ``"type in Primary, Secondary"``, ``"pupils >= 50 and phase = primary"``);
        the others are left out with the reason "not taking part". For
        directories that list offices, agencies or closed units among the schools.
    previous
        The layout being re-formed. Members that leave their previous cluster
        cost ``Weights.stability`` km each.
    lock_centres
        Centre ids that keep their previous cluster (with the other locked
        centres of that cluster).
    lock_clusters
        Previous cluster labels kept exactly as they were: members and venue.
    source
        Where these were stated (a scenario file), for error messages.
    """

    must_link: tuple[tuple[str, ...], ...] = ()
    cannot_link: tuple[tuple[str, ...], ...] = ()
    partnerships: tuple[tuple[str, str], ...] = ()
    partnerships_hard: bool = False
    coordinator: str | None = None
    max_distance: float | None = None
    boundary: str | None = None
    cross_boundary: bool = False
    exclude: Mapping[str, str] = field(default_factory=dict)
    consent: str | None = None
    only: str | None = None
    previous: PreviousLayout | None = None
    lock_centres: tuple[str, ...] = ()
    lock_clusters: tuple[str, ...] = ()
    source: str = "<constraints>"

    def to_dict(self) -> dict:
        out = asdict(self)
        out["previous"] = None if self.previous is None else self.previous.source
        out["exclude"] = dict(self.exclude)
        return out


@dataclass
class Compiled:
    """Constraints as row indices of the centres taking part."""

    together: list[np.ndarray] = field(default_factory=list)
    apart: list[np.ndarray] = field(default_factory=list)
    allowed: np.ndarray | None = None
    coordinators: np.ndarray | None = None
    pairs: np.ndarray | None = None
    moved: np.ndarray | None = None
    crossings: np.ndarray | None = None
    regions: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- reading files


# ---------------------------------------------------------------- eligibility

_CLAUSE = re.compile(
    r"^\s*(?P<col>.+?)\s*(?P<op>==|!=|>=|<=|=|>|<|\bnot in\b|\bin\b)\s*(?P<val>.+?)\s*$",
    re.IGNORECASE,
)


def _truthy(values: pd.Series) -> np.ndarray:
    numeric = pd.to_numeric(values, errors="coerce")
    text = values.astype(object).where(values.notna(), "").astype(str).str.strip().str.lower()
    return (text.isin(YES_VALUES) | (numeric.fillna(0) > 0)).to_numpy()


def eligible(frame: pd.DataFrame, rule: str, *, source: str = "<constraints>") -> np.ndarray:
    """Which rows of ``frame`` meet ``rule``: a yes/no column, or clauses joined by ``and``.

    A clause is ``column op value`` with ``op`` one of ``== != >= <= > < in``
    ``not in``; ``in`` takes a comma-separated list. Text compares ignoring case.
    """
    rule = str(rule).strip()
    if rule in frame.columns:
        return _truthy(frame[rule])
    out = np.ones(len(frame), dtype=bool)
    for clause in re.split(r"\s+and\s+", rule, flags=re.IGNORECASE):
        m = _CLAUSE.match(clause)
        fix = (
            'write a column name, or clauses like "ofsted in Good, Outstanding" or '
            "\"pupils >= 200\" joined by 'and'; columns: "
            + ", ".join(c for c in frame.columns if c not in {"geometry", "row"})
        )
        if m is None:
            raise InputError(f"cannot read the rule {clause!r}", file=source, fix=fix)
        col, op, val = m["col"].strip(), m["op"].lower(), m["val"].strip().strip("\"'")
        if col not in frame.columns:
            raise InputError(
                f"the rule {clause!r} names no column of the centres",
                file=source,
                column=col,
                fix=fix,
            )
        values = frame[col]
        if op in ("in", "not in"):
            wanted = {v.strip().strip("\"'").lower() for v in val.strip("[]()").split(",")}
            text = values.astype(object).where(values.notna(), "").astype(str).str.strip()
            hit = text.str.lower().isin(wanted).to_numpy()
            out &= hit if op == "in" else ~hit
            continue
        number = pd.to_numeric(pd.Series([val]), errors="coerce").iloc[0]
        if op in (">=", "<=", ">", "<"):
            if pd.isna(number):
                raise InputError(
                    f"the rule {clause!r} compares with {val!r}, not a number", file=source, fix=fix
                )
            a = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            with np.errstate(invalid="ignore"):
                cmp = {">=": a >= number, "<=": a <= number, ">": a > number, "<": a < number}
            out &= cmp[op] & np.isfinite(a)
            continue
        if not pd.isna(number) and pd.api.types.is_numeric_dtype(values):
            # nullable columns (Int64, Float64) compare to <NA>: a missing value is no match
            hit = (pd.to_numeric(values, errors="coerce") == number).fillna(False)
            hit = hit.to_numpy(dtype=bool)
        else:
            text = values.astype(object).where(values.notna(), "").astype(str).str.strip()
            hit = (text.str.lower() == val.lower()).to_numpy()
        out &= hit if op in ("==", "=") else ~hit
    return out


# ---------------------------------------------------------------- compilation


def _names(frame: pd.DataFrame, rows) -> str:
    names = frame["name"] if "name" in frame.columns else frame["centre_id"]
    shown = [f"{names.iloc[i]} ({frame['centre_id'].iloc[i]})" for i in list(rows)[:4]]
    more = len(rows) - 4
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _index(ids: list[str], known: set[str], row_of: dict[str, int], what: str, source: str):
    """Rows of ``ids``; ids of excluded centres are dropped, unknown ids are an error."""
    rows, dropped = [], []
    for cid in ids:
        cid = norm_id(cid)
        if cid in row_of:
            rows.append(row_of[cid])
        elif cid in known:
            dropped.append(cid)
        else:
            raise InputError(
                f"{what} names centre {cid!r}, which is not in the centres file",
                file=source,
                fix="use the id of a centre in the input (e.g. its URN) or remove it",
            )
    return rows, dropped


def compile_rules(
    frame: pd.DataFrame,
    constraints: Constraints,
    *,
    costs: np.ndarray,
    unit: str,
    known_ids: set[str],
    max_size: int,
    min_size: int = 1,
) -> Compiled:
    """Row-index form of ``constraints`` for the centres of ``frame``.

    ``known_ids`` are every input id (excluded ones too): a rule naming an
    excluded centre is dropped with a note; one naming an unknown id is an error.
    """
    c = constraints
    n = len(frame)
    ids = frame["centre_id"].astype(str).tolist()
    row_of = {cid: k for k, cid in enumerate(ids)}
    out = Compiled()
    source = c.source

    # groups that must share a cluster: must-link, hard partnerships, locked centres
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    for group in c.must_link:
        rows, dropped = _index(list(group), known_ids, row_of, "a must-link group", source)
        if dropped:
            out.notes.append(f"must-link: {', '.join(dropped)} excluded, kept the rest together")
        nx.add_path(graph, rows)
    pairs = []
    for a, b in c.partnerships:
        rows, dropped = _index([a, b], known_ids, row_of, "a partnership", source)
        if dropped:
            out.notes.append(f"partnership {a}–{b} ignored: {', '.join(dropped)} excluded")
            continue
        if rows[0] == rows[1]:
            continue
        if c.partnerships_hard:
            graph.add_edge(*rows)
        else:
            pairs.append(rows)
    if pairs:
        out.pairs = np.asarray(pairs, dtype=np.int64)
    prev = c.previous
    prev_label = None
    if prev is not None:
        prev_label = np.array([prev.cluster.get(cid) for cid in ids], dtype=object)
    if c.lock_centres:
        if prev is None:
            raise InputError(
                "lock_centres needs the previous layout",
                file=source,
                fix="give previous = the assignments.csv of the layout being re-formed",
            )
        rows, dropped = _index(list(c.lock_centres), known_ids, row_of, "lock_centres", source)
        if dropped:
            out.notes.append(f"locked centres no longer taking part: {', '.join(dropped)}")
        by_label: dict[str, list[int]] = {}
        for r in rows:
            label = prev_label[r]
            if label is None:
                raise InputError(
                    f"locked centre {ids[r]} is not in the previous layout",
                    file=source,
                    fix="lock only centres that had a cluster before",
                )
            by_label.setdefault(label, []).append(r)
        for label, members in by_label.items():
            # a locked centre stays with its previous venue when that still takes part
            venue = row_of.get(prev.venue.get(label, ""))
            if venue is not None and venue not in members:
                members.append(venue)
            nx.add_path(graph, members)
        if len(by_label) > 1:
            out.apart.append(np.asarray([m[0] for m in by_label.values()], dtype=np.int64))
    out.together = [
        np.asarray(sorted(comp), dtype=np.int64)
        for comp in nx.connected_components(graph)
        if len(comp) > 1
    ]
    component = np.arange(n)
    for k, g in enumerate(out.together):
        component[g] = n + k
    for g in out.together:
        if len(g) > max_size:
            raise InfeasibleError(
                f"{len(g)} centres must share one cluster ({_names(frame, g)}), but a cluster "
                f"holds at most {max_size}; raise the maximum size or drop some of these links"
            )

    for group in c.cannot_link:
        rows, _ = _index(list(group), known_ids, row_of, "a cannot-link group", source)
        rows = sorted(set(rows))
        if len(rows) < 2:
            continue
        comps = component[rows]
        if len(set(comps.tolist())) < len(rows):
            clash = [r for r in rows if np.count_nonzero(comps == component[r]) > 1]
            raise InfeasibleError(
                f"{_names(frame, clash)} must be kept apart (cannot-link) but are also linked "
                "together (must-link, partnership or lock); remove one of the two rules"
            )
        out.apart.append(np.asarray(rows, dtype=np.int64))

    # allowed member → venue pairs: the maximum distance
    if c.max_distance is not None:
        if not c.max_distance > 0:
            raise InputError(
                f"max_distance {c.max_distance!r} is not above 0",
                file=source,
                fix="give the longest trip allowed, in km (or the matrix unit)",
            )
        limit = c.max_distance * (1000.0 if unit == "m" else 1.0)
        out.allowed = np.asarray(costs) <= limit + 1e-9
        np.fill_diagonal(out.allowed, True)
        unit_text = "km" if unit == "m" else unit
        # a venue is possible only if enough centres may meet there to fill a cluster
        viable = out.allowed.sum(axis=0) >= min_size
        stranded = np.flatnonzero(~(out.allowed & viable[None, :]).any(axis=1))
        if len(stranded):
            raise InfeasibleError(
                f"{len(stranded)} centre(s) have no possible venue within {c.max_distance:g} "
                f"{unit_text} (a member within reach of {min_size - 1} others): "
                f"{_names(frame, stranded)}; raise max_distance or exclude them"
            )
        for g in out.together:
            if not out.allowed[g].all(axis=0).any():
                raise InfeasibleError(
                    f"{_names(frame, g)} must share a cluster, but no venue is within "
                    f"{c.max_distance:g} {unit_text} of all of them; raise max_distance"
                )

    # boundary
    if c.boundary is not None:
        if c.boundary not in frame.columns:
            raise InputError(
                f"boundary names {c.boundary!r}, which the centres do not have",
                file=source,
                column=c.boundary,
                fix="use one of "
                + ", ".join(x for x in frame.columns if x not in {"geometry", "row"}),
            )
        values = frame[c.boundary].astype(object)
        region = values.where(values.notna(), "").astype(str).str.strip()
        if c.cross_boundary:
            r = region.to_numpy()
            known = r != ""
            out.crossings = ((r[:, None] != r[None, :]) & known[:, None] & known[None, :]).astype(
                np.float64
            )
        else:
            if (region == "").any():
                first = int(np.flatnonzero((region == "").to_numpy())[0])
                raise InputError(
                    f"centre {ids[first]} has no {c.boundary} value, so its boundary is unknown",
                    file=source,
                    column=c.boundary,
                    fix="fill it in, exclude the centre, or set cross_boundary = true",
                )
            out.regions = region.to_numpy()
            for g in out.together:
                if len(set(out.regions[g].tolist())) > 1:
                    raise InfeasibleError(
                        f"{_names(frame, g)} must share a cluster but lie in different "
                        f"{c.boundary} areas ({', '.join(sorted(set(out.regions[g])))}), and "
                        "clusters may not cross; set cross_boundary = true or drop the link"
                    )

    # coordinators
    if c.coordinator is not None:
        out.coordinators = eligible(frame, c.coordinator, source=source)

    # re-forming: meeting with another previous cluster counts as a move
    if prev_label is not None:
        known = np.array([x is not None for x in prev_label])
        same = prev_label[:, None] == prev_label[None, :]
        out.moved = (known[:, None] & ~same).astype(np.float64)
    return out
