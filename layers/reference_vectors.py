"""The county's reference vectors for a phone without signal, and a layer's works near it.

The capture page keeps these in its service worker so that, with no basemap tiles
offline, the map still shows where the worker is:

- :func:`reference_vectors`: the county and township boundaries, the roads and the
  villages (points with name and township), simplified (``geo.simplify``) and rounded to
  :data:`DECIMALS` decimals (about 1 m), with only the properties a map label needs.
  :func:`reference_tag` names its content by the versions of the layers it reads, so a
  phone revalidates it cheaply (ETag).
- :func:`nearby_features`: the features of one layer within ``radius_m`` of a point,
  nearest first, at most :data:`MAX_NEARBY`, distances in metres in the point's UTM zone.
- :func:`village_sort_key`: the order of village lists, township then name then id, by
  code point (no pinyin collation offline: the same order on every phone and server).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyproj
import shapely
from shapely.geometry import mapping

from geo.messages import register
from geo.metric import WGS84, metric_crs_for
from geo.simplify import simplify_for_display
from layers.errors import BadRequest, NotFound
from layers.locations import working_area
from layers.store_base import BaseStore

__all__ = [
    "DECIMALS",
    "DEFAULT_RADIUS_M",
    "FORMAT",
    "MAX_NEARBY",
    "MAX_RADIUS_M",
    "REFERENCE_LAYERS",
    "nearby_features",
    "nearby_tag",
    "parse_nearby_args",
    "reference_tag",
    "reference_vectors",
    "village_sort_key",
]

#: Decimals kept of each coordinate: 1e-5 degree is about 1.1 m north-south here.
DECIMALS = 5
#: Simplification tolerance in degrees (about 1 m): invisible at street zoom on a phone.
TOLERANCE_DEG = 1e-5
#: The layers the reference data is drawn from.
REFERENCE_LAYERS = ("boundaries", "roads", "villages")
#: Bumped when the shape of the answer changes (part of the ETag).
FORMAT = 1
#: At most this many features of the chosen layer are sent to a phone.
MAX_NEARBY = 500
DEFAULT_RADIUS_M = 5000.0
MAX_RADIUS_M = 50000.0

for _code, _zh, _en in (
    (
        "nearby_bad_number",
        "参数 {field} 须为数值，收到“{value}”",
        "The parameter {field} must be a number, not '{value}'",
    ),
    (
        "nearby_out_of_range",
        "参数 {field} 须在 {low} 到 {high} 之间，收到 {value}",
        "The parameter {field} must lie between {low} and {high}, not {value}",
    ),
    (
        "nearby_lon_lat_pair",
        "参数 lon 与 lat 须同时给出",
        "The parameters lon and lat go together: give both or neither",
    ),
    (
        "nearby_not_point_layer",
        "图层“{value}”不是可在手机上采集的点图层",
        "The layer '{value}' is not a point layer captured on the phone",
    ),
):
    register(_code, _zh, _en)


def village_sort_key(township: Any, name: Any, fid: Any) -> tuple[bool, str, str, str]:
    """The order of village lists: township, then name, then id, by code point; villages
    without a township last. ``static/js/capture.js`` sorts the form's list the same way.

    >>> rows = [("玉井镇", "乙村", "VL-2"), (None, "丙村", "VL-3"), ("岱岳镇", "甲村", "VL-9"),
    ...         ("岱岳镇", "甲村", "VL-1")]
    >>> [v[2] for v in sorted(rows, key=lambda v: village_sort_key(*v))]
    ['VL-1', 'VL-9', 'VL-2', 'VL-3']
    """
    town = str(township or "")
    return (town == "", town, str(name or ""), str(fid or ""))


def _rounded(geoms: np.ndarray) -> np.ndarray:
    """``geoms`` with coordinates rounded to :data:`DECIMALS` decimals."""
    return shapely.transform(geoms, lambda xy: np.round(xy, DECIMALS))


def _collection(
    feats: list[dict[str, Any]], keep: tuple[str, ...], simplify: bool
) -> dict[str, Any]:
    """A FeatureCollection of ``feats`` with only ``keep`` properties, geometries
    simplified (when asked) and rounded; features without a geometry are left out."""
    feats = [f for f in feats if f.get("geometry")]
    geoms = np.asarray([shapely.geometry.shape(f["geometry"]) for f in feats], dtype=object)
    if simplify and len(geoms):
        geoms = simplify_for_display(geoms, TOLERANCE_DEG)
    geoms = _rounded(geoms) if len(geoms) else geoms
    out = []
    for feat, geom in zip(feats, geoms, strict=True):
        props = feat.get("properties") or {}
        kept = {k: props[k] for k in keep if props.get(k) not in (None, "")}
        out.append(
            {"type": "Feature", "id": feat["id"], "properties": kept, "geometry": mapping(geom)}
        )
    return {"type": "FeatureCollection", "features": out}


def _layer(store: BaseStore, name: str) -> list[dict[str, Any]]:
    return store.features(name) if name in store.layer_names() else []


def reference_tag(store: BaseStore) -> str:
    """The ETag value of :func:`reference_vectors`: the versions of the layers it reads.

    >>> import tempfile
    >>> from layers.store import GeoJSONStore
    >>> reference_tag(GeoJSONStore(tempfile.mkdtemp()))
    'ref1-0-0-0'
    """
    versions = [store.version(n) if n in store.layer_names() else 0 for n in REFERENCE_LAYERS]
    return f"ref{FORMAT}-" + "-".join(str(v) for v in versions)


def reference_vectors(store: BaseStore) -> dict[str, Any]:
    """County and township boundaries, roads and villages, ready for a phone's map.

    Village boundaries are left out (the village points carry the names); villages come
    in :func:`village_sort_key` order.

    >>> import tempfile
    >>> from layers.store import GeoJSONStore
    >>> ref = reference_vectors(GeoJSONStore(tempfile.mkdtemp()))
    >>> sorted(ref), ref["villages"]["features"]
    (['boundaries', 'roads', 'tag', 'villages'], [])
    """
    bounds = [
        f
        for f in _layer(store, "boundaries")
        if (f.get("properties") or {}).get("level") in ("county", "township")
    ]
    villages = sorted(
        _layer(store, "villages"),
        key=lambda f: village_sort_key(
            (f.get("properties") or {}).get("township"),
            (f.get("properties") or {}).get("name"),
            f["id"],
        ),
    )
    return {
        "tag": reference_tag(store),
        "boundaries": _collection(bounds, ("level", "name"), simplify=True),
        "roads": _collection(_layer(store, "roads"), ("name", "road_class"), simplify=True),
        "villages": _collection(villages, ("name", "township"), simplify=False),
    }


def _number(args: Mapping[str, str], field: str, low: float, high: float) -> float | None:
    raw = args.get(field)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise BadRequest("nearby_bad_number", field=field, value=str(raw)[:40]) from None
    if not (math.isfinite(value) and low <= value <= high):
        raise BadRequest(
            "nearby_out_of_range", field=field, low=low, high=high, value=str(raw)[:40]
        )
    return value


def parse_nearby_args(store: BaseStore, args: Mapping[str, str]) -> tuple[str, float, float, float]:
    """``layer``, ``lon``, ``lat`` and ``radius_m`` of a nearby request, checked (400 with
    the parameter and value; 404 for an unknown layer). Without ``lon``/``lat``: a point
    in the middle of the county; without ``radius_m``: :data:`DEFAULT_RADIUS_M`."""
    layer = str(args.get("layer") or "")
    if layer not in store.layer_names():
        raise NotFound("unknown_layer", value=layer[:60])
    spec = store.spec(layer)
    if not spec.spatial or "Point" not in spec.geometry:
        raise BadRequest("nearby_not_point_layer", value=layer)
    lon = _number(args, "lon", -180.0, 180.0)
    lat = _number(args, "lat", -90.0, 90.0)
    if (lon is None) != (lat is None):
        raise BadRequest("nearby_lon_lat_pair")
    radius = _number(args, "radius_m", 1.0, MAX_RADIUS_M)
    if lon is None or lat is None:  # no fix yet: around the middle of the county
        area = working_area(store)
        middle = area.representative_point() if area is not None else None
        lon, lat = (middle.x, middle.y) if middle is not None else (0.0, 0.0)
    return layer, lon, lat, DEFAULT_RADIUS_M if radius is None else radius


def nearby_tag(store: BaseStore, layer: str, lon: float, lat: float, radius_m: float) -> str:
    """The ETag value of :func:`nearby_features`: the layer's version and the question."""
    return f"near{FORMAT}-{layer}-{store.version(layer)}-{lon:.5f}-{lat:.5f}-{radius_m:g}"


