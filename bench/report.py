"""Render the benchmark figures quoted in ``bench/README.md`` and ``README.md`` from the
committed result files under ``bench/results/``.

Every quoted table or figure-bearing sentence sits between two marker comments::

    <!-- bench/report.py: NAME -->
    ...generated Markdown...
    <!-- /bench/report.py -->

``python bench/report.py`` rewrites the text between the markers in place (prose outside them
is left alone); ``python bench/report.py --check`` rewrites nothing, prints a unified diff and
exits 1 when a document differs from what the result files say.

Only the standard library and the files in this repository are read (no engine import, no
``../shared``), so the check takes well under a second. The figures come from the *last* run
recorded in each ``run.json`` (the scripts append one entry per run) and from the CSV files
written beside it; nothing here re-runs a benchmark.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import json
import re
import shlex
import statistics
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS = REPO_ROOT / "bench" / "results"
DOCS = (REPO_ROOT / "bench" / "README.md", REPO_ROOT / "README.md")

BLOCK = re.compile(
    r"(?P<open><!-- bench/report\.py: (?P<name>[\w-]+) -->\n)"
    r"(?P<body>.*?)"
    r"(?P<close><!-- /bench/report\.py -->)",
    re.DOTALL,
)

#: cpmp.py's rule for "at the published optimum" (``at_best_known`` in its run.json)
AT_BEST_ABS, AT_BEST_REL = 0.005, 1e-9
#: form_clusters' default gap_target (cpmp.py does not set it): the run stops at this gap
GAP_TARGET = 1e-4
#: lp_bound.py's default --bound-seconds (the engine's bound routine beside the LP)
LP_BOUND_SECONDS = 10.0


# --------------------------------------------------------------------------------------
# reading


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _runs(path: Path) -> list[dict[str, Any]]:
    """Every run recorded in ``path`` (cpmp.py appends; the others write one)."""
    data = _json(path)
    return data if isinstance(data, list) else [data]


def _last_run(path: Path) -> dict[str, Any]:
    return _runs(path)[-1]


def _f(value: Any) -> float:
    return float(value)


# --------------------------------------------------------------------------------------
# formatting


def num(value: float, digits: int = 1) -> str:
    """``value`` with thousands separators and ``digits`` decimals."""
    return f"{value:,.{digits}f}"


def obj(value: float) -> str:
    """An objective: whole numbers as such, others with two decimals."""
    return num(value, 0) if float(value).is_integer() else num(value, 2)


def pct(value: float, digits: int = 2, sign: bool = False) -> str:
    text = f"{value:+,.{digits}f}" if sign else f"{value:,.{digits}f}"
    return text.replace("-", "−") if sign else text


def small_pct(fraction: float) -> str:
    """A tiny gap (a fraction) as a percentage with two significant digits."""
    return f"{fraction * 100:.2g} %"


def when(stamp: str) -> str:
    """``2026-12-01T23:50:51+00:00`` → ``2026-12-01 23:50 UTC``."""
    stamp = stamp.replace("T", " ")
    return stamp[:16] + " UTC" if not stamp.endswith("UTC") else stamp


def seconds(value: float, digits: int = 1) -> str:
    return f"{value:.{digits}f} s"


def command(run: dict[str, Any]) -> str:
    """The recorded command with the interpreter shown as ``.venv/bin/python``."""
    parts = shlex.split(run["command"])
    if parts and parts[0].endswith("python"):
        parts[0] = ".venv/bin/python"
    return " ".join(parts)


def _option(run: dict[str, Any], name: str, default: float) -> float:
    parts = shlex.split(run["command"])
    if name in parts:
        return float(parts[parts.index(name) + 1])
    return default


def table(header: list[str], align: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def names(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def load_not_recorded() -> str:
    return "the machine's load is not recorded in `run.json`"


# --------------------------------------------------------------------------------------
# CPMP


def at_best(objective: float, best: float) -> bool:
    return objective <= best + AT_BEST_ABS + AT_BEST_REL * best


def cpmp_rows(name: str = "cpmp") -> list[dict[str, Any]]:
    """The rows of a ``bench/cpmp.py`` results folder, with its last run's statistics."""
    rows = _csv(RESULTS / name / "summary.csv")
    run = _last_run(RESULTS / name / "run.json")
    stats = {r["instance"]: r for r in run["instances"]}
    out = []
    for r in rows:
        rec = stats[r["instance"]]
        out.append(
            {
                "instance": r["instance"],
                "n": int(r["n"]),
                "p": int(r["p"]),
                "objective": _f(r["objective"]),
                "best": _f(r["best_known"]),
                "gap_pct": _f(r["gap_pct"]),
                "lower_bound": _f(r["lower_bound"]),
                "status": r["status"],
                "to_best": _f(r["seconds_to_best"]),
                "seconds": _f(r["seconds"]),
                "engine_gap": float(rec["engine_gap"]),
                "pairs": rec["stats"].get("pairs_kept_by_bound"),
                "cpsat_status": rec["stats"].get("cpsat_status"),
                "cpsat_seconds": rec["stats"].get("cpsat_seconds"),
            }
        )
    return out


def _run_line(run: dict[str, Any], what: str) -> str:
    head = run.get("engine", {}).get("git_head", "")
    cpus = run.get("machine", {}).get("cpu_count") or run.get("cpu_count")
    return (
        f"recorded {when(run['started_utc'])}, commit {head[:7]}, seed {run['seed']}, "
        f"time limit {run['time_limit']:g} s {what}, {run['workers']} workers on {cpus} CPUs; "
        + load_not_recorded()
    )


def render_cpmp() -> str:
    run = _last_run(RESULTS / "cpmp" / "run.json")
    rows = cpmp_rows()
    limit = float(run["time_limit"])
    lines = [
        f"`{command(run)}`",
        f"(`bench/results/cpmp/summary.csv` and the last entry of its `run.json`: "
        f"{_run_line(run, 'per instance')}. *to best*: when the engine first held the layout it "
        "returned, from its own progress record; *seconds*: the whole call, which ends at the "
        "time limit unless the engine proves optimality or its gap falls below the default gap "
        f"target of {GAP_TARGET * 100:g} %):",
        "",
        table(
            [
                "instance",
                "n",
                "p",
                "objective (recomputed)",
                "best known",
                "gap %",
                "engine's lower bound",
                "status",
                "to best s",
                "seconds",
            ],
            ["---"] * 10,
            [
                [
                    r["instance"],
                    str(r["n"]),
                    str(r["p"]),
                    obj(r["objective"]),
                    obj(r["best"]),
                    f"{r['gap_pct']:.2f}",
                    obj(round(r["lower_bound"], 2)),
                    r["status"],
                    f"{r['to_best']:.1f}",
                    f"{r['seconds']:.1f}",
                ]
                for r in rows
            ],
        ),
        "",
    ]
    pmed = [r for r in rows if r["instance"].startswith("pmedcap")]
    hits = [r for r in pmed if at_best(r["objective"], r["best"])]
    missed = [r for r in pmed if not at_best(r["objective"], r["best"])]
    proven = [r for r in pmed if r["status"] == "optimal"]
    unproven = [r for r in pmed if r["status"] != "optimal"]
    unproven_at = [r for r in unproven if at_best(r["objective"], r["best"])]
    to_best = [r["to_best"] for r in pmed]
    over = [r for r in pmed if r["seconds"] > limit]
    target_met = len(proven) == len(pmed) and not over
    miss_text = names(
        [f"{r['instance']} ({obj(r['objective'])} vs {obj(r['best'])})" for r in missed]
    )
    lines.append(
        f"- **pmedcap1: {len(hits)} of {len(pmed)} at the published optimum, {len(proven)} proven "
        f"optimal by the engine's own bound** (status `optimal`); time to the returned layout "
        f"median {statistics.median(to_best):.1f} s, max {max(to_best):.1f} s. "
        + (
            '**Target "the proven optimum on all 20, none over 10 s": met.**'
            if target_met
            else '**Target not met:** "the proven optimum on all 20, none over 10 s".'
        )
        + (f" Missed in this run: {miss_text}." if missed else "")
        + (
            f" {len(unproven)} instances end at the {limit:g} s limit unproven (status "
            f"`feasible`), {len(unproven_at)} of them at the optimum with the proof unfinished "
            f"({names([r['instance'] for r in unproven_at])})."
            if unproven
            else ""
        )
    )
    sjc = [r for r in rows if r["instance"].startswith("SJC")]
    if sjc:
        lines.append(_sjc_sentence(sjc, f"{limit:g} s run above"))
    return "\n".join(lines)


