"""The constraint model: eligibility rules, rule files, compilation pre-checks, and
the whole model against the checker, direct verification and an exhaustive search.

The property tests draw small instances (at most 40 centres, solves of at most
2 s with one worker) so the file runs in about a minute on two cores.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from clustering import (
    InfeasibleError,
    InputError,
    SizeRule,
    SolverError,
    check_layout,
    form_clusters,
    load_centres,
)
from clustering.input.files import PreviousLayout, read_groups, read_pairs, read_previous
from clustering.model.costs import euclidean_costs
from clustering.model.objective import Weights
from clustering.model.rules import Constraints, compile_rules, eligible
from clustering.model.sizes import Quota

#: every test here stays far below this (seconds); a hang fails instead of blocking
pytestmark = pytest.mark.timeout(120)

SQUARE = 20_000.0  # metres: points are drawn in a 20 km square
#: shrinking re-runs the solver hundreds of times; a drawn example is small already
_NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)


def _table(xy: np.ndarray, **columns) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "id": [f"c{i}" for i in range(len(xy))],
            "x": xy[:, 0] + 450_000,
            "y": xy[:, 1] + 130_000,
        }
    )
    for name, values in columns.items():
        frame[name] = values
    return frame


def _centres(frame: pd.DataFrame):
    return load_centres(frame, crs="EPSG:27700")


def _plain_words(message: str) -> None:
    """A message a user can read: words, not a bare solver status."""
    assert "MODEL_INVALID" not in message, message
    words = re.sub(r"\b[A-Z_]{5,}\b", " ", message)  # solver status names removed
    assert len(re.findall(r"[a-z]{2,}", words)) >= 5, message


# ================================================================ eligible


@pytest.fixture
def schools() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "centre_id": ["1", "2", "3", "4", "5", "6"],
            "willing": ["yes", "No", "TRUE", "0", "", None],
            "flag": [1, 0, 2, np.nan, 0, 1],
            "ofsted": ["Good", "outstanding", "Requires improvement", None, " Good ", "Inadequate"],
            "pupils": [150, 200, 350, np.nan, 200.0, 90],
            "phase": ["Primary", "primary", "Secondary", "", None, "Middle"],
        }
    )


def test_eligible_yes_no_column(schools):
    assert eligible(schools, "willing").tolist() == [True, False, True, False, False, False]
    # numbers count as yes when above zero; missing is no
    assert eligible(schools, "flag").tolist() == [True, False, True, False, False, True]
    more = pd.DataFrame({"ok": ["y", "t", "1", "x", "Willing", "consented", "agreed", "n", "nope"]})
    assert eligible(more, "ok").tolist() == [True] * 7 + [False, False]


def test_eligible_in_and_not_in_ignore_case_spaces_and_quotes(schools):
    expected = [True, True, False, False, True, False]
    assert eligible(schools, "ofsted in Good, Outstanding").tolist() == expected
    assert eligible(schools, 'ofsted in ["good", "OUTSTANDING"]').tolist() == expected
    assert eligible(schools, "ofsted IN (Good,Outstanding)").tolist() == expected
    assert eligible(schools, "ofsted not in Good, Outstanding").tolist() == [
        not e for e in expected
    ]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("pupils >= 200", [False, True, True, False, True, False]),
        ("pupils>=200", [False, True, True, False, True, False]),
        ("pupils > 200", [False, False, True, False, False, False]),
        ("pupils <= 200", [True, True, False, False, True, True]),
        ("pupils < 200", [True, False, False, False, False, True]),
        ("pupils == 200", [False, True, False, False, True, False]),
        ("pupils = 200.0", [False, True, False, False, True, False]),
        ("pupils != 200", [True, False, True, True, False, True]),
        ("phase == PRIMARY", [True, True, False, False, False, False]),
        ("phase != primary", [False, False, True, True, True, True]),
    ],
)
def test_eligible_comparisons(schools, rule, expected):
    # a missing number meets no comparison
    assert eligible(schools, rule).tolist() == expected


def test_eligible_clauses_joined_by_and(schools):
    rule = "pupils >= 150 and ofsted in Good, Outstanding AND phase != secondary"
    assert eligible(schools, rule).tolist() == [True, True, False, False, True, False]


def test_a_column_name_wins_over_a_rule():
    frame = pd.DataFrame({"pupils >= 200": ["no", "yes"], "pupils": [500, 10]})
    assert eligible(frame, "pupils >= 200").tolist() == [False, True]


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        (
            "colour in red, blue",
            r"column 'colour': the rule 'colour in red, blue' names no column of the centres",
        ),
        ("pupils >= 200 and colour = red", r"the rule 'colour = red' names no column"),
        ("pupils about 200", r"cannot read the rule 'pupils about 200'"),
        ("happy", r"cannot read the rule 'happy'"),
        ("pupils >= lots", r"the rule 'pupils >= lots' compares with 'lots', not a number"),
    ],
)
def test_eligible_errors_name_the_rule_and_the_source(schools, rule, words):
    with pytest.raises(InputError, match=words) as info:
        eligible(schools, rule, source="scenario.toml")
    message = str(info.value)
    assert message.startswith("scenario.toml")
    # the fix lists the columns a rule may use
    assert "ofsted" in message
    assert "pupils" in message


# ================================================================ rule files


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path


def test_read_pairs(tmp_path):
    path = _write(tmp_path / "pairs.csv", "centre_a,centre_b\n1,2\n 3.0 ,4\nx9,y7\n", "utf-8-sig")
    assert read_pairs(path) == (("1", "2"), ("3", "4"), ("x9", "y7"))


def test_read_pairs_errors_name_file_row_and_column(tmp_path):
    path = _write(tmp_path / "pairs.csv", "a,b\n1,2\n3,\n")
    with pytest.raises(InputError) as info:
        read_pairs(path)
    err = info.value
    assert (err.file, err.row, err.column) == (str(path), 3, "b")
    assert f"{path}, row 3, column 'b': a pair is missing a centre id" in str(err)
    one = _write(tmp_path / "one.csv", "a\n1\n")
    with pytest.raises(InputError, match="needs two columns") as info:
        read_pairs(one)
    assert info.value.file == str(one)
    with pytest.raises(InputError, match="does not exist") as info:
        read_pairs(tmp_path / "missing.csv")
    assert info.value.file == str(tmp_path / "missing.csv")


def test_read_groups(tmp_path):
    path = _write(tmp_path / "groups.csv", "group,centre_id\nA,1\nB,3\nA,2\nB,4.0\nB,5\n")
    assert read_groups(path) == (("1", "2"), ("3", "4", "5"))


def test_read_groups_errors_name_file_row_and_column(tmp_path):
    path = _write(tmp_path / "groups.csv", "group,urn\nA,1\nA,\n")
    with pytest.raises(InputError, match="a row has no centre id") as info:
        read_groups(path)
    assert (info.value.file, info.value.row, info.value.column) == (str(path), 3, "urn")
    one = _write(tmp_path / "one.csv", "group\nA\n")
    with pytest.raises(InputError, match="needs a group column and a centre id column"):
        read_groups(one)


def test_read_previous(tmp_path):
    path = _write(
        tmp_path / "assignments.csv",
        "centre_id,cluster,is_venue\n1,1,True\n2,1.0,False\n3,2,yes\n4,,False\n5,2,0\n",
    )
    prev = read_previous(path)
    assert dict(prev.cluster) == {"1": "1", "2": "1", "3": "2", "5": "2"}
    assert dict(prev.venue) == {"1": "1", "2": "3"}
    assert prev.source == str(path)
    by_id = _write(tmp_path / "by_id.csv", "centre_id,cluster,venue_id\n1,7,2\n2,7,2\n3,8,\n")
    prev = read_previous(by_id)
    assert dict(prev.venue) == {"7": "2"}


def test_read_previous_errors_name_file_row_and_column(tmp_path):
    path = _write(tmp_path / "a.csv", "centre_id,group\n1,1\n")
    with pytest.raises(InputError, match="no 'cluster' column") as info:
        read_previous(path)
    assert (info.value.file, info.value.column) == (str(path), "cluster")
    path = _write(tmp_path / "b.csv", "centre_id,cluster\n1,1\n2,1\n1,2\n")
    with pytest.raises(InputError, match="centre 1 appears twice") as info:
        read_previous(path)
    assert (info.value.file, info.value.row, info.value.column) == (str(path), 4, "centre_id")


def _round_trip(tmp_path):
    """A layout of 13 centres (one excluded) and the previous layout read from its CSV."""
    rng = np.random.default_rng(4)
    frame = _table(rng.random((14, 2)) * SQUARE)
    rule = SizeRule(3, 5)
    layout = form_clusters(
        _centres(frame),
        rule,
        constraints=Constraints(exclude={"c13": "closing"}),
        time_limit=1,
        workers=1,
    )
    path = tmp_path / "assignments.csv"
    layout.assignments.to_csv(path, index=False)
    return frame, rule, layout, read_previous(path)


def test_read_previous_reads_the_assignments_a_layout_writes(tmp_path):
    _, _, layout, prev = _round_trip(tmp_path)
    c = layout.centres
    assert dict(prev.cluster) == dict(zip(c["centre_id"], c["cluster"].astype(str), strict=True))
    venues = c[c["is_venue"]]
    assert dict(prev.venue) == dict(
        zip(venues["cluster"].astype(str), venues["centre_id"], strict=True)
    )


def test_locking_every_cluster_gives_the_layout_back(tmp_path):
    frame, rule, layout, prev = _round_trip(tmp_path)
    labels = tuple(sorted(set(prev.cluster.values())))
    again = form_clusters(
        _centres(frame),
        rule,
        constraints=Constraints(exclude={"c13": "closing"}, previous=prev, lock_clusters=labels),
        time_limit=1,
        workers=1,
    )
    c = layout.centres
    assert dict(zip(again.centres["centre_id"], again.centres["cluster"], strict=True)) == dict(
        zip(c["centre_id"], c["cluster"], strict=True)
    )


# ================================================================ compile_rules pre-checks


def _line(n: int = 10, step: float = 1000.0, **columns):
    """Centres c0..c{n-1} on a west-east line, ``step`` metres apart."""
    xy = np.column_stack([np.arange(n) * step, np.zeros(n)])
    return _centres(_table(xy, **columns))


def _compile(centres, constraints, *, max_size=4, known=()):
    frame = centres.frame
    costs = euclidean_costs(np.column_stack([frame.geometry.x, frame.geometry.y]))
    known_ids = set(frame["centre_id"]) | set(known)
    return compile_rules(
        frame,
        constraints,
        costs=costs.matrix,
        unit=costs.unit,
        known_ids=known_ids,
        max_size=max_size,
    )


def test_compile_groups_links_into_row_indices():
    centres = _line(10)
    compiled = _compile(
        centres,
        Constraints(
            must_link=(("c0", "c1"), ("c1", "c2"), ("c5", "c6")),
            cannot_link=(("c0", "c9", "c4"),),
            partnerships=(("c7", "c8"),),
            max_distance=2.5,
        ),
    )
    assert sorted(g.tolist() for g in compiled.together) == [[0, 1, 2], [5, 6]]
    assert [g.tolist() for g in compiled.apart] == [[0, 4, 9]]
    assert compiled.pairs.tolist() == [[7, 8]]
    assert compiled.allowed[0, 2]
    assert not compiled.allowed[0, 3]
    hard = _compile(centres, Constraints(partnerships=(("c7", "c8"),), partnerships_hard=True))
    assert hard.pairs is None
    assert [g.tolist() for g in hard.together] == [[7, 8]]


def test_must_link_group_larger_than_a_cluster():
    with pytest.raises(InfeasibleError, match=r"5 centres must share one cluster .*at most 4"):
        _compile(_line(10), Constraints(must_link=(("c0", "c1", "c2"), ("c2", "c3", "c4"))))


def test_must_link_and_cannot_link_on_the_same_pair():
    with pytest.raises(InfeasibleError, match=r"c0 \(c0\), c2 \(c2\) must be kept apart"):
        _compile(
            _line(10),
            Constraints(must_link=(("c0", "c1"), ("c1", "c2")), cannot_link=(("c2", "c5", "c0"),)),
        )


def test_partnership_and_lock_count_as_links_against_cannot_link():
    with pytest.raises(InfeasibleError, match="cannot-link"):
        _compile(
            _line(10),
            Constraints(
                partnerships=(("c3", "c4"),), partnerships_hard=True, cannot_link=(("c4", "c3"),)
            ),
        )
    prev = PreviousLayout({"c0": "1", "c1": "1", "c2": "2"}, {"1": "c0", "2": "c2"})
    with pytest.raises(InfeasibleError, match="cannot-link"):
        _compile(
            _line(10),
            Constraints(previous=prev, lock_centres=("c0", "c1"), cannot_link=(("c0", "c1"),)),
        )


def test_a_locked_centre_stays_with_its_previous_venue():
    prev = PreviousLayout(
        {"c0": "1", "c1": "1", "c2": "1", "c3": "2", "c4": "2"}, {"1": "c0", "2": "c4"}
    )
    compiled = _compile(_line(6), Constraints(previous=prev, lock_centres=("c1", "c3")))
    assert sorted(g.tolist() for g in compiled.together) == [[0, 1], [3, 4]]
    assert [g.tolist() for g in compiled.apart] == [[1, 3]]
    # meeting at a venue of another previous cluster counts as a move; c5 is new
    assert compiled.moved[1, 0] == 0
    assert compiled.moved[1, 4] == 1
    assert not compiled.moved[5].any()


def test_must_link_across_a_hard_boundary():
    side = ["W"] * 5 + ["E"] * 5
    with pytest.raises(InfeasibleError, match=r"different side areas \(E, W\)"):
        _compile(_line(10, side=side), Constraints(must_link=(("c4", "c5"),), boundary="side"))
    # allowed when the boundary may be crossed
    compiled = _compile(
        _line(10, side=side),
        Constraints(must_link=(("c4", "c5"),), boundary="side", cross_boundary=True),
    )
    assert compiled.crossings[4, 5] == 1
    assert compiled.crossings[4, 3] == 0


def test_hard_boundary_needs_every_value():
    with pytest.raises(InputError, match="centre c2 has no side value") as info:
        _compile(_line(4, side=["W", "W", "", "E"]), Constraints(boundary="side"))
    assert info.value.column == "side"
    with pytest.raises(InputError, match="boundary names 'colour'"):
        _compile(_line(4), Constraints(boundary="colour"))


def test_must_link_with_no_venue_near_all_members():
    # c0 and c3 are 3 km apart: any venue is at least 1.5 km from one of them
    with pytest.raises(InfeasibleError, match=r"no venue is within 1\.4 km of all of them"):
        _compile(_line(10), Constraints(must_link=(("c0", "c3"),), max_distance=1.4))
    compiled = _compile(_line(10), Constraints(must_link=(("c0", "c3"),), max_distance=2))
    assert compiled.allowed[[0, 3], 1].all()  # c1 serves both
    with pytest.raises(InputError, match="max_distance 0 is not above 0"):
        _compile(_line(10), Constraints(max_distance=0))


@pytest.mark.parametrize(
    ("constraints", "what"),
    [
        (Constraints(must_link=(("c0", "zz"),)), "a must-link group"),
        (Constraints(cannot_link=(("zz", "c1"),)), "a cannot-link group"),
        (Constraints(partnerships=(("c1", "zz"),)), "a partnership"),
        (
            Constraints(previous=PreviousLayout({"c0": "1"}, {"1": "c0"}), lock_centres=("zz",)),
            "lock_centres",
        ),
    ],
)
def test_unknown_ids_are_input_errors(constraints, what):
    constraints = Constraints(**{**constraints.__dict__, "source": "rules.toml"})
    with pytest.raises(InputError, match=f"{what} names centre 'zz'") as info:
        _compile(_line(6), constraints)
    assert info.value.file == "rules.toml"


def test_locks_need_the_previous_layout():
    with pytest.raises(InputError, match="lock_centres needs the previous layout"):
        _compile(_line(6), Constraints(lock_centres=("c0",)))
    prev = PreviousLayout({"c0": "1"}, {"1": "c0"})
    with pytest.raises(InputError, match="locked centre c1 is not in the previous layout"):
        _compile(_line(6), Constraints(previous=prev, lock_centres=("c1",)))
    with pytest.raises(InputError, match="lock_clusters needs the previous layout"):
        form_clusters(_line(6), SizeRule(2, 3), constraints=Constraints(lock_clusters=("1",)))
    with pytest.raises(InputError, match="locked cluster '9' is not in the previous layout"):
        form_clusters(
            _line(6),
            SizeRule(2, 3),
            constraints=Constraints(previous=prev, lock_clusters=("9",)),
        )


def test_excluded_ids_are_dropped_from_rules_with_a_note():
    centres = _line(10)
    kept = centres.exclude(centres.frame["centre_id"].eq("c2").to_numpy(), "closing")
    compiled = _compile(
        kept,
        Constraints(
            must_link=(("c1", "c2", "c3"),),
            cannot_link=(("c2", "c9"),),
            partnerships=(("c2", "c5"),),
        ),
        known=("c2",),
    )
    # rows after the exclusion: c0 c1 c3 ... → c1 is row 1, c3 row 2
    assert [g.tolist() for g in compiled.together] == [[1, 2]]
    assert compiled.apart == []
    assert compiled.pairs is None
    assert any("must-link: c2 excluded" in note for note in compiled.notes)
    assert any("partnership c2–c5 ignored" in note for note in compiled.notes)


def test_excluded_ids_through_form_clusters():
    rng = np.random.default_rng(2)
    centres = _centres(_table(rng.random((12, 2)) * SQUARE))
    rule = SizeRule(3, 4)
    constraints = Constraints(exclude={"c3": "closing"}, must_link=(("c3", "c4", "c5"),))
    layout = form_clusters(centres, rule, constraints=constraints, time_limit=1, workers=1)
    ids = [f"c{i}" for i in range(12)]
    assert check_layout(layout, rule, input_ids=ids, constraints=constraints).ok
    assert layout.excluded.set_index("centre_id").loc["c3", "reason"] == "closing"
    cluster = layout.centres.set_index("centre_id")["cluster"]
    assert cluster["c4"] == cluster["c5"]
    assert any("c3 excluded" in note for note in layout.stats["notes"])
    with pytest.raises(InputError, match=r"the exclusion list names 1 id.*zz"):
        form_clusters(centres, rule, constraints=Constraints(exclude={"zz": "gone"}))


def test_consent_column_leaves_out_who_has_not_agreed():
    rng = np.random.default_rng(3)
    consent = ["yes"] * 10 + ["no", ""]
    centres = _centres(_table(rng.random((12, 2)) * SQUARE, consent=consent))
    rule = SizeRule(2, 4)
    constraints = Constraints(consent="consent")
    layout = form_clusters(centres, rule, constraints=constraints, time_limit=1, workers=1)
    assert sorted(layout.excluded["centre_id"]) == ["c10", "c11"]
    assert layout.excluded["reason"].str.contains("no consent").all()
    assert check_layout(
        layout, rule, input_ids=[f"c{i}" for i in range(12)], constraints=constraints
    ).ok


# ================================================================ locked clusters


def _locked_case():
    """A first layout of 12 centres and its cluster holding c0 and a far member."""
    rng = np.random.default_rng(0)
    xy = rng.random((12, 2)) * SQUARE
    frame = _table(xy, side=np.where(xy[:, 0] < SQUARE / 2, "W", "E"))
    centres = _centres(frame)
    rule = SizeRule(3, 4)
    first = form_clusters(centres, rule, time_limit=1, seed=0, workers=1)
    a = first.assignments
    prev = PreviousLayout(
        dict(zip(a["centre_id"], a["cluster"].astype(str), strict=True)),
        dict(zip(a["cluster"].astype(str), a["venue_id"], strict=True)),
    )
    label = prev.cluster["c0"]
    members = sorted(c for c, lab in prev.cluster.items() if lab == label)
    far = max(members, key=lambda c: float(a.set_index("centre_id").loc[c, "distance"]))
    longest = float(a.set_index("centre_id").loc[far, "distance"]) / 1000
    return centres, rule, prev, label, members, longest


def _locked_outcome(centres, rule, constraints):
    """The layout (checked here) or the InfeasibleError of a re-forming."""
    try:
        layout = form_clusters(centres, rule, constraints=constraints, time_limit=1, workers=1)
    except InfeasibleError as exc:
        _plain_words(str(exc))
        return exc
    report = check_layout(layout, rule, constraints=constraints)
    assert report.ok, report.violations
    return layout


def test_locked_cluster_is_kept_whole_with_its_venue():
    centres, rule, prev, label, members, _ = _locked_case()
    constraints = Constraints(previous=prev, lock_clusters=(label,))
    layout = _locked_outcome(centres, rule, constraints)
    c = layout.centres.set_index("centre_id")
    (now,) = set(c.loc[members, "cluster"])
    assert str(now) == label
    assert sorted(c.index[c["cluster"] == now]) == members
    assert c.loc[prev.venue[label], "is_venue"]


def test_locked_cluster_that_lost_its_venue_is_infeasible():
    centres, rule, prev, label, _, _ = _locked_case()
    venue = prev.venue[label]
    constraints = Constraints(previous=prev, lock_clusters=(label,), exclude={venue: "closed"})
    with pytest.raises(InfeasibleError, match=f"locked cluster {label} cannot keep its venue"):
        form_clusters(centres, rule, constraints=constraints, time_limit=1, workers=1)


def test_locked_cluster_holding_part_of_a_must_link_group_is_infeasible():
    centres, rule, prev, label, members, _ = _locked_case()
    outside = next(c for c in prev.cluster if c not in members)
    constraints = Constraints(
        previous=prev, lock_clusters=(label,), must_link=((members[0], outside),)
    )
    with pytest.raises(InfeasibleError, match="holds only part of a must-link group"):
        form_clusters(centres, rule, constraints=constraints, time_limit=1, workers=1)


def test_locked_cluster_with_a_cannot_link_pair_inside_is_infeasible():
    centres, rule, prev, label, members, _ = _locked_case()
    constraints = Constraints(
        previous=prev, lock_clusters=(label,), cannot_link=((members[0], members[1]),)
    )
    result = _locked_outcome(centres, rule, constraints)
    assert isinstance(result, InfeasibleError)
    assert f"locked cluster {label} " in str(result)


def test_locked_cluster_beyond_max_distance_is_infeasible():
    centres, rule, prev, label, _, longest = _locked_case()
    constraints = Constraints(previous=prev, lock_clusters=(label,), max_distance=longest - 0.01)
    result = _locked_outcome(centres, rule, constraints)
    assert isinstance(result, InfeasibleError)
    assert f"locked cluster {label} " in str(result)


def test_locked_cluster_across_a_hard_boundary_is_infeasible():
    centres, rule, prev, label, members, _ = _locked_case()
    sides = centres.frame.set_index("centre_id").loc[members, "side"]
    assert sides.nunique() == 2  # the case is built so that it crosses
    constraints = Constraints(previous=prev, lock_clusters=(label,), boundary="side")
    result = _locked_outcome(centres, rule, constraints)
    assert isinstance(result, InfeasibleError)
    assert f"locked cluster {label} " in str(result)


# ================================================================ random instances


@dataclass
class Case:
    """One drawn instance: the table and everything handed to the engine."""

    frame: pd.DataFrame
    rule: SizeRule
    constraints: Constraints
    weights: Weights
    matrix: np.ndarray | None = None  # integer minutes, when a travel matrix is used
    notes: dict = field(default_factory=dict)

    @property
    def ids(self) -> list[str]:
        return self.frame["id"].tolist()


def _near_pairs(xy: np.ndarray, rng, count: int) -> list[tuple[int, int]]:
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    out = []
    for i in rng.choice(len(xy), size=min(count, len(xy)), replace=False):
        out.append((int(i), int(np.argmin(d[i]))))
    return out


def _random_pairs(n: int, rng, count: int) -> list[tuple[int, int]]:
    return [tuple(int(v) for v in rng.choice(n, size=2, replace=False)) for _ in range(count)]


def _columns(xy: np.ndarray, rng) -> dict:
    n = len(xy)
    topics = []
    for _ in range(n):
        k = rng.integers(0, 3)
        topics.append(";".join(rng.choice(["arts", "maths", "sport", "music"], k, replace=False)))
    return {
        "band": rng.choice(["a", "b", "c"], n, p=[0.45, 0.35, 0.2]),
        "willing": rng.choice(["yes", "no"], n, p=[0.6, 0.4]),
        "side": np.where(xy[:, 0] < SQUARE / 2, "W", "E"),
        "topics": topics,
        "score": np.round(rng.uniform(0, 50, n), 1),
    }


def _minutes(xy: np.ndarray) -> np.ndarray:
    """Whole minutes, slower eastwards: an asymmetric travel matrix."""
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)) / 250.0
    east = xy[None, :, 0] > xy[:, None, 0]
    out = np.rint(np.where(east, 1.2 * d, d))
    np.fill_diagonal(out, 0)
    return out


def _write_matrix(ids: list[str], minutes: np.ndarray, folder: str) -> Path:
    rows = [(a, b, int(minutes[i, j])) for i, a in enumerate(ids) for j, b in enumerate(ids)]
    path = Path(folder) / "minutes.csv"
    pd.DataFrame(rows, columns=["from", "to", "minutes"]).to_csv(path, index=False)
    return path


def _previous_from(layout) -> PreviousLayout:
    a = layout.assignments
    a = a[a["cluster"].notna()]
    return PreviousLayout(
        dict(zip(a["centre_id"], a["cluster"].astype(str), strict=True)),
        dict(zip(a["cluster"].astype(str), a["venue_id"], strict=True)),
        "<first solve>",
    )


def _verify_directly(layout, case: Case) -> None:
    """The rules, verified from the layout's table without the checker."""
    c = case.constraints
    table = layout.centres
    ids = table["centre_id"].astype(str).tolist()
    excluded = layout.excluded["centre_id"].astype(str).tolist()
    # every centre exactly once: a member or excluded with a reason
    assert sorted(ids + excluded) == sorted(case.ids)
    assert len(set(ids + excluded)) == len(case.ids)
    assert (layout.excluded["reason"].astype(str).str.strip() != "").all()
    assert set(excluded) >= set(c.exclude)
    cluster = dict(zip(ids, table["cluster"], strict=True))
    for group in c.must_link:
        present = [g for g in group if g in cluster]
        assert len({cluster[g] for g in present}) <= 1, f"must-link {group} split"
    for group in c.cannot_link:
        present = [g for g in group if g in cluster]
        labels = [cluster[g] for g in present]
        assert len(set(labels)) == len(labels), f"cannot-link {group} together"
    # sizes, one venue per cluster, a coordinator per cluster
    sizes = table.groupby("cluster").size()
    assert sizes.between(case.rule.min_size, case.rule.max_size).all()
    assert (table.groupby("cluster")["is_venue"].sum() == 1).all()
    assert (table.groupby("cluster")["coordinator"].sum() == 1).all()
    if c.coordinator is not None:
        coordinators = table[table["coordinator"].astype(bool)]
        assert (coordinators[c.coordinator] == "yes").all()
    for quota in case.rule.quotas:
        counts = (table[quota.column] == quota.value).groupby(table["cluster"]).sum()
        assert (counts >= quota.min).all()
    # member → venue distances against the table's own coordinates
    venue = table[table["is_venue"]].set_index("cluster")
    vx = venue.loc[table["cluster"]].geometry.x.to_numpy()
    vy = venue.loc[table["cluster"]].geometry.y.to_numpy()
    vid = venue.loc[table["cluster"], "centre_id"].to_numpy()
    if case.matrix is None:
        trip = np.hypot(table.geometry.x.to_numpy() - vx, table.geometry.y.to_numpy() - vy)
        limit = None if c.max_distance is None else c.max_distance * 1000
    else:
        pos = {cid: k for k, cid in enumerate(case.ids)}
        trip = case.matrix[[pos[i] for i in ids], [pos[v] for v in vid]]
        limit = c.max_distance
    np.testing.assert_allclose(table["distance"].to_numpy(dtype=float), trip, atol=1e-6)
    if limit is not None:
        assert trip.max() <= limit + 1e-6
    if c.boundary is not None and not c.cross_boundary:
        for _, sides in table.groupby("cluster")[c.boundary]:
            assert len(set(sides)) == 1
    if c.previous is not None:
        for label in c.lock_clusters:
            before = sorted(g for g, lab in c.previous.cluster.items() if lab == label)
            before = [g for g in before if g in cluster]  # less who left
            (now,) = {cluster[g] for g in before}
            assert str(now) == label  # and it keeps its number
            assert sorted(g for g in ids if cluster[g] == now) == before
            assert c.previous.venue[label] in set(vid[table["cluster"] == now])
        locked = [g for g in c.lock_centres if g in cluster]
        for a in locked:
            venue = c.previous.venue.get(c.previous.cluster[a])
            assert venue not in cluster or cluster[venue] == cluster[a]
        for a in locked:
            for b in locked:
                same = c.previous.cluster[a] == c.previous.cluster[b]
                assert (cluster[a] == cluster[b]) == same


