"""A static map and a self-contained HTML report of a layout.

Both work offline: the map is drawn with matplotlib (Agg backend, no tiles), and
the report embeds the map as a ``data:`` URI and carries its own CSS, so the
single HTML file can be mailed on its own.
"""

from __future__ import annotations

import base64
import io
import math
from pathlib import Path
from typing import Any

# figures are drawn on matplotlib's Agg canvas directly (no pyplot), so importing
# the package leaves the user's backend alone (plots still show in Jupyter)
import jinja2
import matplotlib
import matplotlib.patheffects as path_effects
import networkx as nx
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar
from scipy.spatial import cKDTree

from ..analysis.baselines import contrast_price
from ..analysis.metrics import cluster_summary, contrast_summary, distance_scale, overall_summary
from ..analysis.quality import Quality
from ..analysis.reform import has_previous, moves_summary
from ..analysis.reform import moves as reform_moves
from ..model.layout import Layout
from .tables import cell_text, decimals_needed, flat_rows, length_text, rounded

__all__ = ["cluster_colours", "cluster_graph", "render_map", "write_report"]

_FIGSIZE = (10.0, 10.0)
_DPI = 110
_MAX_LABELLED = 200


def _palette() -> list[str]:
    """Twelve distinct colours that read on white: tab10 without its grey, three tab20b darks."""
    tab10 = [to_hex(c) for c in matplotlib.colormaps["tab10"].colors]
    tab20b = [to_hex(c) for c in matplotlib.colormaps["tab20b"].colors]
    return [c for c in tab10 if c != "#7f7f7f"] + [tab20b[0], tab20b[4], tab20b[16]]


#: clusters are neighbours when a member of one is among this many nearest members of the other
NEIGHBOURS = 8


def cluster_graph(layout: Layout) -> nx.Graph:
    """Clusters as nodes, joined when they touch on the map.

    Two clusters touch when a member of one is among the :data:`NEIGHBOURS`
    nearest members (by straight line) of a member of the other.
    """
    centres = layout.centres
    labels = centres["cluster"].to_numpy(dtype=np.int64)
    graph = nx.Graph()
    graph.add_nodes_from(int(k) for k in np.unique(labels))
    if graph.number_of_nodes() > 1:
        xy = np.column_stack([centres.geometry.x.to_numpy(), centres.geometry.y.to_numpy()])
        _, idx = cKDTree(xy).query(xy, k=min(NEIGHBOURS + 1, len(xy)))  # + itself
        idx = np.asarray(idx).reshape(len(xy), -1)
        a = np.repeat(labels, idx.shape[1])
        b = labels[idx.ravel()]
        apart = a != b
        graph.add_edges_from(zip(a[apart].tolist(), b[apart].tolist(), strict=True))
    return graph


def cluster_colours(layout: Layout) -> dict[int, str]:
    """A colour per cluster such that clusters that touch get different colours.

    The clusters' :func:`cluster_graph` is coloured by
    ``networkx.greedy_color(graph, strategy="largest_first")`` and the colours
    are mapped onto a qualitative palette of twelve, then spread over it (a
    cluster moves to a less used colour only if no neighbour has it). Greedy
    colouring needs at most one colour more than the most neighbours a cluster
    has, a handful on a map; should it need more than twelve, the palette is
    reused (and two neighbours may then share a colour).

    Parameters
    ----------
    layout
        The layout to colour.

    Returns
    -------
    dict
        Cluster number → hex colour.
    """
    palette = _palette()
    graph = cluster_graph(layout)
    greedy = nx.greedy_color(graph, strategy="largest_first")
    colour = {c: i % len(palette) for c, i in greedy.items()}
    # Greedy colouring uses the fewest colours it can (one for clusters with no
    # neighbours); spread them over the palette: in the same order, each cluster
    # takes the least used colour none of its neighbours has, which keeps it proper.
    used = np.bincount(list(colour.values()), minlength=len(palette))
    for c in greedy:  # largest_first's order
        taken = {colour[q] for q in graph[c]}
        free = [i for i in range(len(palette)) if i not in taken]
        if free:
            best = min(free, key=lambda i: (used[i], i))
            used[colour[c]] -= 1
            used[best] += 1
            colour[c] = best
    return {int(c): palette[i] for c, i in sorted(colour.items())}


