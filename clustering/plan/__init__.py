"""After the layout: coordinators, meeting hosts and dates, pairing and mentoring.

:func:`plan_network` turns a :class:`~clustering.Layout` into a :class:`Plan` that
:func:`check_plan` verifies; :mod:`clustering.output.plan` writes its files.
"""

from .calendar import Calendar, build_calendar, public_holidays, read_term_dates
from .check import PlanCheck, check_plan
from .network import plan_network
from .result import Plan
from .settings import PlanSettings, academic_year, read_plan_settings

__all__ = [
    "Calendar",
    "Plan",
    "PlanCheck",
    "PlanSettings",
    "academic_year",
    "build_calendar",
    "check_plan",
    "plan_network",
    "public_holidays",
    "read_plan_settings",
    "read_term_dates",
]
