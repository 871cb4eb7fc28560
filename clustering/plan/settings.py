"""What a network plan asks for: meetings, dates, roles, pairing; read from a ``[plan]`` table."""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import InputError
from ..input.textfile import read_text

__all__ = ["WEEKDAYS", "PlanSettings", "academic_year", "read_plan_settings"]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PAIRING = ("within", "across", "partners", "none")


def academic_year(today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The school year still ahead: from tomorrow (or 1 September) to 31 July.

    From June on, the next school year: there is too little of this one left to plan.
    """
    today = today or dt.date.today()
    first = today.year if today.month >= 9 else today.year - 1
    if 6 <= today.month <= 8:
        first = today.year
    start = max(dt.date(first, 9, 1), today + dt.timedelta(days=1))
    return start, dt.date(first + 1, 7, 31)


@dataclass(frozen=True)
class PlanSettings:
    """How to turn a layout into a working network (``clustering plan``).

    Attributes
    ----------
    meetings
        Network meetings per cluster in the period (the domain's minimum is two).
    start, end
        The period to schedule in; ``None``: :func:`academic_year`.
    weekdays
        Days of the week meetings may fall on.
    time, duration
        Start time (``"HH:MM"``, local) and length in minutes of every meeting.
    country, region
        Public holidays (the ``holidays`` package): ``"GB"`` + ``"ENG"``, ``"US"`` + ``"KY"``…
    timezone
        The time zone of the ``.ics`` events.
    calendar
        A term-dates CSV (``applies_to,kind,start,end,label``; see ``docs/plan.md``);
        ``None``: every chosen weekday that is not a public holiday counts as open.
    coordinator_rule
        Which members may coordinate or deputise (a yes/no column or a rule such as
        ``"pupils >= 200"``); ``None``: any member. The layout's own coordinator is kept
        when it meets the rule.
    rank_by
        The column that ranks eligible members for coordinator then deputy (highest first);
        ties go to the member nearest the venue.
    host_rule
        Which members may host a meeting (e.g. an ``accessible`` column); ``None``: any.
    host_capacity, attendees_per_school
        A column of how many people a school can seat for a meeting: a host must seat
        ``attendees_per_school`` from every member (when any member of the cluster can).
    worst_weight
        In choosing hosts, how much the longest trip counts beside the total travel.
    pairing
        ``"within"`` a cluster, ``"across"`` clusters, with external ``"partners"``, or
        ``"none"``.
    pair_candidates
        For pairing across clusters: each school's nearest schools considered.
    partners
        For ``pairing = "partners"``: a CSV of external partner schools (e.g. a partner
        cluster abroad): ``partner_id,name[,cluster,phase,pupils,…]``.
    mentor_rule, mentee_rule
        Who mentors and who is mentored (rules as above); mentoring is skipped unless both
        are given.
    mentees_per_mentor
        Each experienced school mentors up to this many.
    mentor_within_cluster
        Mentors only within their own cluster.
    time_limit, seed, workers
        The date scheduler's CP-SAT budget.
    """

    meetings: int = 2
    start: dt.date | None = None
    end: dt.date | None = None
    weekdays: tuple[str, ...] = ("tue", "wed", "thu")
    time: str = "16:00"
    duration: int = 90
    country: str = "GB"
    region: str | None = "ENG"
    #: the meetings' time zone (IANA name); ``None``: Europe/London for GB,
    #: America/New_York for US, else times without a zone
    timezone: str | None = None
    calendar: str | None = None
    coordinator_rule: str | None = None
    rank_by: str = "pupils"
    host_rule: str | None = None
    host_capacity: str | None = None
    attendees_per_school: int = 2
    worst_weight: float = 1.0
    pairing: str = "within"
    pair_candidates: int = 8
    partners: str | None = None
    mentor_rule: str | None = None
    mentee_rule: str | None = None
    mentees_per_mentor: int = 2
    mentor_within_cluster: bool = True
    time_limit: float = 10.0
    seed: int = 0
    workers: int = 2
    #: where the settings came from, for error messages
    source: str = field(default="<plan settings>", compare=False)

    def __post_init__(self) -> None:
        src = self.source
        if not isinstance(self.meetings, int) or not 1 <= self.meetings <= 24:
            raise InputError(f"meetings = {self.meetings!r}", file=src, fix="give 1 to 24")
        days = tuple(str(d).strip().lower()[:3] for d in self.weekdays)
        bad = [d for d in days if d not in WEEKDAYS]
        if bad or not days:
            raise InputError(
                f"weekdays = {list(self.weekdays)!r}",
                file=src,
                fix="name days of the week, e.g. ['tue', 'wed', 'thu']",
            )
        object.__setattr__(self, "weekdays", tuple(dict.fromkeys(days)))
        try:
            dt.time.fromisoformat(self.time)
        except (TypeError, ValueError):
            raise InputError(f"time = {self.time!r}", file=src, fix='give "HH:MM"') from None
        if not isinstance(self.duration, int) or not 5 <= self.duration <= 24 * 60:
            raise InputError(
                f"duration = {self.duration!r}", file=src, fix="give 5 to 1440 minutes"
            )
        if self.pairing not in PAIRING:
            raise InputError(
                f"pairing = {self.pairing!r}", file=src, fix=f"use one of {', '.join(PAIRING)}"
            )
        if self.pairing == "partners" and not self.partners:
            raise InputError(
                'pairing = "partners" needs partners = "FILE.csv"',
                file=src,
                fix="name the CSV of partner schools (partner_id,name,…)",
            )
        if self.mentees_per_mentor < 1 or self.pair_candidates < 1:
            raise InputError(
                "mentees_per_mentor and pair_candidates must be 1 or more", file=src, fix="raise it"
            )
        if not (math.isfinite(self.time_limit) and self.time_limit > 0):
            raise InputError(f"time_limit = {self.time_limit!r}", file=src, fix="give seconds > 0")
        if self.timezone:
            try:
                ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise InputError(
                    f"timezone = {self.timezone!r}",
                    file=src,
                    fix="give an IANA name such as Europe/London",
                ) from None
        start, end = self.period()
        if end < start:
            raise InputError(
                f"the period ends ({end}) before it starts ({start})",
                file=src,
                fix="swap start and end",
            )

    def zone(self) -> str | None:
        """The IANA time zone of the meetings, or ``None`` for local times without one."""
        if self.timezone:
            return self.timezone
        return {"GB": "Europe/London", "UK": "Europe/London", "US": "America/New_York"}.get(
            self.country.upper()
        )

    def period(self) -> tuple[dt.date, dt.date]:
        """The dates to schedule between (inclusive)."""
        default = academic_year()
        return self.start or default[0], self.end or default[1]

    def with_overrides(self, **changes: Any) -> PlanSettings:
        """A copy with the given fields changed; ``None`` values are ignored."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        start, end = self.period()
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "source"}
        out["start"], out["end"] = start.isoformat(), end.isoformat()
        out["weekdays"] = list(self.weekdays)
        return out


_KINDS: dict[str, type | tuple[type, ...]] = {
    "meetings": int,
    "start": (dt.date, str),
    "end": (dt.date, str),
    "weekdays": list,
    "time": str,
    "duration": int,
    "country": str,
    "region": str,
    "timezone": str,
    "calendar": str,
    "coordinator_rule": str,
    "rank_by": str,
    "host_rule": str,
    "host_capacity": str,
    "attendees_per_school": int,
    "worst_weight": (int, float),
    "pairing": str,
    "pair_candidates": int,
    "partners": str,
    "mentor_rule": str,
    "mentee_rule": str,
    "mentees_per_mentor": int,
    "mentor_within_cluster": bool,
    "time_limit": (int, float),
    "seed": int,
    "workers": int,
}


def settings_from_table(table: Mapping[str, Any], *, file: str, folder: Path) -> PlanSettings:
    """Settings from a ``[plan]`` table; a relative ``calendar`` is resolved against ``folder``."""
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in _KINDS:
            raise InputError(
                f"plan.{key}: unknown key", file=file, fix=f"use one of {', '.join(_KINDS)}"
            )
        kind = _KINDS[key]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise InputError(
                f"plan.{key}: {value!r} is of the wrong kind",
                file=file,
                fix="see docs/plan.md for each key's kind",
            )
        if key in ("start", "end") and isinstance(value, str):
            try:
                value = dt.date.fromisoformat(value)
            except ValueError:
                raise InputError(
                    f"plan.{key}: {value!r} is not a date", file=file, fix="write YYYY-MM-DD"
                ) from None
        if isinstance(value, dt.datetime):
            value = value.date()
        if key == "weekdays":
            value = tuple(str(v) for v in value)
        if key in ("calendar", "partners") and not Path(value).is_absolute():
            value = str((folder / value).resolve())
        values[key] = value
    return PlanSettings(**values, source=file)


def read_plan_settings(path: str | Path) -> PlanSettings:
    """The ``[plan]`` table of a scenario or plan file (defaults where it has none)."""
    path = Path(path)
    try:
        tables = tomllib.loads(read_text(path))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(
            f"not valid TOML ({exc})", file=str(path), fix="see docs/plan.md for the format"
        ) from None
    table = tables.get("plan", {})
    if not isinstance(table, dict):
        raise InputError("[plan] must be a table", file=str(path), fix="write [plan] and keys")
    return settings_from_table(table, file=str(path), folder=path.parent)
