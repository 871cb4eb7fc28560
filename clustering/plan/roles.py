"""Who leads each cluster (coordinator, deputy, lead school) and who hosts its meetings."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["choose_roles", "rotate_hosts"]


def _rank(frame: pd.DataFrame, rows: np.ndarray, rank_by: str, to_venue: np.ndarray) -> list[int]:
    """``rows`` best first: highest ``rank_by`` (missing last), then nearest the venue."""
    if rank_by in frame.columns:
        score = pd.to_numeric(frame[rank_by].iloc[rows], errors="coerce")
        score = score.to_numpy(dtype=float, na_value=np.nan)
    else:
        score = np.zeros(len(rows))
    score = np.where(np.isnan(score), -np.inf, score)
    order = np.lexsort((to_venue[rows], -score))
    return [int(rows[k]) for k in order]


def choose_roles(
    frame: pd.DataFrame,
    distance: np.ndarray,
    eligible: np.ndarray,
    *,
    rank_by: str = "pupils",
) -> pd.DataFrame:
    """One row per cluster: lead school (the venue), coordinator and deputy, with reasons.

    The layout's own coordinator (``coordinator`` column) is kept when it is eligible;
    otherwise the best-ranked eligible member coordinates and the next one deputises.
    A school belongs to one cluster, so none can coordinate two.
    """
    rows = []
    venue_of = {}
    for k, group in frame.groupby("cluster", sort=True):
        members = group.index.to_numpy()
        venue = int(members[group["is_venue"].to_numpy(dtype=bool)][0])
        venue_of[k] = venue
        to_venue = distance[:, venue]
        ranked = [r for r in _rank(frame, members, rank_by, to_venue) if eligible[r]]
        flagged = (
            [r for r in members if bool(frame.loc[r, "coordinator"]) and eligible[r]]
            if "coordinator" in frame.columns
            else []
        )
        coordinator = flagged[0] if flagged else (ranked[0] if ranked else None)
        deputy = next((r for r in ranked if r != coordinator), None)
        note = []
        if coordinator is None:
            note.append("no member meets the coordinator rule")
        elif flagged:
            note.append("coordinator as in the layout")
        if deputy is None:
            note.append("no second eligible member for deputy")

        def who(r):
            return (None, None) if r is None else (frame.loc[r, "centre_id"], frame.loc[r, "name"])

        rows.append(
            {
                "cluster": int(k),
                "size": len(members),
                "lead_id": frame.loc[venue, "centre_id"],
                "lead_name": frame.loc[venue, "name"],
                "coordinator_id": who(coordinator)[0],
                "coordinator_name": who(coordinator)[1],
                "deputy_id": who(deputy)[0],
                "deputy_name": who(deputy)[1],
                "eligible": int(eligible[members].sum()),
                "note": "; ".join(note),
            }
        )
    return pd.DataFrame(rows)


def rotate_hosts(
    members: np.ndarray,
    distance: np.ndarray,
    can_host: np.ndarray,
    meetings: int,
    *,
    worst_weight: float = 1.0,
) -> list[int]:
    """Host rows for ``meetings`` meetings of one cluster, sharing hosting among members.

    Each candidate host is scored by the travel of every member to it plus
    ``worst_weight`` times the longest of those trips; the best-scored eligible members
    host in turn, each once before any hosts twice. The score of a set of hosts is the
    sum of theirs, so taking the best in order is the optimum (exact, no search).
    Without an eligible member every member may host.
    """
    block = distance[np.ix_(members, members)]
    score = block.sum(axis=0) + worst_weight * block.max(axis=0)
    allowed = members[can_host[members]]
    pool = allowed if len(allowed) else members
    ranked = sorted(pool, key=lambda r: (score[list(members).index(r)], r))
    return [int(ranked[m % len(ranked)]) for m in range(meetings)]
