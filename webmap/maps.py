"""Build the Leaflet map of a page: ``build_map(layers, view) -> folium.Map``, a pure function.

Features are not turned into folium markers. Each layer becomes one :class:`FeatureLayer`
element carrying its features as compact JSON (or, past ``embed_max_features``, only the
URL of the bbox API), and ``static/js/vwmap.js`` draws them: circle markers coloured by
status, clusters for dense point layers, lines and polygons styled from the spec. Popups
and tooltips are DOM nodes filled with ``textContent``, so no user-supplied string is ever
parsed as HTML, and the JSON is escaped for a ``<script>`` block (``<``, ``>``, ``&``,
U+2028/9) outside any template literal.

Every JavaScript and CSS file is served by the app (:func:`webmap.assets.localise`); the
only other host a page may ask is the chosen basemap's tile server.

With ``basemap="amap"`` every drawn coordinate is shifted from WGS84 to GCJ-02, the datum
of Gaode tiles; the stored data stays WGS84 and the page tells the bbox API to convert.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import folium
import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import shapely
from branca.element import MacroElement
from folium import plugins
from folium.elements import JSCSSMixin
from folium.map import Layer
from folium.template import Template
from shapely.geometry.base import BaseGeometry

from geo.crs import gcj02_to_wgs84
from geo.display import DISPLAY_DECIMALS, display_geometries
from layers.analyses import KINDS
from layers.gap_overlays import kind_label
from layers.private_fields import public_spec, row_hidden, visible_rows
from layers.query import Query, page_positions
from layers.specs import LayerSpec
from webmap.assets import ASSET_URLS, localise
from webmap.basemaps import MAX_ZOOM as MAX_ZOOM
from webmap.basemaps import Basemap as Basemap
from webmap.basemaps import add_basemap_tiles as add_basemap_tiles
from webmap.basemaps import basemap_tiles as basemap_tiles
from webmap.gap_rank_map import RankedGaps
from webmap.i18n import catalogue, translate
from webmap.mapdata import (
    GROUPS,
    FeatureQuery,
    Filters,
    MapLayer,
    StatusCount,
    anchor_points,
    plain_value,
    safe_color,
    safe_dash,
    status_counts,
    unit_label,
)
from webmap.scriptjson import script_json

STATIC_DIR = Path(__file__).resolve().parent / "static"
#: Statuses drawn with a warning ring, whatever their colour.
ALERT_STATUSES = ("faulty",)
COORD_DECIMALS = DISPLAY_DECIMALS  # about 0.1 m: plenty for a screen
#: Bytes of features a layer may embed in a page before it is fetched instead, and the
#: estimate: per feature (id, properties) and per coordinate.
EMBED_MAX_BYTES = 80_000
#: Leaflet.VectorGrid, which draws the layers served as vector tiles.
VECTORGRID_JS = "vendor/leaflet.vectorgrid@1.3.0/dist/Leaflet.VectorGrid.bundled.min.js"
EMBED_FEATURE_BYTES = 60
EMBED_COORD_BYTES = 22
#: How each level of the boundaries layer is drawn (the county bold, villages faint).
BOUNDARY_LEVELS = {
    "county": {"weight": 3.5},
    "township": {"weight": 1.8, "dashArray": "7 5"},
    "village": {"weight": 1, "dashArray": "2 4"},
}
_POINT_TYPES = {"Point"}
_LINE_TYPES = {"LineString", "MultiLineString"}
_POLYGON_TYPES = {"Polygon", "MultiPolygon"}


@dataclass(frozen=True)
class MapUrls:
    """URL templates the page links to; ``{layer}`` and ``{id}`` are filled in by the page."""

    feature: str = "/features/{layer}/{id}"
    village: str = "/villages/{id}"
    township: str = "/townships/{id}"
    api: str = "/api/layers/{layer}/features"
    #: Vector tiles of a layer (OGC API - Tiles); empty: big layers use the bbox API.
    tiles: str = ""
    static: str = "/static"


@dataclass(frozen=True)
class SearchEntry:
    """A village the search box finds: id, name, township name, lon/lat (WGS84)."""

    id: str
    name: str
    township: str
    lon: float
    lat: float


@dataclass(frozen=True)
class MapView:
    """Everything about a map page that is not features.

    ``bounds`` (lon/lat) is the view to fit; ``outline`` an area drawn on top (a township
    or village), dashed when ``outline_method`` is ``approximate``. ``titles`` names the
    features that properties refer to (layer -> id -> title).
    """

    lang: str = "zh"
    basemap: str = "none"
    tianditu_key: str = ""
    embed_max_features: int = 3000
    #: A layer whose features would take more bytes than this is fetched too (the roads
    #: of a province, the dark stretches of 20,000 km of road): the page stays small.
    embed_max_bytes: int = EMBED_MAX_BYTES
    bounds: tuple[float, float, float, float] | None = None
    outline: BaseGeometry | None = None
    outline_method: str = "boundary"
    filters: Filters = field(default_factory=Filters)
    titles: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    search: Sequence[SearchEntry] = ()
    replay_years: Sequence[int] = ()
    #: The replay's year at first (``?year=``); None: the latest of ``replay_years``.
    replay_year: int | None = None
    urls: MapUrls = field(default_factory=MapUrls)
    controls: bool = True
    #: The ranked gaps to number on the map (``webmap.gap_rank_map.ranked_payload``).
    ranked: Mapping[str, Any] | None = None

    @property
    def gcj02(self) -> bool:
        """Whether drawn coordinates are shifted to GCJ-02 (Gaode tiles)."""
        return self.basemap == "amap"


def display_bounds(
    bounds: tuple[float, float, float, float], gcj02: bool
) -> tuple[float, float, float, float]:
    """A lon/lat box as drawn (shifted to GCJ-02 for Gaode tiles)."""
    box = display_geometries([shapely.box(*bounds)], gcj02)[0]
    return tuple(float(v) for v in box.bounds)  # type: ignore[return-value]


def latlng_bounds(bounds: tuple[float, float, float, float]) -> list[list[float]]:
    """The one place lon/lat turns into Leaflet's [[south, west], [north, east]]."""
    minx, miny, maxx, maxy = bounds
    return [[miny, minx], [maxy, maxx]]