def _outcome(case: Case, **options):
    """Run the engine on ``case``: the layout, checked, or the error it raised."""
    with tempfile.TemporaryDirectory() as folder:
        distances = None
        if case.matrix is not None:
            distances = _write_matrix(case.ids, case.matrix, folder)
        try:
            layout = form_clusters(
                _centres(case.frame),
                case.rule,
                distances=distances,
                weights=case.weights,
                constraints=case.constraints,
                workers=1,
                **options,
            )
        except (InfeasibleError, SolverError) as exc:
            _plain_words(str(exc))
            return exc
        report = check_layout(
            layout,
            case.rule,
            input_ids=case.ids,
            matrix=distances,
            weights=case.weights,
            constraints=case.constraints,
        )
    assert report.ok, report.violations
    # layout.objective is the checker's own recomputation (form_clusters sets it so), so
    # the checker's value and the engine's are each compared with one computed here
    expected = _objective_directly(layout, case)
    assert report.recomputed_objective == pytest.approx(expected, rel=1e-9, abs=1e-6)
    assert layout.objective == pytest.approx(expected, rel=1e-9, abs=1e-6)
    engine = layout.problem.objective.cost(layout.problem.costs.matrix, layout.venue_of)
    assert engine == pytest.approx(expected, rel=1e-9, abs=1e-6)
    assert 0 <= layout.lower_bound <= layout.objective * (1 + 1e-9) + 1e-6
    _verify_directly(layout, case)
    return layout


