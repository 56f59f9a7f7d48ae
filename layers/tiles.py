"""Mapbox Vector Tiles of a layer in the WebMercatorQuad tile matrix set (OGC API - Tiles).

One entry point for both stores: :func:`layer_tile` ``(store, spec, z, x, y) -> bytes``.
PostGIS builds the tile in SQL (:mod:`layers.pg_tiles`, ``ST_AsMVT``); the GeoJSON store
finds the features with its bbox index (``bbox_ids``) and encodes them with the PyPI
package ``mapbox-vector-tile``. Both serve the same features: those whose geometry
intersects the tile grown by its buffer (:func:`tile_query_box`), by id, at most
:data:`MAX_FEATURES` (10,000, as tipg caps a tile), each with its ``id`` and the
properties a reader of ``spec`` may see (a :func:`layers.private_fields.public_spec`
leaves the private fields out, and rows a public reader may not see, a resident's
report not yet accepted, are not served).
Geometry is in tile units (extent 4096, y down), clipped to the tile plus a 64-unit
buffer, and simplified to one unit.

:class:`TileCache` keeps recent tiles in memory, keyed by the layer's version, so a tile
is built once per change of its layer.

>>> tile_bounds_lonlat(0, 0, 0)[0], round(tile_bounds_lonlat(0, 0, 0)[3], 4)
(-180.0, 85.0511)
>>> tile_error(3, 8, 0)
'x'
>>> tile_error(23, 0, 0)
'z'
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Any

import mapbox_vector_tile
import numpy as np
import orjson
import shapely

from layers.private_fields import hidden_names, row_hidden
from layers.specs import LayerSpec
from layers.store_base import BaseStore

#: Tile units across a tile (OGC and Mapbox default) and the buffer kept around it.
EXTENT = 4096
BUFFER = 64
#: Deepest zoom (tile matrix) served, as OGC's WebMercatorQuad definition lists.
MAX_ZOOM = 22
#: Features per tile, at most (tipg's default): the first ones by id.
MAX_FEATURES = 10_000
#: Half the width of the Web Mercator world, in metres.
HALF_WORLD_M = 20037508.342789244
_EARTH_RADIUS_M = 6378137.0
_MAX_LAT = 85.0511287798066


def tile_error(z: int, x: int, y: int) -> str | None:
    """The name (``z``, ``x`` or ``y``) of the first coordinate out of range, or None."""
    if not 0 <= z <= MAX_ZOOM:
        return "z"
    size = 1 << z
    if not 0 <= x < size:
        return "x"
    if not 0 <= y < size:
        return "y"
    return None


def tile_bounds_m(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """The tile's envelope in Web Mercator metres (EPSG:3857), as ``ST_TileEnvelope``."""
    size = 2 * HALF_WORLD_M / (1 << z)
    minx = -HALF_WORLD_M + x * size
    maxy = HALF_WORLD_M - y * size
    return (minx, maxy - size, minx + size, maxy)


def tile_bounds_lonlat(
    z: int, x: int, y: int, margin: float = 0.0
) -> tuple[float, float, float, float]:
    """The tile's envelope in lon/lat (the corners of :func:`tile_bounds_m`), grown by
    ``margin`` tile widths on each side (``ST_TileEnvelope``'s ``margin``)."""
    minx, miny, maxx, maxy = tile_bounds_m(z, x, y)
    grow = (maxx - minx) * margin
    minx, miny = max(minx - grow, -HALF_WORLD_M), max(miny - grow, -HALF_WORLD_M)
    maxx, maxy = min(maxx + grow, HALF_WORLD_M), min(maxy + grow, HALF_WORLD_M)

    def lat(y_m: float) -> float:
        return math.degrees(math.atan(math.sinh(y_m / _EARTH_RADIUS_M)))

    return (minx / HALF_WORLD_M * 180, lat(miny), maxx / HALF_WORLD_M * 180, lat(maxy))


