"""Turn a layout into a working network: roles, hosts, dates, pairs and mentoring."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..errors import InputError
from ..model.costs import euclidean_costs
from ..model.layout import Layout
from ..model.rules import eligible
from .calendar import build_calendar, read_term_dates
from .check import check_plan
from .pairing import (
    contrast_km,
    mentor_schools,
    pair_schools,
    pair_with_partners,
    read_partners,
)
from .result import Plan
from .roles import choose_roles, rotate_hosts
from .schedule import schedule_meetings, slices
from .settings import PlanSettings

__all__ = ["Plan", "plan_network"]


def _mask(frame: pd.DataFrame, rule: str | None, what: str) -> np.ndarray:
    if not rule:
        return np.ones(len(frame), dtype=bool)
    return eligible(frame, rule, source=f"plan settings ({what})")


def _distances(layout: Layout, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, str]:
    """Travel for hosting (the layout's matrix when it has one in metres) and straight km."""
    xy = np.column_stack([frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy()])
    straight = np.asarray(euclidean_costs(xy).matrix)
    costs = layout.problem.costs if layout.problem is not None else None
    if costs is not None and costs.unit == "m" and costs.source != "euclidean":
        return np.asarray(costs.matrix, dtype=float), straight / 1000.0, "travel matrix"
    return straight, straight / 1000.0, "straight line"


def plan_network(
    layout: Layout,
    settings: PlanSettings | None = None,
    *,
    leads: Mapping[int, str] | None = None,
    contrast: Mapping[str, float] | None = None,
    terms: pd.DataFrame | None = None,
    partners: pd.DataFrame | None = None,
) -> Plan:
    """Plan the network's year for ``layout``.

    Parameters
    ----------
    layout
        A layout from :func:`clustering.form_clusters` or :func:`clustering.read_layout`.
    settings
        Meetings, period, weekdays, rules (:class:`PlanSettings`); defaults if ``None``.
    leads
        Optionally, the person leading each cluster (cluster → name), e.g. an adviser
        who leads several: their clusters never meet on the same day. By default each
        cluster is led by its own coordinator school.
    contrast
        km per unit of difference for pairing and mentoring; by default the layout's own
        contrast weights.
    terms
        Term dates (:func:`clustering.plan.calendar.read_term_dates`); by default read from
        ``settings.calendar`` when it names a file.
    partners
        External partner schools (:func:`clustering.plan.pairing.read_partners`) for
        ``pairing = "partners"``; by default read from ``settings.partners``.

    Returns
    -------
    Plan
        Checked by :func:`clustering.check_plan` before it is returned.
    """
    settings = settings or PlanSettings()
    began = time.perf_counter()
    frame = layout.centres.reset_index(drop=True)
    if frame.empty:
        raise InputError(
            "the layout has no members", file=layout.source or "layout", fix="form clusters first"
        )
    host_cost, km, travel = _distances(layout, frame)
    start, end = settings.period()
    if terms is None and settings.calendar:
        terms = read_term_dates(settings.calendar)
    calendar = build_calendar(
        frame,
        start,
        end,
        weekdays=settings.weekdays,
        country=settings.country,
        region=settings.region,
        terms=terms,
        terms_source=settings.calendar or "term dates",
    )
    if not calendar.days:
        raise InputError(
            f"no day between {start} and {end} falls on {', '.join(settings.weekdays)} "
            "outside public holidays",
            file=settings.source,
            fix="lengthen the period or allow more weekdays",
        )
    notes = list(calendar.notes)
    notes.append(f"travel to hosts: {travel}")
    # roles
    can_lead = _mask(frame, settings.coordinator_rule, "coordinator_rule")
    roles = choose_roles(frame, host_cost, can_lead, rank_by=settings.rank_by)
    lead_of = {
        int(r.cluster): str((leads or {}).get(int(r.cluster)) or r.coordinator_id or r.lead_id)
        for r in roles.itertuples()
    }
    roles["lead_person"] = [
        (leads or {}).get(int(k)) or "the coordinator" for k in roles["cluster"]
    ]
    # hosts and dates
    can_host = _mask(frame, settings.host_rule, "host_rule")
    clusters = [g.index.to_numpy() for _, g in frame.groupby("cluster", sort=True)]
    seats = None
    if settings.host_capacity:
        if settings.host_capacity not in frame.columns:
            raise InputError(
                f"host_capacity names the column {settings.host_capacity!r}, which the centres "
                "do not have",
                file=settings.source,
                fix="name a column of seats per school, or leave host_capacity out",
            )
        seats = pd.to_numeric(frame[settings.host_capacity], errors="coerce").to_numpy(
            dtype=float, na_value=np.nan
        )
    too_small = 0
    host_ok = []
    for rows in clusters:
        ok = can_host.copy()
        if seats is not None:
            fits = ok & (np.nan_to_num(seats, nan=-1) >= settings.attendees_per_school * len(rows))
            if fits[rows].any():
                ok = fits
            else:
                too_small += 1
        host_ok.append(ok)
    if too_small:
        notes.append(
            f"{too_small} cluster(s) have no member that seats {settings.attendees_per_school} "
            "from every school: their hosts were chosen without the capacity"
        )
    labels = sorted(int(k) for k in frame["cluster"].unique())
    hosts = [
        rotate_hosts(rows, host_cost, ok, settings.meetings, worst_weight=settings.worst_weight)
        for rows, ok in zip(clusters, host_ok, strict=True)
    ]
    windows = slices(calendar.days, start, end, settings.meetings)
    sched = schedule_meetings(
        calendar.open,
        clusters,
        hosts,
        windows,
        [lead_of[k] for k in labels],
        time_limit=settings.time_limit,
        seed=settings.seed,
        workers=settings.workers,
    )
    begin = dt.time.fromisoformat(settings.time)
    meetings, absences = [], []
    for c, (label, rows) in enumerate(zip(labels, clusters, strict=True)):
        for m in range(settings.meetings):
            j, host = sched.day[c][m], hosts[c][m]
            day = calendar.days[j]
            start_at = dt.datetime.combine(day, begin)
            away = [int(r) for r in rows if not calendar.open[r, j]]
            trips = km[rows, host]
            meetings.append(
                {
                    "cluster": label,
                    "meeting": m + 1,
                    "date": day.isoformat(),
                    "weekday": day.strftime("%A"),
                    "start": start_at.strftime("%H:%M"),
                    "end": (start_at + dt.timedelta(minutes=settings.duration)).strftime("%H:%M"),
                    "host_id": frame.loc[host, "centre_id"],
                    "host_name": frame.loc[host, "name"],
                    "host_address": _address(frame, host),
                    "members": len(rows),
                    "can_attend": len(rows) - len(away),
                    "travel_total_km": round(float(trips.sum()), 3),
                    "travel_max_km": round(float(trips.max()), 3),
                    "host_open": bool(calendar.open[host, j]),
                }
            )
            for r in away:
                absences.append(
                    {
                        "cluster": label,
                        "meeting": m + 1,
                        "date": day.isoformat(),
                        "centre_id": frame.loc[r, "centre_id"],
                        "name": frame.loc[r, "name"],
                        "reason": calendar.reason(r, j),
                    }
                )
    meetings = pd.DataFrame(meetings)
    absences = pd.DataFrame(
        absences, columns=["cluster", "meeting", "date", "centre_id", "name", "reason"]
    )
    if sched.host_closed:
        notes.append(
            f"{len(sched.host_closed)} meeting(s) fall on a day their host is closed: the "
            "host has no open day in that part of the year"
        )
    # pairing and mentoring
    weights = dict(contrast if contrast is not None else _layout_contrast(layout))
    diff = contrast_km(frame, weights)
    unmatched = []
    if settings.pairing == "partners":
        pairs, left, pairing = pair_with_partners(
            frame, partners if partners is not None else read_partners(settings.partners), weights
        )
        unmatched.append(left)
    elif settings.pairing != "none":
        pairs, left, pairing = pair_schools(
            frame,
            km,
            diff,
            mode=settings.pairing,
            candidates=settings.pair_candidates,
            time_limit=settings.time_limit,
            seed=settings.seed,
            workers=settings.workers,
        )
        unmatched.append(left)
    else:
        pairs, pairing = pd.DataFrame(), {"pairing_status": "not asked"}
    if settings.mentor_rule and settings.mentee_rule:
        mentoring, left = mentor_schools(
            frame,
            km,
            diff,
            _mask(frame, settings.mentor_rule, "mentor_rule"),
            _mask(frame, settings.mentee_rule, "mentee_rule"),
            per_mentor=settings.mentees_per_mentor,
            within_cluster=settings.mentor_within_cluster,
        )
        unmatched.append(left)
    else:
        mentoring = pd.DataFrame()
        notes.append("no mentoring: give mentor_rule and mentee_rule to pair mentors")
    unmatched = [u for u in unmatched if len(u)]
    unmatched = (
        pd.concat(unmatched, ignore_index=True)
        if unmatched
        else pd.DataFrame(columns=["centre_id", "name", "cluster", "what", "reason"])
    )
    members = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    plan = Plan(
        roles=roles,
        meetings=meetings,
        absences=absences,
        pairs=pairs,
        mentoring=mentoring,
        unmatched=unmatched,
        members=members,
        calendar=calendar,
        settings=settings,
        notes=notes,
        stats={
            "schedule_status": sched.status,
            "attendance": sched.attendance,
            "attendance_best_possible": sched.best_possible,
            "attendance_of": int(sum(len(r) for r in clusters) * settings.meetings),
            "schedule_seconds": round(sched.seconds, 3),
            **pairing,
            "contrast_weights": weights,
            "leads": {str(k): v for k, v in (leads or {}).items()},
            "layout_source": layout.source,
        },
    )
    report = check_plan(plan)
    plan.stats["checker"] = "passed" if report.ok else "failed"
    plan.stats["violations"] = list(report.violations)
    plan.stats["seconds"] = round(time.perf_counter() - began, 3)
    if not report.ok:
        # a plan that fails its own check is a bug, not the user's doing: it is no ClusteringError
        raise AssertionError("plan failed the checker: " + "; ".join(report.violations[:5]))
    return plan


def _address(frame: pd.DataFrame, row: int) -> str:
    parts = []
    for col in ("address", "street", "Street", "town", "Town", "postcode", "Postcode"):
        if col in frame.columns:
            value = frame.loc[row, col]
            if isinstance(value, str) and value.strip() and value.strip() not in parts:
                parts.append(value.strip())
    return ", ".join(parts)


def _layout_contrast(layout: Layout) -> dict[str, float]:
    weights = (layout.params or {}).get("weights", {}) or {}
    contrast = weights.get("contrast", {}) if isinstance(weights, dict) else {}
    return {str(k): float(v) for k, v in (contrast or {}).items()}
