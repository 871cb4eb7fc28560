"""Write a network plan: tables, one ``.ics`` calendar per cluster and the paperwork.

Templates (``invitation.txt.j2``, ``plan.html.j2``, ``monitoring.html.j2``) come from
``clustering/output/templates``; a ``templates`` folder given to :func:`write_plan` holds
edited copies that replace them by name.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import jinja2
import pandas as pd
from markupsafe import Markup

from ..errors import InputError
from ..plan.network import Plan
from .folder import replace_folder
from .tables import write_csv

__all__ = ["CONTACT_COLUMNS", "TEMPLATES", "ics_calendar", "write_plan"]

TEMPLATES = Path(__file__).with_name("templates")
#: columns of the input copied to the contact sheets when present (nothing is invented)
CONTACT_COLUMNS = (
    "phase",
    "pupils",
    "street",
    "Street",
    "town",
    "Town",
    "postcode",
    "Postcode",
    "email",
    "Email",
    "phone",
    "Telephone",
    "TelephoneNum",
    "contact",
    "head",
    "website",
    "SchoolWebsite",
)


def _env(templates: str | Path | None) -> jinja2.Environment:
    folders = [str(TEMPLATES)]
    if templates is not None:
        if not Path(templates).is_dir():
            raise InputError(
                "the templates folder does not exist",
                file=str(templates),
                fix=f"copy {TEMPLATES} and edit the copies",
            )
        folders.insert(0, str(templates))
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(folders),
        autoescape=jinja2.select_autoescape(["html.j2"]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def _html(frame: pd.DataFrame) -> Markup:
    """A table for the HTML templates: its cells escaped by pandas, the markup kept."""
    if frame is None or frame.empty:
        return Markup("<p class='note'>None.</p>")
    return Markup(frame.to_html(index=False, border=0, na_rep="", escape=True))


def ics_calendar(plan: Plan, cluster: int) -> bytes:
    """The cluster's meetings as an iCalendar file (RFC 5545)."""
    zone = plan.settings.zone()
    tz = ZoneInfo(zone) if zone else None
    cal = icalendar.Calendar()
    cal.add("prodid", "-//clustering//network plan//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"School cluster {cluster}")
    stamp = dt.datetime.now(dt.UTC).replace(microsecond=0)
    roles = plan.roles.set_index("cluster")
    coordinator = roles.loc[cluster, "coordinator_name"] if cluster in roles.index else None
    for m in plan.meetings[plan.meetings["cluster"] == cluster].itertuples():
        day = dt.date.fromisoformat(m.date)
        start = dt.datetime.combine(day, dt.time.fromisoformat(m.start), tzinfo=tz)
        event = icalendar.Event()
        event.add("uid", f"cluster-{cluster}-meeting-{m.meeting}-{m.date}@clustering")
        event.add("dtstamp", stamp)
        event.add("dtstart", start)
        event.add("dtend", start + dt.timedelta(minutes=plan.settings.duration))
        event.add("summary", f"School cluster {cluster}: network meeting {m.meeting}")
        where = m.host_name + (f", {m.host_address}" if m.host_address else "")
        event.add("location", where)
        event.add(
            "description",
            f"Hosted by {m.host_name}. {m.can_attend} of {m.members} member schools are open "
            f"that day." + (f" Coordinator: {coordinator}." if coordinator else ""),
        )
        cal.add_component(event)
    if tz is not None and hasattr(cal, "add_missing_timezones"):
        cal.add_missing_timezones()
    return cal.to_ical()


def _contacts(plan: Plan) -> pd.DataFrame:
    members = plan.members
    cols = ["cluster", "centre_id", "name"] + [c for c in CONTACT_COLUMNS if c in members]
    sheet = members[cols].copy()
    role = {}
    for r in plan.roles.itertuples():
        role[str(r.lead_id)] = ["lead school"]
    for r in plan.roles.itertuples():
        if r.coordinator_id is not None:
            role.setdefault(str(r.coordinator_id), []).insert(0, "coordinator")
        if r.deputy_id is not None:
            role.setdefault(str(r.deputy_id), []).append("deputy")
    for m in plan.meetings.itertuples():
        role.setdefault(str(m.host_id), []).append(f"hosts meeting {m.meeting}")
    sheet.insert(3, "role", [", ".join(role.get(str(i), [])) for i in sheet["centre_id"]])
    return sheet.sort_values(["cluster", "name"], ignore_index=True)


def write_plan(
    plan: Plan,
    out_dir: str | Path,
    *,
    templates: str | Path | None = None,
    previous_moves: pd.DataFrame | None = None,
    run: dict | None = None,
) -> dict[str, Path]:
    """Write the plan's files into ``out_dir``; returns name → path.

    ``roles.csv``, ``meetings.csv``, ``absences.csv``, ``pairs.csv``, ``mentoring.csv``,
    ``unmatched.csv``, ``contacts.csv``; ``calendars/cluster_NN.ics``;
    ``invitations/cluster_NN.txt``; ``plan.html`` (roles and responsibilities, the meeting
    plan, contact sheets and invitations); ``monitoring.html`` (the annual report, with
    membership changes when ``previous_moves`` — a layout's ``moves.csv`` — is given);
    ``plan.json`` (settings, figures, the checker's verdict and ``run``).

    File names come from cluster numbers, never from the cells. The CSV files are
    written by :func:`clustering.output.tables.write_csv` (UTF-8 with a byte-order
    mark; text that a spreadsheet would run as a formula gets a leading apostrophe).
    The folder is written whole, as :func:`clustering.output.export.write_outputs`
    writes its own: it must be new, empty or an earlier plan's (``plan.json``), which
    is then replaced entirely; a failure leaves it as it was.
    """
    env = _env(templates)
    target = Path(out_dir)
    with replace_folder(target, "plan") as out:
        files = _write_plan(plan, out, env, previous_moves, run)
    return {key: target / path.relative_to(out) for key, path in files.items()}


def _write_plan(
    plan: Plan,
    out: Path,
    env: jinja2.Environment,
    previous_moves: pd.DataFrame | None,
    run: dict | None,
) -> dict[str, Path]:
    (out / "calendars").mkdir()
    (out / "invitations").mkdir()
    files: dict[str, Path] = {}
    contacts = _contacts(plan)
    tables = {
        "roles": plan.roles,
        "meetings": plan.meetings,
        "absences": plan.absences,
        "pairs": plan.pairs,
        "mentoring": plan.mentoring,
        "unmatched": plan.unmatched,
        "contacts": contacts,
    }
    for name, frame in tables.items():
        files[f"{name}.csv"] = write_csv(frame, out / f"{name}.csv")
    invitation = env.get_template("invitation.txt.j2")
    sections = []
    for r in plan.roles.itertuples():
        k = int(r.cluster)
        mine = plan.meetings[plan.meetings["cluster"] == k]
        ics = out / "calendars" / f"cluster_{k:02d}.ics"
        ics.write_bytes(ics_calendar(plan, k))
        names = contacts.loc[contacts["cluster"] == k, "name"].tolist()
        text = invitation.render(
            cluster=r._asdict(),
            meetings=list(mine.itertuples()),
            first_date=mine["date"].min(),
            last_date=mine["date"].max(),
            member_names=", ".join(names),
        )
        txt = out / "invitations" / f"cluster_{k:02d}.txt"
        txt.write_text(text, encoding="utf-8")
        sections.append(
            {
                "cluster": k,
                "contacts": _html(contacts[contacts["cluster"] == k].drop(columns="cluster")),
                "invitation": text,
            }
        )
    files["calendars"], files["invitations"] = out / "calendars", out / "invitations"
    stats = plan.stats
    start, end = plan.settings.period()
    summary = (
        f"{plan.n_clusters} clusters, {len(plan.meetings)} meetings between {start} and {end} "
        f"on {', '.join(plan.settings.weekdays)} at {plan.settings.time}; "
        f"{stats['attendance']:,} of {stats['attendance_of']:,} school places can be taken "
        f"(the best any dates could give: {stats['attendance_best_possible']:,}; "
        f"schedule {stats['schedule_status']})."
    )
    page = env.get_template("plan.html.j2").render(
        title="Network plan",
        summary=summary,
        checker=stats.get("checker", "not run"),
        violations=stats.get("violations", []),
        notes=plan.notes,
        roles_table=_html(plan.roles),
        meetings_table=_html(plan.meetings),
        absences_table=_html(plan.absences),
        pairs_table=_html(plan.pairs),
        mentoring_table=_html(plan.mentoring),
        unmatched_table=_html(plan.unmatched),
        clusters=sections,
    )
    (out / "plan.html").write_text(page, encoding="utf-8")
    files["plan.html"] = out / "plan.html"
    by_cluster = plan.meetings.groupby("cluster").agg(
        meetings=("meeting", "count"),
        members=("members", "first"),
        places_open=("can_attend", "sum"),
        first=("date", "min"),
        last=("date", "max"),
    )
    by_cluster = by_cluster.reset_index().merge(
        plan.roles[["cluster", "coordinator_name", "deputy_name"]], on="cluster"
    )
    changes = None
    if previous_moves is not None and len(previous_moves) and "status" in previous_moves:
        changes = _html(
            previous_moves["status"]
            .value_counts()
            .rename_axis("change")
            .reset_index(name="schools")
        )
    places = int(stats["attendance_of"])
    report = env.get_template("monitoring.html.j2").render(
        period=f"{start} to {end}",
        n_clusters=plan.n_clusters,
        n_members=len(plan.members),
        n_meetings=len(plan.meetings),
        attendance=f"{stats['attendance']:,}",
        places=f"{places:,}",
        share=f"{stats['attendance'] / places:.0%}" if places else "—",
        n_pairs=len(plan.pairs),
        n_mentoring=len(plan.mentoring),
        changes=changes,
        by_cluster=_html(by_cluster),
    )
    (out / "monitoring.html").write_text(report, encoding="utf-8")
    files["monitoring.html"] = out / "monitoring.html"
    record = {
        "settings": plan.settings.to_dict(),
        "stats": stats,
        "notes": plan.notes,
        "run": run or {},
    }
    (out / "plan.json").write_text(
        json.dumps(record, indent=2, default=str, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    files["plan.json"] = out / "plan.json"
    return files