def _sjc_sentence(sjc: list[dict[str, Any]], label: str) -> str:
    all_at = all(at_best(r["objective"], r["best"]) for r in sjc)
    proven = [r for r in sjc if r["status"] == "optimal"]
    head = (
        f"- **{names([r['instance'] for r in sjc])} ({label}): "
        + (
            ("both" if len(sjc) == 2 else "all") + " at the published optimum"
            if all_at
            else "not all at the published optimum"
        )
        + (
            (", neither" if len(sjc) == 2 else ", none") + " proven"
            if not proven
            else f", {names([r['instance'] for r in proven])} proven"
        )
        + ".** "
    )
    parts = [
        f"{r['instance']} {obj(round(r['objective'], 2))} (published {obj(r['best'])}) at "
        f"{r['to_best']:.1f} s, status `{r['status']}`, bound {obj(round(r['lower_bound'], 2))}"
        f" — short of a proof by {small_pct(r['engine_gap'])}"
        for r in sjc
    ]
    stopped = [r for r in sjc if r["status"] != "optimal" and r["engine_gap"] <= GAP_TARGET]
    tail = ""
    if stopped:
        tail = (
            f" The run{'s' if len(stopped) > 1 else ''} ended at "
            f"{names([seconds(r['seconds']) for r in stopped])}, before the limit, because the "
            f"gap fell below the engine's default gap target ({GAP_TARGET * 100:g} %), not "
            "because the optimum was proven."
        )
    return head + "; ".join(parts) + "." + tail


def render_sjc60() -> str:
    runs = _runs(RESULTS / "cpmp_sjc60" / "run.json")
    run, before = runs[-1], runs[-2] if len(runs) > 1 else None
    rows = cpmp_rows("cpmp_sjc60")
    recs = run["instances"]
    limit = float(run["time_limit"])
    text = [
        f"`{command(run)}`",
        f"(`bench/results/cpmp_sjc60/`, the last entry of its `run.json`: "
        f"{_run_line(run, 'per instance')}):",
        "",
        _sjc_sentence(rows, f"{limit:g} s"),
    ]
    within = all(r["objective"] <= r["best"] * 1.001 + AT_BEST_ABS for r in rows)
    extra = (
        f'  **Target "within 0.1 % in {limit:g} s": {"met" if within else "not met"} for '
        + ("both" if len(rows) == 2 else "all")
        + ".**"
    )
    if before is not None:
        b = before["instances"]
        extra += (
            f" The run before ({when(before['started_utc'])}, commit "
            f"{before['engine']['git_head'][:7]}): "
            + names(
                [
                    f"{r['instance']} at {r['seconds_to_best']:.1f} s (ended at "
                    f"{r['engine_seconds']:.1f} s)"
                    for r in b
                ]
            )
            + "."
        )
    last = recs[-1]
    st = last["stats"]
    if st.get("pairs_kept_by_bound") is not None and st.get("cpsat_status"):
        ten = next((r for r in cpmp_rows() if r["instance"] == last["instance"]), None)
        extra += (
            f" In this run {last['instance']}'s bound left {st['pairs_kept_by_bound']:,} "
            f"member → venue pairs open and CP-SAT's model on them ended `{st['cpsat_status']}` "
            f"in {st['cpsat_seconds']:.1f} s"
            + (
                f" (10 s run above: {ten['pairs']:,} pairs, {ten['cpsat_seconds']:.1f} s)"
                if ten and ten["pairs"] is not None and ten["cpsat_seconds"] is not None
                else ""
            )
            + "."
        )
    text.append(extra)
    return "\n".join(text)


# --------------------------------------------------------------------------------------
# peers


def _peers() -> dict[str, dict[str, dict[str, str]]]:
    out: dict[str, dict[str, dict[str, str]]] = {}
    for r in _csv(RESULTS / "peers" / "peers.csv"):
        out.setdefault(r["sample"], {})[r["method"]] = r
    return out


KM1, KM10, TENX = (
    "k-means-constrained (n_init=1)",
    "k-means-constrained (n_init=10)",
    "engine at 10x k-means time",
)


def _tenx_limit(row: dict[str, str]) -> float:
    m = re.search(r"time limit ([\d.]+) s", row["note"])
    if not m:
        raise ValueError(f"no time limit in the note {row['note']!r}")
    return float(m.group(1))


def render_peers() -> str:
    run = _json(RESULTS / "peers" / "run.json")
    peers = _peers()
    rows = []
    for sample, m in peers.items():
        eng, k1, k10, tx = m["engine"], m[KM1], m[KM10], m[TENX]
        e, t1, t10, tt = (_f(x["total_km"]) for x in (eng, k1, k10, tx))
        best = min((t1, KM1), (t10, KM10))
        vs_best = _f(m[best[1]]["engine_vs_method_pct"])
        vs_one = (
            ""
            if best[1] == KM1
            else f" ({pct(_f(k1['engine_vs_method_pct']), 1, True)} % vs n_init=1)"
        )
        rows.append(
            [
                f"{sample.capitalize()} ({int(eng['n']):,}, p={eng['p']})",
                f"{num(e)} km",
                f"{num(tt)} km (limit {_tenx_limit(tx):.2f} s, wall {_f(tx['seconds']):.2f} s; "
                f"{pct((tt - t1) / t1 * 100, 1, True)} %)",
                f"{num(t1)} km ({_f(k1['seconds']):.2f} s)",
                f"{num(t10)} km ({_f(k10['seconds']):.2f} s)",
                f"{pct(vs_best, 1, True)} %{vs_one}",
                f"{_f(eng['engine_gap_pct']):.2f} %",
            ]
        )
    limit = float(run["time_limit"])
    head = (
        f"`{command(run)}`\n(`bench/results/peers/peers.csv`; recorded "
        f"{when(run['started_utc'])}, seed {run['seed']}, engine time limit {limit:g} s, "
        f"{run['workers']} workers on {run['cpu_count']} CPUs; {load_not_recorded()}; travel "
        f"recomputed from each method's assignment, sizes {run['sizes'][0]}–{run['sizes'][1]}, "
        "same p; *engine at 10 × k-means time*: the engine given ten times k-means-constrained's "
        "(n_init=1) seconds as its time limit, against k-means-constrained n_init=1):"
    )
    return (
        head
        + "\n\n"
        + table(
            [
                "sample",
                f"engine ({limit:g} s)",
                "engine at 10 × k-means time",
                "k-means-constrained n_init=1",
                "n_init=10",
                f"engine ({limit:g} s) vs best k-means",
                "engine's gap",
            ],
            ["---"] * 7,
            rows,
        )
    )