def _objective_directly(layout, case: Case) -> float:
    """The weighted total of ``layout``, in cost units, from the case's own table and rules.

    Travel with stability and boundary crossings (``Model.arc``), theme splits and split
    partnerships (``_shared_terms``), as the exhaustive search counts them, plus the
    contrast deviation ``Σ_k n_k·|mean_k − mean|`` of each weighted numeric attribute.
    Only the layout's statement of who meets at which venue is read from the layout.
    """
    m = _model(case)
    present = [cid for cid in case.ids if cid not in case.constraints.exclude]
    row = {cid: k for k, cid in enumerate(present)}
    a = layout.assignments
    a = a[a["cluster"].notna()]
    members = np.array([row[cid] for cid in a["centre_id"]])
    venues = np.array([row[cid] for cid in a["venue_id"]])
    cluster = a["cluster"].to_numpy(dtype=int)
    blocks = [members[cluster == k].tolist() for k in sorted(set(cluster))]
    value = float(m.arc[members, venues].sum()) + _shared_terms(m, blocks)
    per_km = 1000.0 if case.matrix is None else 1.0
    for column, weight in case.weights.contrast.items():
        cells = case.frame.set_index("id").loc[present, column].to_numpy(dtype=float)[members]
        mean = cells.mean()
        deviation = sum(
            len(b) * abs(b.mean() - mean) for b in (cells[cluster == k] for k in set(cluster))
        )
        value += weight * per_km * deviation
    return value