def _geometry_kind(spec_geometry: Sequence[str]) -> str:
    kinds = set(spec_geometry)
    if kinds <= _POINT_TYPES | {"MultiPoint"}:
        return "point"
    if kinds <= _LINE_TYPES:
        return "line"
    if kinds <= _POLYGON_TYPES:
        return "polygon"
    return "mixed"


def _field_info(layer: MapLayer, lang: str) -> list[dict[str, Any]]:
    out = []
    for f in public_spec(layer.spec).fields:  # the map shows no private field
        info: dict[str, Any] = {
            "name": f.name,
            "label": f.label_in(lang),
            "type": f.type,
            "unit": unit_label(f.unit, lang),
        }
        if f.value_labels:
            info["values"] = {code: f.value_label(code, lang) for code in f.value_labels}
        if f.type == "ref":
            info["ref"] = f.ref_layer
        out.append(info)
    return out


def _number(value: Any, default: float, top: float) -> float:
    return float(value) if isinstance(value, int | float) and 0 <= value <= top else default


def _style(layer: MapLayer) -> dict[str, Any]:
    """How a layer is drawn, from its spec's ``style``, every value checked: a county's
    spec file must not be able to put arbitrary text into a page's CSS or script."""
    style = layer.spec.style
    out: dict[str, Any] = {
        "color": safe_color(style.get("color")),
        "weight": _number(style.get("weight"), 2, 20),
        "radius": _number(style.get("radius"), 5, 30),
        "opacity": _number(style.get("opacity"), 0.9, 1),
        "fill": style.get("fill", True) is not False,
        "dash": safe_dash(style.get("dash")),
        "ring": style.get("ring") is True,
    }
    if isinstance(style.get("status_colors"), Mapping):
        out["statusColors"] = {
            str(k): safe_color(v, out["color"]) for k, v in style["status_colors"].items()
        }
    if layer.name == "boundaries":
        out["levels"] = BOUNDARY_LEVELS
    return out


def _column(frame: pd.DataFrame, name: str) -> list[Any]:
    if name not in frame.columns:
        return [None] * len(frame)
    return [plain_value(v) for v in frame[name].to_numpy(dtype=object)]