def render_peers_kentucky() -> str:
    m = _peers()["kentucky"]
    eng, k1, tx = m["engine"], m[KM1], m[TENX]
    t1, tt = _f(k1["total_km"]), _f(tx["total_km"])
    less = (t1 - tt) / t1 * 100
    ratio = _f(tx["seconds"]) / _f(k1["seconds"])
    limit_ratio = _tenx_limit(tx) / _f(k1["seconds"])
    gap = _f(eng["engine_gap_pct"])
    met = less >= 3.0 and limit_ratio <= 10.0 + 0.05
    return (
        '- **Kentucky target "≥ 3 % below k-means-constrained at ≤ 10× its time": '
        + ("met" if met else "not met")
        + f"** — given a time limit of ten times k-means-constrained's (n_init=1) "
        f"{_f(k1['seconds']):.2f} s, the engine's layout travels {less:.1f} % less (its wall "
        f"time, checker included, was {ratio:.1f}× k-means-constrained's). "
        '**"Within 2 % of the lower bound in 60 s": '
        + ("met" if gap <= 2 else "not met")
        + f"** ({gap:.2f} %)."
    )


# --------------------------------------------------------------------------------------
# LP bound


def _lp() -> dict[str, dict[str, str]]:
    return {r["sample"]: r for r in _csv(RESULTS / "lp_bound" / "lp_bound.csv")}


def render_lp() -> str:
    run = _json(RESULTS / "lp_bound" / "run.json")
    lp, peers = _lp(), _peers()
    max_seconds = _option(run, "--max-seconds", float("nan"))
    bound_seconds = _option(run, "--bound-seconds", LP_BOUND_SECONDS)
    rows = []
    for sample, r in lp.items():
        conv = r["converged"] == "True"
        value = _f(r["lp_km"])
        eng = peers.get(sample, {}).get("engine")
        layout = _f(eng["total_km"]) if eng else None
        lag = _f(r["lagrangian_km"])
        lag_cell = f"{num(lag, 2)} km ({_f(r['lagrangian_seconds']):.2f} s)"
        below = f"{_f(r['lagrangian_below_lp_pct']):.2f} %"
        if not conv and eng:
            engine_lb = _f(eng["engine_lower_bound_km"])
            lag_cell += f"; {num(engine_lb)} km in the engine's own 60 s run (peers)"
            below = f"at most {below} / {(value - engine_lb) / value * 100:.2f} %"
        over = "–" if layout is None else f"{(layout - value) / value * 100:.2f} %"
        rows.append(
            [
                f"{sample.capitalize()} ({int(r['n']):,})",
                f"{num(value, 2)} km"
                if conv
                else f"at most {num(value, 2)} km (not converged in the {max_seconds:g} s given)",
                f"{r['rounds']} / {int(r['pairs']):,}",
                f"{_f(r['lp_seconds']):.1f}",
                lag_cell,
                below,
                "–" if layout is None else f"{num(layout)} km",
                over if conv else f"at least {over}",
            ]
        )
    head = (
        f"`{command(run)}`\n(`bench/results/lp_bound/lp_bound.csv`; recorded "
        f"{when(run['started_utc'])}; {load_not_recorded()}; *engine's 60 s layout*: the "
        "engine's layout in `bench/results/peers`). With count bounds only, the best Lagrangian "
        "bound of the kind the engine computes equals the LP relaxation of the strong "
        "formulation. This script solves that LP exactly with HiGHS by column generation (each "
        "venue's 25 nearest schools first, then every pair the duals price negative, until none "
        f"does), and runs the engine's bound routine for {bound_seconds:g} s beside it:"
    )
    return (
        head
        + "\n\n"
        + table(
            [
                "sample",
                "exact LP",
                "rounds / pairs",
                "LP s",
                f"engine's Lagrangian bound ({bound_seconds:g} s budget)",
                "below the LP",
                "engine's 60 s layout",
                "layout over LP",
            ],
            ["---"] * 8,
            rows,
        )
    )


def _lp_facts() -> dict[str, Any]:
    lp, peers = _lp(), _peers()
    conv = {s: r for s, r in lp.items() if r["converged"] == "True"}
    ken = lp["kentucky"]
    upper = _f(ken["lp_km"])
    engine_lb = _f(peers["kentucky"]["engine"]["engine_lower_bound_km"])
    layout = _f(peers["kentucky"]["engine"]["total_km"])
    need = 1.02 * upper
    return {
        "conv": conv,
        "upper": upper,
        "engine_lb": engine_lb,
        "ken_below": (upper - engine_lb) / upper * 100,
        "layout": layout,
        "need": need,
        "need_below": (layout - need) / layout * 100,
    }


def render_lp_notes() -> str:
    f = _lp_facts()
    conv = f["conv"]
    peers = _peers()
    order = [s for s in ("surrey", "hampshire") if s in conv]
    within = names([f"{_f(conv[s]['lagrangian_below_lp_pct']):.2f} %" for s in order])
    secs = names([f"{_f(conv[s]['lagrangian_seconds']):.2f} s" for s in order])
    over = {
        s: (_f(peers[s]["engine"]["total_km"]) - _f(conv[s]["lp_km"])) / _f(conv[s]["lp_km"]) * 100
        for s in order
    }
    gaps = {s: _f(peers[s]["engine"]["engine_gap_pct"]) for s in order}
    return "\n".join(
        [
            "- **The engine's bound is as strong as this family allows.** It is within "
            f"{within} of the exact LP where column generation converged "
            f"({names([s.capitalize() for s in order])}, in {secs}), and within "
            f"{f['ken_below']:.2f} % of Kentucky's upper limit (the engine's bound in its 60 s "
            f"peers run, {num(f['engine_lb'])} km, against {num(f['upper'], 2)} km).",
            '- **Kentucky "within 2 % of the lower bound" cannot be certified by any LP-family '
            f"bound** unless a layout of at most {num(f['need'])} km exists (1.02 × the LP's "
            f"upper limit). That is {f['need_below']:.1f} % below the engine's 60 s layout in "
            f"`bench/results/peers` ({num(f['layout'])} km).",
            "- "
            + " and ".join(f"{s.capitalize()}'s gap ({gaps[s]:.2f} %)" for s in order)
            + " are likewise LP integrality gap plus what the layout lacks: the 60 s layouts are "
            + names([f"{over[s]:.2f} %" for s in order])
            + " above the exact LP.",
        ]
    )


# --------------------------------------------------------------------------------------
# interactive


