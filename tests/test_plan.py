"""After the layout: roles, hosts, dates, pairs, mentoring, the checker and ``clustering plan``."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import re
from pathlib import Path

import icalendar
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import clustering
from clustering.cli import main
from clustering.plan import PlanSettings, build_calendar, check_plan, plan_network
from clustering.plan.pairing import mentor_schools, pair_schools
from clustering.plan.schedule import schedule_meetings, slices

ROOT = Path(__file__).resolve().parents[1]
HAMPSHIRE = ROOT / "data/sample/hampshire_primary_schools_2022.csv"
ENGLAND = ROOT / "data/calendars/england_2026_27_illustrative.csv"
KENTUCKY_CAL = ROOT / "data/calendars/kentucky_2026_27_illustrative.csv"
YEAR = {"start": dt.date(2026, 9, 1), "end": dt.date(2027, 7, 31)}


@pytest.fixture(scope="module")
def layout() -> clustering.Layout:
    """Clusters of 8–12 among the first 80 Hampshire schools (a quick solve)."""
    centres = clustering.load_centres(HAMPSHIRE)
    part = dataclasses.replace(centres, frame=centres.frame.iloc[:80].reset_index(drop=True))
    return clustering.form_clusters(part, clustering.SizeRule(8, 12), time_limit=3, baselines=False)


@pytest.fixture(scope="module")
def plan(layout) -> clustering.Plan:
    return plan_network(
        layout,
        PlanSettings(
            meetings=3,
            calendar=str(ENGLAND),
            coordinator_rule="ofsted in Good, Outstanding",
            mentor_rule="ofsted in Outstanding",
            mentee_rule="ofsted in Good",
            **YEAR,
        ),
    )


def test_a_plan_gives_every_cluster_roles_hosts_and_dates_and_passes_the_checker(plan, layout):
    assert plan.stats["checker"] == "passed"
    assert check_plan(plan).ok
    assert plan.n_clusters == layout.n_clusters
    members = layout.centres.set_index("centre_id")
    good = members["ofsted"].isin(["Good", "Outstanding"])
    for r in plan.roles.itertuples():
        assert members.loc[r.coordinator_id, "cluster"] == r.cluster
        assert good[r.coordinator_id]
        assert good[r.deputy_id]
        assert r.coordinator_id != r.deputy_id
    assert plan.roles["coordinator_id"].is_unique
    for k, mine in plan.meetings.groupby("cluster"):
        assert list(mine["meeting"]) == [1, 2, 3]
        dates = [dt.date.fromisoformat(d) for d in mine["date"]]
        assert dates == sorted(dates)
        assert len(set(dates)) == 3
        # hosting is shared: three different members host when the cluster has three
        assert mine["host_id"].nunique() == 3
        assert set(mine["host_id"]) <= set(members.index[members["cluster"] == k])
    days = pd.to_datetime(plan.meetings["date"])
    assert set(days.dt.day_name()) <= {"Tuesday", "Wednesday", "Thursday"}
    # inside Hampshire's (illustrative) terms: never in the October half term
    assert not days.between("2026-10-24", "2026-11-01").any()


def test_every_meeting_is_in_an_importable_calendar_file(plan, tmp_path):
    files = clustering.write_plan(plan, tmp_path)
    for r in plan.roles.itertuples():
        path = files["calendars"] / f"cluster_{r.cluster:02d}.ics"
        cal = icalendar.Calendar.from_ical(path.read_bytes())
        events = [e for e in cal.walk("VEVENT")]
        mine = plan.meetings[plan.meetings["cluster"] == r.cluster]
        assert len(events) == len(mine)
        for event, m in zip(events, mine.itertuples(), strict=True):
            start = event.decoded("dtstart")
            assert start.date().isoformat() == m.date
            assert start.strftime("%H:%M") == m.start
            assert str(start.tzinfo) == "Europe/London"
            assert (event.decoded("dtend") - start) == dt.timedelta(minutes=90)
            assert str(event.get("location")).startswith(m.host_name)
        assert cal.walk("VTIMEZONE"), "the zone travels with the file"
    for name in ("roles.csv", "meetings.csv", "contacts.csv", "plan.html", "monitoring.html"):
        assert files[name].stat().st_size > 0
    page = files["plan.html"].read_text(encoding="utf-8")
    assert "Roles and responsibilities" in page
    assert "&lt;table" not in page  # tables are markup, not escaped text
    assert page.count("<table") >= 3
    assert plan.roles.iloc[0]["coordinator_name"] in page
    invitation = (files["invitations"] / "cluster_01.txt").read_text(encoding="utf-8")
    first = plan.meetings[plan.meetings["cluster"] == 1].iloc[0]
    assert first["date"] in invitation
    assert first["host_name"] in invitation


def test_edited_templates_replace_the_bundled_ones(plan, tmp_path):
    mine = tmp_path / "templates"
    mine.mkdir()
    (mine / "invitation.txt.j2").write_text(
        "Cluster {{ cluster.cluster }} meets first on {{ first_date }}.\n", encoding="utf-8"
    )
    files = clustering.write_plan(plan, tmp_path / "out", templates=mine)
    first = plan.meetings[plan.meetings["cluster"] == 1]["date"].min()
    text = (files["invitations"] / "cluster_01.txt").read_text(encoding="utf-8")
    assert text == f"Cluster 1 meets first on {first}.\n"


def test_a_school_closed_on_every_day_is_reported_with_the_reason(layout):
    frame = layout.centres
    member = frame[~frame["is_venue"]].iloc[0]
    terms = pd.DataFrame(
        [
            ("all", "term", dt.date(2026, 9, 1), dt.date(2027, 7, 31), "Year", 2),
            (member["centre_id"], "closure", dt.date(2026, 9, 1), dt.date(2027, 7, 31),
             "Rebuilding", 3),
        ],
        columns=["applies_to", "kind", "start", "end", "label", "row"],
    )  # fmt: skip
    plan = plan_network(layout, PlanSettings(meetings=2, **YEAR), terms=terms)
    away = plan.absences[plan.absences["centre_id"] == member["centre_id"]]
    assert len(away) == 2
    assert set(away["reason"]) == {f"closed: Rebuilding ({member['centre_id']})"}
    mine = plan.meetings[plan.meetings["cluster"] == member["cluster"]]
    assert (mine["can_attend"] == mine["members"] - 1).all()
    assert member["centre_id"] not in set(mine["host_id"])  # a closed school does not host
    assert plan.stats["attendance"] == plan.stats["attendance_of"] - 2


def test_one_persons_clusters_never_meet_on_the_same_day(layout):
    labels = sorted(layout.centres["cluster"].unique())
    leads = {int(k): "the LA adviser" for k in labels}
    plan = plan_network(layout, PlanSettings(meetings=2, **YEAR), leads=leads)
    assert plan.meetings["date"].is_unique
    assert set(plan.roles["lead_person"]) == {"the LA adviser"}
    # with one day in the period there is no way to do it, and it says so
    one_day = PlanSettings(meetings=1, start=dt.date(2026, 9, 8), end=dt.date(2026, 9, 8))
    with pytest.raises(clustering.InfeasibleError, match="lead person"):
        plan_network(layout, one_day, leads=leads)


def test_the_checker_finds_what_a_broken_plan_breaks(plan):
    broken = dataclasses.replace(plan, meetings=plan.meetings.copy(), roles=plan.roles.copy())
    other = plan.meetings.loc[plan.meetings["cluster"] == 2, "host_id"].iloc[0]
    broken.meetings.loc[0, "host_id"] = other  # hosted by a school of another cluster
    broken.meetings.loc[1, "date"] = "2026-12-25"  # Christmas Day
    broken.roles.loc[1, "coordinator_id"] = broken.roles.loc[0, "coordinator_id"]
    found = " | ".join(check_plan(broken).violations)
    assert "not a member" in found
    assert "public holiday (Christmas Day)" in found
    assert "coordinates 2 clusters" in found


def test_pairs_pair_as_many_as_possible_within_each_cluster(plan, layout):
    sizes = layout.centres.groupby("cluster").size()
    assert len(plan.pairs) == int((sizes // 2).sum())
    assert (plan.pairs["a_cluster"] == plan.pairs["b_cluster"]).all()
    ids = list(plan.pairs["a_id"]) + list(plan.pairs["b_id"])
    assert len(ids) == len(set(ids))
    left = plan.unmatched[plan.unmatched["what"] == "pairing"]
    assert len(left) == int((sizes % 2).sum())
    assert left["reason"].str.contains("odd number").all()


def test_mentors_take_at_most_two_and_matching_is_cheapest():
    # four schools on a line: two mentors at 0 km and 10 km, three mentees at 1, 2 and 9 km
    frame = pd.DataFrame({"centre_id": list("ABCDE"), "name": list("ABCDE"), "cluster": 1})
    x = np.array([0.0, 10.0, 1.0, 2.0, 9.0])
    km = np.abs(x[:, None] - x[None, :])
    mentors = np.array([True, True, False, False, False])
    mentees = ~mentors
    table, left = mentor_schools(frame, km, np.zeros_like(km), mentors, mentees, per_mentor=2)
    got = {(r.mentor_id, r.mentee_id) for r in table.itertuples()}
    assert got == {("A", "C"), ("A", "D"), ("B", "E")}
    assert left.empty
    table, left = mentor_schools(frame, km, np.zeros_like(km), mentors, mentees, per_mentor=1)
    assert len(table) == 2
    assert len(left) == 1
    assert left.iloc[0]["reason"].startswith("every experienced school near it")


def test_pairs_across_clusters_prefer_contrast_in_km_equivalents():
    frame = pd.DataFrame(
        {"centre_id": list("ABCD"), "name": list("ABCD"), "cluster": [1, 1, 2, 2],
         "fsm_pct": [5.0, 40.0, 6.0, 41.0]}
    )  # fmt: skip
    km = np.full((4, 4), 3.0)
    np.fill_diagonal(km, 0)
    contrast = clustering.plan.pairing.contrast_km(frame, {"fsm_pct": 1.0})
    pairs, _, _ = pair_schools(frame, km, contrast, mode="across")
    got = {frozenset((r.a_id, r.b_id)) for r in pairs.itertuples()}
    assert got == {frozenset("AD"), frozenset("BC")}  # low FSM with high FSM


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_dates_are_the_best_possible_and_keep_every_rule(data):
    n_days = data.draw(st.integers(4, 12))
    n_meetings = data.draw(st.integers(1, 3))
    sizes = data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=4))
    n = sum(sizes)
    is_open = np.array(
        data.draw(st.lists(st.lists(st.booleans(), min_size=n_days, max_size=n_days),
                           min_size=n, max_size=n))
    )  # fmt: skip
    bounds = np.cumsum([0, *sizes])
    clusters = [np.arange(bounds[c], bounds[c + 1]) for c in range(len(sizes))]
    hosts = [[int(rows[m % len(rows)]) for m in range(n_meetings)] for rows in clusters]
    start = dt.date(2027, 1, 4)
    days = [start + dt.timedelta(days=k) for k in range(n_days)]
    windows = slices(days, start, days[-1], n_meetings)
    if any(not w for w in windows):
        return
    shared = data.draw(st.booleans())
    leads = ["one person"] * len(sizes) if shared else [f"c{c}" for c in range(len(sizes))]
    try:
        got = schedule_meetings(is_open, clusters, hosts, windows, leads, time_limit=5)
    except clustering.InfeasibleError:
        assert shared  # only a shared lead can run out of days
        return
    for c in range(len(clusters)):
        for m, j in enumerate(got.day[c]):
            assert j in windows[m]
            if is_open[hosts[c][m], windows[m]].any():
                assert is_open[hosts[c][m], j]
    if shared:
        used = [j for row in got.day for j in row]
        assert len(used) == len(set(used))
        return
    # distinct leads: each meeting independently at its best day, so compare with brute force
    best = 0
    for c, rows in enumerate(clusters):
        for m in range(n_meetings):
            ok = [j for j in windows[m] if is_open[hosts[c][m], j]] or windows[m]
            best += max(int(is_open[rows, j].sum()) for j in ok)
    assert got.attendance == best == got.best_possible


def test_term_dates_take_the_most_specific_rows(layout):
    frame = pd.DataFrame({"centre_id": ["1", "2", "3"], "phase": ["primary", "secondary", "x"],
                          "la": ["Hampshire", "Hampshire", "Surrey"], "district": "x"})  # fmt: skip
    terms = clustering.plan.read_term_dates(ENGLAND)
    cal = build_calendar(frame, dt.date(2026, 9, 1), dt.date(2026, 9, 30), terms=terms)
    first = {d: cal.open[:, j] for j, d in enumerate(cal.days)}
    # Hampshire starts on the 3rd (its own rows), Surrey too; the fallback would say the 2nd
    assert not first[dt.date(2026, 9, 2)].any()
    assert first[dt.date(2026, 9, 3)].all()
    assert cal.reason(0, 0) == "outside term (la=Hampshire term dates)"


def test_bad_term_dates_name_the_row_and_column(tmp_path):
    path = tmp_path / "terms.csv"
    path.write_text("applies_to,kind,start,end\nall,term,2026-09-01,2026-13-01\n", "utf-8")
    with pytest.raises(clustering.InputError) as caught:
        clustering.plan.read_term_dates(path)
    assert (caught.value.row, caught.value.column) == (2, "end")
    path.write_text("applies_to,kind,start,end\nall,holiday,2026-09-01,2026-09-02\n", "utf-8")
    with pytest.raises(clustering.InputError, match="kind"):
        clustering.plan.read_term_dates(path)


def test_plan_settings_refuse_what_cannot_be_planned(tmp_path):
    with pytest.raises(clustering.InputError, match="weekdays"):
        PlanSettings(weekdays=("funday",))
    with pytest.raises(clustering.InputError, match="before it starts"):
        PlanSettings(start=dt.date(2027, 1, 2), end=dt.date(2027, 1, 1))
    path = tmp_path / "plan.toml"
    path.write_text("[plan]\nmeetings = 2\ncolour = 'red'\n", "utf-8")
    with pytest.raises(clustering.InputError, match=r"plan\.colour: unknown key"):
        clustering.read_plan_settings(path)


def test_the_bundled_plan_scenarios_read_and_name_existing_calendars():
    for name in ("hampshire_plan.toml", "kentucky_plan.toml"):
        found = clustering.read_plan_settings(ROOT / "data/sample" / name)
        assert Path(found.calendar).exists()
    # a scenario file may carry a [plan] table and still form clusters
    assert clustering.load_scenario(ROOT / "data/sample/hampshire_plan.toml").centres is None


@pytest.mark.slow
def test_clustering_plan_on_a_layout_folder(tmp_path, capsys):
    out = tmp_path / "layout"
    assert main(["form", str(HAMPSHIRE), "--out", str(out), "--time-limit", "4", "--quiet"]) == 0
    scenario = ROOT / "data/sample/hampshire_plan.toml"
    assert main(["plan", str(out), "--scenario", str(scenario), "--meetings", "2"]) == 0
    shown = capsys.readouterr().out
    assert "checker passed" in shown
    folder = out / "plan"
    meetings = pd.read_csv(folder / "meetings.csv", dtype={"host_id": str})
    assignments = pd.read_csv(out / "assignments.csv", dtype={"centre_id": str})
    placed = assignments.dropna(subset=["cluster"])
    assert len(meetings) == 2 * placed["cluster"].nunique()
    assert len(list((folder / "calendars").glob("*.ics"))) == placed["cluster"].nunique()
    mentoring = pd.read_csv(folder / "mentoring.csv")
    assert mentoring.groupby("mentor_id").size().max() <= 2
    # a user error: no traceback, the file named
    assert main(["plan", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_nullable_columns_take_rules():
    frame = pd.DataFrame({"a": pd.array([1, None, 3], dtype="Int64"),
                          "b": pd.array([1.5, None, 2.0], dtype="Float64")})  # fmt: skip
    rules = clustering.model.rules
    assert rules.eligible(frame, "a == 1").tolist() == [True, False, False]
    assert rules.eligible(frame, "a != 1").tolist() == [False, True, True]
    assert rules.eligible(frame, "b >= 1.6").tolist() == [False, False, True]


def test_schedule_pairs_each_meeting_with_its_own_slice():
    start = dt.date(2026, 9, 1)
    days = [start + dt.timedelta(days=k) for k in range(0, 300, 7)]
    parts = slices(days, start, start + dt.timedelta(days=299), 3)
    assert [len(p) for p in parts] == [15, 14, 14]
    assert list(itertools.chain(*parts)) == list(range(len(days)))


def test_clusters_twin_with_partner_clusters_and_schools_pair_alike(layout):
    labels = sorted(layout.centres["cluster"].unique())
    members = layout.centres
    # a partner cluster abroad for every cluster but one, each the size of cluster 1
    size = int((members["cluster"] == labels[0]).sum())
    partners = pd.DataFrame(
        [
            {"partner_id": f"P{c}-{i}", "name": f"Partner {c}-{i}", "cluster": f"abroad {c}",
             "phase": "primary", "pupils": 100 + 50 * i}
            for c in range(len(labels) - 1)
            for i in range(size)
        ]
    )  # fmt: skip
    plan = plan_network(
        layout, PlanSettings(pairing="partners", partners="given", **YEAR), partners=partners
    )
    assert plan.stats["checker"] == "passed"
    pairs = plan.pairs
    assert pairs["partner_id"].is_unique
    assert pairs["centre_id"].is_unique
    for _, group in pairs.groupby("cluster"):
        assert len(set(group["partner_cluster"])) == 1  # one twin per cluster
    assert pairs["partner_cluster"].nunique() == len(labels) - 1
    left = plan.unmatched[plan.unmatched["what"] == "partner"]
    assert len(pairs) + len(left) == len(members)
    assert left["reason"].str.contains("partner cluster|more clusters").all()
    # within a twinned cluster of the partners' size, the assignment is the cheapest: with
    # cost |pupils apart| / 100, that is the two sorted lists paired in order
    sizes = members.groupby("cluster").size()
    k = next(k for k in pairs["cluster"].unique() if sizes[k] == size)
    mine = pairs[pairs["cluster"] == k]
    ours = np.sort(members.loc[members["cluster"] == k, "pupils"].to_numpy(dtype=float))
    theirs = np.sort(partners.loc[partners["cluster"] == mine["partner_cluster"].iloc[0],
                                  "pupils"].to_numpy(dtype=float))  # fmt: skip
    assert mine["cost_km_eq"].sum() == pytest.approx(np.abs(ours - theirs).sum() / 100, abs=0.01)


def test_partner_files_are_checked(tmp_path):
    path = tmp_path / "partners.csv"
    path.write_text("partner_id,name\nP1,One\nP1,Two\n", "utf-8")
    with pytest.raises(clustering.InputError) as caught:
        clustering.plan.pairing.read_partners(path)
    assert (caught.value.row, caught.value.column) == (3, "partner_id")
    with pytest.raises(clustering.InputError, match="needs partners"):
        PlanSettings(pairing="partners")


def test_hosts_seat_every_member_when_one_can(layout):
    frame = layout.centres
    big = frame.groupby("cluster").head(1)["centre_id"]  # one school per cluster seats many
    seats = pd.Series(5.0, index=frame.index).where(~frame["centre_id"].isin(big), 100.0)
    roomy = layout.centres.assign(seats=seats)
    layout2 = dataclasses.replace(layout, centres=roomy)
    plan = plan_network(layout2, PlanSettings(meetings=2, host_capacity="seats", **YEAR))
    assert plan.stats["checker"] == "passed"
    assert set(plan.meetings["host_id"]) <= set(big)
    # the checker notices a host that seats too few
    broken = dataclasses.replace(plan, meetings=plan.meetings.copy())
    k = broken.meetings.loc[0, "cluster"]
    small = frame.loc[(frame["cluster"] == k) & ~frame["centre_id"].isin(big), "centre_id"].iloc[0]
    broken.meetings.loc[0, "host_id"] = small
    assert any("seats fewer" in v for v in check_plan(broken).violations)


def test_the_monitoring_report_counts_membership_changes(plan, tmp_path):
    moves = pd.DataFrame({"centre_id": ["1", "2", "3"], "status": ["stayed", "moved", "stayed"]})
    files = clustering.write_plan(plan, tmp_path, previous_moves=moves)
    page = files["monitoring.html"].read_text(encoding="utf-8")
    assert "Membership changes since last year" in page
    assert re.search(r"<td>stayed</td>\s*<td>2</td>", page)
    assert f"{len(plan.meetings)} meetings planned" in page
    plain = clustering.write_plan(plan, tmp_path / "again")["monitoring.html"]
    assert "No previous layout was given" in plain.read_text(encoding="utf-8")
