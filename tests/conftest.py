"""Hypothesis profiles: a short run on every commit, a long one on a schedule.

``HYPOTHESIS_PROFILE=thorough`` selects the long one (``bench/properties.sh`` runs
it); without the variable the per-commit ``ci`` profile holds, whose examples are the
same on every run (``derandomize``), so its timing and its share of examples reaching a
layout do not wander. ``HYPOTHESIS_MAX_EXAMPLES=N`` overrides the count of either.

A profile sets the defaults of the properties that name no ``max_examples`` of their
own (``tests/test_properties.py``); tests that fix their count keep it.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = dict(
    deadline=None,  # a solve's time varies with the machine's load; hangs meet pytest-timeout
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,  # a failure prints the @reproduce_failure blob that replays it
)
settings.register_profile("ci", max_examples=25, derandomize=True, **_COMMON)
settings.register_profile("thorough", max_examples=2000, **_COMMON)

_profile = os.environ.get("HYPOTHESIS_PROFILE", "ci")
if os.environ.get("HYPOTHESIS_MAX_EXAMPLES"):
    settings.register_profile(
        f"{_profile}-sized",
        parent=settings.get_profile(_profile),
        max_examples=int(os.environ["HYPOTHESIS_MAX_EXAMPLES"]),
    )
    _profile = f"{_profile}-sized"
settings.load_profile(_profile)