def render_interactive() -> str:
    run = _json(RESULTS / "interactive" / "run.json")
    rows = _csv(RESULTS / "interactive" / "interactive.csv")
    secs = [_f(r["seconds"]) for r in rows]
    passed = all(r["checker"] == "passed" for r in rows)
    beat = sum(_f(r["vs_reference_pct"]) < 0 for r in rows)
    budget, ref = float(run["budget"]), float(run["reference"])
    head = (
        f"`{command(run)}`\n(`bench/results/interactive/interactive.csv`; "
        f"{run['sample'].capitalize()}; recorded {when(run['started_utc'])}, seed {run['seed']}, "
        f"{run['workers']} workers on {run['machine']['cpu_count']} CPUs; {load_not_recorded()}; "
        "each step starts from the layout the step before returned; wall time of the whole "
        "`form_clusters` call, checker included; objective in km-equivalents; *reference*: the "
        f"same weights from scratch in {ref:g} s). The budget is {budget:g} s a re-solve:"
    )
    body = table(
        ["step", "change", "re-solve s", "objective", "reference", "vs reference", "checker"],
        ["---:", "---", "---:", "---:", "---:", "---:", "---"],
        [
            [
                r["step"],
                r["change"],
                f"{_f(r['seconds']):.2f}",
                num(_f(r["objective"])),
                num(_f(r["reference_objective"])),
                f"{_f(r['vs_reference_pct']):+.2f} %",
                r["checker"],
            ]
            for r in rows
        ],
    )
    met = max(secs) < 3.0 and passed
    bullet = (
        '- **Target "a re-solve from the current layout in under 3 s": '
        + ("met" if met else "not met")
        + f".** Every re-solve took {min(secs):.2f}–{max(secs):.2f} s (median "
        f"{statistics.median(secs):.2f} s)"
        + (" and passed the checker" if passed else "; not every one passed the checker")
        + f". In {beat} of {len(rows)} steps the {budget:g} s re-solve beat the same weights "
        f"solved from scratch in {ref:g} s."
    )
    return head + "\n\n" + body + "\n\n" + bullet


# --------------------------------------------------------------------------------------
# Kentucky, full model


def render_kentucky_full() -> str:
    d = RESULTS / "kentucky_full"
    run = _json(d / "run.json")
    time_txt = (d / "time.txt").read_text(encoding="utf-8")
    elapsed = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", time_txt)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", time_txt)
    if not elapsed or not rss:
        raise ValueError(f"{d / 'time.txt'}: no /usr/bin/time -v figures")
    whole = 0.0
    for part in elapsed.group(1).split(":"):
        whole = whole * 60 + float(part)
    base = {r["baseline"]: r for r in _csv(d / "baselines.csv")}
    st, parts = run["stats"], run["stats"]["objective_parts"]
    p = run["params"]
    districts = base["districts as clusters"]
    geo = base["geography only"]
    rule = p["rule"]
    return (
        f"- **A {'verified' if st['checker'] == 'passed' else 'checked (not passed)'} layout in "
        f"{st['seconds']:.1f} s** (the solve, time limit {p['time_limit']:g} s, seed {p['seed']}, "
        f"{p['workers']} workers; the whole command with baselines, explanations and report took "
        f"{whole:.1f} s and {int(rss.group(1)) / 1000:.0f} MB peak, from `time.txt`; "
        f"{load_not_recorded()}): status `{run['status']}`, objective "
        f"{num(run['objective'] / 1000)} km-equivalents (travel {num(parts['travel'])} km, FRL "
        f"deviation {num(parts['frl_pct'])}, ethnic-diversity deviation "
        f"{num(parts['ethnic_diversity'])}, {parts['coop splits']:.0f} theme splits, "
        f"{parts['boundary crossings']:.0f} boundary crossings) against a bound of "
        f"{num(run['lower_bound'] / 1000)} km — **gap {run['gap_pct']:.1f} %**. The bound counts "
        "travel and the per-member terms only (contrast deviations are never negative, so it "
        "stays valid): the gap says more about the bound than the layout. Beside it "
        f"(`baselines.csv`): geography only with the same rules {num(_f(geo['objective_km']), 0)} "
        f"km-eq. (travel {num(_f(geo['total_travel_km']), 0)} km, FRL deviation "
        f"{num(_f(geo['frl_pct_deviation']), 0)}), k-means with size bounds "
        f"{num(_f(base['k-means with size bounds']['objective_km']), 0)}, districts as clusters "
        f"{num(_f(districts['objective_km']), 0)} ({districts['outside_size_bounds']} of "
        f"{districts['clusters']} outside {rule['min_size']}–{rule['max_size']})."
    )


# --------------------------------------------------------------------------------------
# the full model: quality per term


def _opt(value: str, digits: int = 1) -> str:
    return "—" if value in ("", None) else num(_f(value), digits)


def _reference(term: dict[str, str]) -> str:
    """The best-found value when there is one, otherwise the proven bound."""
    return term["best_found"] if term["best_found"] not in ("", None) else term["bound"]


def render_quality() -> str:
    d = RESULTS / "quality"
    run = _last_run(d / "run.json")
    summary = _csv(d / "summary.csv")
    terms = _csv(d / "terms.csv")
    rows = []
    for r in summary:
        best = next(t for t in terms if t["scenario"] == r["scenario"] and t["most_room"] == "True")
        rows.append(
            [
                f"`{r['scenario']}`",
                r["clusters"],
                num(_f(r["objective"])),
                f"{num(_f(r['engine_bound']))} ({pct(_f(r['engine_gap_pct']), 1)} %)",
                num(_f(r["separable_bound"])),
                f"{_opt(r['priced_bound'])} ({r['priced_iterations'] or 0} steps)",
                f"{pct(_f(r['gap_pct']), 1)} %",
                f"{best['term']}: {_opt(best['value'])} vs {_opt(_reference(best))} "
                f"{best['reference_kind']}, {num(_f(best['weighted_room']))} km weighted",
                f"{_f(r['quality_seconds']):.1f} s of {_f(r['reference_budget_seconds']):.1f}",
                r["checker"],
            ]
        )
    head = table(
        [
            "scenario",
            "clusters",
            "objective",
            "engine's bound (gap)",
            "Σ weight × part bound",
            "priced Lagrangian bound",
            "gap to the largest",
            "most room left",
            "reference runs",
            "checker",
        ],
        ["---", "---:", "---:", "---:", "---:", "---:", "---:", "---", "---:", "---"],
        rows,
    )
    per = []
    for t in terms:
        mark = " ★" if t["most_room"] == "True" else ""
        per.append(
            [
                f"`{t['scenario']}`",
                t["term"] + mark,
                f"{_f(t['weight']):g}",
                _opt(t["value"]),
                _opt(t["bound"]),
                _opt(t["best_found"]),
                t["reference_kind"],
                _opt(t["room_pct"]),
                _opt(t["weighted_room"]),
            ]
        )
    body = table(
        [
            "scenario",
            "part",
            "weight",
            "value",
            "proven bound",
            "best found",
            "reference is",
            "room %",
            "weighted room (km)",
        ],
        ["---", "---", "---:", "---:", "---:", "---:", "---", "---:", "---:"],
        per,
    )
    engine_gaps = sorted(_f(r["engine_gap_pct"]) for r in summary)
    gaps = sorted(_f(r["gap_pct"]) for r in summary)
    engine_ratio = sorted(_f(r["objective"]) / _f(r["engine_bound"]) for r in summary)
    ratio = sorted(_f(r["objective"]) / _f(r["bound"]) for r in summary)
    over = [
        (r["scenario"], _f(r["quality_seconds"]), _f(r["reference_budget_seconds"]))
        for r in summary
        if _f(r["quality_seconds"]) > _f(r["reference_budget_seconds"])
    ]
    said = (
        f"Gap of the whole objective: {pct(engine_gaps[0], 1)}–{pct(engine_gaps[-1], 1)} % to the "
        f"engine's bound, {pct(gaps[0], 1)}–{pct(gaps[-1], 1)} % to the largest bound here: each "
        f"layout is shown to be within {ratio[0]:.2f}–{ratio[-1]:.2f} times the best possible "
        f"total, where the engine's bound allowed {engine_ratio[0]:.2f}–{engine_ratio[-1]:.2f} "
        "times. "
        + (
            "The reference work kept to its budget in every scenario."
            if not over
            else "The reference work overran its budget in "
            + names([f"`{n}` ({q:.1f} s of {b:.1f})" for n, q, b in over])
            + "."
        )
    )
    m = run["machine"]
    load = m["load_before"][0], m["load_after"][0]
    line = (
        f"Recorded {run['started']} to {run['finished']}, commit {run['git']['commit'][:7]}, "
        f"`{command(run)}`: each scenario's own time limit and seed, {run['workers']} worker(s) "
        f"on {m['cpus']} CPUs, one-minute load {load[0]:.1f} before and {load[1]:.1f} after "
        "(another session was benchmarking alongside)."
    )
    dirty = run["git"].get("uncommitted_engine_changes", "").split("\n")
    dirty = [x.split()[-1] for x in dirty if x.strip()]
    if dirty:
        line += (
            f" The engine had uncommitted changes then ({names([f'`{x}`' for x in dirty])}, "
            "another session's work in progress)."
        )
    return head + "\n\n" + said + "\n\n" + body + "\n\n" + line


