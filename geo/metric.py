"""Metric CRS choice and measures in metres: the one place distances and areas are made.

Everything in the app is stored in WGS84 lon/lat (EPSG:4326). Any length, area or distance
is computed after projecting to the UTM zone of the data (``metric_crs_for``), never in
degrees.
"""

from __future__ import annotations

import math

import geopandas as gpd
import pyproj
from pyproj import Geod
from shapely.geometry.base import BaseGeometry

WGS84 = "EPSG:4326"
_GEOD = Geod(ellps="WGS84")


def utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the WGS84 UTM zone holding (lon, lat).

    >>> utm_epsg(112.8, 39.5)
    32649
    """
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise ValueError("coordinates must be finite")
    zone = int((lon + 180.0) // 6.0) % 60 + 1
    return (32600 if lat >= 0 else 32700) + zone


def metric_crs_for(bounds: tuple[float, float, float, float] | gpd.GeoDataFrame) -> pyproj.CRS:
    """A metric CRS (UTM) fitting lon/lat ``bounds`` or a GeoDataFrame in WGS84.

    For data spanning several zones the zone of the centre is used: for a county or a
    province the scale error stays well under 0.1 %. An empty frame gets zone 49N
    (Shanxi), so callers need no special case.
    """
    if isinstance(bounds, gpd.GeoDataFrame | gpd.GeoSeries):
        if len(bounds) == 0 or bounds.geometry.is_empty.all():
            return pyproj.CRS.from_epsg(32649)
        bounds = (
            tuple(bounds.to_crs(WGS84).total_bounds) if bounds.crs else tuple(bounds.total_bounds)
        )
    minx, miny, maxx, maxy = bounds
    return pyproj.CRS.from_epsg(utm_epsg((minx + maxx) / 2.0, (miny + maxy) / 2.0))


def geodesic_length_m(geom: BaseGeometry) -> float:
    """Length in metres of a lon/lat (WGS84) line geometry, on the ellipsoid."""
    if geom is None or geom.is_empty:
        return 0.0
    return float(_GEOD.geometry_length(geom))


def geodesic_area_m2(geom: BaseGeometry) -> float:
    """Area in square metres of a lon/lat (WGS84) polygon geometry, on the ellipsoid."""
    if geom is None or geom.is_empty:
        return 0.0
    area, _perimeter = _GEOD.geometry_area_perimeter(geom)
    return abs(float(area))


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Geodesic distance in metres between two lon/lat points."""
    _az1, _az2, dist = _GEOD.inv(lon1, lat1, lon2, lat2)
    return float(dist)