def _nice_length(span_km: float) -> float:
    """A round scale-bar length of about a fifth of ``span_km``: 1, 2 or 5 × 10ⁿ."""
    target = max(span_km / 5.0, 1e-3)
    power = 10.0 ** math.floor(math.log10(target))
    for step in (5.0, 2.0, 1.0):
        if step * power <= target:
            return step * power
    return power


def _extent(xk: np.ndarray, yk: np.ndarray) -> tuple[float, float, float, float]:
    """Axis limits around the points with a margin, at least 1 km across."""
    if len(xk) == 0:
        return 0.0, 1.0, 0.0, 1.0
    span = max(float(np.ptp(xk)), float(np.ptp(yk)), 1.0)
    pad = 0.04 * span
    cx, cy = (xk.min() + xk.max()) / 2.0, (yk.min() + yk.max()) / 2.0
    half_x = max(float(np.ptp(xk)), 1.0) / 2.0 + pad
    half_y = max(float(np.ptp(yk)), 1.0) / 2.0 + pad
    return cx - half_x, cx + half_x, cy - half_y, cy + half_y


def _place_labels(
    fig: Figure,
    ax: Any,
    xy: np.ndarray,
    texts: list[str],
    fontsize: float,
    obstacles: np.ndarray,
    star_px: float,
) -> None:
    """Label each point, choosing among eight positions the one that hides least.

    A label costs for overlapping labels already placed (most), venue stars and
    member dots (``obstacles``, in data coordinates), and for leaving the axes.
    """
    ax.apply_aspect()
    to_px = ax.transData.transform
    anchor = to_px(xy)
    dots = to_px(obstacles) if len(obstacles) else np.zeros((0, 2))
    box = ax.get_window_extent()
    pt = fig.dpi / 72.0
    h = fontsize * pt
    g = 2.5 * pt + star_px / 2.0
    placed: list[tuple[float, float, float, float]] = []
    # most crowded first, so that they get the best places
    if len(xy) > 1:
        near, _ = cKDTree(anchor).query(anchor, k=min(4, len(xy)))
        order = np.argsort(np.asarray(near).reshape(len(xy), -1)[:, -1], kind="stable")
    else:
        order = np.arange(len(xy))
    halo = [path_effects.withStroke(linewidth=2.5, foreground="white")]
    for i in order:
        w = 0.68 * fontsize * pt * len(texts[i]) + 2.0
        candidates = [
            (g * 0.7, g * 0.7),
            (g * 0.7, -h - g * 0.7),
            (-w - g * 0.7, g * 0.7),
            (-w - g * 0.7, -h - g * 0.7),
            (-w / 2.0, g),
            (-w / 2.0, -h - g),
            (g, -h / 2.0),
            (-w - g, -h / 2.0),
        ]
        best, best_cost = candidates[0], math.inf
        for rank, (dx, dy) in enumerate(candidates):
            x0, y0 = anchor[i, 0] + dx, anchor[i, 1] + dy
            x1, y1 = x0 + w, y0 + h
            cost = 0.01 * rank
            for a0, b0, a1, b1 in placed:
                ox = min(x1, a1) - max(x0, a0)
                oy = min(y1, b1) - max(y0, b0)
                if ox > 0 and oy > 0:
                    cost += 10.0 + ox * oy / (w * h) * 10.0
            if len(dots):
                inside = (
                    (dots[:, 0] > x0) & (dots[:, 0] < x1) & (dots[:, 1] > y0) & (dots[:, 1] < y1)
                )
                cost += 0.5 * float(inside.sum())
            if x0 < box.x0 or x1 > box.x1 or y0 < box.y0 or y1 > box.y1:
                cost += 50.0
            if cost < best_cost:
                best, best_cost = (dx, dy), cost
        dx, dy = best
        placed.append(
            (anchor[i, 0] + dx, anchor[i, 1] + dy, anchor[i, 0] + dx + w, anchor[i, 1] + dy + h)
        )
        ax.annotate(
            texts[i],
            tuple(xy[i]),
            xytext=(dx / pt, dy / pt),
            textcoords="offset points",
            ha="left",
            va="bottom",
            fontsize=fontsize,
            fontweight="bold",
            color="#222222",
            path_effects=halo,
            zorder=4,
            annotation_clip=False,
        )


