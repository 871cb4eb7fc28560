"""The checker reads who may coordinate and who consented by itself, not with the model's reader.

Both are checked here against the same expectations, each on its own, so a slip
in either shows as a failure rather than passing unseen in both.
"""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clustering import Constraints, SizeRule, check_layout, form_clusters, load_centres
from clustering.analysis import check
from clustering.input.schemas import YES_VALUES
from clustering.model.rules import eligible

pytestmark = pytest.mark.timeout(120)

#: cells that say yes, as people write them, and cells that do not
YES = ["Yes", "y", "TRUE", "1", " yes ", "x", "Willing", "2"]
NO = ["no", "n", "FALSE", "0", "", "nope", "-1", "maybe"]
RULE = SizeRule(3, 5)


def _centres(willing: list[str], pupils: list[int] | None = None):
    rng = np.random.default_rng(3)
    n = len(willing)
    xy = rng.uniform(0, 20_000, size=(n, 2))
    frame = pd.DataFrame(
        {
            "id": [f"c{i}" for i in range(n)],
            "x": xy[:, 0] + 450_000,
            "y": xy[:, 1] + 130_000,
            "willing": willing,
            "pupils": pupils if pupils is not None else [100 + 10 * i for i in range(n)],
        }
    )
    return load_centres(frame, crs="EPSG:27700")


def _form(centres, constraints: Constraints):
    return form_clusters(centres, RULE, constraints=constraints, time_limit=2, baselines=False)


def _with_cell(layout, row, column: str, value):
    frame = layout.centres.copy()
    frame[column] = frame[column].astype(object)
    frame.loc[row, column] = value
    return replace(layout, centres=frame)


def test_model_and_checker_agree_on_the_yes_values_each_on_its_own():
    cells = pd.Series([*YES, *NO, None], dtype=object)
    expected = [True] * len(YES) + [False] * (len(NO) + 1)
    frame = pd.DataFrame({"willing": cells})
    assert eligible(frame, "willing").tolist() == expected
    assert check._says_yes(frame["willing"]).tolist() == expected
    assert check._meets(frame, "willing", "<test>").tolist() == expected
    # the lists of words themselves, written twice on purpose
    assert check._YES == YES_VALUES


@pytest.mark.parametrize(
    "rule",
    [
        "pupils >= 150",
        "pupils < 150",
        "kind in A, c",
        "kind not in [a]",
        "kind = b",
        "kind != B and pupils > 120",
        "pupils == 130",
        "willing",
    ],
)
def test_checker_reads_coordinator_rules_as_the_model_does(rule):
    frame = pd.DataFrame(
        {
            "pupils": [100, 130, 150, 170, np.nan],
            "kind": ["a", "B", " C ", None, "b"],
            "willing": ["yes", "no", "1", "", "TRUE"],
        }
    )
    assert check._meets(frame, rule, "<test>").tolist() == eligible(frame, rule).tolist()


def test_the_checker_does_not_import_the_models_eligibility():
    tree = ast.parse(Path(check.__file__).read_text(encoding="utf-8"))
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert not imported & {"YES_VALUES", "eligible", "_truthy"}


def test_checker_flags_a_coordinator_who_is_not_eligible():
    willing = ["yes", "no", "y", "no", "TRUE", "no", "1", "no", "Yes", "no", " yes ", "no"]
    centres = _centres(willing)
    constraints = Constraints(coordinator="willing")
    layout = _form(centres, constraints)
    assert check_layout(layout, RULE, constraints=constraints).ok
    coordinators = layout.centres.index[layout.centres["coordinator"].astype(bool)]
    assert len(coordinators) == layout.n_clusters
    changed = _with_cell(layout, coordinators[0], "willing", "no")
    report = check_layout(changed, RULE, constraints=constraints)
    assert report.violations == ["1 coordinator(s) are not eligible"]
    # a rule, not a column: the coordinator's pupils drop below it
    by_rule = Constraints(coordinator="pupils >= 150")
    layout = _form(centres, by_rule)
    assert check_layout(layout, RULE, constraints=by_rule).ok
    first = layout.centres.index[layout.centres["coordinator"].astype(bool)][0]
    changed = _with_cell(layout, first, "pupils", 10)
    report = check_layout(changed, RULE, constraints=by_rule)
    assert report.violations == ["1 coordinator(s) are not eligible"]


def test_consent_spelled_many_ways_keeps_centres_in_and_the_checker_agrees():
    cells = [YES[i % len(YES)] for i in range(10)] + ["no", "0"]
    centres = _centres(cells)
    constraints = Constraints(consent="willing")
    layout = _form(centres, constraints)
    members = set(layout.centres["centre_id"])
    assert members == {f"c{i}" for i in range(10)}  # the model kept every yes
    assert check_layout(layout, RULE, constraints=constraints).ok  # and the checker agrees
    some = layout.centres.index[0]
    changed = _with_cell(layout, some, "willing", "nope")
    report = check_layout(changed, RULE, constraints=constraints)
    assert report.violations == ["1 member(s) have not consented (willing)"]