def _medium_case(seed: int):
    """Up to 40 centres with a random mix of every kind of rule, all drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(10, 41))
    lo = int(rng.integers(2, 6))
    hi = lo + int(rng.integers(0, 5))
    xy = rng.random((n, 2)) * SQUARE
    columns = _columns(xy, rng)
    ids = [f"c{i}" for i in range(n)]

    def coin() -> bool:
        return bool(rng.random() < 0.5)

    def weight() -> float:
        return float(rng.choice([0.5, 1.0, 2.5, 4.0]))

    quotas = (Quota("band", "a", min=1),) if coin() else ()
    rule = SizeRule(lo, hi, quotas=quotas)
    boundary = [None, "hard", "soft"][int(rng.integers(3))]
    must = _near_pairs(xy, rng, int(rng.integers(0, 4)))
    cannot = _random_pairs(n, rng, int(rng.integers(0, 4)))
    partners = _near_pairs(xy, rng, int(rng.integers(0, 4)))
    constraints = Constraints(
        must_link=tuple((ids[a], ids[b]) for a, b in must),
        cannot_link=tuple((ids[a], ids[b]) for a, b in cannot),
        partnerships=tuple((ids[a], ids[b]) for a, b in partners),
        coordinator="willing" if coin() else None,
        max_distance=None if coin() else float(rng.choice([8.0, 11.0, 15.0])),
        boundary=None if boundary is None else "side",
        cross_boundary=boundary == "soft",
    )
    weights = Weights(
        1.0,
        contrast={"score": weight()} if coin() else {},
        themes={"topics": weight()} if coin() else {},
        partnerships=weight() if partners else 0.0,
        boundary=weight() if boundary == "soft" else 0.0,
        stability=weight(),
    )
    previous = [None, "centres", "cluster", "both"][int(rng.integers(4))]
    exclude = {ids[int(rng.integers(n))]: "closing"} if coin() else {}
    return Case(_table(xy, **columns), rule, constraints, weights), previous, exclude, seed


def _random_rules_outcome(drawn):
    """A medium case's outcome: a checked layout, or the plain error it raised."""
    case, previous, exclude, seed = drawn
    if previous is not None:
        # re-forming: the layout a first solve gave (same rules), some of it locked
        first = _outcome(case, time_limit=1.0, seed=seed)
        if isinstance(first, InfeasibleError | SolverError):
            return first
        prev = _previous_from(first)
        rng = np.random.default_rng(seed + 1)
        lock_centres = ()
        lock_clusters = ()
        if previous in ("centres", "both"):
            lock_centres = tuple(sorted(rng.choice(case.ids, size=3, replace=False).tolist()))
        if previous in ("cluster", "both"):
            lock_clusters = (str(rng.choice(sorted(set(prev.cluster.values())))),)
        case.constraints = Constraints(
            **{
                **case.constraints.__dict__,
                "previous": prev,
                "lock_centres": lock_centres,
                "lock_clusters": lock_clusters,
                "exclude": exclude,
            }
        )
    else:
        case.weights = Weights(**{**case.weights.__dict__, "stability": 0.0})
    return _outcome(case, time_limit=1.5, seed=seed)


