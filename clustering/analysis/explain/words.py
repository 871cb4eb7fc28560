"""Numbers, ranks and changed parts in prose."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .arrays import Arrays, Choice

__all__ = ["num", "ordinal", "parts_text", "rank_words"]


def ordinal(k: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``4th``, …, ``11th``, ``21st``."""
    if 10 <= k % 100 <= 20:
        return f"{k}th"
    return str(k) + {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")


def rank_words(rank: int) -> str:
    """A venue's rank among those a centre could use: ``nearest``, ``2nd nearest``, …"""
    return "nearest" if rank == 1 else f"{ordinal(rank)} nearest"


def num(x: float) -> str:
    """A number for prose: up to 2 decimals, no trailing zeros."""
    text = f"{x:,.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def parts_text(arrays: Arrays, ch: Choice, c: int) -> str:
    """The parts that change with candidate ``c``, e.g. ``travel +1.20 km, fsm_pct +3.4 (×1)``."""
    out = []
    for name, d in ch.parts.items():
        value = float(d[c])
        if abs(value) < 1e-9:
            continue
        if name == "travel":
            out.append(f"travel {arrays.km(value)}")
        elif arrays.weights.get(name, 0.0) > 0:  # unweighted parts do not count
            out.append(f"{name} {value:+,.2f} (×{num(arrays.weights[name])})")
    return ", ".join(out) or "no part changes"