def _geometry_json(geoms: np.ndarray, kind: str) -> list[Any]:
    if kind == "point" and len(geoms) and (shapely.get_type_id(geoms) == 0).all():
        return np.round(shapely.get_coordinates(geoms), COORD_DECIMALS).tolist()
    texts = shapely.to_geojson(geoms)
    return [None if t is None else orjson.loads(t) for t in texts]


def _township_links(frame: pd.DataFrame, urls: MapUrls) -> list[str | None] | None:
    """Township outlines open their township page (other features their own page)."""
    if "level" not in frame.columns or not (frame["level"] == "township").any():
        return None
    return [
        urls.township.replace("{id}", quote(str(i), safe="")) if level == "township" else None
        for i, level in zip(frame["id"], frame["level"], strict=True)
    ]


def layer_data(layer: MapLayer, view: MapView) -> dict[str, Any]:
    """A layer's features in the page's compact form: ids, geometries (a point is
    ``[lon, lat]``), and one list of values per feature in field order."""
    frame = visible_rows(public_spec(layer.spec), layer.frame)  # a new report: not shown
    kind = _geometry_kind(layer.spec.geometry)
    geoms = display_geometries(frame.geometry.to_numpy(), view.gcj02)
    columns = [_column(frame, f.name) for f in public_spec(layer.spec).fields]
    data: dict[str, Any] = {
        "ids": [str(i) for i in frame["id"]],
        "geoms": _geometry_json(geoms, kind),
        "props": [list(row) for row in zip(*columns, strict=True)]
        if columns
        else [[]] * len(frame),
    }
    if layer.link_id != "id":
        data["linkIds"] = [str(v) for v in _column(frame, layer.link_id)]
    if layer.name == "boundaries":
        links = _township_links(frame, view.urls)
        if links:
            data["links"] = links
    return data


def layer_payload(layer: MapLayer, view: MapView) -> dict[str, Any]:
    """What the page needs to draw one layer: how, its fields, and its features or API."""
    spec = layer.spec
    embedded = is_embedded(layer, view)
    link_url = view.urls.village if layer.link == "villages" else view.urls.feature
    payload: dict[str, Any] = {
        "name": spec.name,
        "label": spec.label_in(view.lang),
        "group": layer.group,
        "kind": _geometry_kind(spec.geometry),
        "style": _style(layer),
        "statusField": spec.status_field,
        "dateField": spec.date_field if layer.group == "work" else None,
        "titleField": spec.title_field,
        "cluster": spec.cluster,
        "show": layer.show,
        "count": len(layer.frame),
        "fields": _field_info(layer, view.lang),
        "link": link_url.replace("{layer}", quote(layer.link, safe="")),
        "linkKind": "village" if layer.link == "villages" else "feature",
        "mode": "embed" if embedded else "fetch",
    }
    if embedded:
        payload["data"] = layer_data(layer, view)
    elif uses_tiles(layer, view):  # static/js/vtiles.js draws it from vector tiles
        payload.update(mode="tiles", cluster=False)
        payload["tiles"] = view.urls.tiles.replace("{layer}", quote(spec.name, safe=""))
    else:
        payload["api"] = view.urls.api.replace("{layer}", quote(spec.name, safe=""))
        payload["query"] = view.filters.args(with_layers=False)
        payload["limit"] = view.embed_max_features
    return payload


def is_embedded(layer: MapLayer, view: MapView) -> bool:
    """Whether a layer's features go into the page (else the page fetches them from the
    bbox API): up to ``embed_max_features`` features taking up to ``embed_max_bytes``."""
    if len(layer.frame) > view.embed_max_features:
        return False
    return embedded_bytes(layer.frame) <= view.embed_max_bytes


def uses_tiles(layer: MapLayer, view: MapView) -> bool:
    """Whether a big layer is drawn from vector tiles rather than the bbox API: a layer
    of the store (not a gap overlay), drawn in WGS84, on a map without filters (the tiles
    serve every feature a reader may see; filters, GCJ-02 and overlays need the API)."""
    own = not layer.gap_kind and layer.link_id == "id"
    return bool(view.urls.tiles) and own and not view.gcj02 and not view.filters.narrows


