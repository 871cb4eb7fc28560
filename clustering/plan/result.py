"""A network plan: the tables :func:`~clustering.plan.plan_network` fills."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .calendar import Calendar
from .settings import PlanSettings

__all__ = ["Plan"]


@dataclass
class Plan:
    """A network's year: who leads, where and when it meets, who pairs with whom.

    Attributes
    ----------
    roles
        One row per cluster: lead school (the venue), coordinator, deputy, lead person.
    meetings
        One row per meeting: cluster, number, host, date, start and end time, members
        expected and the travel to the host.
    absences
        One row per member who cannot attend a meeting, with the reason.
    pairs, mentoring
        Bilateral pairs and mentor → mentee pairs.
    unmatched
        Schools left without a pair or a mentor, with the reason.
    members
        The layout's members with every column they were read with (no geometry).
    calendar
        The open days the dates were chosen from.
    """

    roles: pd.DataFrame
    meetings: pd.DataFrame
    absences: pd.DataFrame
    pairs: pd.DataFrame
    mentoring: pd.DataFrame
    unmatched: pd.DataFrame
    members: pd.DataFrame
    calendar: Calendar
    settings: PlanSettings
    notes: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def n_clusters(self) -> int:
        return len(self.roles)