def _draw(layout: Layout, title: str | None) -> Figure:
    centres = layout.centres
    placed = centres.geometry.notna() & ~centres.geometry.is_empty
    centres = centres.loc[placed.to_numpy()]
    n = len(centres)

    x = centres.geometry.x.to_numpy()
    y = centres.geometry.y.to_numpy()
    labels = centres["cluster"].to_numpy(dtype=np.int64)
    is_venue = centres["is_venue"].to_numpy(dtype=bool)
    x0 = math.floor(x.min() / 1000.0) * 1000.0 if n else 0.0
    y0 = math.floor(y.min() / 1000.0) * 1000.0 if n else 0.0
    xk = (x - x0) / 1000.0
    yk = (y - y0) / 1000.0
    x_lo, x_hi, y_lo, y_hi = _extent(xk, yk)

    # a wide area gets a shorter figure rather than empty bands above and below
    width = _FIGSIZE[0]
    ratio = (y_hi - y_lo) / (x_hi - x_lo)
    height = float(np.clip(0.86 * width * ratio + 1.5, 5.5, _FIGSIZE[1]))
    fig = Figure(figsize=(width, height), dpi=_DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)

    colours = cluster_colours(layout) if n else {}
    point_colour = np.array([colours[int(k)] for k in labels], dtype=object)

    # a thin line from each member to its venue
    venue_pos = {int(k): i for i, k in enumerate(labels) if is_venue[i]}
    vi = np.array([venue_pos.get(int(k), i) for i, k in enumerate(labels)], dtype=np.int64)
    segments = np.stack(
        [np.column_stack([xk, yk]), np.column_stack([xk[vi], yk[vi]])], axis=1
    ).reshape(-1, 2, 2)
    joined = vi != np.arange(n)
    line_width = float(np.clip(25.0 / math.sqrt(max(n, 1)), 0.3, 1.0))
    ax.add_collection(
        LineCollection(
            segments[joined],
            colors=list(point_colour[joined]),
            linewidths=line_width,
            alpha=0.7,
            zorder=1,
        )
    )

    member_size = float(np.clip(9000.0 / max(n, 1), 2.0, 36.0))
    venue_size = float(np.clip(member_size * 4.0, 14.0, 160.0))
    edge = float(np.clip(member_size / 40.0, 0.15, 0.6))
    members = ~is_venue
    ax.scatter(
        xk[members],
        yk[members],
        s=member_size,
        c=list(point_colour[members]),
        edgecolors="white",
        linewidths=edge,
        zorder=2,
    )
    ax.scatter(
        xk[is_venue],
        yk[is_venue],
        s=venue_size,
        c=list(point_colour[is_venue]),
        marker="*",
        edgecolors="black",
        linewidths=max(edge, 0.4),
        zorder=3,
    )

    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_lo, y_hi)
    ax.set_aspect("equal", adjustable="box")

    # scale bar, lower left, on a white box so points do not hide it
    bar = _nice_length(x_hi - x_lo)
    ax.add_artist(
        AnchoredSizeBar(
            ax.transData,
            bar,
            length_text(bar),
            loc="lower left",
            pad=0.4,
            borderpad=0.8,
            sep=4,
            size_vertical=0,
            frameon=True,
            fontproperties={"size": 9},
        )
    )

    ax.set_xlabel(f"Easting, km from {x0:,.0f} m")
    ax.set_ylabel(f"Northing, km from {y0:,.0f} m")
    ax.grid(True, color="#dddddd", linewidth=0.5, zorder=0)
    ax.set_axisbelow(True)
    ax.tick_params(labelsize=9)

    n_clusters = len(colours)
    if title is None:
        source = Path(layout.source).name if layout.source else ""
        title = (
            f"{n_clusters} cluster{'s' if n_clusters != 1 else ''} of "
            f"{n} centre{'s' if n != 1 else ''}" + (f" — {source}" if source else "")
        )
    ax.set_title(title, fontsize=12)
    factor, suffix = distance_scale(layout.unit)
    distance = pd.to_numeric(centres["distance"], errors="coerce")
    subtitle = (
        f"total to venue {distance.sum() * factor:,.1f} {suffix}, "
        f"gap {100.0 * layout.gap:.2f}% ({layout.status})"
    )
    # legend and figures below the axes, where they cannot hide a cluster
    legend = [
        Line2D([], [], marker="o", linestyle="", color="#555555", label="centre", markersize=5),
        Line2D(
            [],
            [],
            marker="*",
            linestyle="",
            color="#555555",
            markeredgecolor="black",
            label="venue",
            markersize=11,
        ),
    ]
    fig.text(0.02, 0.01, subtitle, ha="left", va="bottom", fontsize=9, color="#444444")
    fig.legend(
        handles=legend,
        loc="lower right",
        bbox_to_anchor=(0.99, 0.0),
        ncol=2,
        fontsize=9,
        frameon=False,
    )
    fig.tight_layout(rect=(0.0, 0.35 / height, 1.0, 1.0))

    if 0 < n_clusters <= _MAX_LABELLED:
        fontsize = 9.0 if n_clusters <= 60 else (7.5 if n_clusters <= 120 else 6.5)
        venues = np.flatnonzero(is_venue)
        _place_labels(
            fig,
            ax,
            np.column_stack([xk[venues], yk[venues]]),
            [str(int(labels[i])) for i in venues],
            fontsize,
            np.column_stack([xk, yk]),
            star_px=math.sqrt(venue_size) * fig.dpi / 72.0,
        )
    return fig