def embedded_bytes(frame: pd.DataFrame) -> int:
    """About how many bytes the features of ``frame`` take embedded in a page."""
    if len(frame) == 0:
        return 0
    coords = int(shapely.get_num_coordinates(np.asarray(frame.geometry.to_numpy())).sum())
    return EMBED_FEATURE_BYTES * len(frame) + EMBED_COORD_BYTES * coords


@dataclass(frozen=True)
class LegendEntry:
    """A layer in the panel: switch, symbol, label, count, and counts by status."""

    name: str
    label: str
    count: int
    show: bool
    kind: str
    style: Mapping[str, Any]
    statuses: tuple[StatusCount, ...]
    fetched: bool


@dataclass(frozen=True)
class LegendKind:
    """A gap analysis in the legend: what it counts, its total, and its overlays."""

    kind: str
    label: str
    count: int
    entries: tuple[LegendEntry, ...]


@dataclass(frozen=True)
class LegendGroup:
    """Works, reference layers or gaps (by analysis kind), with their entries."""

    key: str
    label: str
    entries: tuple[LegendEntry, ...]
    kinds: tuple[LegendKind, ...] = ()


def _entry(layer: MapLayer, view: MapView) -> LegendEntry:
    return LegendEntry(
        layer.name,
        layer.spec.label_in(view.lang),
        len(layer.frame),
        layer.show,
        _geometry_kind(layer.spec.geometry),
        _style(layer),
        status_counts(layer.spec, layer.frame, view.lang),
        not is_embedded(layer, view),
    )


def _kinds(layers: Sequence[MapLayer], view: MapView) -> tuple[LegendKind, ...]:
    """The gap overlays by analysis kind; a kind's count is the sum of its overlays."""
    out = []
    for kind in KINDS:
        entries = tuple(_entry(x, view) for x in layers if x.gap_kind == kind)
        if entries:
            total = sum(e.count for e in entries)
            out.append(LegendKind(kind, kind_label(kind, view.lang), total, entries))
    return tuple(out)


def legend(layers: Sequence[MapLayer], view: MapView) -> list[LegendGroup]:
    """The layer panel and legend of a map, grouped (works, reference, gaps by kind)."""
    groups = []
    for key in GROUPS:
        mine = [x for x in layers if x.group == key]
        kinds = _kinds(mine, view) if key == "gaps" else ()
        entries = tuple(_entry(x, view) for x in mine if not (kinds and x.gap_kind))
        if entries or kinds:
            label = translate(f"maps.group.{key}", view.lang)
            groups.append(LegendGroup(key, label, entries, kinds))
    return groups


# ---------------------------------------------------------------------------- elements


class VillageMap(folium.Map):
    """A ``folium.Map`` for a page of ours: no viewport meta that stops zooming, no
    styles on ``html, body``, and only the Leaflet files (no Bootstrap, no jQuery)."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
            <style>#{{ this.get_name() }} { position: relative; width: 100%; height: 100%; }</style>
            <script>
                L_NO_TOUCH = {{ this.global_switches.no_touch |tojson}};
                L_DISABLE_3D = {{ this.global_switches.disable_3d|tojson }};
            </script>
        {% endmacro %}
        {% macro html(this, kwargs) %}
            <div class="folium-map vw-map" id={{ this.get_name()|tojson }}></div>
        {% endmacro %}
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.map(
                {{ this.get_name()|tojson }},
                {center: {{ this.location|tojson }}, crs: L.CRS.{{ this.crs }},
                 ...{{ this.options|tojavascript }}}
            );
        {% endmacro %}
        """
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        keep_js = {"leaflet"}
        keep_css = {"leaflet_css", "awesome_markers_font_css"}  # Font Awesome: locate icon
        self.default_js = [(n, u) for n, u in self.default_js if n in keep_js]
        self.default_css = [(n, u) for n, u in self.default_css if n in keep_css]


def _asset(name: str) -> tuple[str, str]:
    return name, ASSET_URLS[name].upstream_url


@cache
def _version(path: str) -> str:
    """A short hash of one of our static files, so browsers never run a stale copy."""
    return hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:10]


def static_link(urls: MapUrls, path: str) -> str:
    """URL of a file of ours under ``webmap/static``, pinned to its content."""
    return f"{urls.static.rstrip('/')}/{path}?v={_version(path)}"


