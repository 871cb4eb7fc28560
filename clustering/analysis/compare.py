"""Two layouts side by side: their figures, and which centres changed cluster."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from ..model.layout import Layout
from .metrics import contrast_summary, overall_summary

__all__ = ["Comparison", "compare_layouts"]

#: the figures of :func:`clustering.overall_summary` compared, in this order
FIGURES = (
    "objective",
    "lower_bound",
    "gap_pct",
    "total_to_venue_km",
    "mean_to_venue_km",
    "max_to_venue_km",
    "n_centres",
    "n_excluded",
    "n_clusters",
    "size_min",
    "size_max",
)


@dataclass
class Comparison:
    """What :func:`compare_layouts` found.

    Attributes
    ----------
    metrics
        One row per figure: ``metric``, ``a``, ``b``, ``change`` (b − a).
        Objective and bound are in km when the costs are metres.
    moved
        One row per centre not in the same cluster in both: ``centre_id``,
        ``name``, ``cluster_a``, ``cluster_b`` (b's cluster in a's numbering,
        where it was matched), ``cluster_b_label`` (as b numbers it) and
        ``status`` (``moved``, ``only in a``, ``only in b``).
    matching
        b's cluster label → the label of a's cluster it shares most centres with.
    same_share
        The share of the centres in both layouts that are in matched clusters.
    """

    metrics: pd.DataFrame
    moved: pd.DataFrame
    matching: dict[int, int] = field(default_factory=dict)
    same_share: float = 1.0


def compare_layouts(a: Layout, b: Layout) -> Comparison:
    """Compare two layouts of (mostly) the same centres.

    b's clusters are matched to a's by the most centres in common (an
    assignment problem), so a cluster renumbered but otherwise unchanged counts
    as the same cluster.

    Examples
    --------
    >>> import clustering
    >>> centres = clustering.load_centres("data/sample/surrey_primary_schools_2022.csv")
    >>> a = clustering.form_clusters(centres, time_limit=2, baselines=False)
    >>> clustering.compare_layouts(a, a).same_share
    1.0
    """
    left = _labels(a)
    right = _labels(b)
    both = left.index.intersection(right.index)
    matching = _match(left[both], right[both])
    names = pd.concat([_names(a), _names(b)])
    names = names[~names.index.duplicated()]
    rows = []
    for cid in left.index.union(right.index):
        ka = left.get(cid)
        kb = right.get(cid)
        if ka is not None and kb is not None and matching.get(int(kb)) == int(ka):
            continue
        status = (
            "moved"
            if ka is not None and kb is not None
            else ("only in a" if kb is None else "only in b")
        )
        rows.append(
            {
                "centre_id": cid,
                "name": names.get(cid, ""),
                "cluster_a": ka,
                "cluster_b": None if kb is None else matching.get(int(kb)),
                "cluster_b_label": kb,
                "status": status,
            }
        )
    moved = pd.DataFrame(
        rows, columns=["centre_id", "name", "cluster_a", "cluster_b", "cluster_b_label", "status"]
    )
    for column in ("cluster_a", "cluster_b", "cluster_b_label"):
        moved[column] = moved[column].astype("Int64")
    same = sum(1 for cid in both if matching.get(int(right[cid])) == int(left[cid]))
    return Comparison(
        metrics=_metrics(a, b),
        moved=moved,
        matching=matching,
        same_share=same / len(both) if len(both) else 0.0,
    )


def _labels(layout: Layout) -> pd.Series:
    frame = layout.centres
    return pd.Series(
        frame["cluster"].astype(int).to_numpy(), index=frame["centre_id"].astype(str).to_numpy()
    )


def _names(layout: Layout) -> pd.Series:
    frame = layout.centres
    return pd.Series(
        frame["name"].astype(str).to_numpy(), index=frame["centre_id"].astype(str).to_numpy()
    )


def _match(left: pd.Series, right: pd.Series) -> dict[int, int]:
    """b label → a label, by the most centres in common."""
    ka, kb = np.unique(left.to_numpy()), np.unique(right.to_numpy())
    if len(ka) == 0 or len(kb) == 0:
        return {}
    ia = {k: i for i, k in enumerate(ka)}
    ib = {k: i for i, k in enumerate(kb)}
    overlap = np.zeros((len(kb), len(ka)))
    for x, y in zip(left.to_numpy(), right.to_numpy(), strict=True):
        overlap[ib[y], ia[x]] += 1
    rows, cols = linear_sum_assignment(-overlap)
    return {int(kb[r]): int(ka[c]) for r, c in zip(rows, cols, strict=True) if overlap[r, c] > 0}


def _metrics(a: Layout, b: Layout) -> pd.DataFrame:
    sa, sb = overall_summary(a), overall_summary(b)
    rows = []
    for key in FIGURES:
        x, y = sa.get(key), sb.get(key)
        if key in {"objective", "lower_bound"}:
            x, y = _km(x, a.unit), _km(y, b.unit)
        rows.append((key, x, y))
    ca, cb = _deviations(a), _deviations(b)
    for attribute in sorted(set(ca) | set(cb)):
        rows.append((f"{attribute} deviation", ca.get(attribute), cb.get(attribute)))
    frame = pd.DataFrame(rows, columns=["metric", "a", "b"])
    frame["a"] = pd.to_numeric(frame["a"], errors="coerce")
    frame["b"] = pd.to_numeric(frame["b"], errors="coerce")
    frame["change"] = frame["b"] - frame["a"]
    return frame


def _km(value, unit: str):
    return None if value is None else (float(value) / 1000.0 if unit == "m" else float(value))


def _deviations(layout: Layout) -> dict[str, float]:
    try:
        table = contrast_summary(layout)
    except (KeyError, ValueError):
        return {}
    return dict(zip(table["attribute"], table["deviation"].astype(float), strict=True))