# --------------------------------------------------------------------------------------
# scaling


def _scaling(name: str = "scaling") -> list[dict[str, str]]:
    return _csv(RESULTS / name / "scaling.csv")


def _scaling_line(run: dict[str, Any]) -> str:
    return (
        f"recorded {run['started']} to {run['finished']}, commit {run['git']['commit'][:7]}, "
        f"seed {run['seed']}, {run['workers']} workers on {run['machine']['cpus']} CPUs, "
        f"memory cap {run['memory_gb']:g} GB a run; {load_not_recorded()}"
    )


def render_scaling() -> str:
    run = _json(RESULTS / "scaling" / "run.json")
    rows = _scaling()
    head = (
        f"`{command(run)}`\n(`bench/results/scaling/scaling.csv`; {_scaling_line(run)}; whole "
        "local authorities of the synthetic England, hard LA boundary, time limit "
        f"{run['time_rule']} ({run['max_time_limit']:g} s), each run in a fresh process; "
        "*engine s*: wall time of the `form_clusters` call; *peak MB*: the child process's peak "
        "resident set; *full*: travel + FSM contrast + a coordinator rule + a quota of at most "
        "two secondary schools):"
    )
    body = table(
        [
            "schools",
            "LAs",
            "clusters",
            "mode",
            "limit s",
            "engine s",
            "peak MB",
            "travel km",
            "bound km",
            "gap %",
            "gap % with the FSM floor",
            "checker",
        ],
        [
            "---:",
            "---:",
            "---:",
            "---",
            "---:",
            "---:",
            "---:",
            "---:",
            "---:",
            "---:",
            "---:",
            "---",
        ],
        [
            [
                num(int(r["n"]), 0),
                r["las"],
                num(int(r["clusters"]), 0),
                r["mode"],
                f"{_f(r['time_limit']):g}",
                f"{_f(r['wall_seconds']):.1f}",
                f"{_f(r['peak_rss_mb']):.0f}",
                num(_f(r["travel_km"])),
                num(_f(r["lower_bound_km"])),
                f"{_f(r['gap_pct']):.2f}",
                f"{_f(r['gap_with_floor_pct']):.2f}" if r["gap_with_floor_pct"] else "",
                r["checker"],
            ]
            for r in rows
        ],
    )
    big = max(int(r["n"]) for r in rows)
    top = {r["mode"]: r for r in rows if int(r["n"]) == big}
    g, f = top["geography"], top.get("full")
    met = all(
        _f(r["wall_seconds"]) < 600 and _f(r["peak_rss_mb"]) < 8000 and r["checker"] == "passed"
        for r in top.values()
    )
    bullet = (
        f"- **≈{round(big, -3):,} schools in {g['las']} authorities: a verified layout in "
        f"{_f(g['wall_seconds']) / 60:.1f} minutes and {_f(g['peak_rss_mb']):.0f} MB (geography)"
        + (
            f", {_f(f['wall_seconds']) / 60:.1f} minutes and {_f(f['peak_rss_mb']):.0f} MB with "
            "the full model"
            if f
            else ""
        )
        + f"** (target: under 10 minutes and 8 GB — {'met' if met else 'not met'})."
    )
    if f and _f(f["wall_seconds"]) > _f(f["time_limit"]):
        bullet += (
            f" The full model overran its {_f(f['time_limit']):g} s limit by "
            f"{_f(f['wall_seconds']) - _f(f['time_limit']):.0f} s over {f['areas']} areas."
        )
    geo = [r for r in rows if r["mode"] == "geography"]
    gaps = [_f(r["gap_pct"]) for r in geo]
    mem = [_f(r["peak_rss_mb"]) for r in rows]
    small = min(int(r["n"]) for r in rows)
    bullet += (
        "\n- **Time against size:** the engine's time is its time limit, which this benchmark "
        "sets in proportion to the number of schools (0.025 s per school); what stays flat as n "
        f"grows {small:,} → {big:,} is the quality reached in that time (geography gap "
        f"{min(gaps):.2f}–{max(gaps):.2f} %) and the memory ({min(mem):.0f}–{max(mem):.0f} MB). "
        "Time is linear in n by that rule, not measured as a time to a target."
    )
    return head + "\n\n" + body + "\n\n" + bullet


def render_scaling_none() -> str:
    run = _json(RESULTS / "scaling_none" / "run.json")
    r = _scaling("scaling_none")[0]
    la = next(x for x in _scaling() if x["n"] == r["n"] and x["mode"] == r["mode"])
    more = (_f(r["travel_km"]) - _f(la["travel_km"])) / _f(la["travel_km"]) * 100
    return (
        f"- **`--boundary none` at {int(r['n']):,} schools** (`bench/results/scaling_none/`: "
        f"`{command(run)}`; {_scaling_line(run)}): a verified layout in "
        f"{_f(r['wall_seconds']):.1f} s and {_f(r['peak_rss_mb']):.0f} MB, "
        f"{int(r['clusters']):,} clusters, {num(_f(r['travel_km']))} km, gap "
        f"{_f(r['gap_pct']):.1f} % ({r['areas']} areas). The layout travels {abs(more):.1f} % "
        f"{'*more*' if more > 0 else '*less*'} than the one kept inside local authorities "
        f"({num(_f(la['travel_km']))} km)."
    )


def render_profiling() -> str:
    rows = {(r["n"], r["mode"]): r for r in _scaling()}
    big = max(int(n) for n, _ in rows)
    mid = sorted({int(n) for n, _ in rows})[-2]

    def three(n: int) -> tuple[float, float, float]:
        r = rows[(str(n), "geography")]
        return (
            _f(r["lns_bound_seconds"]),
            _f(r["lns_build_seconds"]),
            _f(r["lns_solve_seconds"]),
        )

    b, m = three(big), three(mid)
    return (
        "- **Re-solves are CP-SAT-bound, not model-building-bound.** The LNS records, per "
        "re-solve, the sub-problem's Lagrangian bound, building the CP-SAT model in Python, and "
        "CP-SAT's search (`lns_bound_seconds`, `lns_build_seconds`, `lns_solve_seconds`, summed "
        "over the two threads; `bench/results/scaling/scaling.md` has them per run). At "
        f"{big:,} schools (geography): {b[0]:.1f} s bound, {b[1]:.1f} s building, {b[2]:.1f} s "
        f"solving; at {mid:,}: {m[0]:.1f} / {m[1]:.1f} / {m[2]:.1f} s."
    )


# --------------------------------------------------------------------------------------
# README.md