def render_map(layout: Layout, path: str | Path, *, title: str | None = None) -> Path:
    """Draw the layout as a static PNG.

    Members are dots coloured by cluster (neighbouring clusters get different
    colours), joined to their venue by a thin line; venues are edged stars,
    labelled with the cluster number when there are at most 200 clusters. Axes
    are in km from a round origin, with a scale bar. No tiles, no network.

    Parameters
    ----------
    layout
        The layout to draw.
    path
        Where to write the PNG (parent folders are created).
    title
        The title; by default the number of clusters and centres and the source file.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = _draw(layout, title)
    fig.savefig(path, format="png", dpi=_DPI)
    return path


_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Clusters — {{ source }}</title>
<style>
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ccc; padding-bottom: 0.2rem; }
.sub { color: #555; margin-top: 0; }
.headline { display: grid; grid-template-columns: repeat(auto-fill, minmax(13rem, 1fr));
            gap: 0.6rem; background: #f4f6f8; border: 1px solid #d8dde2;
            border-radius: 6px; padding: 1rem; }
.headline div { display: flex; flex-direction: column; }
.headline .k { font-size: 0.8rem; color: #555; text-transform: uppercase; letter-spacing: 0.03em; }
.headline .v { font-size: 1.15rem; font-weight: 600; }
.optimal { color: #1a7f37; }
.feasible { color: #9a6700; }
img.map { max-width: 100%; height: auto; border: 1px solid #ddd; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.85rem; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f4f6f8; position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:nth-child(even) td { background: #fafbfc; }
.note { color: #555; font-size: 0.9rem; }
</style>
</head>
<body>
{%- macro td(cell, num) %}<td{% if num %} class="num"{% endif %}>{{ cell }}</td>{% endmacro %}
{%- macro data_table(t) %}
<table>
<thead><tr>{% for h in t.header %}<th>{{ h }}</th>{% endfor %}</tr></thead>
<tbody>
{%- for row in t.rows %}
<tr>{% for cell, num in row %}{{ td(cell, num) }}{% endfor %}</tr>
{%- endfor %}
</tbody>
</table>
{%- endmacro %}
<h1>Clusters of {{ source }}</h1>
<p class="sub">{{ overall.n_clusters }} clusters of {{ overall.n_centres }} centres
{%- if overall.n_excluded %}, {{ overall.n_excluded }} excluded{% endif %}.</p>

<div class="headline">
{%- for item in headline %}
  <div><span class="k">{{ item.label }}</span>
       <span class="v{% if item.cls %} {{ item.cls }}{% endif %}">{{ item.value }}</span></div>
{%- endfor %}
</div>
<p class="note">The lower bound is proven: no layout with these settings can have a total below
it, so the gap says how far from the best possible this layout can at most be.
{%- if quality and quality.weighted %} With weights beside travel, that bound counts every
part but the member → venue costs as zero, so this gap tells little: the table below measures
each part against a reference of its own.{% elif weighted %} With contrast weights the bound
covers travel only (deviations are never negative), so the gap over-states the distance from
the best layout.{% endif %}</p>

{% if quality -%}
<h2>Quality per term</h2>
<p>Each weighted part of the objective beside its own reference. <b>Proven bound</b>: no
layout of these {{ overall.n_clusters }} clusters and sizes under these rules has less
(travel: the engine's bound for travel alone under the same rules; categorical contrast:
whole schools per category; themes and partnerships: groups larger than a cluster must be cut;
0 where nothing better is known). <b>Best found</b>: the least value the same engine reached
with that part alone weighted, in a short run (a heuristic result, not a bound); the
reference is the best found when there is one, else the bound, and the
<b>proven minimum</b> where the two meet. Room left = value − reference; weighted, in
{{ distance_unit }}, it says which part has most to give.
{%- if quality.references == "skipped" %} Best-found references were not computed
(<code>--quality</code> computes them).
{%- elif quality.references == "computed" %} The reference runs took {{ quality.seconds }} s
(budget {{ quality.budget }} s: half the time limit).{% endif %}</p>
<div class="scroll">
{{ data_table(quality.table) }}
</div>
<p class="note">{{ quality.summary }}</p>
{%- endif %}

<h2>Map</h2>
{% if map_uri -%}
<img class="map" src="{{ map_uri }}" alt="Map of the clusters">
{%- else -%}
<p>No map.</p>
{%- endif %}

{% if contrast.rows -%}
<h2>Mix (contrast)</h2>
<p>How far clusters are from the area's own mix. Numeric attributes: Σ over clusters of
size × |cluster mean − area mean| (school × units); categorical: schools that would have to
change category for every cluster to mirror the area. Weight 0: reported, not optimised.</p>
{{ data_table(contrast) }}
{%- endif %}

{% if baselines.rows -%}
<h2>Baselines</h2>
<p>This layout beside the layouts people would otherwise use, measured with the same
distances ({{ distance_unit }}) and the same objective; "outside size bounds" counts clusters
whose size breaks the bounds this layout keeps.</p>
<div class="scroll">
{{ data_table(baselines) }}
</div>
{% if prices.rows -%}
<p>What the weights bought: for each part of the objective besides travel, the
{{ distance_unit }} of extra total travel this layout spends, compared with the geography-only
layout, for each unit of that part it removes (blank where it removed none; the same extra
travel buys every part at once, so the rows do not add up).</p>
{{ data_table(prices) }}
{%- endif %}
{%- endif %}

{% if reforming -%}
<h2>Re-forming: who moved and why</h2>
<p>Compared with the previous layout ({{ reforming.source }}):
{{ reforming.counts.stayed }} centres stayed in their cluster
{%- if reforming.share %} ({{ reforming.share }} of the previous layout's members){% endif %},
{{ reforming.counts.moved }} moved, {{ reforming.counts.joined }} joined and
{{ reforming.counts.left }} left. A cluster keeps its previous number when it keeps most of
that cluster's members, so "stayed" means the same number as before. Each reason is derived
from the data; "would cost" is the exact change of the weighted total if the centre moved
back (a swap when the size bounds forbid a plain move).</p>
{% if reforming.table.rows -%}
<div class="scroll">
{{ data_table(reforming.table) }}
</div>
{%- endif %}
{%- endif %}

<h2>Clusters</h2>
<div class="scroll">
{{ data_table(table) }}
</div>

<h2>Excluded centres</h2>
{% if excluded.rows -%}
<div class="scroll">
{{ data_table(excluded) }}
</div>
{%- else -%}
<p>none</p>
{%- endif %}

<h2>How this was made</h2>
<p>Source: {{ source_path }}. Distances to the venue are in {{ distance_unit }}
.</p>
<table>
<thead><tr><th>Parameter</th><th>Value</th></tr></thead>
<tbody>
{%- for key, value in params %}
<tr><td>{{ key }}</td><td>{{ value }}</td></tr>
{%- else %}
<tr><td colspan="2">none recorded</td></tr>
{%- endfor %}
</tbody>
</table>
{% if stats -%}
<h3>Solver figures</h3>
<table>
<thead><tr><th>Figure</th><th>Value</th></tr></thead>
<tbody>
{%- for key, value in stats %}
<tr><td>{{ key }}</td><td>{{ value }}</td></tr>
{%- endfor %}
</tbody>
</table>
{%- endif %}
</body>
</html>
"""

