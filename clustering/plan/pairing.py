"""Bilateral pairs (a weighted matching) and mentoring (a b-matching by min-cost flow).

Both price a pair in km-equivalents with the layout's own weights: the straight-line km
between the two schools, and for each contrast attribute its weight (km per unit) times
how far apart the two are. Pairs *gain* from contrast (schools that differ learn from each
other: cost = km − contrast); mentors are *matched* on it (a mentor in a similar setting
helps most: cost = km + contrast).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
from ortools.graph.python import min_cost_flow
from ortools.sat.python import cp_model
from scipy.optimize import linear_sum_assignment

from ..errors import InputError
from ..input.textfile import read_csv_text
from .cpsat import solve

__all__ = [
    "contrast_km",
    "mentor_schools",
    "pair_schools",
    "pair_with_partners",
    "read_partners",
]


def contrast_km(frame: pd.DataFrame, weights: Mapping[str, float]) -> np.ndarray:
    """``(n, n)`` km-equivalents of how different each two schools are."""
    n = len(frame)
    out = np.zeros((n, n))
    for attribute, weight in weights.items():
        if attribute not in frame.columns or not weight:
            continue
        values = frame[attribute]
        numeric = pd.to_numeric(values, errors="coerce")
        if numeric.notna().mean() > 0.5:
            v = numeric.to_numpy(dtype=float, na_value=np.nan)
            diff = np.abs(v[:, None] - v[None, :])
        else:
            t = values.astype(str).to_numpy()
            diff = (t[:, None] != t[None, :]).astype(float)
        out += float(weight) * np.nan_to_num(diff, nan=0.0)
    return out


def _row(frame, a, b, km, cost):
    return {
        "a_id": frame.loc[a, "centre_id"],
        "a_name": frame.loc[a, "name"],
        "a_cluster": int(frame.loc[a, "cluster"]),
        "b_id": frame.loc[b, "centre_id"],
        "b_name": frame.loc[b, "name"],
        "b_cluster": int(frame.loc[b, "cluster"]),
        "distance_km": round(float(km[a, b]), 3),
        "cost_km_eq": round(float(cost[a, b]), 3),
    }


def pair_schools(
    frame: pd.DataFrame,
    km: np.ndarray,
    contrast: np.ndarray,
    *,
    mode: str = "within",
    candidates: int = 8,
    time_limit: float = 10.0,
    seed: int = 0,
    workers: int = 2,
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Pairs of schools, the schools left without one (with the reason), and how it went.

    ``within``: pairs inside each cluster; ``across``: each school with one of its
    ``candidates`` nearest schools in another cluster. The matching pairs as many schools
    as it can (maximum cardinality), and among those the lowest total cost
    (``km − contrast``): exactly within clusters (networkx's blossom algorithm), by CP-SAT
    across them (its status and gap are returned).
    """
    cost = km - contrast
    graph = nx.Graph()
    graph.add_nodes_from(range(len(frame)))
    labels = frame["cluster"].to_numpy()
    if mode == "within":
        for _, group in frame.groupby("cluster"):
            rows = group.index.to_numpy()
            for i, a in enumerate(rows):
                for b in rows[i + 1 :]:
                    graph.add_edge(int(a), int(b))
    else:
        for a in range(len(frame)):
            others = np.flatnonzero(labels != labels[a])
            near = others[np.argsort(km[a, others], kind="stable")[:candidates]]
            for b in near:
                graph.add_edge(int(a), int(b))
    top = float(cost.max()) + 1.0 if cost.size else 1.0
    for a, b in graph.edges:
        graph[a][b]["weight"] = top - float(cost[a, b])  # positive: more pairs always gain
    if mode == "within":  # small cliques: the blossom algorithm, exact, per cluster
        matching = set()
        for part in nx.connected_components(graph):
            sub = graph.subgraph(part)
            matching |= nx.max_weight_matching(sub, maxcardinality=True)
        status = "optimal"
    else:  # one large sparse graph: CP-SAT (blossom in pure Python takes minutes here)
        matching, status = _cp_matching(graph, time_limit, seed, workers)
    stats = {"pairing_status": status}
    pairs, matched = [], set()
    for a, b in sorted(tuple(sorted(p)) for p in matching):
        pairs.append(_row(frame, a, b, km, cost))
        matched.update((a, b))
    left = []
    for r in range(len(frame)):
        if r in matched:
            continue
        if mode == "within":
            size = int((labels == labels[r]).sum())
            why = (
                "the only member of its cluster"
                if size == 1
                else f"its cluster has an odd number of schools ({size}): one is left over"
            )
        else:
            why = f"its {candidates} nearest schools in other clusters were all paired"
        left.append(
            {
                "centre_id": frame.loc[r, "centre_id"],
                "name": frame.loc[r, "name"],
                "cluster": int(labels[r]),
                "what": "pairing",
                "reason": why,
            }
        )
    return pd.DataFrame(pairs), pd.DataFrame(left), stats


