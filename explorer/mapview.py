"""The map: clusters coloured, venues marked, members linked, outlines; no tile server."""

from __future__ import annotations

import json

import geopandas as gpd
import pydeck as pdk
import streamlit as st

import clustering

PALETTE = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
]
#: figures shown on hover when the data has them
HOVER = ("pupils", "fsm_pct", "frl_pct", "imd_decile", "urban_rural", "phase", "type", "district")
SCHOOLS = "schools"


def colour(cluster: int) -> list[int]:
    return list(PALETTE[int(cluster) % len(PALETTE)])


def records(
    layout: clustering.Layout,
    *,
    selected: str | None = None,
    highlight: set[str] | None = None,
    relabel: dict[int, int] | None = None,
) -> tuple[list[dict], list[dict]]:
    """Points (schools) and lines (member → venue) in WGS84, as plain records for pydeck.

    ``selected`` (a centre id) is drawn larger with a black ring; ``highlight``
    (centre ids, e.g. the schools that differ between two layouts) with a ring too;
    ``relabel`` colours cluster ``k`` as cluster ``relabel[k]`` (matched clusters of two
    layouts drawn alike).
    """
    relabel = relabel or {}
    centres = layout.centres.to_crs(4326)
    lon, lat = centres.geometry.x.to_numpy(), centres.geometry.y.to_numpy()
    clusters = centres["cluster"].to_numpy()
    venues = centres["is_venue"].to_numpy()
    names = centres["name"].astype(str).to_numpy()
    ids = centres["centre_id"].astype(str).to_numpy()
    km = centres["distance"].to_numpy() / (1000.0 if layout.unit == "m" else 1.0)
    unit = "km" if layout.unit == "m" else layout.unit
    shown = [c for c in HOVER if c in centres.columns]
    figures = (
        [
            "<br/>".join(
                f"{c}: {v}"
                for c, v in zip(shown, row, strict=True)
                if str(v) not in {"", "nan", "<NA>", "None"}
            )
            for row in centres[shown].astype(str).itertuples(index=False)
        ]
        if shown
        else [""] * len(centres)
    )
    venue_at = {
        int(clusters[i]): (float(lon[i]), float(lat[i])) for i in range(len(centres)) if venues[i]
    }
    highlight = highlight or set()
    points, lines = [], []
    for i in range(len(centres)):
        k = int(clusters[i])
        paint = colour(relabel.get(k, k))
        ring = ids[i] == selected or ids[i] in highlight
        points.append(
            {
                "lon": float(lon[i]),
                "lat": float(lat[i]),
                "centre_id": ids[i],
                "name": names[i],
                "cluster": k,
                "role": "venue" if venues[i] else "member",
                "trip": f"{km[i]:,.1f} {unit}",
                "figures": figures[i],
                "radius": (900 if ids[i] == selected else 500)
                if venues[i]
                else (600 if ids[i] == selected else 200),
                "colour": paint,
                "ring": [0, 0, 0] if ring else paint,
                "ring_width": 3 if ring else 0,
            }
        )
        if not venues[i]:
            vx, vy = venue_at[k]
            lines.append({"from": [float(lon[i]), float(lat[i])], "to": [vx, vy], "colour": paint})
    return points, lines


def deck(
    layout: clustering.Layout,
    outlines: gpd.GeoDataFrame | None = None,
    *,
    selected: str | None = None,
    highlight: set[str] | None = None,
    relabel: dict[int, int] | None = None,
) -> pdk.Deck:
    """The pydeck map of ``layout``: nothing is fetched from a tile server."""
    points, lines = records(layout, selected=selected, highlight=highlight, relabel=relabel)
    view = pdk.data_utils.compute_view([[p["lon"], p["lat"]] for p in points], view_proportion=0.95)
    layers = []
    if outlines is not None and len(outlines):
        layers.append(
            pdk.Layer(
                "GeoJsonLayer",
                json.loads(outlines.to_json()),
                id="outlines",
                stroked=True,
                filled=True,
                get_fill_color=[230, 230, 230, 60],
                get_line_color=[90, 90, 90, 200],
                line_width_min_pixels=1,
                pickable=False,
            )
        )
    layers += [
        pdk.Layer(
            "LineLayer",
            lines,
            id="links",
            get_source_position="from",
            get_target_position="to",
            get_color="colour",
            get_width=1,
        ),
        pdk.Layer(
            "ScatterplotLayer",
            points,
            id=SCHOOLS,
            get_position=["lon", "lat"],
            get_fill_color="colour",
            get_line_color="ring",
            get_line_width="ring_width",
            line_width_units="pixels",
            stroked=True,
            get_radius="radius",
            radius_min_pixels=3,
            pickable=True,
            auto_highlight=True,
        ),
    ]
    return pdk.Deck(
        map_style=None,  # no base map: nothing is fetched from a tile server
        map_provider=None,
        initial_view_state=view,
        layers=layers,
        tooltip={
            "html": "<b>{name}</b> ({centre_id})<br/>cluster {cluster} ({role}), "
            "trip to venue {trip}<br/>{figures}",
        },
    )


@st.cache_data(max_entries=16, show_spinner=False)
def cached_outlines(key: str, _layout: clustering.Layout) -> gpd.GeoDataFrame:
    """The bundled boundary outlines around a layout's centres (cached by data key)."""
    return clustering.outlines(_layout)


def show(
    layout: clustering.Layout,
    outlines: gpd.GeoDataFrame | None,
    *,
    key: str,
    selected: str | None = None,
    highlight: set[str] | None = None,
    on_select=None,
    height: int = 560,
    relabel: dict[int, int] | None = None,
) -> None:
    """Draw the map; with ``on_select``, a click on a school selects it."""
    chart = deck(layout, outlines, selected=selected, highlight=highlight, relabel=relabel)
    if on_select is None:
        st.pydeck_chart(chart, key=key, height=height)
    else:
        st.pydeck_chart(
            chart, key=key, height=height, on_select=on_select, selection_mode="single-object"
        )


def clicked(key: str) -> str | None:
    """The centre id of the school clicked on the map ``key`` (from its selection state)."""
    event = st.session_state.get(key)
    if not event:
        return None
    try:
        objects = event["selection"]["objects"].get(SCHOOLS) or []
    except (KeyError, TypeError, AttributeError):
        return None
    return str(objects[0]["centre_id"]) if objects else None