_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
_TIME_KEYS = (
    "seconds",
    "total_seconds",
    "solve_seconds",
    "wall_seconds",
    "elapsed_seconds",
    "time_seconds",
    "time",
)


def _table(frame: pd.DataFrame) -> dict[str, Any]:
    """Header and cells of a table; float columns share one number of decimals."""
    header = [str(c).replace("_", " ") for c in frame.columns]
    decimals = [
        decimals_needed(frame[c]) if pd.api.types.is_float_dtype(frame[c]) else 3
        for c in frame.columns
    ]
    rows = [
        [cell_text(v, d) for v, d in zip(row, decimals, strict=True)]
        for row in frame.itertuples(index=False, name=None)
    ]
    return {"header": header, "rows": rows}


def _headline(layout: Layout, overall: dict[str, Any]) -> list[dict[str, str]]:
    suffix = overall["distance_unit"]
    factor, _ = distance_scale(layout.unit)
    weighted = any(layout.params.get("weights", {}).get("contrast", {}).values())

    def dist(key: str) -> str:
        value = overall.get(f"{key}_{suffix}")
        return "—" if value is None else f"{value:,.1f} {suffix}"

    seconds = next((layout.stats[k] for k in _TIME_KEYS if k in layout.stats), None)
    seed = layout.params.get("seed")
    return [
        {"label": "Centres", "value": f"{overall['n_centres']:,}", "cls": ""},
        {"label": "Clusters", "value": f"{overall['n_clusters']:,}", "cls": ""},
        {
            "label": "Sizes",
            "value": f"{overall['size_min']}–{overall['size_max']} "
            f"(mean {overall['size_mean']:.1f})",
            "cls": "",
        },
        {"label": "Total travel to venue", "value": dist("total_to_venue"), "cls": ""},
        {"label": "Mean travel to venue", "value": dist("mean_to_venue"), "cls": ""},
        {"label": "Longest travel to venue", "value": dist("max_to_venue"), "cls": ""},
        {
            "label": "Objective (weighted)" if weighted else "Objective (total to venue)",
            "value": f"{layout.objective * factor:,.1f} {suffix}",
            "cls": "",
        },
        {
            "label": "Lower bound (proven)",
            "value": f"{layout.lower_bound * factor:,.1f} {suffix}",
            "cls": "",
        },
        {"label": "Gap", "value": f"{100.0 * layout.gap:.2f} %", "cls": ""},
        *_most_room(layout),
        {"label": "Status", "value": layout.status, "cls": layout.status},
        {
            "label": "Solve time",
            "value": "—" if seconds is None else f"{float(seconds):,.1f} s",
            "cls": "",
        },
        {"label": "Seed", "value": "—" if seed is None else str(seed), "cls": ""},
    ]


