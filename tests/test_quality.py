"""Quality per term (issue 15, item 3): each part of the objective beside its own reference."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest

import clustering
from clustering.analysis.quality import (
    QUALITY_SHARE,
    Quality,
    TermQuality,
    categorical_bound,
    layout_quality,
    priced_bound,
    quality_budget,
)
from clustering.cli import main
from clustering.model.scenario import Scenario, scenario_from_tables, scenario_to_toml


def _centres(path, n_groups=4, per=6, *, spread=0.004, gap=0.2, extra=None):
    """``n_groups`` tight groups of ``per`` centres far apart; ``kind`` alternates A/B."""
    rows = []
    for g in range(n_groups):
        for k in range(per):
            i = g * per + k
            rows.append(
                {
                    "id": f"S{i:02d}",
                    "name": f"School {i}",
                    "lat": 51.0 + spread * (k % 3),
                    "lon": -1.5 + gap * g + spread * (k // 3),
                    "kind": "A" if k % 2 == 0 else "B",
                    "frl": float((i * 7) % 23),
                    "district": "West" if g < n_groups // 2 else "East",
                    "trust": "T1" if i % 3 == 0 else "",
                }
            )
    frame = pd.DataFrame(rows)
    if extra is not None:
        extra(frame)
    frame.to_csv(path, index=False)
    return path


# ------------------------------------------------------------------ proven bounds


def _deviation(labels: np.ndarray, cats: np.ndarray) -> float:
    values = np.unique(cats)
    share = np.array([(cats == v).mean() for v in values])
    out = 0.0
    for k in np.unique(labels):
        members = cats[labels == k]
        counts = np.array([(members == v).sum() for v in values])
        out += 0.5 * np.abs(counts - len(members) * share).sum()
    return out


def test_categorical_bound_is_exact_on_a_small_case_and_never_above_a_layout():
    # two categories 50/50 in clusters of 3: each cluster is at least ½ off
    assert categorical_bound(np.array([0.5, 0.5]), 6, 2, 3, 3) == pytest.approx(1.0)
    # sizes that allow an even split: 0
    assert categorical_bound(np.array([0.5, 0.5]), 8, 2, 3, 5) == pytest.approx(0.0)
    # no sizes fit
    assert categorical_bound(np.array([0.5, 0.5]), 7, 1, 3, 5) == np.inf
    rng = np.random.default_rng(3)
    for _ in range(200):
        n = int(rng.integers(6, 13))
        cats = rng.choice(np.array(["a", "b", "c"]), size=n, p=[0.5, 0.3, 0.2])
        k = int(rng.integers(1, 4))
        lo, hi = 1, n
        labels = np.sort(rng.integers(0, k, size=n))
        labels[:k] = np.arange(k)  # every cluster non-empty
        values = np.unique(cats)
        share = np.array([(cats == v).mean() for v in values])
        bound = categorical_bound(share, n, len(np.unique(labels)), lo, hi)
        assert bound <= _deviation(labels, cats) + 1e-9


def test_the_categorical_bound_is_the_least_deviation_over_every_layout_of_a_tiny_case():
    cats = np.array(["a", "a", "a", "b", "b", "c"])
    share = np.array([0.5, 1 / 3, 1 / 6])
    best = min(
        _deviation(np.array(labels), cats)
        for labels in itertools.product(range(2), repeat=6)
        if sorted(np.bincount(labels, minlength=2)) == [3, 3]
    )
    assert categorical_bound(share, 6, 2, 3, 3) <= best + 1e-9


# ------------------------------------------------------------------ on formed layouts


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """A layout with every kind of weighted part, its references computed."""
    path = _centres(tmp_path_factory.mktemp("mixed") / "centres.csv", n_groups=6)
    centres = clustering.load_centres(path)
    weights = clustering.Weights(
        contrast={"frl": 1.0, "kind": 5.0},
        themes={"trust": 2.0},
        partnerships=10.0,
        boundary=1.0,
    )
    constraints = clustering.Constraints(
        boundary="district",
        cross_boundary=True,
        partnerships=(("S00", "S07"), ("S06", "S13"), ("S12", "S19")),
    )
    layout = clustering.form_clusters(
        centres,
        clustering.SizeRule(4, 8),
        weights=weights,
        constraints=constraints,
        time_limit=3,
        workers=1,
    )
    return layout


def test_every_weighted_part_has_a_row_and_no_reference_is_above_its_value(mixed):
    quality = layout_quality(mixed)
    names = [t.name for t in quality.terms]
    assert names == [
        "travel",
        "frl",
        "kind",
        "trust splits",
        "partnerships split",
        "boundary crossings",
    ]
    assert quality.references == "computed"
    for t in quality.terms:
        assert t.bound is not None, t.name
        assert t.bound <= t.value + 1e-9, t.name
        assert t.best_found is not None, t.name
        assert t.bound <= t.best_found + 1e-6, t.name  # a proven bound is below any layout
        assert t.reference <= t.value + 1e-9, t.name
        assert t.room >= 0
        assert t.weighted_room == pytest.approx(t.weight * t.room)
    # the whole-objective bound from the parts is valid and no weaker than the engine's
    assert quality.engine_bound <= quality.bound <= quality.objective + 1e-6
    assert quality.priced_bound is not None
    assert quality.priced_bound <= quality.objective + 1e-6
    assert quality.priced["priced"] == ["frl"]
    # within the budget (half of 3 s): the priced bound and one reference run only
    assert quality.budget_seconds == pytest.approx(1.5)
    assert quality.seconds < 1.5 + 2.0  # the checker of each reference layout comes on top
    assert sum("no reference run" in note for note in quality.notes) == 5 - 1
    assert quality.objective == pytest.approx(mixed.objective * 0.001)
    best = quality.most_room
    assert best is not None
    assert best.weighted_room == max(t.weighted_room for t in quality.terms)
    assert best.name in quality.line()


def test_the_theme_bound_counts_holders_over_the_largest_cluster(mixed):
    trust = next(t for t in layout_quality(mixed).terms if t.name == "trust splits")
    holders = 12  # S00, S03, …, S33
    assert trust.bound == np.ceil(holders / 8) - 1
    assert trust.value >= trust.bound


def test_the_quality_record_round_trips_and_is_read_back(mixed):
    record = mixed.stats["quality"]
    again = Quality.from_dict(json.loads(json.dumps(record)))
    assert again.to_dict() == record
    assert layout_quality(mixed).to_dict() == record  # stored, not recomputed
    row = TermQuality.from_dict(record["terms"][1])
    assert row.to_dict() == record["terms"][1]


def test_a_layout_with_no_contrast_deviation_reports_no_room_there(tmp_path):
    # four tight groups of six, each 3 A + 3 B: the compact layout is perfectly mixed
    centres = clustering.load_centres(_centres(tmp_path / "c.csv"))
    layout = clustering.form_clusters(
        centres,
        clustering.SizeRule(6, 6),
        weights=clustering.Weights(contrast={"kind": 3.0}),
        time_limit=2,
        workers=1,
    )
    quality = layout_quality(layout)
    kind = next(t for t in quality.terms if t.name == "kind")
    assert kind.value == pytest.approx(0.0)
    assert kind.bound == pytest.approx(0.0)
    assert kind.room == pytest.approx(0.0)
    assert kind.reference_kind == "proven minimum"
    assert quality.most_room is None or quality.most_room.name != "kind"


def test_an_odd_mix_is_bounded_above_zero(tmp_path):
    # clusters of 5 from a 50/50 area can never mirror it: ½ school off per cluster at least
    def five(frame):
        frame["kind"] = ["A" if i % 2 == 0 else "B" for i in range(len(frame))]

    centres = clustering.load_centres(_centres(tmp_path / "c.csv", per=5, extra=five))
    layout = clustering.form_clusters(
        centres,
        clustering.SizeRule(5, 5),
        weights=clustering.Weights(contrast={"kind": 3.0}),
        time_limit=2,
        workers=1,
        baselines=False,
    )
    quality = layout_quality(layout)
    assert quality.references == "skipped"  # a lean run (no baselines) makes no reference runs
    kind = next(t for t in quality.terms if t.name == "kind")
    assert kind.bound == pytest.approx(4 * 0.5)
    assert kind.value >= kind.bound - 1e-9


def test_a_travel_only_run_shows_the_travel_gap_equal_to_the_layouts_gap(tmp_path):
    centres = clustering.load_centres(_centres(tmp_path / "c.csv", n_groups=5))
    layout = clustering.form_clusters(
        centres, clustering.SizeRule(4, 8), time_limit=2, workers=1, baselines=False
    )
    quality = layout_quality(layout)
    assert [t.name for t in quality.terms] == ["travel"]
    travel = quality.terms[0]
    assert quality.references == "not needed"
    assert travel.reference_kind == "proven bound"
    assert travel.bound == pytest.approx(layout.lower_bound * 0.001)
    assert travel.room_share == pytest.approx(layout.gap, abs=1e-9)
    assert quality.gap == pytest.approx(layout.gap, abs=1e-9)
    assert "quality_seconds" in layout.stats


def test_references_can_be_skipped(tmp_path):
    centres = clustering.load_centres(_centres(tmp_path / "c.csv"))
    layout = clustering.form_clusters(
        centres,
        clustering.SizeRule(6, 6),
        weights=clustering.Weights(contrast={"frl": 1.0}),
        time_limit=2,
        workers=1,
        quality=False,
    )
    quality = layout_quality(layout)
    assert quality.references == "skipped"
    frl = next(t for t in quality.terms if t.name == "frl")
    assert frl.best_found is None
    assert frl.reference_kind == "proven bound"
    # the geography-only baseline still gives travel a proven bound under the same rules
    travel = quality.terms[0]
    assert travel.bound == pytest.approx(layout.stats["geography_only"]["lower_bound_km"])


def test_the_budget_is_a_share_of_the_time_limit():
    assert quality_budget(30) == pytest.approx(QUALITY_SHARE * 30)


def test_a_layout_without_its_problem_is_refused(mixed):
    from dataclasses import replace

    bare = replace(mixed, problem=None, stats={})
    with pytest.raises(ValueError, match="no compiled problem"):
        layout_quality(bare, references=False)


# ------------------------------------------------------------------ wiring


def test_run_json_report_and_the_cli_line(tmp_path, capsys):
    path = _centres(tmp_path / "c.csv")
    out = tmp_path / "out"
    args = ["form", str(path), "--out", str(out), "--min-size", "6", "--max-size", "6"]
    status = main([*args, "--contrast", "frl=1", "--time-limit", "2", "--workers", "1", "--quiet"])
    assert status == 0
    printed = capsys.readouterr().out
    assert "Most room left: " in " ".join(printed.split())
    run = json.loads((out / "run.json").read_text())
    assert run["quality"]["references"] == "computed"
    assert [t["term"] for t in run["quality"]["terms"]] == ["travel", "frl"]
    assert "quality" not in run["stats"]
    html = (out / "report.html").read_text()
    assert "Quality per term" in html
    assert "proven bound" in html

    status = main([*args, "--contrast", "frl=1", "--time-limit", "2", "--no-quality", "--quiet"])
    assert status == 0
    run = json.loads((out / "run.json").read_text())
    assert run["quality"]["references"] == "skipped"
    assert "quality = false" in (out / "scenario.toml").read_text()


def test_the_scenario_setting_round_trips(tmp_path):
    scenario = scenario_from_tables({"solver": {"quality": False}}, file="x", folder=tmp_path)
    assert scenario.quality is False
    assert Scenario().quality is None
    assert "quality" not in scenario_to_toml(Scenario())
    text = scenario_to_toml(scenario)
    assert "quality = false" in text


# ------------------------------------------------------------------ the priced Lagrangian bound


def _tiny(path, seed: int, n: int = 10):
    rng = np.random.default_rng(seed)
    pd.DataFrame(
        {
            "id": [f"T{i}" for i in range(n)],
            "name": [f"T {i}" for i in range(n)],
            "lat": 51.0 + 0.02 * rng.random(n),
            "lon": -1.0 + 0.03 * rng.random(n),
            "frl": np.round(100 * rng.random(n), 1),
            "imd": rng.integers(1, 11, size=n).astype(float),
            "kind": rng.choice(["a", "b", "c"], size=n),
            "trust": rng.choice(["X", "", "Y"], size=n),
        }
    ).to_csv(path, index=False)
    return path


def _exact_minimum(layout) -> float:
    """The least weighted objective over every layout of 2 clusters of 3–7 (cost units)."""
    problem = layout.problem
    costs, objective, n = problem.costs.matrix, problem.objective, problem.n
    best = np.inf
    for mask in range(1, 2 ** (n - 1)):  # centre n-1 always in the second cluster
        first = np.array([(mask >> i) & 1 for i in range(n)], dtype=bool)
        a, b = np.flatnonzero(first), np.flatnonzero(~first)
        if not (3 <= len(a) <= 7 and 3 <= len(b) <= 7):
            continue
        for va in a:
            for vb in b:
                venue_of = np.where(first, va, vb)
                best = min(best, objective.cost(costs, venue_of))
    return best


def test_the_priced_bound_is_never_above_the_exact_minimum(tmp_path):
    stronger = 0
    for seed in range(4):
        centres = clustering.load_centres(_tiny(tmp_path / f"t{seed}.csv", seed))
        layout = clustering.form_clusters(
            centres,
            clustering.SizeRule(3, 7, n_clusters=2),
            weights=clustering.Weights(contrast={"frl": 2.0, "kind": 50.0}, themes={"trust": 3.0}),
            time_limit=1,
            workers=1,
            baselines=False,
            quality=False,
        )
        found = priced_bound(layout, seconds=0.5)
        assert found is not None
        bound, info = found
        assert info["priced"] == ["frl"]
        assert info["categorical_floor"] == ["kind"]
        exact = _exact_minimum(layout) * 0.001  # km
        assert bound <= exact + 1e-6, seed
        assert layout.objective * 0.001 >= exact - 1e-6
        stronger += bound > layout.lower_bound * 0.001 + 1.0
    # it prices what the engine's bound leaves out: by km on most of these
    assert stronger >= 2


def test_the_priced_bound_with_two_numeric_deviations_is_never_above_the_exact_minimum(tmp_path):
    centres = clustering.load_centres(_tiny(tmp_path / "t.csv", 7))
    weights = clustering.Weights(contrast={"frl": 1.0, "imd": 20.0, "kind": 10.0})
    layout = clustering.form_clusters(
        centres,
        clustering.SizeRule(3, 7, n_clusters=2),
        weights=weights,
        time_limit=1,
        workers=1,
        baselines=False,
        quality=False,
    )
    bound, info = priced_bound(layout, seconds=0.5)
    assert sorted(info["priced"]) == ["frl", "imd"]
    assert info["grid"] == 3
    assert bound <= _exact_minimum(layout) * 0.001 + 1e-6


def test_the_priced_bound_counts_steps_when_asked_and_stops_on_request(tmp_path):
    import threading

    centres = clustering.load_centres(_tiny(tmp_path / "t.csv", 0))
    layout = clustering.form_clusters(
        centres,
        clustering.SizeRule(3, 7, n_clusters=2),
        weights=clustering.Weights(contrast={"frl": 2.0}),
        time_limit=1,
        workers=1,
        baselines=False,
        quality=False,
    )
    a = priced_bound(layout, seconds=0.0, max_iterations=7)
    b = priced_bound(layout, seconds=0.0, max_iterations=7)
    assert a[0] == b[0]
    assert a[1]["iterations"] == 7
    stop = threading.Event()
    stop.set()
    assert priced_bound(layout, seconds=10.0, stop=stop) is None  # no step made: no bound
