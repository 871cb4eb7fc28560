"""A solve on a worker thread: progress handed to the page safely, and a stop button."""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import clustering


@dataclass
class Job:
    """One :func:`clustering.form_clusters` call running on its own thread.

    The engine reports progress from its worker threads; events go through a
    thread-safe queue and are read by the Streamlit script thread only
    (:meth:`events`). Setting :attr:`stop` ends the solve early: the engine still
    checks the best layout found so far and returns it.
    """

    label: str
    time_limit: float
    warm: bool
    stop: threading.Event = field(default_factory=threading.Event)
    started: float = field(default_factory=time.perf_counter)
    layout: clustering.Layout | None = None
    error: BaseException | None = None
    last: clustering.Progress | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    _queue: queue.Queue = field(default_factory=queue.Queue, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    @classmethod
    def start(cls, label: str, centres, rule, *, time_limit: float, start=None, **kwargs) -> Job:
        """Start forming clusters; ``kwargs`` go to :func:`clustering.form_clusters`."""
        job = cls(label=label, time_limit=float(time_limit), warm=start is not None)

        def work() -> None:
            try:
                job.layout = clustering.form_clusters(
                    centres,
                    rule,
                    time_limit=time_limit,
                    start=start,
                    progress=job._queue.put,
                    stop=job.stop,
                    **kwargs,
                )
            except BaseException as error:  # handed back to the script thread
                job.error = error

        job._thread = threading.Thread(target=work, name="form-clusters", daemon=True)
        job._thread.start()
        return job

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started

    def events(self, wait: float = 0.2) -> list[clustering.Progress]:
        """The progress reported since the last call (waits up to ``wait`` s for one)."""
        out = []
        try:
            out.append(self._queue.get(timeout=wait))
            while True:
                out.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        if out:
            self.last = out[-1]
        return out

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)


def progress_text(event: clustering.Progress, unit: str = "m") -> str:
    """One line for people: stage, objective, bound and gap so far."""
    gap = (event.objective - event.lower_bound) / event.objective if event.objective else 0.0
    scale, word = (1000.0, "km") if unit == "m" else (1.0, unit)
    return (
        f"{event.stage}: objective {event.objective / scale:,.1f} {word}, "
        f"bound {event.lower_bound / scale:,.1f} {word}, gap {gap:.2%} "
        f"({event.seconds:.1f} s)"
    )