def _most_room(layout: Layout) -> list[dict[str, str]]:
    """A headline item naming the part with most room left, when parts besides travel count."""
    record = layout.stats.get("quality")
    if not isinstance(record, dict) or len(record.get("terms", ())) < 2:
        return []
    best = Quality.from_dict(record).most_room
    value = "—" if best is None else best.name
    return [{"label": "Most room left (see Quality per term)", "value": value, "cls": ""}]


def _quality(layout: Layout) -> dict[str, Any] | None:
    """The per-term quality table and its summary, for the report (``None`` without it)."""
    record = layout.stats.get("quality")
    if not isinstance(record, dict) or "terms" not in record:
        return None
    quality = Quality.from_dict(record)
    rows = []
    for t in quality.terms:
        rows.append(
            {
                "term": t.name,
                "unit": t.unit,
                "weight": t.weight,
                "value": t.value,
                "proven bound": t.bound,
                "best found": t.best_found,
                "reference is": t.reference_kind,
                "room left": t.room,
                "room %": None if t.room_share is None else 100.0 * t.room_share,
                f"weighted room ({quality.unit})": t.weighted_room,
            }
        )
    table = pd.DataFrame(rows)
    best = quality.most_room
    sep = quality.separable_bound
    summary = quality.line()
    if sep is not None and len(quality.terms) > 1:
        summary += (
            f" The per-part bounds add up to {sep:,.1f} {quality.unit}, a valid bound on the "
            f"whole objective (each part is at least its own bound in every layout); the "
            f"engine's bound is {quality.engine_bound:,.1f}."
        )
    if quality.priced_bound is not None:
        priced = quality.priced
        summary += (
            f" A Lagrangian bound whose subproblems price the deviations (numeric: "
            f"{', '.join(priced.get('priced', [])) or 'none'}; categorical by whole schools: "
            f"{', '.join(priced.get('categorical_floor', [])) or 'none'}; "
            f"{priced.get('iterations', 0)} steps in {priced.get('seconds', 0.0):.1f} s) "
            f"gives {quality.priced_bound:,.1f} {quality.unit}."
        )
    return {
        "table": _table(rounded(table)),
        "summary": summary,
        "weighted": len(quality.terms) > 1,
        "references": quality.references,
        "seconds": f"{quality.seconds:.1f}",
        "budget": f"{quality.budget_seconds:.1f}",
        "most_room": None if best is None else best.name,
    }