#: cases of the random-rules test: a few on every commit, many on the scheduled run
_RANDOM_RULES_CASES = 400 if os.environ.get("HYPOTHESIS_PROFILE") == "thorough" else 16
#: the share of them that must end in a layout (measured: 11 of the first 16 seeds, 46 of 64)
_RANDOM_RULES_LAYOUTS = 0.5


@pytest.mark.timeout(8 * _RANDOM_RULES_CASES)
def test_random_rules_give_checked_layouts_or_plain_errors():
    """Every case gives a checked layout or a plain error, and enough give layouts.

    Without the share a run in which every case ends in an error (an engine that
    gave up on everything) would pass; the cases are drawn from fixed seeds, so the
    share is the same on every run.
    """
    outcomes = [_random_rules_outcome(_medium_case(seed)) for seed in range(_RANDOM_RULES_CASES)]
    errors = [o for o in outcomes if isinstance(o, Exception)]
    layouts = len(outcomes) - len(errors)
    assert layouts >= _RANDOM_RULES_LAYOUTS * len(outcomes), (
        f"only {layouts} of {len(outcomes)} cases gave a layout: "
        + "; ".join(f"{type(e).__name__}: {e}" for e in errors[:5])
    )


def test_regression_soft_boundary_with_themes_passes_the_checker():
    """An earlier version said "lower bound exceeds the objective" for this mix."""
    for seed in range(3):
        rng = np.random.default_rng(seed)
        xy = rng.random((16, 2)) * SQUARE
        case = Case(
            _table(xy, **_columns(xy, rng)),
            SizeRule(3, 5),
            Constraints(boundary="side", cross_boundary=True),
            Weights(1.0, themes={"topics": 2.0}, boundary=3.0),
        )
        layout = _outcome(case, time_limit=1.5, seed=seed)
        assert not isinstance(layout, Exception)
        parts = layout.stats["objective_parts"]
        assert {"boundary crossings", "topics splits"} <= set(parts)