class MapSetup(MacroElement):
    """First element of a map: page strings, URLs, search entries, outline, replay years."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            vw.setup({{ this._parent.get_name() }}, {{ this.config }});
        {% endmacro %}
        """
    )

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__()
        self._name = "MapSetup"
        self.settings = dict(config)
        self.config = script_json(self.settings)


class FeatureLayer(Layer):
    """One overlay drawn by ``vwmap.js``: its features (embedded or fetched) and style."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = vw.layer({{ this._parent.get_name() }}, {{ this.json }});
        {% endmacro %}
        """
    )

    def __init__(self, payload: Mapping[str, Any]) -> None:
        # vwmap.js adds the layer to the map itself (from ``show``), in step with the panel.
        super().__init__(name=payload["name"], overlay=True, control=False, show=False)
        self._name = "FeatureLayer"
        self.payload = dict(payload)
        self.json = script_json(self.payload)

    @property
    def mode(self) -> str:
        """``embed`` (features in the page) or ``fetch`` (from the bbox API)."""
        return str(self.payload["mode"])


class MapFinish(JSCSSMixin, MacroElement):
    """Last element: wires the panel, search, time slider and fetching; loads our JS."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            vw.finish({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, urls: MapUrls, tiles: bool = False) -> None:
        super().__init__()
        self._name = "MapFinish"
        self.default_js = [
            _asset("markerclusterjs"),
            ("vwmap", static_link(urls, "js/vwmap.js")),
        ]
        if tiles:  # only pages that draw a layer from vector tiles load the plugin
            self.default_js += [
                ("vectorgrid", static_link(urls, VECTORGRID_JS)),
                ("vtiles", static_link(urls, "js/vtiles.js")),
            ]
        self.default_css = [
            _asset("markerclustercss"),
            _asset("markerclusterdefaultcss"),
            ("vwmap_css", static_link(urls, "css/maps.css")),
        ]


# ------------------------------------------------------------------------------ build


def js_strings(lang: str) -> dict[str, str]:
    """The strings ``vwmap.js`` shows, in ``lang`` (keys without the ``maps.js.`` prefix)."""
    prefix = "maps.js."
    keys = [k for k in catalogue("zh") if k.startswith(prefix)]
    return {k[len(prefix) :]: translate(k, lang) for k in keys}


def _search_json(entries: Sequence[SearchEntry], gcj02: bool) -> list[list[Any]]:
    if not entries:
        return []
    points = np.asarray(shapely.points([[e.lon, e.lat] for e in entries]), dtype=object)
    xy = shapely.get_coordinates(display_geometries(points, gcj02))
    return [
        [e.id, e.name, e.township, float(x), float(y)]
        for e, (x, y) in zip(entries, xy, strict=True)
    ]


def _outline_json(view: MapView) -> Any:
    if view.outline is None or view.outline.is_empty:
        return None
    shape = display_geometries([view.outline], view.gcj02)[0]
    return {"geometry": orjson.loads(shapely.to_geojson(shape)), "method": view.outline_method}


def _setup_config(view: MapView) -> dict[str, Any]:
    return {
        "lang": view.lang,
        "coords": "gcj02" if view.gcj02 else "wgs84",
        "strings": js_strings(view.lang),
        "titles": view.titles,
        "urls": {
            "village": view.urls.village,
            "township": view.urls.township,
            "feature": view.urls.feature,
        },
        "search": _search_json(view.search, view.gcj02),
        "outline": _outline_json(view),
        "years": list(view.replay_years),
        "year": view.replay_year,
        "alertStatuses": list(ALERT_STATUSES),
        "maxZoom": MAX_ZOOM,
    }


def _add_controls(m: folium.Map, lang: str) -> None:
    def t(key: str) -> str:
        return translate(key, lang)

    plugins.Fullscreen(
        position="topleft",
        title=t("maps.ctl.fullscreen"),
        title_cancel=t("maps.ctl.fullscreen_exit"),
    ).add_to(m)
    plugins.LocateControl(
        position="topleft",
        strings={
            "title": t("maps.ctl.locate"),
            "popup": t("maps.ctl.locate_popup"),
            "metersUnit": t("maps.ctl.meters"),
            "feetUnit": "ft",
            "outsideMapBoundsMsg": t("maps.ctl.locate_outside"),
        },
        flyTo=True,
        keepCurrentZoomLevel=False,
    ).add_to(m)
    plugins.MeasureControl(
        position="topleft",
        primary_length_unit="meters",
        secondary_length_unit="kilometers",
        primary_area_unit="sqmeters",
        secondary_area_unit="hectares",
        localization="cn" if lang == "zh" else "en",
    ).add_to(m)


def build_map(layers: Sequence[MapLayer], view: MapView) -> folium.Map:
    """The Leaflet map of a page: basemap, overlays, outline and controls.

    Pure: the result depends only on the arguments. ``layers`` come from
    :func:`webmap.mapdata.map_layers`; a layer with more features than
    ``view.embed_max_features`` is not embedded but fetched for the view from
    ``view.urls.api``. Render it with ``m.get_root().render()``, or put its header, html
    and script parts into a page.
    """
    bounds = display_bounds(view.bounds, view.gcj02) if view.bounds else None
    center = [(bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2] if bounds else [39.5, 112.8]
    m = VillageMap(
        location=center,
        zoom_start=10,
        tiles=None,
        prefer_canvas=True,
        maxZoom=MAX_ZOOM,
        minZoom=5,
        zoomSnap=0.25,
        zoom_control=True,
    )
    add_basemap_tiles(m, view.basemap, view.lang, view.tianditu_key)
    MapSetup({**_setup_config(view), "fit": latlng_bounds(bounds) if bounds else None}).add_to(m)
    payloads = [layer_payload(layer, view) for layer in layers]
    for payload in payloads:
        FeatureLayer(payload).add_to(m)
    if view.controls:
        _add_controls(m, view.lang)
    MapFinish(view.urls, any(p["mode"] == "tiles" for p in payloads)).add_to(m)
    if view.ranked is not None:
        RankedGaps(view.ranked, view.urls.static).add_to(m)
    localise(m, f"{view.urls.static.rstrip('/')}/vendor")
    return m


@dataclass(frozen=True)
class MapParts:
    """A rendered map, split for a Jinja page: header links, the map div, the script."""

    header: str
    html: str
    script: str


def render_parts(m: folium.Map) -> MapParts:
    """Render ``m`` once and return its three parts (folium's "components" recipe)."""
    root: Any = m.get_root()  # a branca Figure, typed as its base Element
    root.render()
    return MapParts(root.header.render(), root.html.render(), root.script.render())


# ---------------------------------------------------------------------------- bbox API


def _wgs84_box(query: FeatureQuery) -> tuple[float, float, float, float] | None:
    """The query's box in WGS84: a GCJ-02 box (drawn over Gaode tiles) is shifted back."""
    if query.bbox is None or query.coords != "gcj02":
        return query.bbox
    minx, miny, maxx, maxy = query.bbox
    lon, lat = gcj02_to_wgs84(np.array([minx, maxx]), np.array([miny, maxy]))
    return (float(lon[0]), float(lat[0]), float(lon[1]), float(lat[1]))


def features_in_view(
    store: Any,
    spec: LayerSpec,
    filters: Filters,
    query: FeatureQuery,
    area: BaseGeometry | None,
) -> dict[str, Any]:
    """The bbox API's answer: a GeoJSON FeatureCollection of the layer's features in the
    box that pass ``filters`` (place filters as ``area``), with ``numberMatched``.

    The box is looked up in the store's STRtree; properties are the declared fields;
    coordinates are shifted to GCJ-02 when ``query.coords`` asks for it.
    """
    equals: dict[str, str] = {}
    if spec.kind == "work" and filters.status and spec.status_field:
        equals[spec.status_field] = filters.status
    if spec.kind == "work" and filters.ledger_item and spec.field("ledger_item"):
        equals["ledger_item"] = filters.ledger_item
    dated = spec.kind == "work"
    box = _wgs84_box(query)
    if area is not None and dated:
        box = _intersect_boxes(box, area.bounds)
        if box is None:
            return _collection([], [], 0)
    # Only the page is read: a county-wide view of a million points stays quick.
    wanted = Query(
        bbox=box,
        equals=equals,
        date_from=(filters.date_from or None) if dated else None,
        date_to=(filters.date_to or None) if dated else None,
        within=area if dated else None,
        limit=query.limit,
        offset=query.offset,
        spread=query.sample,
    )
    result = store.query_sample(spec.name, wanted)
    page = [f for f in result.features if not row_hidden(public_spec(spec), f["properties"])]
    shown = display_geometries(_feature_geometries(page), query.coords == "gcj02")
    return _collection(page, shown, result.number_matched, public_spec(spec).field_names)


def _intersect_boxes(
    a: tuple[float, float, float, float] | None, b: tuple[float, float, float, float]
) -> tuple[float, float, float, float] | None:
    if a is None:
        return tuple(b)  # type: ignore[return-value]
    box = (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))
    return box if box[0] <= box[2] and box[1] <= box[3] else None