def _reforming(layout: Layout, moves: pd.DataFrame | None) -> dict[str, Any] | None:
    """Counts and the table of centres that moved, joined or left, for the report."""
    if moves is None:
        return None
    counts = moves_summary(moves)
    share = counts["stayed_share"]
    changed = moves[moves["status"].isin(["moved", "joined", "left"])]
    order = {"moved": 0, "joined": 1, "left": 2}
    changed = changed.sort_values(
        ["status", "cluster"], key=lambda c: c.map(order) if c.name == "status" else c
    )
    columns = ["centre_id", "name", "previous_cluster", "cluster", "status", "reason"]
    constraints = None if layout.problem is None else layout.problem.constraints
    previous = getattr(constraints, "previous", None)
    return {
        "counts": counts,
        "share": None if share is None else f"{100.0 * share:.1f} %",
        "source": Path(previous.source).name if previous is not None else "—",
        "table": _table(changed[columns]),
    }


def write_report(
    layout: Layout,
    path: str | Path,
    *,
    summary: pd.DataFrame | None = None,
    map_png: str | Path | None = None,
    moves: pd.DataFrame | None = None,
) -> Path:
    """Write a self-contained HTML report of the layout.

    The report has the headline figures (including the objective, the proven
    lower bound and the gap), the map, the per-cluster table, the excluded
    centres with their reasons, and the parameters that produced the layout;
    when ``layout.baselines`` is set, the baselines beside the layout and
    what each unit of deviation removed cost in travel; when the layout
    re-forms a previous one, who moved and why (:func:`clustering.analysis.reform.moves`).
    It needs no other file: the map is embedded as a base64 ``data:`` URI and
    the CSS is inline. All data are HTML-escaped.

    Parameters
    ----------
    layout
        The layout to report.
    path
        Where to write the HTML (parent folders are created).
    summary
        The per-cluster table; by default :func:`clustering.analysis.metrics.cluster_summary`.
    map_png
        A PNG to embed; by default a map is drawn with :func:`render_map`.
    moves
        The re-forming table (:func:`clustering.analysis.reform.moves`); by default made
        from the layout when it re-forms a previous one.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if summary is None:
        summary = cluster_summary(layout)
    overall = overall_summary(layout)
    if map_png is not None:
        png = Path(map_png).read_bytes()
    else:
        buffer = io.BytesIO()
        _draw(layout, None).savefig(buffer, format="png", dpi=_DPI)
        png = buffer.getvalue()
    map_uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")

    excluded = layout.excluded
    columns = [c for c in ("centre_id", "name", "row", "reason") if c in excluded.columns]
    compared = layout.baselines if layout.baselines is not None else pd.DataFrame()
    if moves is None and has_previous(layout):
        moves = reform_moves(layout)
    html = _ENV.from_string(_TEMPLATE).render(
        source=Path(layout.source).name if layout.source else "centres",
        source_path=layout.source or "—",
        overall=overall,
        headline=_headline(layout, overall),
        map_uri=map_uri,
        table=_table(summary),
        contrast=_table(contrast_summary(layout)),
        baselines=_table(rounded(compared)),
        prices=_table(rounded(contrast_price(compared))),
        weighted=any(layout.params.get("weights", {}).get("contrast", {}).values()),
        excluded=_table(excluded[columns]),
        reforming=_reforming(layout, moves),
        params=flat_rows(layout.params),
        stats=flat_rows({k: v for k, v in layout.stats.items() if k != "quality"}),
        quality=_quality(layout),
        unit=layout.unit,
        distance_unit="km" if layout.unit == "m" else layout.unit,
    )
    path.write_text(html, encoding="utf-8")
    return path
