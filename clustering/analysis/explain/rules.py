"""Which rules a move would break, and which bind a centre, in words."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ...model.terms import Moves
from .words import num

if TYPE_CHECKING:
    from .arrays import Arrays, Choice

__all__ = ["binding", "blockers", "broken", "rule_words", "size_note"]


def broken(arrays: Arrays, m: Moves, host_ok: np.ndarray) -> dict[str, np.ndarray]:
    """Which rules each candidate of ``m`` breaks: a flag per rule (``full``, ``small``,
    ``weight_*``, ``quota<q>_*``, ``together_*``, ``locked_*``, ``apart_*``, ``far_*``,
    ``host``, ``region_*``); ``host_ok`` is False where no member could host the rest."""
    i, b, j, a, va, vb = m.i, m.b, m.j, m.a, m.va, m.vb
    has, hf, jj, new_va = m.has, m.hf, m.jj, m.new_va
    flags: dict[str, np.ndarray] = {}
    size_a = arrays.size[a] - 1 + has
    size_b = arrays.size[b] + 1 - has
    flags["full"] = size_b > arrays.max_size
    flags["small"] = size_a < arrays.min_size
    if arrays.loads is not None:
        shift = arrays.loads[i] - hf * arrays.loads[jj]
        load_a, load_b = arrays.load[a] - shift, arrays.load[b] + shift
        flags["weight_a_lo"] = load_a < arrays.w_lo - 1e-9
        flags["weight_a_hi"] = load_a > arrays.w_hi + 1e-9
        flags["weight_b_lo"] = load_b < arrays.w_lo - 1e-9
        flags["weight_b_hi"] = load_b > arrays.w_hi + 1e-9
    for q, (_, mask, lo, hi, count) in enumerate(arrays.quotas):
        shift = mask[i].astype(float) - hf * mask[jj]
        qa, qb = count[a] - shift, count[b] + shift
        flags[f"quota{q}_a_lo"] = (qa < lo) & (qa < count[a])
        flags[f"quota{q}_a_hi"] = (qa > hi) & (qa > count[a])
        flags[f"quota{q}_b_lo"] = (qb < lo) & (qb < count[b])
        flags[f"quota{q}_b_hi"] = (qb > hi) & (qb > count[b])
    flags["together_i"] = arrays.group_of[i] >= 0
    flags["together_j"] = has & (arrays.group_of[jj] >= 0)
    flags["locked_a"] = arrays.locked[a]
    flags["locked_b"] = arrays.locked[b]
    apart_i = np.zeros(len(i), dtype=bool)
    apart_j = np.zeros(len(i), dtype=bool)
    if arrays.apart:
        for c in range(len(i)):
            ic, jc = int(i[c]), int(j[c])
            for p in arrays.apart.get(ic, ()):
                if p != jc and arrays.k_of[p] == b[c]:
                    apart_i[c] = True
            for p in arrays.apart.get(jc, ()) if jc >= 0 else ():
                if p != ic and arrays.k_of[p] == a[c]:
                    apart_j[c] = True
    flags["apart_i"], flags["apart_j"] = apart_i, apart_j
    if arrays.allowed is not None:
        target = np.where(new_va >= 0, new_va, va)
        flags["far_i"] = ~arrays.allowed[i, vb]
        flags["far_j"] = has & ~arrays.allowed[jj, target]
        flags["host"] = ~host_ok
    if arrays.regions is not None:
        flags["region_i"] = arrays.regions[i] != arrays.regions[vb]
        flags["region_j"] = has & (arrays.regions[jj] != arrays.regions[va])
    return flags


def blockers(arrays: Arrays, ch: Choice, c: int) -> list[str]:
    """What candidate ``c`` of ``ch`` would break, in words."""
    i, b, j = int(ch.i[c]), int(ch.b[c]), int(ch.j[c])
    return rule_words(arrays, i, b, j, int(ch.new_venue[c]), ch.names, ch.flags[:, c])


def size_note(arrays: Arrays, ch: Choice, c: int) -> str:
    """Why candidate ``c`` is priced as a swap: the size or weight rules a plain move breaks."""
    if ch.j[c] < 0 or ch.size_flags is None:
        return ""
    i, b = int(ch.i[c]), int(ch.b[c])
    return "; ".join(rule_words(arrays, i, b, -1, -1, ch.names, ch.size_flags[:, c]))


def rule_words(arrays: Arrays, i: int, b: int, j: int, new_venue: int, names, hits) -> list[str]:
    """The rules ``names`` marked in ``hits``, in words, for centre ``i`` moving to cluster
    ``b`` (with ``j`` in exchange, when ``j >= 0``; ``new_venue``: its own cluster's venue
    afterwards, ``-1`` when it keeps its venue)."""
    a = int(arrays.k_of[i])
    la, lb = arrays.label(a), arrays.label(b)
    new_va = new_venue if new_venue >= 0 else int(arrays.venues[a])
    partner = f"its swap partner {arrays.who(j)}" if j >= 0 else ""
    out = []
    for name, hit in zip(names, hits, strict=True):
        if not hit:
            continue
        if name == "full":
            out.append(f"cluster {lb} is full ({arrays.size[b]} members)")
        elif name == "small":
            out.append(
                f"cluster {la} would drop to {arrays.size[a] - 1} members, "
                f"below the minimum of {arrays.min_size}"
            )
        elif name.startswith("weight"):
            side, bound = name.split("_")[1:]
            k = a if side == "a" else b
            shift = arrays.loads[i] - (arrays.loads[j] if j >= 0 else 0.0)
            after = arrays.load[k] + (-shift if side == "a" else shift)
            limit = arrays.w_lo if bound == "lo" else arrays.w_hi
            word = "below the minimum" if bound == "lo" else "above the maximum"
            out.append(
                f"cluster {arrays.label(k)} would have {num(after)} {arrays.size_by}, "
                f"{word} of {num(limit)}"
            )
        elif name.startswith("quota"):
            q = int(name[5 : name.index("_")])
            quota, mask, lo, hi, count = arrays.quotas[q]
            side, bound = name.split("_")[1:]
            k = a if side == "a" else b
            shift = float(mask[i]) - (float(mask[j]) if j >= 0 else 0.0)
            after = round(count[k] + (-shift if side == "a" else shift))
            what = quota.about or f"a centre with {quota.label()}"
            if bound == "lo" and after == 0:
                out.append(f"would leave cluster {arrays.label(k)} without {what}")
            elif bound == "lo":
                out.append(
                    f"would leave cluster {arrays.label(k)} with {after} centre(s) with "
                    f"{quota.label()} (at least {lo} needed)"
                )
            else:
                out.append(
                    f"cluster {arrays.label(k)} would have {after} centres with "
                    f"{quota.label()} (at most {hi})"
                )
        elif name in ("together_i", "together_j"):
            r = i if name == "together_i" else j
            mates = [m for m in arrays.groups[arrays.group_of[r]] if m != r]
            text = f"must stay with {arrays.many(mates)} ({arrays.group_rule[r]})"
            out.append(text if r == i else f"{partner} {text}")
        elif name == "locked_a":
            out.append(f"cluster {la} is locked (kept as it was)")
        elif name == "locked_b":
            out.append(f"cluster {lb} is locked (kept as it was)")
        elif name == "apart_i":
            there = [p for p in arrays.apart[i] if arrays.k_of[p] == b and p != j]
            out.append(f"cannot share a cluster with {arrays.many(there)} (cannot-link)")
        elif name == "apart_j":
            there = [p for p in arrays.apart[j] if arrays.k_of[p] == a and p != i]
            out.append(f"{partner} cannot share a cluster with {arrays.many(there)} (cannot-link)")
        elif name == "far_i":
            out.append(
                f"beyond the {num(arrays.max_distance)} {arrays.unit_text} maximum "
                f"({arrays.dist(arrays.costs[i, arrays.venues[b]])} to cluster {lb}'s venue)"
            )
        elif name == "far_j":
            out.append(
                f"{partner} would be beyond the {num(arrays.max_distance)} "
                f"{arrays.unit_text} maximum ({arrays.dist(arrays.costs[j, new_va])} to "
                f"cluster {la}'s venue)"
            )
        elif name == "host":
            out.append(
                f"without it no member of cluster {la} could host the rest within the "
                f"{num(arrays.max_distance)} {arrays.unit_text} maximum"
            )
        elif name == "region_i":
            out.append(
                f"cluster {lb} meets in {arrays.boundary} {arrays.regions[arrays.venues[b]]}, "
                f"across its boundary ({arrays.regions[i]}; clusters may not cross)"
            )
        elif name == "region_j":
            out.append(
                f"{partner} is in {arrays.boundary} {arrays.regions[j]}, across the boundary "
                f"of cluster {la}"
            )
    return out


def binding(arrays: Arrays, r: int, rank_reach: tuple[int, int]) -> list[dict[str, str]]:
    """The rules that bind centre ``r``, each ``{"rule", "text"}``."""
    a = int(arrays.k_of[r])
    la = arrays.label(a)
    out = []
    if arrays.group_of[r] >= 0:
        mates = [m for m in arrays.groups[arrays.group_of[r]] if m != r]
        out.append(
            {
                "rule": arrays.group_rule[r],
                "text": f"must stay with {arrays.many(mates)} ({arrays.group_rule[r]})",
            }
        )
    if arrays.locked[a]:
        out.append({"rule": "locked cluster", "text": f"cluster {la} is locked (kept as it was)"})
    if r in arrays.apart:
        elsewhere = sorted(arrays.apart[r], key=lambda p: arrays.label(arrays.k_of[p]))
        text = ", ".join(
            f"{arrays.who(p)} (cluster {arrays.label(arrays.k_of[p])})" for p in elsewhere
        )
        out.append({"rule": "cannot-link", "text": f"kept apart from {text} (cannot-link)"})
    if arrays.eligible is not None and arrays.coordinator[r]:
        count = int(arrays.eligible[arrays.members[a]].sum())
        only = " — the only member who may" if count == 1 else ""
        out.append(
            {
                "rule": "coordinator",
                "text": f"coordinates cluster {la} ({arrays.constraints.coordinator}){only}",
            }
        )
    for quota, mask, lo, _hi, count in arrays.quotas:
        if quota.about.startswith("a willing coordinator"):
            continue  # the coordinator quota, said above
        if not mask[r] or lo < 1 or count[a] > lo:
            continue
        if count[a] == 1:
            text = (
                f"the only centre with {quota.label()} in cluster {la} "
                f"(each cluster needs at least {lo})"
            )
        else:
            text = (
                f"one of the {int(count[a])} centres with {quota.label()} that cluster "
                f"{la} needs (at least {lo})"
            )
        out.append({"rule": "quota", "text": text})
    if arrays.max_distance is not None:
        _, reach = rank_reach
        used = arrays.costs[r, arrays.venue_of[r]] * arrays.factor
        out.append(
            {
                "rule": "max distance",
                "text": f"{used:,.1f} of the {num(arrays.max_distance)} {arrays.unit_text} "
                f"maximum used; {reach} venue(s) within reach",
            }
        )
    if arrays.regions is not None:
        out.append(
            {
                "rule": "boundary",
                "text": f"stays in {arrays.boundary} {arrays.regions[r]} (clusters may not cross)",
            }
        )
    return out
