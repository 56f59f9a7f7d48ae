"""Lines and polygons simplified for drawing: a page draws at most a few thousand pixels
across, so a 10,000-vertex pipe needs no more vertices than it covers pixels.

:func:`display_tolerance_deg` ties the tolerance to the display scale: half a pixel at
:data:`ZOOM_HEADROOM` zoom levels deeper than the view that fits ``bounds`` into
:data:`DISPLAY_PX` pixels. :func:`simplify_for_display` applies it (shapely's
Douglas-Peucker with ``preserve_topology``: a polygon stays valid, no ring collapses) to
the lines and polygons with more than :data:`MIN_VERTICES` vertices; points and small
shapes are returned as they are. The stored geometries are never changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import shapely

__all__ = [
    "DISPLAY_PX",
    "MIN_VERTICES",
    "ZOOM_HEADROOM",
    "display_tolerance_deg",
    "simplify_for_display",
]

#: Pixels across a map view (a wide desktop map).
DISPLAY_PX = 1600
#: Zoom levels below the fitted view at which simplification must still be invisible.
ZOOM_HEADROOM = 3
#: Shapes with at most this many vertices are drawn as they are.
MIN_VERTICES = 64


def display_tolerance_deg(
    bounds: tuple[float, float, float, float] | None,
    px: int = DISPLAY_PX,
    headroom: int = ZOOM_HEADROOM,
) -> float:
    """Half a pixel, in degrees, at ``headroom`` zoom levels below the view fitting
    ``bounds`` (minx, miny, maxx, maxy) into ``px`` pixels; 0 without bounds.

    >>> round(display_tolerance_deg((112.3, 39.2, 113.1, 39.8)), 8)
    3.125e-05
    >>> display_tolerance_deg(None)
    0.0
    """
    if bounds is None:
        return 0.0
    span = max(bounds[2] - bounds[0], bounds[3] - bounds[1])
    if not np.isfinite(span) or span <= 0:
        return 0.0
    return float(span) / px / 2**headroom / 2


def simplify_for_display(geoms: Iterable[Any], tolerance_deg: float) -> np.ndarray:
    """``geoms`` with every line and polygon of more than :data:`MIN_VERTICES` vertices
    simplified to ``tolerance_deg`` (topology preserved); None stays None.

    >>> zigzag = shapely.LineString([(i / 10000, (i % 2) / 1e7) for i in range(1000)])
    >>> (shown,) = simplify_for_display([zigzag], 1e-5)
    >>> int(shapely.get_num_coordinates(shown))
    2
    >>> simplify_for_display([shapely.Point(1, 2), None], 1.0).tolist()
    [<POINT (1 2)>, None]
    """
    array = (
        geoms
        if isinstance(geoms, np.ndarray) and geoms.dtype == object
        else np.asarray(list(geoms), dtype=object)
    )
    if tolerance_deg <= 0 or not len(array):
        return array
    big = shapely.get_num_coordinates(array) > MIN_VERTICES
    big &= shapely.get_type_id(array) != shapely.GeometryType.MULTIPOINT
    if not big.any():
        return array
    out = array.copy()
    out[big] = shapely.simplify(array[big], tolerance_deg, preserve_topology=True)
    return out