def render_readme() -> str:
    f = _lp_facts()
    conv = f["conv"]
    rows = cpmp_rows()
    run = _last_run(RESULTS / "cpmp" / "run.json")
    pmed = [r for r in rows if r["instance"].startswith("pmedcap")]
    hits = sum(at_best(r["objective"], r["best"]) for r in pmed)
    proven = sum(r["status"] == "optimal" for r in pmed)
    sjc = [r for r in rows if r["instance"].startswith("SJC")]
    sjc_at = all(at_best(r["objective"], r["best"]) for r in sjc)
    sjc_proven = [r for r in sjc if r["status"] == "optimal"]
    peers = _peers()
    more = []
    for m in peers.values():
        e = _f(m["engine"]["total_km"])
        best = min(_f(m[KM1]["total_km"]), _f(m[KM10]["total_km"]))
        more.append((best - e) / e * 100)
    within = max(_f(r["lagrangian_below_lp_pct"]) for r in conv.values())
    sjc_text = (
        f"on both Lorena–Senne instances ({names([r['instance'] for r in sjc])}) it reaches the "
        f"published optimum in {names([seconds(r['to_best']) for r in sjc])}"
        if sjc_at
        else "on the Lorena–Senne instances it does not reach every published optimum"
    )
    if len(sjc_proven) < len(sjc):
        sjc_text += (
            ", with its bound short of a proof by "
            + names([small_pct(r["engine_gap"]) for r in sjc if r["status"] != "optimal"])
            + " (status `feasible`)"
        )
    return (
        "The bound is the Lagrangian bound; with count bounds only it is as strong as the LP "
        "relaxation, and it gets there: solved exactly by column generation (`bench/lp_bound.py`), "
        f"the LP is {num(_f(conv['hampshire']['lp_km']))} km for Hampshire and "
        f"{num(_f(conv['surrey']['lp_km']))} km for Surrey, and at most {num(f['upper'])} km for "
        f"Kentucky, and the engine's bound is within {within:.2f} % of the first two and "
        f"{f['ken_below']:.2f} % of the third. What is left of the gap is the LP's own "
        'integrality gap plus what the layout lacks; on Kentucky, "within 2 % of the bound" would '
        f"need a layout of at most {num(f['need'])} km, against {num(f['layout'])} km from the "
        "engine's 60 s run in `bench/results/peers`, so a stronger relaxation is what is missing "
        "there. On the published capacitated p-median instances (`bench/results/cpmp`: one run, "
        f"{run['time_limit']:g} s each, seed {run['seed']}) the engine reaches the published "
        f"optimum on {hits} of the {len(pmed)} OR-Library `pmedcap1` instances and proves "
        f"{proven} of them optimal itself ({_seeds_clause()}); {sjc_text}. `bench/README.md` "
        "has the tables, the "
        "peers (k-means-constrained, the better of n_init 1 and 10: "
        f"{min(more):.1f}–{max(more):.1f} % more travel than the engine's 60 s layouts) and the "
        f"scaling to {max(int(r['n']) for r in _scaling()):,} schools."
    )


def _seeds_clause() -> str:
    """How the three-seed run of pmedcap1 went, in a clause."""
    hits = []
    for seed in PMEDCAP_SEEDS:
        rows = cpmp_rows(f"pmedcap1_seed{seed}")
        hits.append(sum(at_best(r["objective"], r["best"]) for r in rows))
    seeds = ", ".join(str(s) for s in PMEDCAP_SEEDS)
    return (
        f"a later run with seeds {seeds}: {', '.join(str(h) for h in hits)} of 20, "
        "`bench/results/pmedcap1_seed*`"
    )


def render_runs() -> str:
    """Which run each results folder holds: when, which commit, what limits."""
    out = []
    cp = _last_run(RESULTS / "cpmp" / "run.json")
    sj = _last_run(RESULTS / "cpmp_sjc60" / "run.json")
    for name, r in (("cpmp", cp), ("cpmp_sjc60", sj)):
        out.append(
            [
                f"`{name}`",
                when(r["started_utc"]),
                r["engine"]["git_head"][:7],
                f"{r['time_limit']:g} s an instance",
                str(r["seed"]),
                str(r["workers"]),
            ]
        )
    pe = _json(RESULTS / "peers" / "run.json")
    out.append(
        [
            "`peers`",
            when(pe["started_utc"]),
            "–",
            f"{pe['time_limit']:g} s (engine), 10 × k-means",
            str(pe["seed"]),
            str(pe["workers"]),
        ]
    )
    it = _json(RESULTS / "interactive" / "run.json")
    out.append(
        [
            "`interactive`",
            when(it["started_utc"]),
            "–",
            f"{it['budget']:g} s a re-solve, {it['reference']:g} s reference",
            str(it["seed"]),
            str(it["workers"]),
        ]
    )
    kf = _json(RESULTS / "kentucky_full" / "run.json")["params"]
    out.append(
        [
            "`kentucky_full`",
            "–",
            "–",
            f"{kf['time_limit']:g} s",
            str(kf["seed"]),
            str(kf["workers"]),
        ]
    )
    lp = _json(RESULTS / "lp_bound" / "run.json")
    out.append(
        [
            "`lp_bound`",
            when(lp["started_utc"]),
            "–",
            f"{_option(lp, '--max-seconds', float('nan')):g} s LP, "
            f"{_option(lp, '--bound-seconds', LP_BOUND_SECONDS):g} s bound",
            "–",
            "–",
        ]
    )
    for name in ("scaling", "scaling_none"):
        sc = _json(RESULTS / name / "run.json")
        out.append(
            [
                f"`{name}`",
                sc["started"],
                sc["git"]["commit"][:7],
                f"{sc['time_rule']} ({sc['max_time_limit']:g} s)",
                str(sc["seed"]),
                str(sc["workers"]),
            ]
        )
    return (
        "What each results folder holds (the last run its `run.json` records; `–`: not recorded). "
        "Every run used the 2-core machine; none of the `run.json` files records the machine's "
        "load.\n\n"
        + table(
            ["results", "recorded", "commit", "time limit", "seed", "workers"],
            ["---"] * 6,
            out,
        )
    )


def _against_best(r: dict[str, Any]) -> list[str]:
    """A CPMP row's first cells: instance, size, objective, best known, per cent above."""
    return [
        r["instance"],
        num(r["n"], 0),
        str(r["p"]),
        num(r["objective"], 1),
        num(r["best"], 1),
        pct(r["gap_pct"]),
    ]


def render_stefanello60() -> str:
    """The tight-capacity TSPLIB-derived family (issue 15's target) at 60 s an instance,
    beside the previous engine's run (``stefanello60_before``) where it is kept."""
    folder = RESULTS / "stefanello60"
    run = _last_run(folder / "run.json")
    rows = cpmp_rows("stefanello60")
    before = {}
    before_run = None
    if (RESULTS / "stefanello60_before" / "summary.csv").exists():
        before = {r["instance"]: r for r in cpmp_rows("stefanello60_before")}
        before_run = _last_run(RESULTS / "stefanello60_before" / "run.json")
    gaps = sorted(r["gap_pct"] for r in rows)
    median = statistics.median(gaps)
    within = sum(g <= 1.0 for g in gaps)
    heads = ["instance", "n", "p", "objective", "best known", "above best %"]
    aligns = ["---", "---:", "---:", "---:", "---:", "---:"]
    if before:
        heads.append("before %")
        aligns.append("---:")
    heads += ["to best s", "status"]
    aligns += ["---:", "---"]
    out_rows = []
    for r in rows:
        cells = _against_best(r)
        if before:
            b = before.get(r["instance"])
            cells.append("–" if b is None else pct(b["gap_pct"]))
        cells += [seconds(r["to_best"]), r["status"]]
        out_rows.append(cells)
    text = (
        f"`{command(run)}`\n"
        f"(`bench/results/stefanello60/`: {_run_line(run, 'per instance')}). "
        f"{len(rows)} instances: **{within} of {len(rows)} within 1 % of the best known, median "
        f"{pct(median)} %, worst {pct(gaps[-1])} %** (target: every one within 1 % in 5 minutes, "
        "median within 0.5 %)."
    )
    if before:
        old = sorted(b["gap_pct"] for b in before.values())
        text += (
            " *before %*: the engine before issue 15's search "
            "(`bench/results/stefanello60_before/`, "
            f"commit {(before_run or {}).get('engine', {}).get('git_head', '–')[:7]}): "
            f"{sum(g <= 1.0 for g in old)} of {len(old)} within 1 %, median "
            f"{pct(statistics.median(old))} %, worst {pct(old[-1])} %."
        )
    return text + "\n\n" + table(heads, aligns, out_rows)


