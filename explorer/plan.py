"""The network's year for the layout on screen: roles, hosts, dates, pairs, paperwork."""

from __future__ import annotations

import datetime as dt
import io
import tempfile
import zipfile
from pathlib import Path

import streamlit as st

import clustering

from .data import read_upload
from .session import Shown

CALENDARS = {
    "England 2026–27 (illustrative)": "data/calendars/england_2026_27_illustrative.csv",
    "Kentucky 2026–27 (illustrative)": "data/calendars/kentucky_2026_27_illustrative.csv",
    "None (weekdays and public holidays only)": None,
}
UPLOAD = "Upload term dates (CSV)"
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]


def _defaults(layout: clustering.Layout) -> dict:
    """Settings that suit the data: US calendars for US data, English otherwise."""
    us = "frl_pct" in layout.centres.columns
    start, end = clustering.PlanSettings().period()
    return {
        "calendar": list(CALENDARS)[1 if us else 0],
        "country": "US" if us else "GB",
        "region": "KY" if us else "ENG",
        "start": start,
        "end": end,
    }


def form(layout: clustering.Layout) -> tuple[clustering.PlanSettings, object] | None:
    """The plan's settings form; the settings and term dates once submitted."""
    d = _defaults(layout)
    with st.form("plan_settings"):
        a, b, c, e = st.columns(4)
        meetings = a.number_input("Meetings per cluster", 1, 24, 2, key="plan_meetings")
        start = b.date_input("From", d["start"], key="plan_start")
        end = c.date_input("To", d["end"], key="plan_end")
        time = e.time_input("Start time", dt.time(16, 0), key="plan_time")
        f, g, h, i = st.columns(4)
        weekdays = f.multiselect("Weekdays", WEEKDAYS, ["tue", "wed", "thu"], key="plan_weekdays")
        duration = g.number_input("Minutes", 15, 480, 90, step=15, key="plan_duration")
        country = h.text_input("Country (public holidays)", d["country"], key="plan_country")
        region = i.text_input("Region", d["region"], key="plan_region")
        j, k = st.columns([2, 1])
        calendar = j.selectbox(
            "Term dates", [*CALENDARS, UPLOAD], list(CALENDARS).index(d["calendar"]),
            key="plan_calendar",
        )  # fmt: skip
        upload = k.file_uploader("Term dates CSV", type=["csv"], key="plan_terms_file")
        l1, l2 = st.columns(2)
        coordinator = l1.text_input(
            "Who may coordinate (rule; empty: anyone)", key="plan_coordinator",
            help="a yes/no column, or e.g. 'ofsted in Good, Outstanding' or 'pupils >= 300'",
        )  # fmt: skip
        pairing = l2.selectbox("Pairs", ["within", "across", "none"], key="plan_pairing")
        m1, m2, m3 = st.columns([2, 2, 1])
        mentor = m1.text_input("Mentors (rule)", key="plan_mentor_rule")
        mentee = m2.text_input("Mentees (rule)", key="plan_mentee_rule")
        per = m3.number_input("Mentees each", 1, 10, 2, key="plan_per_mentor")
        submitted = st.form_submit_button("Plan the year", type="primary", key="plan_submit")
    if not submitted:
        return None
    try:
        settings = clustering.PlanSettings(
            meetings=int(meetings),
            start=start,
            end=end,
            weekdays=tuple(weekdays),
            time=time.strftime("%H:%M"),
            duration=int(duration),
            country=country.strip() or "GB",
            region=region.strip() or None,
            coordinator_rule=coordinator.strip() or None,
            pairing=pairing,
            mentor_rule=mentor.strip() or None,
            mentee_rule=mentee.strip() or None,
            mentees_per_mentor=int(per),
            source="the plan form",
        )
        terms = None
        if calendar == UPLOAD:
            if upload is None:
                st.error("Choose a term dates CSV, or another option for term dates.")
                return None
            terms = read_terms(upload.name, upload.getvalue())
        elif CALENDARS[calendar]:
            terms = clustering.read_term_dates(CALENDARS[calendar])
    except clustering.InputError as error:
        st.error(str(error))
        return None
    return settings, terms


def read_terms(name: str, data: bytes):
    """Term dates from uploaded bytes; errors name the upload, not the temporary copy."""
    return read_upload(name, data, clustering.read_term_dates)


def files(plan: clustering.Plan) -> bytes:
    """Every file of :func:`clustering.write_plan`, zipped."""
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "plan"
        clustering.write_plan(plan, root)
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(root.rglob("*")):
                if path.is_file():
                    archive.write(path, Path("plan") / path.relative_to(root))
    return buffer.getvalue()


def panel(shown: Shown) -> None:
    state = st.session_state
    asked = form(shown.layout)
    if asked is not None:
        settings, terms = asked
        try:
            with st.spinner("Planning hosts, dates and pairs…"):
                made = clustering.plan_network(shown.layout, settings, terms=terms)
        except clustering.ClusteringError as error:
            st.error(str(error))
            return
        state["plan"] = (id(shown.layout), made)
    kept = state.get("plan")
    if not kept or kept[0] != id(shown.layout):
        st.info("Set the year above and press **Plan the year**.")
        return
    made: clustering.Plan = kept[1]
    s = made.stats
    a, b, c, d = st.columns(4)
    a.metric("Meetings", f"{len(made.meetings):,}")
    a.caption(f"schedule {s['schedule_status']}")
    b.metric("Places open", f"{s['attendance']:,} of {s['attendance_of']:,}")
    b.caption(f"best any dates allow: {s['attendance_best_possible']:,}")
    c.metric("Pairs / mentoring", f"{len(made.pairs):,} / {len(made.mentoring):,}")
    d.metric("Checker", s["checker"])
    for note in made.notes:
        st.caption(note)
    st.markdown("**Roles**")
    st.dataframe(made.roles, hide_index=True, key="plan_roles")
    st.markdown("**Meetings**")
    st.dataframe(made.meetings, hide_index=True, key="plan_meetings_table")
    if len(made.absences):
        st.markdown(f"**{len(made.absences):,} cannot attend, and why**")
        st.dataframe(made.absences, hide_index=True, key="plan_absences")
    tabs = st.tabs(["Pairs", "Mentoring", "Left over"])
    for tab, frame, key in zip(
        tabs, (made.pairs, made.mentoring, made.unmatched), ("pairs", "mentoring", "left"),
        strict=True,
    ):  # fmt: skip
        with tab:
            if len(frame):
                st.dataframe(frame, hide_index=True, key=f"plan_{key}")
            else:
                st.caption("None.")
    st.download_button(
        "The plan: CSVs, calendars (.ics), invitations, plan and monitoring report (ZIP)",
        lambda: files(made),
        file_name="plan.zip",
        mime="application/zip",
        on_click="ignore",
        key="download_plan",
    )
