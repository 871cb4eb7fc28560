"""Per-centre explanations and the re-forming report, checked against brute recomputation."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from clustering import SizeRule, form_clusters, load_centres, write_outputs
from clustering.analysis.explain import can_explain, explain_centre, explanation_text, explanations
from clustering.analysis.reform import moves, moves_summary
from clustering.cli import main
from clustering.input.files import read_previous
from clustering.model.objective import Weights
from clustering.model.rules import Constraints
from clustering.model.sizes import Quota


def _frame(n: int, seed: int, *, span: float = 20_000.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, span, size=(n, 2))
    return pd.DataFrame(
        {
            "id": [f"c{i:02d}" for i in range(n)],
            "name": [f"School {i}" for i in range(n)],
            "x": xy[:, 0] + 450_000,
            "y": xy[:, 1] + 130_000,
            "fsm_pct": rng.uniform(0, 40, n).round(1),
            "phase": np.where(np.arange(n) % 2 == 0, "high", "primary"),
            "diocese": rng.choice(["A", "B", "C", ""], n),
        }
    )


def _centres(frame: pd.DataFrame):
    return load_centres(frame, crs="EPSG:27700")


def _rows(layout):
    return {cid: k for k, cid in enumerate(layout.centres["centre_id"].astype(str))}


def _venue_of(layout) -> np.ndarray:
    centres = layout.centres
    row = _rows(layout)
    venue = {
        int(k): row[str(c)]
        for k, c in zip(
            centres.loc[centres["is_venue"], "cluster"],
            centres.loc[centres["is_venue"], "centre_id"],
            strict=True,
        )
    }
    return np.array([venue[int(k)] for k in centres["cluster"]])


def _changed(layout, e: dict, alt: dict) -> np.ndarray:
    """``venue_of`` after the move or swap ``alt`` of centre ``e``, built independently."""
    row = _rows(layout)
    base = _venue_of(layout)
    out = base.copy()
    i = row[e["centre_id"]]
    own = row[e["venue_id"]]
    new_own = own
    if alt["new_venue_of_own_cluster"] is not None:
        new_own = row[alt["new_venue_of_own_cluster"]]
        out[base == own] = new_own
    out[i] = row[alt["venue_id"]]
    if alt["swap_with"] is not None:
        out[row[alt["swap_with"]]] = new_own
    return out


@pytest.fixture(scope="module")
def weighted():
    """30 centres, every kind of objective part and most rules."""
    centres = _centres(_frame(30, 1))
    constraints = Constraints(
        must_link=(("c00", "c01"),),
        cannot_link=(("c02", "c03"),),
        partnerships=(("c04", "c05"), ("c06", "c07")),
        max_distance=12,
    )
    weights = Weights(
        contrast={"fsm_pct": 0.05, "phase": 1.0}, themes={"diocese": 0.5}, partnerships=2.0
    )
    rule = SizeRule(4, 6, quotas=(Quota("phase", "high", min=1),))
    return form_clusters(
        centres, rule, weights=weights, constraints=constraints, time_limit=2, seed=0
    )


def test_every_reported_change_equals_a_brute_recomputation(weighted):
    layout = weighted
    objective = layout.problem.objective
    matrix = layout.problem.costs.matrix
    base = _venue_of(layout)
    base_cost = objective.cost(matrix, base)
    base_parts = objective.parts(matrix, base)
    kinds = {"move": 0, "swap": 0, "venue": 0}
    for cid in layout.centres["centre_id"]:
        e = explain_centre(layout, cid, alternatives=4)
        assert len(e["alternatives"]) == 4
        for alt in e["alternatives"]:
            changed = _changed(layout, e, alt)
            brute = (objective.cost(matrix, changed) - base_cost) * objective.travel_scale
            assert alt["change"] == pytest.approx(brute, abs=1e-6), (cid, alt)
            parts = objective.parts(matrix, changed)
            for name, value in alt["parts"].items():
                assert value == pytest.approx(parts[name] - base_parts[name], abs=1e-6), name
            kinds[alt["kind"]] += 1
            kinds["venue"] += e["is_venue"]
    assert min(kinds.values()) > 0, kinds  # moves, swaps and moving venues were all checked


def test_distance_and_rank_match_the_matrix(weighted):
    layout = weighted
    matrix = layout.problem.costs.matrix
    base = _venue_of(layout)
    venues = np.unique(base)
    table = explanations(layout).set_index("centre_id")
    for i, cid in enumerate(layout.centres["centre_id"]):
        usable = venues[matrix[i, venues] <= 12_000]
        rank = 1 + int((matrix[i, usable] < matrix[i, base[i]] - 1e-9).sum())
        assert table.loc[cid, "venue_rank"] == rank
        assert table.loc[cid, "distance_km"] == pytest.approx(matrix[i, base[i]] / 1000, abs=1e-3)
        assert table.loc[cid, "venues_in_reach"] == len(usable)


def test_rules_that_bind_are_named(weighted):
    layout = weighted
    table = explanations(layout).set_index("centre_id")
    linked = table.loc["c00"]
    assert "must stay with School 1 (c01) (must-link)" in linked["binding"]
    assert "must stay with School 1 (c01)" in linked["best_alternative_blocked_by"]
    e = explain_centre(layout, "c00")
    assert all(
        "must stay with School 1 (c01)" in " ".join(a["blocked_by"]) for a in e["alternatives"]
    )
    assert "must stay with School 1" in e["why"]
    apart = explain_centre(layout, "c02")
    other = int(layout.centres.set_index("centre_id").loc["c03", "cluster"])
    assert any(
        b["rule"] == "cannot-link" and f"School 3 (c03) (cluster {other})" in b["text"]
        for b in apart["binding"]
    )
    # a cluster's only high school is said to be so
    centres = layout.centres
    highs = centres[centres["phase"] == "high"].groupby("cluster")["centre_id"].agg(list)
    lonely = [ids[0] for ids in highs if len(ids) == 1]
    for cid in lonely:
        assert "the only centre with phase = 'high'" in table.loc[cid, "binding"]
    text = explanation_text(layout, "c00")
    assert text.startswith("School 0 (c00) is in cluster")
    assert "must-link" in text


def test_a_move_into_the_cannot_link_partners_cluster_is_blocked(weighted):
    layout = weighted
    other = int(layout.centres.set_index("centre_id").loc["c03", "cluster"])
    e = explain_centre(layout, "c02", alternatives=len(np.unique(layout.centres["cluster"])) - 1)
    alt = next(a for a in e["alternatives"] if a["cluster"] == other)
    assert any(
        "cannot share a cluster with School 3 (c03) (cannot-link)" in b for b in alt["blocked_by"]
    )


def test_full_clusters_and_quotas_block_plain_moves():
    # sizes 5–5: every plain move is forbidden, so every alternative is a swap
    centres = _centres(_frame(20, 2))
    layout = form_clusters(centres, SizeRule(5, 5), time_limit=2)
    e = explain_centre(layout, "c05")
    for alt in e["alternatives"]:
        assert alt["kind"] == "swap"
        assert f"cluster {alt['cluster']} is full (5 members)" in alt["why_swap"]
    # a plain move that takes a cluster's only high school away names the quota
    frame = _frame(20, 2).assign(phase=["high" if i % 4 == 0 else "primary" for i in range(20)])
    layout = form_clusters(
        _centres(frame), SizeRule(3, 7, quotas=(Quota("phase", "high", min=1),)), time_limit=2
    )
    table = explanations(layout, alternatives=5)
    cluster_of = layout.centres.set_index("centre_id")["cluster"]
    highs = layout.centres[layout.centres["phase"] == "high"].groupby("cluster").size()
    found = False
    for cid in layout.centres.loc[layout.centres["phase"] == "high", "centre_id"]:
        if highs[cluster_of[cid]] != 1:
            continue
        for alt in explain_centre(layout, cid, alternatives=5)["alternatives"]:
            if alt["kind"] == "move":
                words = (
                    f"would leave cluster {cluster_of[cid]} without a centre with phase = 'high'"
                )
                assert words in alt["blocked_by"], alt
                found = True
    assert found
    assert len(table) == len(layout.centres)


def test_beyond_the_maximum_distance():
    centres = _centres(_frame(24, 3, span=30_000))
    layout = form_clusters(
        centres, SizeRule(3, 6), constraints=Constraints(max_distance=12), time_limit=2
    )
    hits = 0
    for cid in layout.centres["centre_id"]:
        for alt in explain_centre(layout, cid)["alternatives"]:
            if alt["venue_distance"] > 12 + 1e-6 and alt["kind"] == "move":
                assert any(b.startswith("beyond the 12 km maximum") for b in alt["blocked_by"])
                hits += 1
            if alt["venue_distance"] <= 12 - 1e-6 and alt["kind"] == "move":
                assert not any(b.startswith("beyond the 12 km") for b in alt["blocked_by"])
    assert hits > 0


def test_excluded_and_unknown_centres():
    frame = _frame(20, 4)
    layout = form_clusters(
        _centres(frame),
        SizeRule(4, 6),
        constraints=Constraints(exclude={"c07": "closing in July"}),
        time_limit=2,
    )
    e = explain_centre(layout, "c07")
    assert e["excluded"]
    assert e["reason"] == "closing in July"
    assert "closing in July" in explanation_text(layout, "c07")
    with pytest.raises(Exception, match="not in the layout"):
        explain_centre(layout, "nope")
    assert not can_explain(replace(layout, problem=None))


# --- re-forming --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reformed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reform")
    frame = _frame(36, 5)
    first = form_clusters(_centres(frame), SizeRule(4, 6), time_limit=2)
    first.assignments.to_csv(folder / "previous.csv", index=False)
    previous = read_previous(folder / "previous.csv")
    # c03 is no longer in the input; c10 and c20 are excluded; two new centres join
    now = frame[frame["id"] != "c03"].copy()
    extra = _frame(2, 6).assign(id=["n1", "n2"], name=["New 1", "New 2"])
    now = pd.concat([now, extra], ignore_index=True)
    constraints = Constraints(
        previous=previous, exclude={"c10": "closing in July", "c20": "merged with c21"}
    )
    second = form_clusters(_centres(now), SizeRule(4, 6), constraints=constraints, time_limit=2)
    return first, second, folder


def test_reforming_reports_who_left_joined_stayed_and_moved(reformed):
    first, second, _ = reformed
    table = moves(second).set_index("centre_id")
    assert table.loc["c03", "status"] == "left"
    assert table.loc["c03", "reason"] == "no longer in the input"
    assert table.loc["c10", "status"] == "left"
    assert table.loc["c10", "reason"] == "closing in July"
    assert table.loc["c20", "reason"] == "merged with c21"
    assert set(table.index[table["status"] == "joined"]) == {"n1", "n2"}
    assert table.loc["n1", "reason"].startswith("new: not in the previous layout")
    before = first.centres.set_index("centre_id")["cluster"].astype(int)
    after = second.centres.set_index("centre_id")["cluster"].astype(int)
    common = before.index.intersection(after.index)
    stayed = int((before[common] == after[common]).sum())
    summary = moves_summary(table.reset_index())
    assert summary["stayed"] == stayed
    assert summary["moved"] == len(common) - stayed
    assert summary["left"] == 3
    assert summary["joined"] == 2
    assert summary["previous_members"] == 36
    assert summary["stayed_share"] == pytest.approx(stayed / 36)
    movers = table[table["status"] == "moved"]
    assert (movers["reason"] != "").all()
    assert (table.loc[table["status"] == "stayed", "reason"] == "").all()


def test_moving_back_is_priced_exactly(reformed):
    _, second, _ = reformed
    objective = second.problem.objective
    matrix = second.problem.costs.matrix
    base = _venue_of(second)
    row = _rows(second)
    table = moves(second)
    priced = table[(table["status"] == "moved") & table["move_back_change"].notna()]
    venue_of_label = {
        str(k): row[c]
        for k, c in zip(
            second.centres.loc[second.centres["is_venue"], "cluster"],
            second.centres.loc[second.centres["is_venue"], "centre_id"],
            strict=True,
        )
    }
    checked = 0
    for _, r in priced.iterrows():
        i = row[r["centre_id"]]
        if base[i] == i:
            continue
        changed = base.copy()
        changed[i] = venue_of_label[r["previous_cluster"]]
        if r["move_back_swap_with"]:
            changed[row[r["move_back_swap_with"]]] = base[i]
        brute = (objective.cost(matrix, changed) - objective.cost(matrix, base)) * 0.001
        assert r["move_back_change"] == pytest.approx(brute, abs=1e-3)
        checked += 1
    if len(table[table["status"] == "moved"]):
        assert checked > 0


def test_outputs_and_report_hold_explanations_and_moves(reformed):
    _, second, folder = reformed
    out = folder / "out"
    files = write_outputs(second, out)
    assert "explanations" in files
    assert "moves" in files
    expl = pd.read_csv(out / "explanations.csv", dtype={"centre_id": str})
    assert sorted(expl["centre_id"]) == sorted(second.centres["centre_id"])
    assert expl["why"].str.len().min() > 20
    moved = pd.read_csv(out / "moves.csv", dtype=str, keep_default_na=False)
    assert set(moved["status"]) <= {"stayed", "moved", "joined", "left", "excluded"}
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Re-forming: who moved and why" in html
    assert "no longer in the input" in html
    # a layout without its solved problem gets neither file, and no error
    bare = folder / "bare"
    files = write_outputs(replace(second, problem=None), bare)
    assert "explanations" not in files
    assert not (bare / "explanations.csv").exists()
    assert not (bare / "moves.csv").exists()
    assert "Re-forming" not in (bare / "report.html").read_text(encoding="utf-8")


def test_cli_explain_prints_a_row_and_errors_cleanly(reformed, capsys):
    _, second, folder = reformed
    out = folder / "cli"
    write_outputs(second, out)
    capsys.readouterr()
    assert main(["explain", str(out), "c05"]) == 0
    printed = capsys.readouterr().out
    assert "School 5 (c05)" in printed
    assert "best alternative change" in printed
    assert "Re-forming:" in printed
    assert main(["explain", str(out), "c10"]) == 0
    assert "closing in July" in capsys.readouterr().out
    assert main(["explain", str(out), "zz99"]) == 2
    err = capsys.readouterr().err
    assert "centre 'zz99' is not in explanations.csv" in err
    assert "Traceback" not in err
    assert main(["explain", str(folder / "missing"), "c05"]) == 2
    err = capsys.readouterr().err
    assert "the folder does not exist" in err
    assert "Traceback" not in err
