"""Where a feature may be: the one location check of every spatial create and update.

The working area is the county polygon(s) of the ``boundaries`` layer. A location must
lie inside it or within ``margin_m`` of it, not at (0, 0), not with its axes swapped, and
within longitude/latitude range; one close to an existing feature of the layer (or to an
earlier one of the same batch) is a duplicate, a warning whose consequence the caller's
duplicates policy decides. The checks are :func:`geo.validate.validate_geometries`; this
module supplies the area, the existing features and the wording.

The store's change planner (:mod:`layers.planner`) calls :func:`location_problems` for
every change that gives a geometry, whatever the entry point (form, OGC API, capture,
upload); an upload calls it first itself, because it needs the duplicates before it
builds its changes, and marks the changes as checked.
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Collection, Sequence
from typing import Any, Protocol

import geopandas as gpd
import numpy as np
import orjson
import shapely
from shapely.geometry.base import BaseGeometry

from geo.messages import register
from geo.problems import Problem
from geo.validate import validate_geometries
from layers.specs import LayerSpec

#: How far outside the working area a location may lie unless a setting says otherwise.
DEFAULT_MARGIN_M = 2000.0
#: Largest accepted margin around the working area (a province is a few hundred km).
MAX_MARGIN_M = 1_000_000.0
#: The layer whose county polygons are the working area (never checked against itself).
AREA_LAYER = "boundaries"
#: Up to this many new geometries, the existing features are read around them only.
_NEARBY_MAX = 1000

for _code, _zh, _en in (
    (
        "outside_working_area",
        "第 {row} 行：位置 {value} 不在工作区域（{area}及周边 {margin_m} 米）内，"
        "相距 {distance_km} 公里",
        "Row {row}: the location {value} is outside the working area ({area} and {margin_m} m "
        "around it), {distance_km} km away",
    ),
    (
        "all_outside_working_area",
        "文件中 {count} 处位置全部不在工作区域（{area}）内，最近的也相距 {distance_km} 公里。"
        "文件是否来自别的地方，或使用了其他坐标系？",
        "None of the {count} locations in the file is in the working area ({area}); the "
        "nearest is {distance_km} km away. Is the file from another place, or in another "
        "coordinate system?",
    ),
):
    register(_code, _zh, _en)


class LocatedStore(Protocol):
    """What the location check reads from a store."""

    backend: str

    @property
    def specs(self) -> Any: ...

    def version(self, layer: str) -> int: ...

    def frame(self, layer: str) -> gpd.GeoDataFrame: ...

    def query_frame(self, layer: str, *, bbox: Any = None) -> gpd.GeoDataFrame: ...

    def bbox_ids(self, layer: str, bbox: Any) -> list[str]: ...


_AREAS: weakref.WeakKeyDictionary[Any, tuple[int, BaseGeometry | None, str]] = (
    weakref.WeakKeyDictionary()
)


def _area_of(store: LocatedStore) -> tuple[BaseGeometry | None, str]:
    """The working area and its name, read once per version of the boundaries layer."""
    if AREA_LAYER not in store.specs:
        return None, ""
    version = store.version(AREA_LAYER)
    cached = _AREAS.get(store)
    if cached is not None and cached[0] == version:
        return cached[1], cached[2]
    frame = store.frame(AREA_LAYER)
    county = frame[frame["level"] == "county"] if "level" in frame else frame.iloc[0:0]
    area = None if county.empty else shapely.union_all(county.geometry.values)
    names = county["name"] if "name" in county and not county.empty else []
    name = "、".join(str(n) for n in names if isinstance(n, str))
    try:
        _AREAS[store] = (version, area, name)
    except TypeError:  # a store that cannot be weakly referenced: not cached
        pass
    return area, name


def working_area(store: LocatedStore) -> BaseGeometry | None:
    """The county polygon(s) from the boundaries layer, or None when none is loaded."""
    return _area_of(store)[0]


def working_area_name(store: LocatedStore) -> str:
    """The county's name (e.g. 山阴县) for messages; empty when none is loaded."""
    return _area_of(store)[1]


def checks_locations(spec: LayerSpec) -> bool:
    """Whether features of ``spec`` get location checks (every spatial layer but the one
    that defines the working area)."""
    return spec.spatial and spec.name != AREA_LAYER


