"""What a running solve reports: objective and bound as they improve.

Reports come from the solver's threads (CP-SAT calls a solution callback on its
own threads; the neighbourhood search runs re-solves side by side), so the
engine hands them on through :func:`serialised`: one at a time, never two
calls of the given callback at once, whichever thread found the improvement.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Progress", "serialised"]


@dataclass(frozen=True)
class Progress:
    """One report from a running solve (objective and bounds in cost units).

    Attributes
    ----------
    seconds
        Since the solve started.
    objective, lower_bound
        The best layout and the bound so far: of the area ``area`` when it is
        set, otherwise of the whole problem.
    stage
        What found it (``construction``, ``lns``, ``cp-sat``, ``kernel``,
        ``bound``, ``done``), prefixed by the area's name when there are areas
        (e.g. ``"Hart: lns"``).
    area
        The boundary area (or the cut of a large part) the report speaks for;
        ``None`` for the whole problem (one part, or the final ``done``).
    """

    seconds: float
    objective: float
    lower_bound: float
    stage: str
    area: str | None = None


def serialised(
    callback: Callable[[Progress], None] | None,
) -> Callable[[Progress], None] | None:
    """``callback`` behind a lock: calls from several threads run one after another.

    >>> seen = []
    >>> say = serialised(seen.append)
    >>> say(Progress(0.1, 10.0, 5.0, "lns"))
    >>> seen[0].area is None
    True
    """
    if callback is None:
        return None
    if getattr(callback, "_serialised", False):
        return callback
    lock = threading.Lock()

    def call(event: Progress) -> None:
        with lock:
            callback(event)

    call._serialised = True  # type: ignore[attr-defined]
    return call