def tile_query_box(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """The lon/lat box whose features a tile holds: the tile and its buffer, so that a
    point near an edge is drawn whole by both tiles it touches."""
    return tile_bounds_lonlat(z, x, y, BUFFER / EXTENT)


def shown_statuses(spec: LayerSpec) -> tuple[str | None, tuple[str, ...]]:
    """``(status_field, statuses)`` a reader of ``spec`` may see, or ``(None, ())`` when
    every row is visible to it (the rule of :func:`layers.private_fields.row_hidden`)."""
    status = spec.status_field
    if not status or not row_hidden(spec, {status: "\x00"}):
        return None, ()
    declared = spec.field(status)
    values = declared.values if declared is not None else ()
    return status, tuple(v for v in values if not row_hidden(spec, {status: v}))


def layer_tile(
    store: BaseStore, spec: LayerSpec, z: int, x: int, y: int, *, cap: int = MAX_FEATURES
) -> bytes:
    """The MVT bytes of tile ``z/x/y`` of ``spec``'s layer as a reader of ``spec`` sees it
    (one MVT layer named as the layer; empty bytes for a tile without features).

    ``spec`` is the reader's spec (:func:`layers.private_fields.for_reader`).
    """
    wrong = tile_error(z, x, y)
    if wrong is not None:
        raise ValueError(f"tile {z}/{x}/{y}: {wrong} out of range")
    if not spec.spatial:
        return b""
    status, statuses = shown_statuses(spec)
    if getattr(store, "backend", "") == "postgis":
        from layers import pg_tiles

        return pg_tiles.layer_tile(
            store,  # type: ignore[arg-type]
            spec.name,
            (z, x, y),
            hidden=sorted(hidden_names(spec)),
            status_field=status,
            shown_statuses=statuses,
            extent=EXTENT,
            buffer=BUFFER,
            cap=cap,
        )
    features = _tile_features(store, spec, tile_query_box(z, x, y), cap)
    return encode_tile(spec.name, features, tile_bounds_m(z, x, y))


def _tile_features(
    store: BaseStore, spec: LayerSpec, box: tuple[float, float, float, float], cap: int
) -> list[dict[str, Any]]:
    """The first ``cap`` features by id in ``box`` a reader of ``spec`` may see."""
    status, statuses = shown_statuses(spec)
    hidden = hidden_names(spec)
    out: list[dict[str, Any]] = []
    for fid in sorted(store.bbox_ids(spec.name, box)):
        feature = store.get(spec.name, fid)
        if feature is None or not feature.get("geometry"):
            continue
        props = feature.get("properties") or {}
        if status is not None and props.get(status) not in statuses:
            continue
        shown = tile_properties(feature, hidden)
        out.append({"geometry": feature["geometry"], "properties": shown})
        if len(out) >= cap:
            break
    return out


def _mercator(coords: np.ndarray) -> np.ndarray:
    lon = coords[:, 0]
    lat = np.clip(coords[:, 1], -_MAX_LAT, _MAX_LAT)
    x = np.radians(lon) * _EARTH_RADIUS_M
    y = np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)) * _EARTH_RADIUS_M
    return np.column_stack([x, y])


def _to_tile_units(bounds_m: tuple[float, float, float, float]) -> Callable[[Any], Any]:
    minx, _, _, maxy = bounds_m
    scale = EXTENT / (bounds_m[2] - minx)

    def convert(coords: np.ndarray) -> np.ndarray:
        xy = _mercator(coords)
        return np.column_stack([(xy[:, 0] - minx) * scale, (maxy - xy[:, 1]) * scale])

    return convert


def tile_properties(feature: Mapping[str, Any], hidden: frozenset[str]) -> dict[str, Any]:
    """A feature's MVT attributes: its ``id`` and its values but the ``hidden`` ones
    (:func:`layers.private_fields.hidden_names`; nulls left out, lists and objects as
    JSON text, as PostGIS writes jsonb)."""
    out: dict[str, Any] = {}
    for key, value in (feature.get("properties") or {}).items():
        if value is None or key in hidden:
            continue
        if isinstance(value, (list, dict)):
            value = orjson.dumps(value).decode()
        out[key] = value
    out["id"] = str(feature["id"])
    return out


def encode_tile(
    name: str, features: list[dict[str, Any]], bounds_m: tuple[float, float, float, float]
) -> bytes:
    """MVT bytes of ``features`` (GeoJSON, lon/lat) in the tile of ``bounds_m``."""
    if not features:
        return b""
    geoms = shapely.from_geojson([orjson.dumps(f["geometry"]).decode() for f in features])
    tiled = shapely.transform(geoms, _to_tile_units(bounds_m))
    lo, hi = -BUFFER, EXTENT + BUFFER
    points = shapely.get_type_id(tiled) == shapely.GeometryType.POINT
    shapes = ~points & ~shapely.is_empty(tiled)
    if shapes.any():
        clipped = shapely.clip_by_rect(tiled[shapes], lo, lo, hi, hi)
        # Snapped to the tile's grid as ST_AsMVTGeom does: what collapses (a greenhouse at
        # zoom 6) is left out, as PostGIS leaves it out.
        tiled[shapes] = shapely.set_precision(shapely.simplify(clipped, 1.0), 1.0)
    kept = [
        {"geometry": g, "properties": f["properties"]}
        for f, g in zip(features, tiled, strict=True)
        if g is not None and not g.is_empty
    ]
    if not kept:
        return b""
    layer = {"name": name, "features": kept}
    options = {"extents": EXTENT, "y_coord_down": True}
    return bytes(mapbox_vector_tile.encode(layer, default_options=options))


class TileCache:
    """A small thread-safe LRU of tile bytes; keys name the layer's version, so a change
    of the layer makes its old tiles unreachable (they age out)."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_make(self, key: Hashable, make: Callable[[], bytes]) -> bytes:
        """The tile of ``key``, made by ``make`` when not kept."""
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        made = make()
        with self._lock:
            self._items[key] = made
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return made

    def __len__(self) -> int:
        return len(self._items)


__all__ = [
    "BUFFER",
    "EXTENT",
    "MAX_FEATURES",
    "MAX_ZOOM",
    "TileCache",
    "encode_tile",
    "layer_tile",
    "shown_statuses",
    "tile_bounds_lonlat",
    "tile_bounds_m",
    "tile_error",
    "tile_properties",
    "tile_query_box",
]
