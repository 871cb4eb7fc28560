"""The clock every time budget of the solver reads: wall-clock seconds, or work done.

By default a budget is wall-clock seconds, so a layout depends a little on how busy
the machine was. With ``deterministic=True`` the budgets count work instead:
CP-SAT reports its own deterministic time (``max_deterministic_time``), and each
heuristic loop charges the elements it reads (:meth:`Clock.work`), so the same
data, settings and seed give the same layout on any machine and any load (with
one CP-SAT worker and no search on a thread beside the others).

A deterministic "second" is calibrated to be of the order of a wall-clock second
on a laptop core, not equal to one.

The whole solve shares one deadline (``limit``): every phase of every part —
construction, bound, searches, CP-SAT calls, the polish — takes at most the
time the clock has left (:meth:`Clock.budget`), so a solve ends within
``limit + margin(limit)`` (:func:`margin`). The margin covers the steps that
cannot be cut short: each part still gets its construction once time is up (a
layout for every centre), and the solve's last bookkeeping. The independent
checker, the baselines and writing outputs come after the solve and are not
counted.
"""

from __future__ import annotations

import math
import threading
import time

__all__ = ["MARGIN_FRACTION", "MARGIN_SECONDS", "Clock", "margin"]

#: the documented margin beyond a time limit: ``max(MARGIN_SECONDS, MARGIN_FRACTION × limit)``
MARGIN_SECONDS = 2.0
MARGIN_FRACTION = 0.05


def margin(limit: float) -> float:
    """How far past ``limit`` a solve may end: ``max(2 s, 5 % of limit)``.

    >>> margin(10), margin(600)
    (2.0, 30.0)
    """
    return max(MARGIN_SECONDS, MARGIN_FRACTION * float(limit))


#: deterministic seconds charged per element a heuristic loop reads (numpy reads
#: ~1e8 elements a second on one core) and per loop iteration (interpreter overhead)
SECONDS_PER_ELEMENT = 1e-8
SECONDS_PER_STEP = 2e-5

#: CP-SAT's deterministic time runs about three times slower than wall-clock seconds
#: on these models (Hampshire, one worker: 9.2 deterministic against 28.3 s)
CPSAT_UNITS_PER_SECOND = 1 / 3

#: a wall-clock guard on a deterministic CP-SAT solve, as a multiple of its budget;
#: only a solve that runs away from its deterministic limit ever meets it
WALL_GUARD = 20.0


class Clock:
    """Time as the solver's budgets see it.

    Parameters
    ----------
    deterministic
        Count work (CP-SAT deterministic time and charged heuristic work)
        instead of wall-clock seconds.
    start
        The ``time.perf_counter()`` value wall-clock time counts from.
    stop
        An event another thread may set to end every budget at once: from then
        on the clock reads as if all time were spent (searches end at their
        next look at it, and the best layout so far is kept).
    limit
        The deadline every budget shares, as time since ``start`` on this
        clock (``None``: no deadline beyond each step's own budget).
    timer
        The wall clock read (``time.perf_counter``; a fake one in tests).

    Examples
    --------
    >>> clock = Clock(deterministic=True)
    >>> clock.work(elements=1_000_000)
    >>> round(clock.elapsed(), 6)
    0.01002
    >>> round(Clock(deterministic=True, limit=0.5).budget(1.0), 3)
    0.5
    """

    def __init__(
        self,
        deterministic: bool = False,
        start: float | None = None,
        stop: threading.Event | None = None,
        limit: float | None = None,
        timer=time.perf_counter,
    ) -> None:
        self.deterministic = bool(deterministic)
        self.stop = stop
        self.limit = None if limit is None else float(limit)
        self._timer = timer
        self._start = timer() if start is None else float(start)
        self._spent = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        """A point in time: compare two with subtraction only."""
        return self._spent if self.deterministic else self._timer()

    @property
    def stopped(self) -> bool:
        """Whether the stop event was set: every budget is then spent."""
        return self.stop is not None and self.stop.is_set()

    def elapsed(self) -> float:
        """Time since the clock started (infinite once stopped)."""
        if self.stopped:
            return math.inf
        return self._spent if self.deterministic else self._timer() - self._start

    def remaining(self) -> float:
        """Time left before the shared deadline (``inf`` without one, ``-inf`` once stopped)."""
        if self.stopped:
            return -math.inf
        if self.limit is None:
            return math.inf
        return self.limit - self.elapsed()

    def budget(self, seconds: float) -> float:
        """``seconds``, or less when the shared deadline comes first (never below 0)."""
        return max(0.0, min(float(seconds), self.remaining()))

    @property
    def expired(self) -> bool:
        """Whether the shared deadline has passed (or the clock was stopped)."""
        return self.remaining() <= 0

    def since(self, then: float) -> float:
        """Time since ``then`` (a value of :meth:`now`; infinite once stopped)."""
        if self.stopped:
            return math.inf
        return self.now() - then

    def charge_cpsat(self, units: float) -> None:
        """Count a CP-SAT solve that took ``units`` of its deterministic time."""
        self.charge(units / CPSAT_UNITS_PER_SECOND)

    def charge(self, seconds: float) -> None:
        """Count ``seconds`` of deterministic time (ignored on a wall clock)."""
        if self.deterministic:
            with self._lock:
                self._spent += max(0.0, float(seconds))

    def work(self, elements: float = 0.0, steps: int = 1) -> None:
        """Count a heuristic step that read ``elements`` array elements."""
        if self.deterministic:
            self.charge(elements * SECONDS_PER_ELEMENT + steps * SECONDS_PER_STEP)

    def limit_cpsat(self, parameters, seconds: float) -> None:
        """Give a CP-SAT solve ``seconds`` of this clock's time."""
        seconds = max(0.01, float(seconds))
        if self.deterministic:
            parameters.max_deterministic_time = seconds * CPSAT_UNITS_PER_SECOND
            parameters.max_time_in_seconds = max(60.0, WALL_GUARD * seconds)
        else:
            parameters.max_time_in_seconds = seconds