def _cp_matching(graph: nx.Graph, time_limit: float, seed: int, workers: int):
    """A maximum-weight matching by CP-SAT, hinted with a greedy matching."""
    model = cp_model.CpModel()
    x = {}
    for a, b in graph.edges:
        x[a, b] = model.new_bool_var(f"p{a}_{b}")
    for node in graph.nodes:
        touching = [x[e] if e in x else x[e[::-1]] for e in ((node, o) for o in graph[node])]
        if len(touching) > 1:
            model.add_at_most_one(touching)
    weight = {e: round(graph.edges[e]["weight"] * 1000) for e in x}
    model.maximize(sum(weight[e] * v for e, v in x.items()))
    used: set[int] = set()
    for e in sorted(x, key=lambda e: -weight[e]):  # greedy hint: heaviest edges first
        take = e[0] not in used and e[1] not in used
        model.add_hint(x[e], take)
        if take:
            used.update(e)
    solver, status, found = solve(model, time_limit, seed, workers)
    if not found:
        raise RuntimeError(f"pairing ended with status {solver.status_name(status)}")
    chosen = {e for e, v in x.items() if solver.value(v)}
    value = solver.objective_value
    gap = (solver.best_objective_bound - value) / value if value else 0.0
    return chosen, f"{solver.status_name(status).lower()} (gap {gap:.2%})"