def _feature_geometries(features: list[dict[str, Any]]) -> np.ndarray:
    """Shapely geometries of GeoJSON features, vectorised (points straight from coordinates)."""
    geoms = [f.get("geometry") for f in features]
    if geoms and all(g is not None and g.get("type") == "Point" for g in geoms):
        xy = np.array([g["coordinates"][:2] for g in geoms], dtype=np.float64)  # type: ignore[index]
        return np.asarray(shapely.points(xy), dtype=object)
    texts = np.array([None if g is None else orjson.dumps(g).decode() for g in geoms], dtype=object)
    out = np.full(len(texts), None, dtype=object)
    present = np.array([t is not None for t in texts], dtype=bool)
    if present.any():
        out[present] = shapely.from_geojson(texts[present])
    return out


def overlay_in_view(
    frame: gpd.GeoDataFrame,
    spec: LayerSpec,
    link_id: str,
    query: FeatureQuery,
    area: BaseGeometry | None,
) -> dict[str, Any]:
    """The bbox API's answer for a derived overlay (the gap layers): its rows in the box
    (and ``area``), paged or spread like :func:`features_in_view`; each feature carries
    ``linkId``, the id of the feature its popup opens (a dark stretch opens its road)."""
    positions = np.arange(len(frame))
    box = _wgs84_box(query)
    if box is not None and len(frame):
        positions = np.sort(frame.sindex.query(shapely.box(*box), predicate="intersects"))
    if area is not None and len(positions):
        shapely.prepare(area)
        anchors = anchor_points(frame.geometry.iloc[positions])
        positions = positions[shapely.intersects(area, anchors)]
    picks = positions[page_positions(len(positions), query.limit, query.offset, query.sample)]
    rows = frame.iloc[picks]
    names = [n for n in spec.field_names if n in rows.columns]
    values = {n: [plain_value(v) for v in rows[n].to_numpy(dtype=object)] for n in names}
    links = rows[link_id].astype(str).tolist() if link_id in rows.columns else None
    page = [
        {"id": str(fid), "properties": {n: values[n][i] for n in names}}
        for i, fid in enumerate(rows["id"])
    ]
    shown = display_geometries(rows.geometry.to_numpy(), query.coords == "gcj02")
    body = _collection(page, shown, len(positions), names)
    if links is not None:
        for feature, link in zip(body["features"], links, strict=True):
            feature["linkId"] = link
    return body


def _geojson_geometries(shown: Any) -> list[Any]:
    """GeoJSON mappings of shapely geometries (points without a round trip through text)."""
    geoms = np.asarray(shown, dtype=object)
    if len(geoms) and (shapely.get_type_id(geoms) == 0).all():
        return [
            {"type": "Point", "coordinates": xy} for xy in shapely.get_coordinates(geoms).tolist()
        ]
    return [None if g is None else orjson.loads(shapely.to_geojson(g)) for g in geoms]


def _collection(
    page: list[dict[str, Any]], shown: Any, matched: int, names: Sequence[str] = ()
) -> dict[str, Any]:
    features = [
        {
            "type": "Feature",
            "id": f["id"],
            "geometry": g,
            "properties": {
                n: v for n in names if (v := (f.get("properties") or {}).get(n)) is not None
            },
        }
        for f, g in zip(page, _geojson_geometries(shown), strict=True)
    ]
    return {
        "type": "FeatureCollection",
        "features": features,
        "numberMatched": matched,
        "numberReturned": len(features),
    }