# ================================================================ exhaustive search


def _partitions(rows: list[int], hi: int):
    """Every set partition of ``rows`` into blocks of at most ``hi``."""
    if not rows:
        yield []
        return
    first, rest = rows[0], rows[1:]
    for part in _partitions(rest, hi):
        for k in range(len(part)):
            if len(part[k]) < hi:
                yield [*part[:k], [first, *part[k]], *part[k + 1 :]]
        yield [[first], *part]


def _default_count(m: int, lo: int, hi: int) -> int | None:
    """The cluster count a size rule gives ``m`` centres (None: no count fits)."""
    k_lo, k_hi = -(-m // hi), m // lo
    if k_lo > k_hi:
        return None
    return min(max(round(m / ((lo + hi) / 2)), k_lo), k_hi)


@dataclass
class Model:
    """An instance in row indices of the centres taking part, built from ``Case`` here."""

    lo: int
    hi: int
    n_clusters: int | None
    arc: np.ndarray  # member → venue cost with stability and crossings, in cost units
    trip: np.ndarray  # member → venue travel, in the max_distance's unit
    limit: float | None
    quota: np.ndarray | None
    eligible: np.ndarray | None
    regions: np.ndarray | None  # hard boundary
    together: list[set[int]]
    apart: list[tuple[int, int]]
    themes: list[set[str]]
    theme_cost: float
    pairs: list[tuple[int, int]]
    pair_cost: float
    locked: tuple[list[int], int] | None  # members and venue; venue −1 when it left


def _model(case: Case) -> Model:
    c, w, rule = case.constraints, case.weights, case.rule
    frame = case.frame
    present = [i for i, cid in enumerate(case.ids) if cid not in c.exclude]
    ids = [case.ids[i] for i in present]
    row = {cid: k for k, cid in enumerate(ids)}
    xy = frame[["x", "y"]].to_numpy(dtype=float)[present]
    metres = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    if case.matrix is None:
        travel, per_km, trip = metres, 1000.0, metres / 1000.0
    else:
        travel = case.matrix[np.ix_(present, present)].astype(float)
        per_km, trip = 1.0, travel
    arc = w.travel * travel
    prev = None if c.previous is None else [c.previous.cluster.get(i) for i in ids]
    if prev is not None and w.stability > 0:
        moved = np.array([[p is not None and q != p for q in prev] for p in prev], dtype=float)
        arc = arc + w.stability * per_km * moved
    side = frame["side"].to_numpy()[present]
    if c.boundary is not None and c.cross_boundary and w.boundary > 0:
        arc = arc + w.boundary * per_km * (side[:, None] != side[None, :])

    def rows(group):
        return [row[g] for g in group if g in row]

    together = [set(rows(g)) for g in c.must_link]
    apart = [(a, b) for g in c.cannot_link for a in rows(g) for b in rows(g) if a < b]
    # locked centres keep their previous cluster-mates that are locked and its venue,
    # and stay apart from locked centres of other previous clusters
    locked_rows = rows(c.lock_centres)
    for label in {prev[a] for a in locked_rows}:
        group = {a for a in locked_rows if prev[a] == label}
        venue = row.get(c.previous.venue.get(label, ""))
        together.append(group | ({venue} if venue is not None else set()))
    apart += [(a, b) for a in locked_rows for b in locked_rows if a < b and prev[a] != prev[b]]
    pairs = [tuple(rows(p)) for p in c.partnerships]
    pairs = [p for p in pairs if len(p) == 2 and p[0] != p[1]]
    locked = None
    if c.lock_clusters:
        (label,) = c.lock_clusters
        members = [k for k in range(len(ids)) if prev[k] == label]
        venue = row.get(c.previous.venue[label], -1)
        locked = (members, venue if venue in members else -1)
    quota = None
    if rule.quotas:
        (q,) = rule.quotas
        quota = (frame[q.column].to_numpy()[present] == q.value, q.min)
    return Model(
        lo=rule.min_size,
        hi=rule.max_size,
        n_clusters=rule.n_clusters,
        arc=arc,
        trip=trip,
        limit=c.max_distance,
        quota=quota,
        eligible=None
        if c.coordinator is None
        else frame[c.coordinator].to_numpy()[present] == "yes",
        regions=None if c.boundary is None or c.cross_boundary else side,
        together=together,
        apart=apart,
        themes=[
            {t for t in str(cell).split(";") if t} for cell in frame["topics"].to_numpy()[present]
        ],
        theme_cost=w.themes.get("topics", 0.0) * per_km,
        pairs=pairs if w.partnerships > 0 else [],
        pair_cost=w.partnerships * per_km,
        locked=locked,
    )


def _block_cost(m: Model, block: list[int], venues: list[int]) -> float | None:
    """The cheapest venue's cost for ``block``, or None when the block breaks a rule."""
    if not m.lo <= len(block) <= m.hi:
        return None
    inside = set(block)
    if m.quota is not None and m.quota[0][block].sum() < m.quota[1]:
        return None
    if m.eligible is not None and not m.eligible[block].any():
        return None
    if m.regions is not None and len(set(m.regions[block].tolist())) > 1:
        return None
    if any(0 < len(g & inside) < len(g) for g in m.together):
        return None
    if any(a in inside and b in inside for a, b in m.apart):
        return None
    best = None
    for v in venues:
        if m.limit is not None and m.trip[block, v].max() > m.limit + 1e-9:
            continue
        cost = float(m.arc[block, v].sum())
        best = cost if best is None else min(best, cost)
    return best


def _optimum(m: Model) -> float | None:
    """The least weighted total over every layout, or None when no layout meets the rules."""
    n = len(m.arc)
    fixed: list[list[int]] = []
    base = 0.0
    free = list(range(n))
    if m.locked is not None:
        members, venue = m.locked
        cost = None if venue < 0 else _block_cost(m, members, [venue])
        if cost is None:
            return None
        fixed, base = [members], cost
        free = [i for i in free if i not in members]
    count = None if m.n_clusters is None else m.n_clusters - len(fixed)
    if m.regions is None:
        areas = [free]
    else:
        areas = [[i for i in free if m.regions[i] == r] for r in sorted(set(m.regions[free]))]

    # each area's layouts, by count: (cost, blocks)
    options = []
    for rows in areas:
        want = _default_count(len(rows), m.lo, m.hi) if count is None else None
        if count is None and want is None:
            return None
        found: dict[int, list[tuple[float, list[list[int]]]]] = {}
        for part in _partitions(rows, m.hi):
            if want is not None and len(part) != want:
                continue
            total = 0.0
            for block in part:
                cost = _block_cost(m, block, block)
                if cost is None:
                    break
                total += cost
            else:
                found.setdefault(len(part), []).append((total, part))
        options.append(found)

    best = None

    def combine(k: int, total: float, blocks: list[list[int]], clusters: int) -> None:
        nonlocal best
        if k == len(options):
            if count is not None and clusters != count:
                return
            value = total + _shared_terms(m, fixed + blocks)
            best = value if best is None else min(best, value)
            return
        for p, layouts in options[k].items():
            for cost, part in layouts:
                combine(k + 1, total + cost, blocks + part, clusters + p)

    combine(0, base, [], 0)
    return best


def _shared_terms(m: Model, blocks: list[list[int]]) -> float:
    """Theme splits and split partnerships, in cost units."""
    value = 0.0
    if m.theme_cost > 0:
        spread: dict[str, int] = {}
        for block in blocks:
            for theme in set().union(*(m.themes[i] for i in block)):
                spread[theme] = spread.get(theme, 0) + 1
        value += m.theme_cost * sum(k - 1 for k in spread.values())
    if m.pairs:
        where = {i: k for k, block in enumerate(blocks) for i in block}
        value += m.pair_cost * sum(where[a] != where[b] for a, b in m.pairs)
    return value


@st.composite
def tiny_cases(draw):
    """Up to 9 centres, sizes 2–4, with the whole constraint model but contrast."""
    seed = draw(st.integers(0, 2**16))
    n = draw(st.integers(6, 9))
    lo, hi = draw(st.sampled_from([(2, 3), (2, 4), (3, 4)]))
    rng = np.random.default_rng(seed)
    xy = rng.random((n, 2)) * SQUARE
    columns = _columns(xy, rng)
    ids = [f"c{i}" for i in range(n)]
    k_lo, k_hi = -(-n // hi), n // lo
    n_clusters = None  # the rule's own count, mostly; sometimes a given one, rarely impossible
    mode = draw(st.integers(0, 5))
    if mode in (3, 4):
        n_clusters = draw(st.integers(k_lo, max(k_lo, k_hi)))
    elif mode == 5:
        n_clusters = draw(st.sampled_from([max(1, k_lo - 1), k_hi + 1]))
    quotas = (Quota("band", "a", min=1),) if draw(st.integers(0, 2)) == 0 else ()
    rule = SizeRule(lo, hi, n_clusters=n_clusters, quotas=quotas)
    matrix = _minutes(xy) if draw(st.booleans()) else None
    weight = st.sampled_from([0.5, 1.0, 2.5, 4.0])
    boundary = draw(st.sampled_from([None, None, "hard", "soft"]))
    limit = draw(st.none() | st.sampled_from([10.0, 14.0, 20.0]))
    if matrix is not None and limit is not None:
        limit *= 4  # km → minutes at 15 km/h
    partners = _near_pairs(xy, rng, draw(st.integers(0, 2)))
    # a previous layout: random clusters with a venue each; a few new centres
    previous = None
    lock_centres: tuple[str, ...] = ()
    lock_clusters: tuple[str, ...] = ()
    if draw(st.booleans()):
        order = rng.permutation(n)
        labels: dict[str, str] = {}
        venues: dict[str, str] = {}
        start, label = 0, 1
        while start < n - 1:
            size = int(rng.integers(lo, hi + 1))
            block = [ids[i] for i in order[start : start + size]]
            if len(block) >= 2:
                labels.update(dict.fromkeys(block, str(label)))
                venues[str(label)] = block[int(rng.integers(len(block)))]
            start += size
            label += 1
        previous = PreviousLayout(labels, venues, "<random previous>")
        known = sorted(labels)
        lock_centres = tuple(
            sorted(rng.choice(known, size=draw(st.integers(0, 2)), replace=False).tolist())
        )
        if draw(st.booleans()):
            lock_clusters = (str(rng.choice(sorted(set(labels.values())))),)
    exclude = {ids[int(rng.integers(n))]: "closing"} if draw(st.integers(0, 2)) == 0 else {}
    constraints = Constraints(
        must_link=tuple((ids[a], ids[b]) for a, b in _near_pairs(xy, rng, draw(st.integers(0, 2)))),
        cannot_link=tuple(
            (ids[a], ids[b]) for a, b in _random_pairs(n, rng, draw(st.integers(0, 2)))
        ),
        partnerships=tuple((ids[a], ids[b]) for a, b in partners),
        coordinator="willing" if draw(st.booleans()) else None,
        max_distance=limit,
        boundary=None if boundary is None else "side",
        cross_boundary=boundary == "soft",
        exclude=exclude,
        previous=previous,
        lock_centres=lock_centres,
        lock_clusters=lock_clusters,
    )
    weights = Weights(
        1.0,
        themes={"topics": draw(weight)} if draw(st.booleans()) else {},
        partnerships=draw(weight) if partners else 0.0,
        boundary=draw(weight) if boundary == "soft" else 0.0,
        stability=draw(weight) if previous is not None else 0.0,
    )
    return Case(_table(xy, **columns), rule, constraints, weights, matrix, {"seed": seed})


@pytest.mark.timeout(110)
@settings(
    max_examples=25,
    deadline=None,
    phases=_NO_SHRINK,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(tiny_cases())
def test_tiny_instances_match_exhaustive_search(case):
    model = _model(case)
    best = _optimum(model)
    result = _outcome(case, time_limit=1.0, seed=0, gap_target=0.0)
    if model.regions is not None and model.n_clusters is not None:
        # the engine fixes each area's share of the clusters beforehand (see the xfail
        # test below): its layout and bound are valid, but it may miss the optimum or
        # report infeasible when only another share works
        if not isinstance(result, Exception):
            assert best is not None
            assert result.lower_bound <= best * (1 + 1e-9) + 1e-6
            assert result.objective >= best * (1 - 1e-9) - 1e-6
        return
    if best is None:
        assert isinstance(result, InfeasibleError), "a layout exists only if the rules allow one"
        return
    assert not isinstance(result, Exception), f"search found a layout of {best:.1f}: {result}"
    assert result.lower_bound <= best * (1 + 1e-9) + 1e-6
    assert result.objective >= best * (1 - 1e-9) - 1e-6
    if case.matrix is not None:
        # whole minutes and half-km weights: CP-SAT's integers are exact
        assert result.objective == pytest.approx(best, rel=1e-6)
    else:
        # CP-SAT floors each member's trip to the metre: at most 1 m a centre off
        assert result.objective <= best + len(result.centres)


def _two_areas() -> Case:
    """Three clusters over a hard boundary: the east (two pairs 18 km apart) wants two, the
    west (four centres 100 m apart) one. Sharing the count by area size alone (four and
    four) may give the west two and the east one instead, 36 km worse."""
    xy = np.array(
        [
            *([19_000, 1_000], [18_900, 1_000], [19_000, 19_000], [18_900, 19_000]),
            *([5_000, 10_000], [4_900, 10_000], [5_000, 10_100], [4_900, 10_100]),
        ],
        dtype=float,
    )
    rng = np.random.default_rng(0)
    return Case(
        _table(xy, **_columns(xy, rng)),
        SizeRule(2, 4, n_clusters=3),
        Constraints(boundary="side"),
        Weights(),
    )


def test_shared_cluster_count_keeps_the_bound_valid():
    case = _two_areas()
    best = _optimum(_model(case))
    assert best == pytest.approx(100 + 100 + 200 + math.hypot(100, 100))
    layout = _outcome(case, time_limit=1, gap_target=0.0)
    assert layout.lower_bound <= best + 1e-6


@pytest.mark.xfail(
    strict=True,
    reason="engine limitation: with a hard boundary, a given n_clusters is shared among the "
    "areas by their sizes (solver.parts.allocate), not by cost, so the layout can be far from "
    "optimal (here 36 300 m against 541 m)",
)
def test_shared_cluster_count_goes_where_it_costs_least():
    case = _two_areas()
    layout = _outcome(case, time_limit=1, gap_target=0.0)
    assert layout.objective <= _optimum(_model(case)) + 8


# ================================================================ solver-found conflicts


def test_conflict_the_cheap_checks_miss_is_named_by_the_solver():
    """Two special schools must share a cluster, but a cluster may hold at most one:
    every pre-check passes (counts fit), so the solver must find and name the conflict."""
    rng = np.random.default_rng(4)
    xy = rng.random((12, 2)) * 10_000
    frame = pd.DataFrame(
        {
            "id": [f"s{i}" for i in range(12)],
            "x": xy[:, 0],
            "y": xy[:, 1],
            "type": ["special" if i in (0, 5) else "mainstream" for i in range(12)],
        }
    )
    rule = SizeRule(3, 4, quotas=(Quota("type", "special", 0, 1),))
    constraints = Constraints(must_link=(("s0", "s5"),))
    with pytest.raises(InfeasibleError) as caught:
        form_clusters(_centres(frame), rule, constraints=constraints, time_limit=5, workers=1)
    message = str(caught.value)
    assert "must-link" in message, message
    assert "type = 'special'" in message, message
    assert "clusters of 3–4" not in message, message  # sizes are not part of the conflict
    _plain_words(message)


def test_centre_with_no_possible_venue_within_max_distance_is_named():
    """A lone school 30 km from ten clustered ones: no venue within 5 km could fill a cluster."""
    xy = np.vstack([np.random.default_rng(2).random((10, 2)) * 2_000, [[30_000, 30_000]]])
    frame = pd.DataFrame({"id": [f"s{i}" for i in range(11)], "x": xy[:, 0], "y": xy[:, 1]})
    with pytest.raises(
        InfeasibleError, match=r"1 centre\(s\) have no possible venue within 5 km.*s10"
    ):
        form_clusters(
            _centres(frame), SizeRule(3, 6), constraints=Constraints(max_distance=5), time_limit=2
        )


def test_no_candidate_venue_in_the_whole_model_is_a_proof_of_infeasibility():
    # found by test_tiny_instances_match_exhaustive_search (seed 291): the locked centre
    # and cluster leave c5 and c6 (must-link) no venue both may use within 40 minutes;
    # with every venue a candidate that is a proof, not "no layout found in time"
    xy = [
        (453861.847054, 139646.450082),
        (464886.134019, 130890.528161),
        (460937.925094, 131141.753426),
        (454194.247055, 131588.553840),
        (462036.716880, 144941.468704),
        (454774.828535, 140068.275906),
        (457584.044218, 136097.253606),
    ]
    frame = pd.DataFrame({"id": [f"c{i}" for i in range(7)]})
    frame["x"], frame["y"] = zip(*xy, strict=True)
    frame["band"] = list("aabaaba")
    frame["willing"] = ["no", "yes", "yes", "no", "no", "yes", "no"]
    frame["side"] = list("WEEWEWW")
    frame["topics"] = ["", "", "", "", "maths", "music;maths", "sport;maths"]
    frame["score"] = [3.6, 13.1, 43.1, 21.1, 6.3, 2.8, 48.4]
    previous = PreviousLayout(
        cluster={"c5": "1", "c6": "1", "c0": "2", "c1": "2", "c3": "3", "c4": "3", "c2": "3"},
        venue={"1": "c5", "2": "c1", "3": "c2"},
        source="<previous>",
    )
    matrix = np.array(
        [
            [0, 68, 53, 39, 47, 5, 25],
            [56, 0, 16, 43, 57, 55, 36],
            [44, 19, 0, 27, 66, 43, 24],
            [32, 51, 32, 0, 74, 41, 27],
            [39, 69, 55, 62, 0, 35, 40],
            [4, 66, 52, 34, 42, 0, 23],
            [21, 43, 29, 23, 48, 19, 0],
        ],
        dtype=float,
    )
    case = Case(
        frame,
        SizeRule(2, 4, n_clusters=3),
        Constraints(
            must_link=(("c6", "c5"),),
            cannot_link=(("c5", "c2"), ("c3", "c0")),
            partnerships=(("c6", "c5"),),
            max_distance=40.0,
            previous=previous,
            lock_centres=("c0",),
            lock_clusters=("1",),
        ),
        Weights(1.0, partnerships=0.5, stability=4.0),
        matrix,
    )
    assert _optimum(_model(case)) is None  # exhaustive search: no layout exists
    assert isinstance(_outcome(case, time_limit=1.0, seed=0), InfeasibleError)
