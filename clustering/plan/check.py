"""An independent check of a network plan: it recomputes what it verifies from the plan's
tables, the members and the settings (public holidays straight from ``holidays``), not
from the code that built the plan."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from dataclasses import dataclass, field

import holidays as holiday_data
import numpy as np

from ..model.rules import eligible
from .result import Plan
from .settings import WEEKDAYS

__all__ = ["PlanCheck", "check_plan"]


@dataclass
class PlanCheck:
    """What the plan checker found; ``ok`` when there are no violations."""

    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def check_plan(plan: Plan) -> PlanCheck:
    """Verify every rule the plan promises.

    Roles: each cluster has a coordinator and deputy from its own members who meet the
    coordinator rule (missing only when no member does), distinct, and no school
    coordinates two clusters. Meetings: the set number per cluster, hosted by a member,
    in order, inside the period, on an allowed weekday that is not a public holiday, on
    a day the host is open (unless its part of the year has none), attendance and
    absences as the calendar says, and no lead person with two meetings on one day.
    Pairs and mentoring: each school in at most one pair, mentors within their limit,
    mentees mentored once, rules and clusters respected.
    """
    out: list[str] = []
    s = plan.settings
    members = plan.members.reset_index(drop=True)
    ids = members["centre_id"].astype(str).tolist()
    row_of = {i: k for k, i in enumerate(ids)}
    cluster_of = dict(zip(ids, members["cluster"].astype(int), strict=True))
    clusters = sorted(set(cluster_of.values()))

    # roles
    can_lead = (
        eligible(members, s.coordinator_rule) if s.coordinator_rule else np.ones(len(ids), bool)
    )
    roles = plan.roles
    if sorted(roles["cluster"].astype(int)) != clusters:
        out.append("the roles table does not hold exactly one row per cluster")
    coordinators = Counter()
    for r in roles.itertuples():
        k = int(r.cluster)
        mine = [i for i in ids if cluster_of[i] == k]
        n_ok = sum(can_lead[row_of[i]] for i in mine)
        for role in ("coordinator", "deputy"):
            who = getattr(r, f"{role}_id")
            if who is None or (isinstance(who, float) and np.isnan(who)):
                if n_ok >= (1 if role == "coordinator" else 2):
                    out.append(f"cluster {k} has no {role} though {n_ok} members could be one")
                continue
            who = str(who)
            if cluster_of.get(who) != k:
                out.append(f"cluster {k}'s {role} {who} is not one of its members")
            elif not can_lead[row_of[who]]:
                out.append(f"cluster {k}'s {role} {who} does not meet the coordinator rule")
            if role == "coordinator":
                coordinators[who] += 1
        if r.coordinator_id is not None and str(r.coordinator_id) == str(r.deputy_id):
            out.append(f"cluster {k}'s coordinator is also its deputy")
    for who, n in coordinators.items():
        if n > 1:
            out.append(f"school {who} coordinates {n} clusters")

    # meetings
    start, end = s.period()
    public = holiday_data.country_holidays(
        s.country, subdiv=s.region or None, years=range(start.year, end.year + 1)
    )
    allowed_days = {WEEKDAYS.index(d) for d in s.weekdays}
    cal = plan.calendar
    day_col = {d: j for j, d in enumerate(cal.days)}
    lead = {int(r.cluster): str(r.lead_person) for r in roles.itertuples()}
    lead = {k: (v if v != "the coordinator" else f"cluster {k}") for k, v in lead.items()}
    busy = Counter()
    absent = {
        (int(a.cluster), int(a.meeting), str(a.centre_id)) for a in plan.absences.itertuples()
    }
    meetings = plan.meetings
    may_host = eligible(members, s.host_rule) if s.host_rule else np.ones(len(ids), bool)
    seats = None
    if s.host_capacity and s.host_capacity in members.columns:
        seats = np.nan_to_num(members[s.host_capacity].map(_number).to_numpy(dtype=float), nan=-1.0)
    mine_ids = {k: [i for i in ids if cluster_of[i] == k] for k in clusters}
    for k in clusters:
        mine = meetings[meetings["cluster"].astype(int) == k].sort_values("meeting")
        if len(mine) != s.meetings:
            out.append(f"cluster {k} has {len(mine)} meetings, not {s.meetings}")
        dates = [dt.date.fromisoformat(d) for d in mine["date"]]
        if any(b <= a for a, b in itertools.pairwise(dates)):
            out.append(f"cluster {k}'s meetings are not on distinct days in order")
        for m, day in zip(mine.itertuples(), dates, strict=True):
            host = str(m.host_id)
            where = f"cluster {k} meeting {m.meeting} ({day})"
            if cluster_of.get(host) != k:
                out.append(f"{where} is hosted by {host}, not a member")
            elif not may_host[row_of[host]]:
                out.append(f"{where} is hosted by {host}, which the host rule excludes")
            elif seats is not None:
                need = s.attendees_per_school * len(mine_ids[k])
                fits = [i for i in mine_ids[k] if seats[row_of[i]] >= need]
                if fits and seats[row_of[host]] < need:
                    out.append(f"{where}: {host} seats fewer than {need}, though {fits[0]} can")
            if not start <= day <= end:
                out.append(f"{where} falls outside {start}–{end}")
            if day.weekday() not in allowed_days:
                out.append(f"{where} falls on a {day.strftime('%A')}")
            if day in public:
                out.append(f"{where} falls on a public holiday ({public.get(day)})")
            busy[lead[k], day] += 1
            j = day_col.get(day)
            if j is None:
                out.append(f"{where} is not a day of the calendar")
                continue
            rows = [row_of[i] for i in ids if cluster_of[i] == k]
            open_now = [ids[r] for r in rows if cal.open[r, j]]
            if int(m.can_attend) != len(open_now):
                out.append(f"{where}: {m.can_attend} expected, the calendar says {len(open_now)}")
            for r in rows:
                if (not cal.open[r, j]) != ((k, int(m.meeting), ids[r]) in absent):
                    out.append(f"{where}: {ids[r]}'s absence is misreported")
            if host in row_of and not cal.open[row_of[host], j]:
                # allowed only when the host has no open day in the meeting's slice
                span = (end - start).days + 1
                n = s.meetings
                same = [
                    jj
                    for jj, d in enumerate(cal.days)
                    if min(n - 1, (d - start).days * n // span) == int(m.meeting) - 1
                ]
                if cal.open[row_of[host], same].any():
                    out.append(f"{where} falls on a day its host is closed")
    for (who, day), n in busy.items():
        if n > 1:
            out.append(f"{who} has {n} meetings on {day}")

    # pairs
    if len(plan.pairs) and "partner_id" in plan.pairs.columns:
        pairs = plan.pairs
        for col, what in (("centre_id", "school"), ("partner_id", "partner school")):
            for i, n in Counter(pairs[col].astype(str)).items():
                if n > 1:
                    out.append(f"{what} {i} has {n} partners")
        out += [f"partner pair names {i}, not a member" for i in pairs["centre_id"].astype(str)
                if i not in cluster_of]  # fmt: skip
        if "partner_cluster" in pairs and pairs["partner_cluster"].astype(str).str.len().any():
            twins = pairs.groupby("cluster")["partner_cluster"].nunique()
            out += [f"cluster {k} pairs with {n} partner clusters" for k, n in twins.items()
                    if n > 1]  # fmt: skip
            back = pairs.groupby("partner_cluster")["cluster"].nunique()
            out += [f"partner cluster {k} is twinned with {n} clusters" for k, n in back.items()
                    if n > 1]  # fmt: skip
    elif len(plan.pairs):
        seen = Counter(list(plan.pairs["a_id"].astype(str)) + list(plan.pairs["b_id"].astype(str)))
        out += [f"school {i} is in {n} pairs" for i, n in seen.items() if n > 1]
        for p in plan.pairs.itertuples():
            a, b = str(p.a_id), str(p.b_id)
            if a not in cluster_of or b not in cluster_of:
                out.append(f"pair {a}–{b} names a school that is not a member")
            elif s.pairing == "within" and cluster_of[a] != cluster_of[b]:
                out.append(f"pair {a}–{b} crosses clusters though pairing is within")
            elif s.pairing == "across" and cluster_of[a] == cluster_of[b]:
                out.append(f"pair {a}–{b} is inside one cluster though pairing is across")
    if len(plan.mentoring):
        mentor_ok = eligible(members, s.mentor_rule)
        mentee_ok = eligible(members, s.mentee_rule)
        per = Counter(plan.mentoring["mentor_id"].astype(str))
        out += [
            f"{i} mentors {n} schools, more than {s.mentees_per_mentor}"
            for i, n in per.items()
            if n > s.mentees_per_mentor
        ]
        twice = Counter(plan.mentoring["mentee_id"].astype(str))
        out += [f"{i} has {n} mentors" for i, n in twice.items() if n > 1]
        for p in plan.mentoring.itertuples():
            a, b = str(p.mentor_id), str(p.mentee_id)
            if a not in row_of or b not in row_of:
                out.append(f"mentoring {a}→{b} names a school that is not a member")
                continue
            if not mentor_ok[row_of[a]] or not mentee_ok[row_of[b]]:
                out.append(f"mentoring {a}→{b} breaks the mentor or mentee rule")
            if s.mentor_within_cluster and cluster_of[a] != cluster_of[b]:
                out.append(f"mentoring {a}→{b} crosses clusters")
    return PlanCheck(out)
