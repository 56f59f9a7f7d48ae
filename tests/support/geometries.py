"""One catalogue of test geometries, shared by every test file (``from geometries import
point``; ``tests/support`` is on the tests' ``pythonpath``).

Two forms: GeoJSON dicts, as the store, the OGC API and the uploads take them (``point``,
``line``, ``rectangle``, ``polygon`` and the constants in capitals ending in the shape's
name), and shapely geometries for the pure functions of ``geo`` (``north``, ``fwd``,
``frame`` and the ``SHAPELY_*`` constants). Coordinates are lon/lat (WGS84) in or near
Shanyin County: ``LON, LAT`` lies inside it, ``COUNTY_RING`` is the box round it that the
tests use as the county boundary.

>>> point()
{'type': 'Point', 'coordinates': [112.8, 39.5]}
>>> rectangle(0, 0, 1, 2)["coordinates"]
[[[0, 0], [1, 0], [1, 2], [0, 2], [0, 0]]]
>>> round(GEOD.inv(LON, LAT, *fwd(LON, LAT, 0.0, 1000.0))[2], 6)
1000.0
>>> SHAPELY_BOW_TIE.is_valid, len(SHAPELY_POLYGON_WITH_HOLE.interiors), SHAPELY_SQUARE.is_valid
(False, 1, True)
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import shapely
from pyproj import Geod
from shapely.geometry import Point

GEOD = Geod(ellps="WGS84")
LON, LAT = 112.8, 39.5  # inside Shanyin County (Shanxi, UTM zone 49N)
COUNTY_RING = [[112.5, 39.2], [113.2, 39.2], [113.2, 39.8], [112.5, 39.8], [112.5, 39.2]]

Geometry = dict[str, Any]


# ----------------------------------------------------------------------------- GeoJSON


def point(lon: float = LON, lat: float = LAT) -> Geometry:
    """A GeoJSON Point, by default inside the county."""
    return {"type": "Point", "coordinates": [lon, lat]}


def nth_point(i: int, step: float = 0.001) -> Geometry:
    """The ``i``-th of a row of GeoJSON points going east from LON, LAT, ``step``° apart."""
    return point(LON + i * step, LAT)


def line(*coords: tuple[float, float] | list[float]) -> Geometry:
    """A GeoJSON LineString through ``coords`` (by default 0.01° eastwards from LON, LAT)."""
    coords = coords or ((LON, LAT), (LON + 0.01, LAT))
    return {"type": "LineString", "coordinates": [list(c) for c in coords]}


def polygon(ring: list, *holes: list) -> Geometry:
    """A GeoJSON Polygon from an outer ring and holes (each a closed list of positions)."""
    return {"type": "Polygon", "coordinates": [[list(p) for p in r] for r in (ring, *holes)]}


def box_ring(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
    """The closed ring of an axis-aligned box, counter-clockwise."""
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]


def rectangle(x0: float, y0: float, x1: float, y1: float) -> Geometry:
    """A GeoJSON Polygon: the box from (x0, y0) to (x1, y1)."""
    return polygon(box_ring(x0, y0, x1, y1))


def square(lon: float = LON, lat: float = LAT, size: float = 0.001) -> Geometry:
    """A GeoJSON Polygon: a ``size``-degree square with its south-west corner at lon, lat."""
    return rectangle(lon, lat, lon + size, lat + size)


COUNTY = polygon(COUNTY_RING)
SQUARE = square()
POLYGON_WITH_HOLE = polygon(
    box_ring(LON, LAT, LON + 0.01, LAT + 0.01),
    box_ring(LON + 0.004, LAT + 0.004, LON + 0.006, LAT + 0.006)[::-1],
)
# Self-intersecting: its two triangles touch in the middle (invalid, "Self-intersection").
BOW_TIE = polygon(
    [[LON, LAT], [LON + 0.01, LAT + 0.01], [LON + 0.01, LAT], [LON, LAT + 0.01], [LON, LAT]]
)
MULTI_POINT = {"type": "MultiPoint", "coordinates": [[LON, LAT], [LON + 0.001, LAT]]}
MULTI_LINE = {
    "type": "MultiLineString",
    "coordinates": [
        [[LON, LAT], [LON + 0.01, LAT]],
        [[LON, LAT + 0.01], [LON + 0.01, LAT + 0.01]],
    ],
}
MULTI_POLYGON = {
    "type": "MultiPolygon",
    "coordinates": [SQUARE["coordinates"], square(LON + 0.002)["coordinates"]],
}
EMPTY_POINT = {"type": "Point", "coordinates": []}
NULL_ISLAND = point(0.0, 0.0)
SWAPPED = point(LAT, LON)  # lat/lon given as lon/lat


# ----------------------------------------------------------------------------- shapely


def fwd(lon: float, lat: float, azimuth: float, metres: float) -> tuple[float, float]:
    """The point ``metres`` from (lon, lat) towards ``azimuth`` (degrees from north)."""
    x, y, _ = GEOD.fwd(lon, lat, azimuth, metres)
    return float(x), float(y)


def north(metres: float, east: float = 0.0) -> Point:
    """A shapely point ``metres`` north of (LON, LAT), then ``east`` metres east."""
    x, y = fwd(LON, LAT, 0.0, metres)
    return Point(fwd(x, y, 90.0, east)) if east else Point(x, y)


def frame(geoms: Any, crs: Any = 4326, **columns: Any) -> gpd.GeoDataFrame:
    """A GeoDataFrame of ``geoms`` (lon/lat unless ``crs`` says otherwise) and columns."""
    return gpd.GeoDataFrame(columns or None, geometry=list(geoms), crs=crs)


SHAPELY_SQUARE = shapely.geometry.shape(SQUARE)
SHAPELY_POLYGON_WITH_HOLE = shapely.geometry.shape(POLYGON_WITH_HOLE)
SHAPELY_BOW_TIE = shapely.geometry.shape(BOW_TIE)
SHAPELY_COUNTY = shapely.geometry.shape(COUNTY)
