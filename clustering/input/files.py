"""Small CSV files that go with the centres: pairs, groups, exclusions and a previous layout.

Each reader names the file, row and column of what is wrong and says how to fix it.
Files are UTF-8 (with or without a byte-order mark) or cp1252, as Excel saves them
(:mod:`clustering.input.textfile`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import InputError
from .schemas import YES_VALUES
from .textfile import FORMULA_STARTS, read_csv_text, read_text

__all__ = [
    "EXCLUDED_BY_SCENARIO",
    "PreviousLayout",
    "norm_id",
    "read_exclusions",
    "read_groups",
    "read_pairs",
    "read_previous",
]


@dataclass(frozen=True)
class PreviousLayout:
    """A layout formed before: each centre's cluster and each cluster's venue."""

    cluster: Mapping[str, str]
    venue: Mapping[str, str] = field(default_factory=dict)
    source: str = "<previous layout>"


def _read_csv(path: str | Path, what: str) -> pd.DataFrame:
    frame = read_csv_text(path, what=what)
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def norm_id(value: object) -> str:
    """An id as written in a CSV cell: stripped; ``"101.0"`` (a spreadsheet number) as ``"101"``;
    ``"'=S3"`` (a formula-like id neutralised by this package's exports) as ``"=S3"``.

    >>> norm_id(" 101.0 "), norm_id("'=S3"), norm_id("'quoted")
    ('101', '=S3', "'quoted")
    """
    text = str(value).strip()
    if text[:1] == "'" and text[1:2] in FORMULA_STARTS:
        return text[1:]
    return text[:-2] if re.fullmatch(r"-?\d+\.0", text) else text


def read_pairs(path: str | Path) -> tuple[tuple[str, str], ...]:
    """Pairs of centre ids from a CSV whose first two columns hold them (one pair a row)."""
    frame = _read_csv(path, "pairs")
    if frame.shape[1] < 2:
        raise InputError(
            "the pairs file needs two columns of centre ids",
            file=str(path),
            fix="write a header such as 'centre_a,centre_b' and one pair per row",
        )
    a, b = frame.columns[:2]
    out = []
    for k, (x, y) in enumerate(zip(frame[a], frame[b], strict=True)):
        x, y = norm_id(x), norm_id(y)
        if not x or not y:
            raise InputError(
                "a pair is missing a centre id",
                file=str(path),
                row=k + 2,
                column=a if not x else b,
                fix="give both ids or delete the row",
            )
        out.append((x, y))
    return tuple(out)


def read_groups(path: str | Path) -> tuple[tuple[str, ...], ...]:
    """Groups from a CSV with columns ``group,centre_id`` (one member a row)."""
    frame = _read_csv(path, "groups")
    if frame.shape[1] < 2:
        raise InputError(
            "the groups file needs a group column and a centre id column",
            file=str(path),
            fix="write a header 'group,centre_id' and one member per row",
        )
    g, c = frame.columns[:2]
    groups: dict[str, list[str]] = {}
    for k, (name, centre) in enumerate(zip(frame[g], frame[c], strict=True)):
        if not norm_id(centre):
            raise InputError(
                "a row has no centre id", file=str(path), row=k + 2, column=c, fix="fill it in"
            )
        groups.setdefault(norm_id(name), []).append(norm_id(centre))
    return tuple(tuple(v) for v in groups.values())


def read_previous(path: str | Path) -> PreviousLayout:
    """A previous layout from its ``assignments.csv`` (``centre_id``, ``cluster``, ``is_venue``).

    Centres with no cluster (the excluded) are skipped.
    """
    frame = _read_csv(path, "previous layout")
    for column in ("centre_id", "cluster"):
        if column not in frame.columns:
            raise InputError(
                f"the previous layout has no {column!r} column",
                file=str(path),
                column=column,
                fix="give the assignments.csv written by an earlier run",
            )
    cluster: dict[str, str] = {}
    venue: dict[str, str] = {}
    for k, row in frame.iterrows():
        cid, label = norm_id(row["centre_id"]), norm_id(row["cluster"])
        if not label:
            continue
        if cid in cluster:
            raise InputError(
                f"centre {cid} appears twice",
                file=str(path),
                row=int(k) + 2,
                column="centre_id",
                fix="keep one row per centre",
            )
        cluster[cid] = label
        if "is_venue" in frame.columns and str(row["is_venue"]).strip().lower() in YES_VALUES:
            venue[label] = cid
        elif "venue_id" in frame.columns and norm_id(row["venue_id"]):
            venue.setdefault(label, norm_id(row["venue_id"]))
    return PreviousLayout(cluster, venue, str(path))


#: the reason given to centres a scenario leaves out without saying why
EXCLUDED_BY_SCENARIO = "excluded by the scenario"


def read_exclusions(path: str | Path) -> dict[str, str]:
    """Centres to leave out, from a CSV with a ``centre_id`` column and optionally ``reason``.

    Without a ``centre_id`` (or ``id``) column the first column holds the ids.
    An empty reason becomes :data:`EXCLUDED_BY_SCENARIO`.
    """
    path = Path(path)
    fix = "write a header centre_id,reason and one centre per row"
    text = read_text(path)
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise InputError(f"cannot read it as CSV ({exc})", file=str(path), fix=fix) from exc
    if not rows or not any(c.strip() for c in rows[0]):
        raise InputError("the file is empty", file=str(path), fix=fix)
    header = [c.strip() for c in rows[0]]
    lower = [c.lower() for c in header]
    at = next((lower.index(c) for c in ("centre_id", "id") if c in lower), 0)
    why = lower.index("reason") if "reason" in lower else None
    out: dict[str, str] = {}
    for k, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue  # blank line
        cid = row[at].strip() if at < len(row) else ""
        cid = cid[:-2] if re.fullmatch(r"-?\d+\.0", cid) else cid
        if not cid:
            raise InputError(
                "no centre id", file=str(path), row=k, column=header[at], fix="fill it in"
            )
        if cid in out:
            raise InputError(
                f"centre {cid} appears twice",
                file=str(path),
                row=k,
                column=header[at],
                fix="keep one row per centre",
            )
        reason = row[why].strip() if why is not None and why < len(row) else ""
        out[cid] = reason or EXCLUDED_BY_SCENARIO
    return out