def target_300_met(rows, family, gaps) -> bool:
    """Whether the 300 s target holds: every instance of the family run, each within 1 %,
    the median within 0.5 %."""
    ran = {r["instance"] for r in rows}
    return ran >= set(family) and gaps[-1] <= 1.0 and statistics.median(gaps) <= 0.5


def render_stefanello300() -> str:
    """The same family at 300 s an instance (issue 15's own limit), beside the 60 s run."""
    folder = RESULTS / "stefanello300"
    run = _last_run(folder / "run.json")
    rows = cpmp_rows("stefanello300")
    at60 = {r["instance"]: r for r in cpmp_rows("stefanello60")}
    gaps = sorted(r["gap_pct"] for r in rows)
    within = sum(g <= 1.0 for g in gaps)
    not_run = [name for name in at60 if name not in {r["instance"] for r in rows}]
    body = [
        [
            *_against_best(r),
            pct(at60[r["instance"]]["gap_pct"]) if r["instance"] in at60 else "–",
            num(r["lower_bound"], 1),
            seconds(r["to_best"]),
            seconds(r["seconds"]),
        ]
        for r in rows
    ]
    text = (
        f"`{command(run)}`\n"
        f"(`bench/results/stefanello300/`: {_run_line(run, 'per instance')}). "
        f"**{within} of {len(rows)} within 1 % of the best known, median "
        f"{pct(statistics.median(gaps))} %, worst {pct(gaps[-1])} %** (target: every instance "
        "within 1 % in 5 minutes, median within 0.5 %: "
        + ("met" if target_300_met(rows, at60, gaps) else "not met")
        + "). *at 60 s*: the 60 s run above (an earlier commit)."
    )
    if not_run:
        text += f" Not run at 300 s: {names(not_run)}."
    heads = [
        "instance",
        "n",
        "p",
        "objective",
        "best known",
        "above best %",
        "at 60 s %",
        "lower bound",
        "to best s",
        "seconds",
    ]
    aligns = ["---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:"]
    return text + "\n\n" + table(heads, aligns, body)


def render_best_known() -> str:
    """The best layout any method found per sample, and the short runs measured against it."""
    folder = RESULTS / "best_known"
    best = _csv(folder / "summary.csv")
    runs = _csv(folder / "runs.csv")
    lines = [
        f"`bench/results/best_known/` ({_best_known_commands(runs)}; each layout re-checked and "
        "its travel recomputed in straight-line metres, as `bench/peers.py` measures it; 2 "
        "workers on the 2-CPU machine, whose load is not recorded):",
        "",
        table(
            [
                "sample",
                "schools",
                "clusters",
                "best known km",
                "found by",
                "seed",
                "run s",
                "recorded",
                "commit",
            ],
            ["---", "---:", "---:", "---:", "---", "---:", "---:", "---", "---"],
            [
                [
                    r["sample"],
                    num(_f(r["n"]), 0),
                    r["p"],
                    num(_f(r["total_km"]), 1),
                    r["method"],
                    r["seed"],
                    num(_f(r["seconds"]), 0),
                    r["recorded_utc"],
                    r["commit"],
                ]
                for r in best
            ],
        ),
        "",
        "Every run so far (`runs.csv`):",
        "",
        table(
            ["sample", "method", "seed", "run s", "total km", "valid", "recorded", "commit"],
            ["---", "---", "---:", "---:", "---:", "---", "---", "---"],
            [
                [
                    r["sample"],
                    r["method"],
                    r["seed"],
                    num(_f(r["seconds"]), 0),
                    num(_f(r["total_km"]), 1) if r["total_km"] else "–",
                    r["valid"],
                    r["recorded_utc"],
                    r["commit"],
                ]
                for r in runs
            ],
        ),
    ]
    short = sorted(folder.glob("short_*s.csv"))
    for path in short:
        rows = _csv(path)
        limit = rows[0]["time_limit"]
        lines += [
            "",
            f"The engine at {_f(limit):g} s against it (`{path.name}`, "
            f"`.venv/bin/python bench/best_known.py --short {_f(limit):g} --seeds "
            f"{' '.join(sorted({r['seed'] for r in rows}, key=int))} --samples "
            f"{' '.join(dict.fromkeys(r['sample'] for r in rows))}`):",
            "",
        ]
        by_sample: dict[str, list[dict[str, str]]] = {}
        for r in rows:
            by_sample.setdefault(r["sample"], []).append(r)
        for sample, group in by_sample.items():
            above = [_f(r["above_best_pct"]) for r in group]
            kms = [_f(r["total_km"]) for r in group]
            spread = 100.0 * (max(kms) - min(kms)) / min(kms)
            lines.append(
                f"- **{sample}: {pct(min(above))}–{pct(max(above))} % above the best known** "
                f"({', '.join(num(k, 1) for k in kms)} km for seeds "
                f"{', '.join(r['seed'] for r in group)}; best known "
                f"{num(_f(group[0]['best_known_km']), 1)} km); spread across seeds "
                f"{pct(spread)} % (targets: at most 0.3 % above, spread under 0.5 %: "
                + ("met" if max(above) <= 0.3 and spread < 0.5 else "not met")
                + ")."
            )
    return "\n".join(lines)


def _best_known_commands(runs: list[dict[str, str]]) -> str:
    """The long ``best_known.py`` commands behind ``runs.csv``: samples run alike, grouped."""
    long = [r for r in runs if _f(r["seconds"]) >= 300]
    plan: dict[str, tuple[str, ...]] = {}
    for r in long:
        plan[r["sample"]] = tuple(sorted({*plan.get(r["sample"], ()), r["method"]}))
    seconds = {round(_f(r["seconds"]), -2) for r in long}
    seeds = " ".join(sorted({r["seed"] for r in long}))
    groups: dict[tuple[str, ...], list[str]] = {}
    for sample, methods in plan.items():
        groups.setdefault(methods, []).append(sample)
    out = []
    for methods, samples in groups.items():
        only = "" if methods == ("engine", "restricted") else f" --methods {' '.join(methods)}"
        out.append(
            f"`.venv/bin/python bench/best_known.py --samples {' '.join(samples)} --seconds "
            f"{max(seconds):g} --seeds {seeds}{only}`"
        )
    return "; ".join(out)


PMEDCAP_SEEDS = (0, 1, 2)


