"""Which days each school is open for a meeting: weekdays, public holidays, term dates.

A term-dates CSV has one row per term or closure::

    applies_to,kind,start,end,label
    all,term,2026-09-02,2026-10-23,Autumn 1
    secondary,closure,2026-11-20,2026-11-20,INSET day
    115850,closure,2027-03-04,2027-03-04,Building works

``applies_to`` is ``all``, a value of the centres' ``phase`` column, ``column=value`` (e.g.
``la=Hampshire``: authorities set their own term dates) or one centre id; ``kind`` is
``term`` (the school is open between the dates) or ``closure`` (it is not). A school takes
its terms from the most specific rows that name it (its id, then ``column=value``, then its
phase, then ``all``); every closure that names it applies.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import holidays as holiday_data
import numpy as np
import pandas as pd

from ..errors import InputError
from ..input.textfile import read_csv_text
from .settings import WEEKDAYS

__all__ = ["Calendar", "build_calendar", "public_holidays", "read_term_dates"]

COLUMNS = ("applies_to", "kind", "start", "end")


@dataclass(frozen=True)
class Calendar:
    """The days a meeting may fall on and who is open on each.

    Attributes
    ----------
    days
        Candidate days: the chosen weekdays of the period that are not public holidays.
    open
        ``(n_centres, n_days)``: centre ``i`` is open on ``days[j]``.
    why
        ``(i, j) → reason`` for each closed centre-day ("half term (primary)"…).
    holidays
        The public holidays that fell on a chosen weekday and were left out.
    notes
        What the calendar assumed ("no term dates: …").
    """

    days: list[dt.date]
    open: np.ndarray
    why: dict[tuple[int, int], str] = field(default_factory=dict)
    holidays: dict[dt.date, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def reason(self, i: int, j: int) -> str:
        return self.why.get((i, j), "")


def public_holidays(country: str, region: str | None, start: dt.date, end: dt.date):
    """Public holidays between ``start`` and ``end`` (a date → name mapping)."""
    try:
        found = holiday_data.country_holidays(
            country, subdiv=region or None, years=range(start.year, end.year + 1)
        )
    except (NotImplementedError, KeyError) as exc:
        raise InputError(
            f"no public holidays known for country {country!r} region {region!r} ({exc})",
            file="plan settings",
            fix="give an ISO country code (GB, US…) and a region it has (ENG, KY…) or none",
        ) from None
    return {d: n for d, n in sorted(found.items()) if start <= d <= end}


def read_term_dates(path: str | Path) -> pd.DataFrame:
    """A term-dates CSV, checked: errors name the file, row and column."""
    frame = read_csv_text(path, what="term dates")
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(
            f"the term dates lack the column(s) {', '.join(missing)}",
            file=str(path),
            fix="write a header applies_to,kind,start,end,label",
        )
    if "label" not in frame.columns:
        frame["label"] = ""
    out = []
    for k, rec in enumerate(frame.to_dict("records")):
        row = k + 2  # the header is row 1
        kind = str(rec["kind"]).strip().lower()
        if kind not in ("term", "closure"):
            raise InputError(
                f"kind {rec['kind']!r}",
                file=str(path),
                row=row,
                column="kind",
                fix="write term or closure",
            )
        dates = []
        for col in ("start", "end"):
            try:
                dates.append(dt.date.fromisoformat(str(rec[col]).strip()))
            except ValueError:
                raise InputError(
                    f"{col} {rec[col]!r} is not a date",
                    file=str(path),
                    row=row,
                    column=col,
                    fix="write YYYY-MM-DD",
                ) from None
        if dates[1] < dates[0]:
            raise InputError(
                "end is before start", file=str(path), row=row, column="end", fix="swap the dates"
            )
        label = str(rec.get("label") or "").strip()
        label = "" if label.lower() == "nan" else label
        applies = str(rec["applies_to"]).strip()
        if not applies or applies.lower() == "nan":
            raise InputError(
                "applies_to is empty",
                file=str(path),
                row=row,
                column="applies_to",
                fix="write all, a phase or a centre id",
            )
        out.append((applies, kind, dates[0], dates[1], label, row))
    return pd.DataFrame(out, columns=["applies_to", "kind", "start", "end", "label", "row"])


def _candidate_days(start: dt.date, end: dt.date, weekdays, holidays: dict) -> tuple[list, dict]:
    wanted = {WEEKDAYS.index(d) for d in weekdays}
    days, skipped = [], {}
    day = start
    while day <= end:
        if day.weekday() in wanted:
            if day in holidays:
                skipped[day] = holidays[day]
            else:
                days.append(day)
        day += dt.timedelta(days=1)
    return days, skipped


def build_calendar(
    centres: pd.DataFrame,
    start: dt.date,
    end: dt.date,
    *,
    weekdays: tuple[str, ...] = ("tue", "wed", "thu"),
    country: str = "GB",
    region: str | None = "ENG",
    terms: pd.DataFrame | None = None,
    terms_source: str = "term dates",
) -> Calendar:
    """Each centre's open days (``centres`` needs ``centre_id``; ``phase`` if terms name one)."""
    holidays = public_holidays(country, region, start, end)
    days, skipped = _candidate_days(start, end, weekdays, holidays)
    n, d = len(centres), len(days)
    is_open = np.ones((n, d), dtype=bool)
    why: dict[tuple[int, int], str] = {}
    notes = []
    if terms is None or terms.empty:
        notes.append(
            "no term dates given: every chosen weekday that is not a public holiday counts "
            "as open for every school"
        )
        return Calendar(days, is_open, why, skipped, notes)
    day_index = pd.DatetimeIndex(pd.to_datetime(days))
    ids = centres["centre_id"].astype(str).str.strip().str.lower().to_numpy()

    def text(col: str) -> np.ndarray:
        return centres[col].astype(str).str.strip().str.lower().to_numpy()

    # which centres each row applies to, and how specifically (3 id, 2 column=value,
    # 1 phase, 0 all)
    applies, level = [], []
    for rec in terms.itertuples():
        key = str(rec.applies_to).strip()
        low = key.lower()
        if low == "all":
            applies.append(np.ones(n, dtype=bool))
            level.append(0)
        elif "=" in key:
            col, _, value = (part.strip() for part in key.partition("="))
            if col not in centres.columns:
                raise InputError(
                    f"applies_to {key!r} names no column of the centres",
                    file=terms_source,
                    row=int(rec.row),
                    column="applies_to",
                    fix="write all, a phase, a centre id or column=value with a column "
                    "the centres have (la, district, phase…)",
                )
            applies.append(text(col) == value.lower())
            level.append(2)
        elif low in set(ids):
            applies.append(ids == low)
            level.append(3)
        else:
            phases = text("phase") if "phase" in centres.columns else np.array([""] * n)
            applies.append(phases == low)
            level.append(1)
    applies_arr = np.array(applies).reshape(len(terms), n)
    unused = [t.applies_to for t, a in zip(terms.itertuples(), applies_arr, strict=True)
              if not a.any()]  # fmt: skip
    if unused:
        notes.append(
            f"{len(unused)} term-date row(s) match no school here "
            f"({', '.join(sorted(set(map(str, unused)))[:5])})"
        )
    spans = [
        (day_index >= pd.Timestamp(a)) & (day_index <= pd.Timestamp(b))
        for a, b in zip(terms["start"], terms["end"], strict=True)
    ]
    kinds = terms["kind"].to_numpy()
    labels = terms["label"].astype(str).to_numpy()
    keys = terms["applies_to"].astype(str).to_numpy()
    no_terms = 0
    for i in range(n):
        mine = np.flatnonzero(applies_arr[:, i])
        term_rows = [r for r in mine if kinds[r] == "term"]
        if term_rows:
            top = max(level[r] for r in term_rows)
            chosen = [r for r in term_rows if level[r] == top]
            term = np.zeros(len(days), dtype=bool)
            for r in chosen:
                term |= spans[r]
            source = keys[chosen[0]]
            for jj in np.flatnonzero(~term):
                why[(i, int(jj))] = f"outside term ({source} term dates)"
            is_open[i] &= term
        else:
            no_terms += 1
        for r in mine:
            if kinds[r] != "closure":
                continue
            for jj in np.flatnonzero(spans[r] & is_open[i]):
                why[(i, int(jj))] = f"closed: {labels[r] or 'closure'} ({keys[r]})"
            is_open[i] &= ~spans[r]
    if no_terms:
        notes.append(f"{no_terms} school(s) have no term dates: only closures apply to them")
    return Calendar(days, is_open, why, skipped, notes)
