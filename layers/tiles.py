"""Mapbox Vector Tiles of a layer in the WebMercatorQuad tile matrix set (OGC API - Tiles).

One entry point for both stores: :func:`layer_tile` ``(store, spec, z, x, y) -> bytes``.
PostGIS builds the tile in SQL (:mod:`layers.pg_tiles`, ``ST_AsMVT``); the GeoJSON store
reads the tile's features in one go from its in-memory table (bbox index, column-wise:
:meth:`layers.store.GeoJSONStore.bbox_columns`, never a feature dict each) and writes
them with the PyPI package ``mapbox-vector-tile``. Both serve the same features: those whose
geometry intersects the tile grown by its buffer (:func:`tile_query_box`), by id, at most
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
from layers.store import GeoJSONStore
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
    return _store_tile(store, spec, (z, x, y), cap)  # type: ignore[arg-type]


def _store_tile(store: GeoJSONStore, spec: LayerSpec, zxy: tuple[int, int, int], cap: int) -> bytes:
    """The GeoJSON store's tile: the first ``cap`` features by id in the tile's box that a
    reader of ``spec`` may see, read column-wise from the store's table (no dict per
    feature), the hidden fields left out once per tile, encoded by ``mapbox-vector-tile``."""
    status, statuses = shown_statuses(spec)
    shown = (status, statuses) if status is not None else None
    read = store.bbox_columns(spec.name, tile_query_box(*zxy), shown=shown, limit=cap)
    if not read.ids:
        return b""
    hidden = hidden_names(spec)
    columns: list[tuple[str, Any]] = [(k, v) for k, v in read.columns.items() if k not in hidden]
    columns.append(("id", read.ids))
    whole = {i: _shown(props, hidden, read.ids[i]) for i, props in read.whole.items()}
    tiled = tile_geometries(read.geometries, tile_bounds_m(*zxy))
    return encode_features(spec.name, tiled, columns, whole)


def encode_features(
    name: str,
    geometries: np.ndarray,
    columns: list[tuple[str, Any]],
    whole: Mapping[int, Mapping[str, Any]],
) -> bytes:
    """MVT bytes (``mapbox-vector-tile``) of one layer ``name``: the features of
    ``geometries`` (shapely, tile units, y down; empty ones left out), whose attributes
    are the ``columns`` ``(key, values)``, or ``whole[i]`` for a feature ``i`` held
    whole. None and NaN (absent) are left out; lists and objects go as JSON text."""
    keep = np.flatnonzero(~shapely.is_missing(geometries) & ~shapely.is_empty(geometries))
    if not len(keep):
        return b""
    keys = [key for key, _ in columns]
    cells = [[_mvt_value(v) for v in np.asarray(c, dtype=object)[keep]] for _, c in columns]
    rows = list(zip(*cells, strict=True)) if cells else [()] * len(keep)
    features = []
    for i, row in zip(keep.tolist(), rows, strict=True):
        held = whole.get(i)
        if held is not None:
            pairs = [(k, _mvt_value(v)) for k, v in held.items()]
        else:
            pairs = list(zip(keys, row, strict=True))
        props = {k: v for k, v in pairs if v is not _ABSENT}
        features.append({"geometry": geometries[i], "properties": props})
    options = {"extents": EXTENT, "y_coord_down": True}
    layer = {"name": name, "features": features}
    return bytes(mapbox_vector_tile.encode(layer, default_options=options))


#: A value an MVT feature leaves out (None, NaN).
_ABSENT = object()


def _mvt_value(value: Any) -> Any:
    """``value`` as an MVT attribute: lists and objects as JSON text, numpy scalars as
    Python ones; :data:`_ABSENT` for None and NaN."""
    if value is None or (isinstance(value, float) and value != value):
        return _ABSENT
    if isinstance(value, (list, dict)):
        return orjson.dumps(value).decode()
    if isinstance(value, np.generic):
        return _mvt_value(value.item())
    return value


def _shown(props: Mapping[str, Any], hidden: frozenset[str], fid: str) -> dict[str, Any]:
    """A feature's MVT attributes: its values but the ``hidden`` ones, and its ``id``."""
    out = {k: v for k, v in props.items() if k not in hidden}
    out["id"] = fid
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


def tile_geometries(
    geometries: np.ndarray, bounds_m: tuple[float, float, float, float]
) -> np.ndarray:
    """``geometries`` (shapely, lon/lat) in the units of the tile of ``bounds_m`` (y
    down); lines and polygons clipped to the tile and its buffer and snapped to its grid,
    as ``ST_AsMVTGeom`` does (what collapses, a greenhouse at zoom 6, comes out empty
    and is left out, as PostGIS leaves it out)."""
    tiled = shapely.transform(geometries, _to_tile_units(bounds_m))
    lo, hi = -BUFFER, EXTENT + BUFFER
    points = shapely.get_type_id(tiled) == shapely.GeometryType.POINT
    shapes = ~points & ~shapely.is_empty(tiled) & ~shapely.is_missing(tiled)
    if shapes.any():
        clipped = shapely.clip_by_rect(tiled[shapes], lo, lo, hi, hi)
        tiled[shapes] = shapely.set_precision(shapely.simplify(clipped, 1.0), 1.0)
    return tiled


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
    "layer_tile",
    "shown_statuses",
    "tile_bounds_lonlat",
    "tile_bounds_m",
    "tile_error",
    "tile_geometries",
    "tile_query_box",
]
