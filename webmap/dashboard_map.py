"""The gap map of the dashboard: the gaps over the works, townships and villages linked;
the first ten of each kind numbered and listed (``webmap.gap_rank_map``), the rest faint.

``gap_map(store, board, view) -> folium.Map`` is a pure function of the store's layers,
the dashboard figures and the view options. Every layer travels as compact JSON inside
one :class:`GapLayers` element and ``static/js/dashboard.js`` draws it: popups and
tooltips are DOM nodes filled with ``textContent``, so no user-supplied string is ever
parsed as HTML, and the JSON is escaped for a ``<script>`` block outside any template
literal. A click on a township or village opens its page (``/townships/<id>``,
``/villages/<id>``).

No tiles by default (offline county intranets): boundaries, roads and works are drawn as
vectors. With ``basemap="amap"`` every coordinate is shifted to GCJ-02 to match Gaode.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement
from folium.template import Template

from geo.display import display_geojson, display_geometries
from geo.simplify import display_tolerance_deg, simplify_for_display
from layers.analyses import gap_label, layer_frame, township_areas
from layers.dashboard import Dashboard
from layers.gap_overlays import FAINT_OPACITY, KIND_STYLES
from layers.gap_ranking import ranked_gaps
from layers.store_base import BaseStore
from webmap.assets import ASSET_URLS, localise
from webmap.gap_rank_map import RankedGaps, ranked_payload
from webmap.i18n import format_date, format_number, translate
from webmap.maps import MAX_ZOOM, MapParts, add_basemap_tiles, latlng_bounds
from webmap.maps import render_parts as map_parts
from webmap.scriptjson import script_json

RED = "#d32f2f"
#: Villages visited in time, and visited with problems open (Okabe-Ito grey and orange;
#: not visited: the blue of the ``visits`` kind).
VISITED = "#999999"
UNRESOLVED = "#E69F00"


@dataclass(frozen=True)
class GapMapView:
    """How to draw the map: language, basemap, Tianditu key, static URL prefix."""

    lang: str = "zh"
    basemap: str = "none"
    tianditu_key: str = ""
    static_url: str = "/static"
    #: Lines and polygons are simplified to this (degrees) for drawing; :func:`gap_map`
    #: sets it from the county's extent (``geo.simplify.display_tolerance_deg``).
    tolerance_deg: float = 0.0

    @property
    def gcj02(self) -> bool:
        """Whether coordinates are shifted to GCJ-02 (Gaode tiles)."""
        return self.basemap == "amap"


class GapLayers(MacroElement):
    """Hands the layers to ``VWDash.drawMap`` once the Leaflet map exists."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        window.VWDash.drawMap({{ this._parent.get_name() }}, {{ this.payload }});
        {% endmacro %}
        """
    )

    def __init__(self, payload: Mapping[str, Any]) -> None:
        super().__init__()
        self._name = "GapLayers"
        self.payload = script_json(payload)


# ------------------------------------------------------------------------- geometry


# --------------------------------------------------------------------------- layers


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return ""
    return str(value)


def _features(
    frame: pd.DataFrame,
    geoms: Sequence[Any],
    view: GapMapView,
    describe: Any,
) -> list[dict[str, Any]]:
    """Compact features: geometry ``g``, title ``t``, lines ``l``, link ``h``, colour ``c``.

    Lines and polygons are simplified to the view's tolerance: one feature of many
    vertices does not make the page heavy for everyone."""
    simple = simplify_for_display(np.asarray(geoms, dtype=object), view.tolerance_deg)
    shown = display_geojson(simple, view.gcj02)
    out = []
    for (_, row), geometry in zip(frame.iterrows(), shown, strict=True):
        if geometry is None:
            continue
        out.append({"g": geometry, **describe(row)})
    return out


def _layer(
    key: str,
    label: str,
    group: str,
    features: list[dict[str, Any]],
    style: Mapping[str, Any],
    *,
    show: bool = True,
) -> dict[str, Any]:
    return {
        "key": key,
        "label": label,
        "group": group,
        "show": show,
        "style": dict(style),
        "count": len(features),
        "features": features,
    }


def _township_layer(board: Dashboard, areas: gpd.GeoDataFrame, view: GapMapView) -> dict[str, Any]:
    lang = view.lang
    rows = {r.id: r for r in board.townships}

    def describe(row: pd.Series) -> dict[str, Any]:
        figures = rows.get(str(row["township_id"]))
        coverage = figures.coverage_pct if figures else None
        lines = []
        if figures is not None:
            lines = [
                [translate("dash.col.coverage", lang), _pct(coverage, lang)],
                [translate("dash.col.not_visited", lang), format_number(figures.not_visited)],
                [translate("dash.col.dark_km", lang), _km(figures.dark_road_m)],
            ]
        return {
            "t": _text(row["township"]),
            "l": lines,
            "h": "/townships/" + quote(str(row["township_id"]), safe=""),
            "c": _coverage_color(coverage),
        }

    features = _features(areas, areas.geometry, view, describe)
    style = {"kind": "area", "color": "#455a64", "weight": 1.5, "fillOpacity": 0.18}
    return _layer("townships", translate("dash.map.townships", lang), "base", features, style)


def _coverage_color(pct: float | None) -> str:
    if pct is None:
        return "#9e9e9e"
    if pct < 40:
        return "#ef9a9a"
    if pct < 70:
        return "#ffe082"
    return "#a5d6a7"


def _pct(value: float | None, lang: str) -> str:
    return "" if value is None else format_number(value, lang, 1) + "%"


def _km(metres: float) -> str:
    return format_number(metres / 1000.0, decimals=1) + " km"


def _village_layer(store: BaseStore, board: Dashboard, view: GapMapView) -> dict[str, Any]:
    lang = view.lang
    villages = layer_frame(store, "villages", board.as_of)
    rows = {v.id: v for v in board.villages}
    max_days = int(board.thresholds["visits"].get("max_days", 90))

    def describe(row: pd.Series) -> dict[str, Any]:
        figures = rows.get(str(row["id"]))
        color, lines = VISITED, []
        if figures is not None:
            last = format_date(figures.last_visit, lang) or translate("dash.never", lang)
            lines = [
                [translate("dash.col.township", lang), figures.township],
                [translate("dash.col.last_visit", lang), last],
                [
                    translate("dash.col.problems", lang),
                    f"{figures.problems_solved}/{figures.problems_raised}",
                ],
            ]
            if figures.unresolved:
                color = UNRESOLVED
            if figures.not_visited:
                color = KIND_STYLES["visits"]["color"]
                lines.insert(0, [translate("dash.gap.not_visited_days", lang, n=max_days), ""])
        return {
            "t": _text(row.get("name")),
            "l": lines,
            "h": "/villages/" + quote(str(row["id"]), safe=""),
            "c": color,
        }

    features = _features(villages, villages.geometry, view, describe)
    style = {"kind": "point", "radius": 5, "color": VISITED, "weight": 1.5, "fillOpacity": 0.9}
    label = translate("dash.map.villages", lang, n=max_days)
    return _layer("villages", label, "gaps", features, style)


_WORKS: tuple[tuple[str, Mapping[str, Any]], ...] = (
    ("roads", {"kind": "line", "color": "#9e9e9e", "weight": 2}),
    ("bus_routes", {"kind": "line", "color": "#6a1b9a", "weight": 3, "dashArray": "6 4"}),
    ("streetlights", {"kind": "point", "radius": 3, "color": "#f9a825", "fillOpacity": 0.9}),
    ("wells", {"kind": "point", "radius": 3.5, "color": "#1565c0", "fillOpacity": 0.9}),
    ("pipes", {"kind": "line", "color": "#1565c0", "weight": 3}),
    ("greenhouses", {"kind": "mixed", "radius": 3, "color": "#558b2f", "fillOpacity": 0.5}),
    ("plantings", {"kind": "mixed", "radius": 3, "color": "#1b5e20", "fillOpacity": 0.5}),
)


def _works_layers(store: BaseStore, board: Dashboard, view: GapMapView) -> list[dict[str, Any]]:
    out = []
    for layer, style in _WORKS:
        if layer not in store.specs:
            continue
        spec = store.spec(layer)
        frame = layer_frame(store, layer, board.as_of)
        title_field = spec.title_field or "name"
        status_field = spec.status_field

        def describe(
            row: pd.Series,
            spec: Any = spec,
            title_field: str = title_field,
            status: Any = status_field,
        ) -> dict[str, Any]:
            lines = []
            if status and status in row:
                fspec = spec.field(status)
                value = fspec.value_label(row[status], view.lang) if fspec else row[status]
                lines.append([fspec.label_in(view.lang) if fspec else status, _text(value)])
            title = _text(row.get(title_field)) if title_field in row else ""
            return {"t": title or f"{spec.label_in(view.lang)} {row['id']}", "l": lines}

        features = _features(frame, frame.geometry, view, describe)
        group = "base" if spec.kind == "reference" else "works"
        out.append(_layer(layer, spec.label_in(view.lang), group, features, style))
    return out


def _gap_lines(row: pd.Series, lang: str) -> list[list[str]]:
    """The measures of one gap row, labelled, for its popup."""
    lines = [[translate("dash.col.township", lang), _text(row.get("township"))]]
    for column, key, fmt in (
        ("start_km", "dash.col.from_km", 3),
        ("end_km", "dash.col.to_km", 3),
        ("length_m", "dash.col.length_m", 0),
        ("distance_m", "dash.col.distance_m", 0),
        ("shortfall", "dash.col.shortfall", 0),
        ("pct", "dash.col.pct", 1),
    ):
        value = row.get(column)
        if value is not None and not (isinstance(value, float) and np.isnan(value)):
            lines.append([translate(key, lang), format_number(value, lang, fmt)])
    return lines


def _faint(gap_kind: str, **style: Any) -> dict[str, Any]:
    """A gap layer's style: its kind's colour-blind-safe colour and dash, drawn faintly
    (the ranked ten of the kind stand out over it)."""
    look = KIND_STYLES[gap_kind]
    return {"color": look["color"], "dashArray": look["dash"] or None, "opacity": FAINT_OPACITY,
            **style}  # fmt: skip


_GAP_STYLES: Mapping[str, Mapping[str, Any]] = {
    "dark_road": _faint("lighting", kind="line", weight=5),
    "far_from_well": _faint("irrigation", kind="mixed", radius=6, fillOpacity=0, weight=2),
    "well_without_pipe": _faint("irrigation", kind="point", radius=4, fillOpacity=0.3),
    "far_from_bus": _faint("services", kind="point", radius=7, fillOpacity=0.2),
    "far_from_rest_station": _faint("services", kind="line", weight=4),
    "behind_target": _faint("targets", kind="point", radius=9, fillOpacity=0.15),
}
_HIDDEN = {"well_without_pipe", "far_from_well"}


def _gap_layers(store: BaseStore, board: Dashboard, view: GapMapView) -> list[dict[str, Any]]:
    lang = view.lang
    out = []
    for kind, frame in board.gaps.items():
        if kind == "visits" or len(frame) == 0:
            continue  # unvisited villages are the village layer's red points
        for gap, rows in frame.groupby("gap", sort=False):
            spec = store.specs.get(str(rows["layer"].iloc[0]))
            what = spec.label_in(lang) if spec is not None else ""

            def describe(row: pd.Series, what: str = what) -> dict[str, Any]:
                title = _text(row.get("name")) or f"{what} {_text(row.get('feature_id'))}"
                return {"t": title, "l": _gap_lines(row, lang)}

            features = _features(rows, rows.geometry, view, describe)
            label = gap_label(gap, lang)
            out.append(
                _layer(
                    f"gap-{gap}",
                    label,
                    "gaps",
                    features,
                    _GAP_STYLES.get(str(gap), _GAP_STYLES["far_from_bus"]),
                    show=str(gap) not in _HIDDEN,
                )
            )
    return out


# ------------------------------------------------------------------------------ map


def _strings(lang: str) -> dict[str, str]:
    keys = ("base", "works", "gaps", "open_page")
    return {k: translate(f"dash.map.{k}", lang) for k in keys}


def gap_map(store: BaseStore, board: Dashboard, view: GapMapView) -> folium.Map:
    """The dashboard's map: township areas, works, roads, villages and every gap.

    Pure: depends only on its arguments. Only Leaflet's own JavaScript and CSS are
    loaded (no jQuery, Bootstrap or icon fonts), all from the app.
    """
    areas = township_areas(store)
    extent = store.extent("boundaries") or store.extent("villages")
    if not view.tolerance_deg:
        view = replace(view, tolerance_deg=display_tolerance_deg(extent))
    payload = {
        "strings": _strings(view.lang),
        "layers": [
            _township_layer(board, areas, view),
            *_works_layers(store, board, view),
            *_gap_layers(store, board, view),
            _village_layer(store, board, view),
        ],
    }
    m = folium.Map(location=[39.5, 112.8], zoom_start=10, tiles=None, max_zoom=MAX_ZOOM)
    m.default_js = [("leaflet", ASSET_URLS["leaflet"].upstream_url)]
    m.default_css = [("leaflet_css", ASSET_URLS["leaflet_css"].upstream_url)]
    add_basemap_tiles(m, view.basemap, view.lang, view.tianditu_key)
    GapLayers(payload).add_to(m)
    ranked = ranked_gaps(store, board.as_of, frames=board.gaps)
    labels = {spec.name: spec.label_in(view.lang) for spec in store.specs}
    rank_payload = ranked_payload(
        ranked, view.lang, view.gcj02, tolerance_deg=view.tolerance_deg, layer_labels=labels
    )
    RankedGaps(rank_payload, view.static_url).add_to(m)
    if extent is not None:
        (box,) = display_geometries([shapely.box(*extent)], view.gcj02)
        m.fit_bounds(latlng_bounds(box.bounds))
    localise(m, f"{view.static_url.rstrip('/')}/vendor")
    return m


_PAGE_OWNED = (
    re.compile(r'<meta name="viewport"[^>]*>', re.S),
    re.compile(r"<style>\s*html, body \{.*?</style>", re.S),
    re.compile(r"<style>\s*#map \{.*?</style>", re.S),
)


def render_parts(m: folium.Map) -> MapParts:
    """Render ``m`` once (:func:`webmap.maps.render_parts`); the page keeps its own
    viewport and body styles."""
    parts = map_parts(m)
    header = parts.header
    for pattern in _PAGE_OWNED:
        header = pattern.sub("", header)
    return replace(parts, header=header)