def mentor_schools(
    frame: pd.DataFrame,
    km: np.ndarray,
    contrast: np.ndarray,
    mentors: np.ndarray,
    mentees: np.ndarray,
    *,
    per_mentor: int = 2,
    within_cluster: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each mentor takes up to ``per_mentor`` mentees: as many as can be matched, then the
    lowest total ``km + contrast`` (an exact min-cost flow). A school that is both mentor
    and mentee is a mentee only."""
    mentors = mentors & ~mentees
    m_rows, e_rows = np.flatnonzero(mentors), np.flatnonzero(mentees)
    labels = frame["cluster"].to_numpy()
    cost = km + contrast
    flow = min_cost_flow.SimpleMinCostFlow()
    source, sink = 0, 1
    node_m = {int(r): 2 + k for k, r in enumerate(m_rows)}
    node_e = {int(r): 2 + len(m_rows) + k for k, r in enumerate(e_rows)}
    arcs = {}
    for _r, node in node_m.items():
        flow.add_arc_with_capacity_and_unit_cost(source, node, per_mentor, 0)
    for _r, node in node_e.items():
        flow.add_arc_with_capacity_and_unit_cost(node, sink, 1, 0)
    for a in m_rows:
        for b in e_rows:
            if within_cluster and labels[a] != labels[b]:
                continue
            arc = flow.add_arc_with_capacity_and_unit_cost(
                node_m[int(a)], node_e[int(b)], 1, round(float(cost[a, b]) * 1000)
            )
            arcs[arc] = (int(a), int(b))
    pairs, taken = [], set()
    if arcs:
        # the most the mentees can take; the flow moves as much of it as it can, cheapest
        flow.set_node_supply(source, len(e_rows))
        flow.set_node_supply(sink, -len(e_rows))
        status = flow.solve_max_flow_with_min_cost()
        if status != flow.OPTIMAL:
            raise RuntimeError(f"mentoring flow ended with status {status}")
        for arc, (a, b) in arcs.items():
            if flow.flow(arc):
                row = _row(frame, a, b, km, cost)
                pairs.append(
                    {k.replace("a_", "mentor_").replace("b_", "mentee_"): v for k, v in row.items()}
                )
                taken.add(b)
    left = []
    for b in e_rows:
        if int(b) in taken:
            continue
        same = m_rows[labels[m_rows] == labels[b]] if within_cluster else m_rows
        why = (
            "no experienced school in its cluster"
            if not len(same)
            else f"every experienced school near it already mentors {per_mentor}"
        )
        left.append(
            {
                "centre_id": frame.loc[b, "centre_id"],
                "name": frame.loc[b, "name"],
                "cluster": int(labels[b]),
                "what": "mentoring",
                "reason": why,
            }
        )
    table = pd.DataFrame(pairs)
    if len(table):
        table = table.sort_values(["mentor_cluster", "mentor_id", "distance_km"], ignore_index=True)
    return table, pd.DataFrame(left)


#: km-equivalents for pairing a school with a partner of another phase
PHASE_MISMATCH = 20.0


def read_partners(path: str | Path) -> pd.DataFrame:
    """External partner schools: ``partner_id``, ``name`` and optionally ``cluster`` (a
    partner cluster), ``phase``, ``pupils`` and any contrast attribute; one school a row."""
    frame = read_csv_text(path, what="partner schools")
    frame.columns = [str(c).strip() for c in frame.columns]
    for col in ("partner_id", "name"):
        if col not in frame.columns:
            raise InputError(
                f"the partner schools have no {col} column",
                file=str(path),
                fix="write a header partner_id,name[,cluster,phase,pupils,…]",
            )
    ids = frame["partner_id"].str.strip()
    for k, cid in enumerate(ids):
        if not cid:
            raise InputError(
                "partner_id is empty",
                file=str(path),
                row=k + 2,
                column="partner_id",
                fix="give every partner school an id",
            )
    dup = ids[ids.duplicated()]
    if len(dup):
        raise InputError(
            f"partner_id {dup.iloc[0]!r} appears twice",
            file=str(path),
            row=int(dup.index[0]) + 2,
            column="partner_id",
            fix="give each partner school one row",
        )
    frame["partner_id"] = ids
    return frame.reset_index(drop=True)


def _partner_cost(frame: pd.DataFrame, partners: pd.DataFrame, weights) -> np.ndarray:
    """``(schools, partners)`` km-equivalents of how unlike each school and partner are."""
    cost = np.zeros((len(frame), len(partners)))
    if "phase" in frame.columns and "phase" in partners.columns:
        a = frame["phase"].astype(str).str.strip().str.lower().to_numpy()
        b = partners["phase"].astype(str).str.strip().str.lower().to_numpy()
        cost += PHASE_MISMATCH * (a[:, None] != b[None, :])
    scales = {"pupils": 0.01, **dict(weights)}  # 100 pupils apart count as 1 km
    for attribute, weight in scales.items():
        if attribute not in frame.columns or attribute not in partners.columns or not weight:
            continue
        a = pd.to_numeric(frame[attribute], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        b = pd.to_numeric(partners[attribute], errors="coerce").to_numpy(
            dtype=float, na_value=np.nan
        )
        cost += float(weight) * np.nan_to_num(np.abs(a[:, None] - b[None, :]), nan=0.0)
    return cost


def pair_with_partners(
    frame: pd.DataFrame, partners: pd.DataFrame, weights: Mapping[str, float]
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Each school with at most one external partner school, the most alike first.

    With a ``cluster`` column in ``partners``, each cluster is first twinned with one
    partner cluster (an assignment on the cost of pairing their schools), then schools
    pair only within twinned clusters. Each assignment is exact (scipy's Hungarian
    method); the cost is a phase mismatch, pupils and the contrast attributes both have.
    """
    cost = _partner_cost(frame, partners, weights)
    labels = frame["cluster"].to_numpy()
    rows = []
    reason: dict[int, str] = {}
    twins: dict[int, str] = {}
    if "cluster" in partners.columns:
        theirs = partners["cluster"].astype(str).str.strip().to_numpy()
        ours = sorted(set(int(k) for k in labels))
        names = sorted(set(theirs))
        big = float(cost.max() + 1.0) if cost.size else 1.0
        twin_cost = np.zeros((len(ours), len(names)))
        for i, k in enumerate(ours):
            a = np.flatnonzero(labels == k)
            for j, p in enumerate(names):
                b = np.flatnonzero(theirs == p)
                r, c = linear_sum_assignment(cost[np.ix_(a, b)])
                twin_cost[i, j] = cost[a[r], b[c]].sum() - big * len(r)  # more pairs first
        r, c = linear_sum_assignment(twin_cost)
        twins = {ours[i]: names[j] for i, j in zip(r, c, strict=True)}
        for k in ours:
            a = np.flatnonzero(labels == k)
            if k not in twins:
                for x in a:
                    reason[int(x)] = f"more clusters here than partner clusters ({len(names)})"
                continue
            b = np.flatnonzero(theirs == twins[k])
            rr, cc = linear_sum_assignment(cost[np.ix_(a, b)])
            rows += [(int(a[x]), int(b[y])) for x, y in zip(rr, cc, strict=True)]
            for x in set(range(len(a))) - set(rr):
                reason[int(a[x])] = (
                    f"partner cluster {twins[k]} has fewer schools ({len(b)}) than cluster {k}"
                )
    else:
        rr, cc = linear_sum_assignment(cost)
        rows = [(int(x), int(y)) for x, y in zip(rr, cc, strict=True)]
        for x in set(range(len(frame))) - set(rr):
            reason[int(x)] = f"more schools than partner schools ({len(partners)})"
    pairs = [
        {
            "centre_id": frame.loc[x, "centre_id"],
            "name": frame.loc[x, "name"],
            "cluster": int(labels[x]),
            "partner_id": partners.loc[y, "partner_id"],
            "partner_name": partners.loc[y, "name"],
            "partner_cluster": partners.loc[y, "cluster"] if "cluster" in partners else "",
            "cost_km_eq": round(float(cost[x, y]), 3),
        }
        for x, y in sorted(rows)
    ]
    left = [
        {
            "centre_id": frame.loc[x, "centre_id"],
            "name": frame.loc[x, "name"],
            "cluster": int(labels[x]),
            "what": "partner",
            "reason": why,
        }
        for x, why in sorted(reason.items())
    ]
    stats = {"pairing_status": "optimal", "twinned_clusters": {str(k): v for k, v in twins.items()}}
    return pd.DataFrame(pairs), pd.DataFrame(left), stats
