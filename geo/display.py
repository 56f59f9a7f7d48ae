"""Geometries as a page draws them: rounded, and moved to GCJ-02 under Gaode tiles.

Data is stored in WGS84. Gaode/Amap tiles are drawn in GCJ-02, so overlays drawn on them
are shifted by :func:`geo.crs.wgs84_to_gcj02` vertex by vertex, or every work would sit a
few hundred metres off its road. This module is the one place that shift happens for
display (the map, the dashboard's gap map, the upload preview); coordinates are also
rounded to :data:`DISPLAY_DECIMALS` (about 0.1 m), plenty for a screen and much shorter
JSON. Z values are dropped: pages draw in 2D.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import orjson
import shapely

from geo.crs import wgs84_to_gcj02

#: Decimals of a displayed degree: 1e-6 degree is about 0.1 m.
DISPLAY_DECIMALS = 6


def display_geometries(
    geoms: Iterable[Any], gcj02: bool, decimals: int | None = DISPLAY_DECIMALS
) -> np.ndarray:
    """Shapely geometries as drawn: shifted to GCJ-02 when ``gcj02``, then rounded.

    Parameters
    ----------
    geoms : iterable of shapely geometries
        WGS84 lon/lat; None (missing) stays None.
    gcj02 : bool
        Shift every vertex to GCJ-02 (Gaode tiles); False leaves the positions alone.
    decimals : int or None
        Round coordinates to this many decimals; None keeps them exact.

    Returns
    -------
    numpy.ndarray
        Object array of the same length, 2D geometries.

    Examples
    --------
    >>> point = shapely.Point(112.8, 39.5)
    >>> display_geometries([point, None], gcj02=False).tolist()
    [<POINT (112.8 39.5)>, None]
    >>> moved = display_geometries([point], gcj02=True)[0]
    >>> (round(moved.x - 112.8, 4), round(moved.y - 39.5, 4))
    (0.0067, 0.001)
    >>> display_geometries([], gcj02=True).tolist()
    []
    """
    array = (
        geoms
        if isinstance(geoms, np.ndarray) and geoms.dtype == object
        else np.asarray(list(geoms), dtype=object)
    )

    def move(coords: np.ndarray) -> np.ndarray:
        if gcj02 and len(coords):
            lon, lat = wgs84_to_gcj02(coords[:, 0], coords[:, 1])
            coords = np.column_stack([lon, lat])
        return coords if decimals is None else np.round(coords, decimals)

    if not len(array):
        return array
    return np.asarray(shapely.transform(array, move), dtype=object)


def display_geojson(
    geoms: Iterable[Any], gcj02: bool, decimals: int | None = DISPLAY_DECIMALS
) -> list[dict[str, Any] | None]:
    """Like :func:`display_geometries`, as GeoJSON geometry objects (None stays None).

    >>> display_geojson([shapely.Point(1.23456789, 2), None], gcj02=False)
    [{'type': 'Point', 'coordinates': [1.234568, 2.0]}, None]
    """
    shown = display_geometries(geoms, gcj02, decimals)
    present = ~shapely.is_missing(shown) if len(shown) else np.zeros(0, dtype=bool)
    out: list[dict[str, Any] | None] = [None] * len(shown)
    if present.any():
        texts = shapely.to_geojson(shown[present])
        for i, text in zip(np.flatnonzero(present), texts, strict=True):
            out[i] = orjson.loads(text)
    return out


def display_mapping(
    geometry: Mapping[str, Any] | None, gcj02: bool, decimals: int | None = DISPLAY_DECIMALS
) -> dict[str, Any] | None:
    """One GeoJSON geometry object as drawn (None for none).

    >>> display_mapping({"type": "Point", "coordinates": [2.35, 48.85]}, gcj02=True)
    {'type': 'Point', 'coordinates': [2.35, 48.85]}
    >>> display_mapping(None, gcj02=True) is None
    True
    """
    if geometry is None:
        return None
    shape = shapely.geometry.shape(dict(geometry))
    return display_geojson([shape], gcj02, decimals)[0]