def render_pmedcap_seeds() -> str:
    """pmedcap1 at 10 s for seeds 0, 1 and 2 (issue 15, item 5)."""
    runs = {seed: cpmp_rows(f"pmedcap1_seed{seed}") for seed in PMEDCAP_SEEDS}
    first = _last_run(RESULTS / f"pmedcap1_seed{PMEDCAP_SEEDS[0]}" / "run.json")
    limit = float(first["time_limit"])
    by_instance = {r["instance"]: {} for r in runs[PMEDCAP_SEEDS[0]]}
    for seed, rows in runs.items():
        for r in rows:
            by_instance.setdefault(r["instance"], {})[seed] = r
    heads = ["instance", "optimum"]
    for seed in PMEDCAP_SEEDS:
        heads += [f"seed {seed}", "to best s", "status"]
    body = []
    for name, per in by_instance.items():
        row = [name, obj(next(iter(per.values()))["best"])]
        for seed in PMEDCAP_SEEDS:
            r = per.get(seed)
            if r is None:
                row += ["–", "–", "–"]
                continue
            mark = "" if at_best(r["objective"], r["best"]) else " ✗"
            row += [obj(r["objective"]) + mark, f"{r['to_best']:.1f}", r["status"]]
        body.append(row)
    records = [_last_run(RESULTS / f"pmedcap1_seed{s}" / "run.json") for s in runs]
    # the twenty files as the shell would list them from the glob
    loop = re.sub(
        r"(\.\./shared/benchmarks/pmedcap1/)pmedcap\d\d\.txt( \1pmedcap\d\d\.txt)*",
        r"\1pmedcap*.txt",
        command(records[0]),
    )
    loop = loop.replace(f"--seed {records[0]['seed']}", "--seed $N").replace(
        f"pmedcap1_seed{records[0]['seed']}", "pmedcap1_seed$N"
    )
    heads_of = {r.get("engine", {}).get("git_head", "")[:7] for r in records}
    lines = [
        f"`for N in {' '.join(str(s) for s in runs)}; do {loop}; done`",
        f"(`bench/results/pmedcap1_seed{{{','.join(str(s) for s in runs)}}}/`, the last entry of "
        f"each `run.json`: recorded {when(records[0]['started_utc'])} to "
        f"{when(records[-1]['started_utc'])}, commit {', '.join(sorted(heads_of))}, time limit "
        f"{limit:g} s per instance, {first['workers']} workers; {load_not_recorded()}). "
        "✗: above the optimum.",
        "",
        table(heads, ["---", "---:"] + ["---:", "---:", "---"] * len(PMEDCAP_SEEDS), body),
        "",
    ]
    every = True
    for seed, rows in runs.items():
        hits = [r for r in rows if at_best(r["objective"], r["best"])]
        missed = [r for r in rows if not at_best(r["objective"], r["best"])]
        proven = [r for r in rows if r["status"] == "optimal"]
        over = [r for r in rows if r["seconds"] > limit + 0.5]
        med = statistics.median(r["to_best"] for r in rows)
        every = every and not missed and not over and med < 2.0
        lines.append(
            f"- **seed {seed}: {len(hits)} of {len(rows)} at the optimum**, {len(proven)} proven; "
            f"time to the returned layout median {med:.1f} s, max "
            f"{max(r['to_best'] for r in rows):.1f} s"
            + (
                "; missed: " + names([f"{r['instance']} ({obj(r['objective'])})" for r in missed])
                if missed
                else ""
            )
            + (f"; {len(over)} over the limit" if over else "")
            + "."
        )
    lines.append(
        '- **Target "at the optimum on 20 of 20 within 10 s for seeds 0, 1 and 2, median under '
        '2 s": ' + ("met.**" if every else "not met.**")
    )
    return "\n".join(lines)


BLOCKS: dict[str, Callable[[], str]] = {
    "pmedcap-seeds": render_pmedcap_seeds,
    "best-known": render_best_known,
    "stefanello60": render_stefanello60,
    "stefanello300": render_stefanello300,
    "runs": render_runs,
    "cpmp": render_cpmp,
    "sjc60": render_sjc60,
    "peers": render_peers,
    "peers-kentucky": render_peers_kentucky,
    "lp": render_lp,
    "lp-notes": render_lp_notes,
    "interactive": render_interactive,
    "kentucky-full": render_kentucky_full,
    "quality": render_quality,
    "scaling": render_scaling,
    "scaling-none": render_scaling_none,
    "profiling": render_profiling,
    "readme": render_readme,
}


# --------------------------------------------------------------------------------------
# rewriting and checking

WIDTH = 96
_CODE = re.compile(r"`[^`]*`")


def wrap(markdown: str, width: int = WIDTH) -> str:
    """Prose lines and bullets wrapped at ``width`` (tables, and lines that are a single code
    span such as a command, are left whole; spaces inside code spans and before a unit never
    break)."""
    out = []
    for line in markdown.split("\n"):
        if len(line) <= width or line.startswith("|") or _CODE.fullmatch(line.strip()):
            out.append(line)
            continue
        lead = "  " if line.startswith(("- ", "  ")) else ""
        protected = _CODE.sub(lambda m: m.group(0).replace(" ", "\0"), line)
        protected = re.sub(r" (%|×|s\b|km\b|MB\b)", "\0\\1", protected)
        lines = textwrap.wrap(
            protected.strip() if lead == "  " and line.startswith("  ") else protected,
            width=width,
            initial_indent=lead if line.startswith("  ") else "",
            subsequent_indent=lead,
            break_long_words=False,
            break_on_hyphens=False,
        )
        out.extend(x.replace("\0", " ") for x in lines)
    return "\n".join(out)


def expected(text: str, cache: dict[str, str] | None = None) -> str:
    """``text`` with every marker block's body rendered from the result files."""
    cache = {} if cache is None else cache

    def sub(m: re.Match[str]) -> str:
        name = m.group("name")
        if name not in BLOCKS:
            raise KeyError(f"unknown block {name!r} (known: {', '.join(BLOCKS)})")
        if name not in cache:
            cache[name] = wrap(BLOCKS[name]().rstrip("\n")) + "\n"
        return m.group("open") + cache[name] + m.group("close")

    return BLOCK.sub(sub, text)


def blocks_in(text: str) -> list[str]:
    return [m.group("name") for m in BLOCK.finditer(text)]


def diffs(paths: tuple[Path, ...] = DOCS) -> dict[Path, str]:
    """For each document that differs from the result files, the unified diff."""
    cache: dict[str, str] = {}
    out = {}
    for path in paths:
        text = path.read_text(encoding="utf-8")
        want = expected(text, cache)
        if want != text:
            rel = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
            out[path] = "".join(
                difflib.unified_diff(
                    text.splitlines(keepends=True),
                    want.splitlines(keepends=True),
                    fromfile=f"{rel} (as committed)",
                    tofile=f"{rel} (from bench/results)",
                )
            )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="rewrite nothing; print the diff and exit 1 when the documents differ",
    )
    parser.add_argument("docs", nargs="*", type=Path, help="documents (default: both READMEs)")
    args = parser.parse_args(argv)
    paths = tuple(p.resolve() for p in args.docs) or DOCS
    found = diffs(paths)
    if args.check:
        for text in found.values():
            sys.stdout.write(text)
        if found:
            print(
                f"{len(found)} document(s) differ from bench/results; run "
                "`python bench/report.py` to rewrite the marked blocks",
                file=sys.stderr,
            )
        return 1 if found else 0
    cache: dict[str, str] = {}
    for path in found:
        # read again right before writing: others edit these files too
        text = path.read_text(encoding="utf-8")
        path.write_text(expected(text, cache), encoding="utf-8")
        print(f"rewrote {path.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
