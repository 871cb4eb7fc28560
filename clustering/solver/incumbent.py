"""The best layout so far, shared between searches running side by side in threads."""

from __future__ import annotations

import threading

import numpy as np

__all__ = ["Incumbent"]


class Incumbent:
    """The best layout so far, shared between searches running in threads."""

    def __init__(self, venue_of: np.ndarray, cost: float) -> None:
        self._lock = threading.Lock()
        self._venue_of = venue_of.copy()
        self._cost = float(cost)
        self.updates = 0

    def get(self) -> tuple[np.ndarray, float]:
        with self._lock:
            return self._venue_of.copy(), self._cost

    def offer(self, venue_of: np.ndarray, cost: float) -> bool:
        """Keep ``venue_of`` if it is better; returns whether it was."""
        with self._lock:
            if cost < self._cost - 1e-9 * max(abs(self._cost), 1.0):
                self._venue_of, self._cost = venue_of.copy(), float(cost)
                self.updates += 1
                return True
            return False