def _distances_m(geoms: np.ndarray, lon: float, lat: float) -> np.ndarray:
    """Metres from (lon, lat) to each geometry's anchor, in the point's UTM zone."""
    anchors = np.where(shapely.get_type_id(geoms) == 0, geoms, shapely.point_on_surface(geoms))
    crs = metric_crs_for((lon, lat, lon, lat))
    to_metric = pyproj.Transformer.from_crs(WGS84, crs, always_xy=True)
    x, y = to_metric.transform(shapely.get_x(anchors), shapely.get_y(anchors))
    cx, cy = to_metric.transform(lon, lat)
    return np.hypot(np.asarray(x) - cx, np.asarray(y) - cy)


def nearby_features(
    store: BaseStore, layer: str, lon: float, lat: float, radius_m: float = DEFAULT_RADIUS_M
) -> dict[str, Any]:
    """The features of ``layer`` within ``radius_m`` of (lon, lat), nearest first, at
    most :data:`MAX_NEARBY`: id, title, status and review state, and ``distance_m``.

    >>> import tempfile
    >>> from layers.store import GeoJSONStore
    >>> nearby_features(GeoJSONStore(tempfile.mkdtemp()), "wells", 112.8, 39.5)["features"]
    []
    """
    spec = store.spec(layer)
    # A box a little larger than the circle picks the candidates; metres decide.
    dlat = radius_m / 110_000.0 * 1.1
    dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
    box = (lon - dlon, lat - dlat, lon + dlon, lat + dlat)
    feats = [f for f in store.query(layer, bbox=box).features if f.get("geometry")]
    geoms = np.asarray([shapely.geometry.shape(f["geometry"]) for f in feats], dtype=object)
    dist = _distances_m(geoms, lon, lat) if len(geoms) else np.zeros(0)
    order = [int(i) for i in np.argsort(dist, kind="stable") if dist[i] <= radius_m]
    order = order[:MAX_NEARBY]
    title = spec.title_field
    status = spec.status_field
    out = []
    for i, geom in zip(order, _rounded(geoms[order]) if order else [], strict=True):
        props = feats[i].get("properties") or {}
        kept = {
            "title": str(props.get(title) or "") if title else "",
            "status": str(props.get(status) or "") if status else "",
            "review": str(props.get("review") or "approved"),
            "distance_m": round(float(dist[i]), 1),
        }
        out.append(
            {"type": "Feature", "id": feats[i]["id"], "properties": kept, "geometry": mapping(geom)}
        )
    return {
        "type": "FeatureCollection",
        "layer": layer,
        "center": [round(lon, DECIMALS), round(lat, DECIMALS)],
        "radius_m": radius_m,
        "color": str(spec.style.get("color") or "#1565c0"),
        "features": out,
    }