def as_shapes(geometries: Sequence[Any]) -> np.ndarray:
    """GeoJSON mappings or shapely geometries (or None) as an array of shapely ones."""
    out = np.full(len(geometries), None, dtype=object)
    for i, geom in enumerate(geometries):
        if isinstance(geom, BaseGeometry) or geom is None:
            out[i] = geom
        else:
            try:
                out[i] = shapely.from_geojson(orjson.dumps(geom))
            except (shapely.errors.GEOSException, TypeError, ValueError):
                out[i] = None
    return out


def location_problems(
    store: LocatedStore,
    spec: LayerSpec,
    geometries: Sequence[Any],
    rows: Sequence[int],
    *,
    margin_m: float = DEFAULT_MARGIN_M,
    ignore_ids: Collection[str] = (),
    duplicates: bool = True,
) -> list[Problem]:
    """The location problems of new geometries of ``spec`` (lon/lat), sorted by row.

    ``geometries`` are GeoJSON mappings or shapely geometries; ``rows`` their row
    numbers. Features whose id is in ``ignore_ids`` (those being moved) are no
    duplicates of themselves; ``duplicates=False`` leaves the duplicate search out.
    Problems keep :mod:`geo.validate`'s codes; see
    :func:`name_outside` for an upload's wording.
    """
    if not checks_locations(spec) or not len(geometries):
        return []
    shapes = as_shapes(geometries)
    frame = gpd.GeoDataFrame(geometry=gpd.GeoSeries(shapes, crs="EPSG:4326"), crs="EPSG:4326")
    distance = (spec.duplicate_distance_m or None) if duplicates else None
    existing = _existing(store, spec, shapes, distance, ignore_ids) if distance else None
    return validate_geometries(
        frame,
        allowed_types=spec.geometry,
        area=working_area(store),
        margin_m=margin_m,
        existing=existing,
        duplicate_distance_m=distance,
        rows=list(rows),
    )


def _existing(
    store: LocatedStore,
    spec: LayerSpec,
    shapes: np.ndarray,
    distance_m: float | None,
    ignore_ids: Collection[str],
) -> gpd.GeoDataFrame | None:
    """The stored features a new one could duplicate: those around the new geometries
    (a bbox query, so a one-feature commit into a big layer builds no whole-layer frame),
    or the whole layer for a big batch."""
    if len(shapes) > _NEARBY_MAX:
        existing = store.frame(spec.name)
    else:
        present = shapes[~shapely.is_missing(shapes)]
        if not len(present):
            return None
        minx, miny, maxx, maxy = shapely.total_bounds(present).tolist()
        pad = 3 * float(distance_m or 0) / 100_000 + 1e-6  # degrees; generous at 60° N
        bbox = (minx - pad, miny - pad, maxx + pad, maxy + pad)
        if not all(np.isfinite(bbox)):
            return None
        near = store.bbox_ids(spec.name, bbox)  # the index only: usually nothing is near
        if not set(map(str, near)) - set(map(str, ignore_ids)):
            return None
        existing = store.query_frame(spec.name, bbox=bbox)
    if ignore_ids and len(existing):
        existing = existing[~existing["id"].astype(str).isin(list(ignore_ids))]
    return existing if len(existing) else None


def name_outside(problems: list[Problem], area_name: str, readable: int) -> list[Problem]:
    """An upload's wording: "outside the working area (山阴县 ...)" instead of "outside
    the area", plus one file-level problem when no location at all is in it (a wrong
    file or a wrong CRS)."""
    named = [
        dataclasses.replace(p, code="outside_working_area", params={**p.params, "area": area_name})
        if p.code == "outside_area"
        else p
        for p in problems
    ]
    outside = [p for p in named if p.code == "outside_working_area"]
    if outside and len(outside) == readable:
        nearest = min(float(p.params.get("distance_km", 0)) for p in outside)
        named.insert(
            0,
            Problem(
                "all_outside_working_area",
                params={"count": readable, "area": area_name, "distance_km": nearest},
            ),
        )
    return named


__all__ = [
    "DEFAULT_MARGIN_M",
    "MAX_MARGIN_M",
    "checks_locations",
    "location_problems",
    "name_outside",
    "working_area",
    "working_area_name",
]
