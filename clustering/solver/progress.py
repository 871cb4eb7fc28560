"""What a running solve reports: objective and bound as they improve."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Progress"]


@dataclass(frozen=True)
class Progress:
    """One report from a running solve (objective and bounds in cost units)."""

    seconds: float
    objective: float
    lower_bound: float
    stage: str
