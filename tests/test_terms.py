"""A term added through the public mechanism alone: one class in this file, registered.

The toy term spreads flagged centres: in each cluster, every flagged member beyond
the first counts 1. It is registered with ``clustering.model.terms.register`` and
weighted through ``Weights.extra``; nothing in the package names it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pytest

from clustering import SizeRule, form_clusters, load_centres
from clustering.analysis.explain import explain_centre
from clustering.errors import InputError
from clustering.model.objective import Weights, build_objective
from clustering.model.sizes import Bounds
from clustering.model.terms import (
    Clusters,
    Term,
    register,
    registered,
    require_column,
    unregister,
)
from clustering.solver.cpsat import solve_cpsat


@dataclass(frozen=True)
class Crowding(Term):
    """Each flagged member beyond the first of its cluster counts 1."""

    weight_name = "crowding"
    name = "crowded flags"

    flags: np.ndarray
    weight: float

    @classmethod
    def build(cls, frame, weights, data):
        weight = weights.get("crowding", 0.0)
        if not weight:
            return []
        require_column(frame, "flag", "crowding", data.source)
        return [cls(frame["flag"].to_numpy() == 1, float(weight))]

    def value(self, venue_of, labels):
        if len(labels) == 0:
            return 0.0
        counts = np.bincount(labels[self.flags], minlength=int(labels.max()) + 1)
        return float(np.maximum(counts - 1, 0).sum())

    def restricted(self, rows):
        return replace(self, flags=self.flags[rows])


class EncodedCrowding(Crowding):
    """The same term with its own CP-SAT encoding: ``extra[j] ≥ flagged at j − 1``."""

    def cpsat(self, m):
        coefficient = m.coefficient(self.weight)
        if coefficient <= 0:
            return 0
        out = []
        for j, members in enumerate(m.members_of):
            flagged = [m.x[i, j] for i in members if self.flags[i]]
            if len(flagged) < 2:
                continue
            extra = m.model.new_int_var(0, len(flagged) - 1, f"crowded[{j}]")
            m.model.add(extra >= sum(flagged) - 1)
            out.append(extra)
        return coefficient * sum(out)


@pytest.fixture
def toy():
    """Register a kind of the toy term for one test, and take it out again."""
    added = []

    def add(kind):
        added.append(register(kind))
        return kind

    yield add
    for kind in added:
        unregister(kind)


def _frame() -> pd.DataFrame:
    """16 centres in four tight groups 10 km apart; three of the first group are flagged."""
    rng = np.random.default_rng(3)
    corners = np.array([[0, 0], [10_000, 0], [0, 10_000], [10_000, 10_000]], dtype=float)
    xy = np.repeat(corners, 4, axis=0) + rng.uniform(-200, 200, (16, 2))
    return pd.DataFrame(
        {
            "id": [f"c{i:02d}" for i in range(16)],
            "name": [f"School {i}" for i in range(16)],
            "x": xy[:, 0] + 450_000,
            "y": xy[:, 1] + 130_000,
            "flag": [1, 1, 1] + [0] * 13,
        }
    )


def _crowding(layout) -> float:
    centres = layout.centres
    flagged = centres.loc[centres["flag"] == 1, "cluster"]
    return float(len(flagged) - flagged.nunique())


def test_a_registered_term_is_built_counted_and_restricted(toy):
    toy(Crowding)
    assert registered()[-1] is Crowding  # after the built-in terms
    frame = _frame()
    plain = build_objective(frame, Weights(), unit="m")
    assert not any(isinstance(t, Crowding) for t in plain.all_terms)
    objective = build_objective(frame, Weights(extra={"crowding": 5.0}), unit="m")
    (term,) = objective.all_terms
    assert isinstance(term, Crowding)
    assert objective.has_contrast
    assert not Weights(extra={"crowding": 5.0}).travel_only
    costs = np.zeros((16, 16))
    together = np.repeat([0, 4, 8, 12], 4)  # the groups: the three flagged share one
    parts = objective.parts(costs, together)
    assert parts == {"travel": 0.0, "crowded flags": 2.0}
    assert objective.cost(costs, together) == pytest.approx(2 * 5.0 / 0.001)
    part = objective.restricted(np.array([0, 1, 5]))
    assert part.parts(np.zeros((3, 3)), np.array([0, 0, 2]))["crowded flags"] == 1.0
    with pytest.raises(InputError, match="crowding names 'flag'"):
        build_objective(frame.drop(columns="flag"), Weights(extra={"crowding": 1.0}), unit="m")
    with pytest.raises(InputError, match="crowding weight -1 is negative"):
        build_objective(frame, Weights(extra={"crowding": -1.0}), unit="m")


def test_one_weight_prices_one_kind(toy):
    toy(Crowding)
    with pytest.raises(ValueError, match="already prices Crowding"):
        register(EncodedCrowding)


def test_the_generic_exchange_delta_is_exact(toy):
    toy(Crowding)
    term = Crowding(_frame()["flag"].to_numpy() == 1, 5.0)
    venues = np.array([0, 4, 8, 12])
    label = np.repeat(np.arange(4), 4)
    state = term.exchange(Clusters(label, venues), 0.001)
    assert not state.vectorised
    rng = np.random.default_rng(0)
    for _ in range(30):
        i, j = rng.choice(16, 2, replace=False)
        a, b = int(label[i]), int(label[j])
        moves = [(i, a, b), (j, b, a)] if a != b else [(i, a, (a + 1) % 4)]
        after = label.copy()
        for m, _, to in moves:
            after[m] = to
        change = term.value(venues[after], after) - term.value(venues[label], label)
        want = 5.0 * change / 0.001
        assert state.delta(moves, after) == pytest.approx(want)
        label[:] = after  # make the moves, as the search does, then tell the state
        state.apply(moves)


def test_cpsat_uses_the_encoding_and_leaves_out_a_term_without_one(toy):
    frame = _frame()
    xy = frame[["x", "y"]].to_numpy()
    costs = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(axis=2))
    bounds = Bounds(16, 4, 4, 4)
    weights = Weights(extra={"crowding": 1000.0})
    for kind, status, crowded in ((Crowding, "FEASIBLE", 2.0), (EncodedCrowding, "OPTIMAL", 0.0)):
        toy(kind)
        objective = build_objective(frame, weights, unit="m")
        result = solve_cpsat(
            costs, bounds, scale=1.0, candidates=16, objective=objective, time_limit=10, workers=1
        )
        # without an encoding CP-SAT solves for travel alone (a relaxation) and says so
        assert result.status == status
        assert objective.parts(costs, result.venue_of)["crowded flags"] == crowded
        unregister(kind)


def test_the_engine_honours_a_registered_term(toy):
    toy(EncodedCrowding)
    centres = load_centres(_frame(), crs="EPSG:27700")
    rule = SizeRule(4, 4)
    plain = form_clusters(centres, rule, time_limit=2, baselines=False)
    assert _crowding(plain) == 2.0  # travel alone keeps the groups: the flagged together
    weights = Weights(extra={"crowding": 1000.0})
    layout = form_clusters(centres, rule, weights=weights, time_limit=2, baselines=False)
    # the checker passed (it evaluates the term it does not know with the term's own value)
    assert layout.stats["checker"] == "passed"
    assert _crowding(layout) == 0.0
    assert layout.stats["objective_parts"]["crowded flags"] == 0.0
    assert layout.params["weights"]["extra"] == {"crowding": 1000.0}
    # the explanations price the term (the generic what-if) exactly
    objective, matrix = layout.problem.objective, layout.problem.costs.matrix
    base = layout.venue_of
    before = objective.parts(matrix, base)["crowded flags"]
    row = {cid: k for k, cid in enumerate(layout.centres["centre_id"])}
    for cid in layout.centres["centre_id"]:
        e = explain_centre(layout, cid, alternatives=3)
        for alt in e["alternatives"]:
            changed = base.copy()
            own = row[e["venue_id"]]
            new_own = own
            if alt["new_venue_of_own_cluster"] is not None:
                new_own = row[alt["new_venue_of_own_cluster"]]
                changed[base == own] = new_own
            changed[row[cid]] = row[alt["venue_id"]]
            if alt["swap_with"] is not None:
                changed[row[alt["swap_with"]]] = new_own
            brute = objective.parts(matrix, changed)["crowded flags"] - before
            assert alt["parts"]["crowded flags"] == brute, (cid, alt)
            total = (objective.cost(matrix, changed) - objective.cost(matrix, base)) * 0.001
            assert alt["change"] == pytest.approx(total, abs=1e-6)


def test_the_checker_counts_a_registered_term_it_does_not_know(toy):
    from dataclasses import replace

    from clustering import check_layout

    toy(EncodedCrowding)
    centres = load_centres(_frame(), crs="EPSG:27700")
    rule = SizeRule(4, 4)
    # a weight too small to break up the flagged schools: the term counts 2 in the layout
    weights = Weights(extra={"crowding": 0.001})
    layout = form_clusters(centres, rule, weights=weights, time_limit=2, baselines=False)
    assert _crowding(layout) == 2.0
    assert layout.stats["checker"] == "passed"
    report = check_layout(layout, rule, weights=weights)
    assert report.ok
    assert report.unchecked_terms == ["crowded flags"]
    travel = float(layout.centres["distance"].sum())
    assert report.recomputed_objective == pytest.approx(travel + 2 * 0.001 / 0.001)
    # a stated objective that leaves the term out is caught
    wrong = replace(layout, objective=travel)
    assert not check_layout(wrong, rule, weights=weights).ok
    # read back from files, the layout has no compiled problem to evaluate the term on
    assert not check_layout(replace(layout, problem=None), rule, weights=weights).ok
