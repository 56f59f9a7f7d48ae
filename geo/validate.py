"""Geometric checks of incoming features, reported as :class:`geo.problems.Problem` lists.

Every check takes a GeoDataFrame (or GeoSeries) in WGS84 lon/lat (a frame in another CRS is
converted first; a frame without CRS is taken as lon/lat) and an optional ``rows`` sequence
aligned with it: the row numbers the user sees in their file (default 1..n). Checks never
raise on bad data; they return problems. Distances are computed in the metric CRS of
:func:`geo.metric.metric_crs_for`.

:func:`validate_geometries` runs them in order and reports each row once per cause: a row
without usable coordinates is not also reported as outside the area, and so on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeAlias

import geopandas as gpd
import numpy as np
import pyproj
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj import Geod

from geo.metric import WGS84, metric_crs_for
from geo.problems import Problem

__all__ = [
    "check_duplicates",
    "check_finite",
    "check_geometry_types",
    "check_in_area",
    "check_not_null_island",
    "check_swapped_axes",
    "validate_geometries",
]

Frame: TypeAlias = gpd.GeoDataFrame | gpd.GeoSeries
Area: TypeAlias = shapely.Geometry | gpd.GeoDataFrame | gpd.GeoSeries
IntArray: TypeAlias = NDArray[np.int64]
BoolArray: TypeAlias = NDArray[np.bool_]

_FIELD = "geometry"
_NULL_ISLAND_TOL_DEG = 1e-6
# Within this many degrees of the area's bounding box a metric (transverse Mercator) distance
# is trusted; farther away the geodesic distance to the nearest point of the area is used.
_METRIC_REACH_DEG = 3.0
_GEOD = Geod(ellps="WGS84")
_TYPE_NAMES = (
    "Point",
    "LineString",
    "LinearRing",
    "Polygon",
    "MultiPoint",
    "MultiLineString",
    "MultiPolygon",
    "GeometryCollection",
)


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def _geoms_wgs84(gdf: Frame) -> NDArray[np.object_]:
    """The geometries of ``gdf`` as a numpy object array, in WGS84 lon/lat."""
    series = gdf.geometry if isinstance(gdf, gpd.GeoDataFrame) else gdf
    if series.crs is not None and not series.crs.equals(WGS84):
        with np.errstate(invalid="ignore", over="ignore"):
            series = series.to_crs(WGS84)
    return np.asarray(series.to_numpy(), dtype=object)


def _row_numbers(n: int, rows: Sequence[int] | None) -> IntArray:
    if rows is None:
        return np.arange(1, n + 1, dtype=np.int64)
    numbers = np.asarray(list(rows), dtype=np.int64)
    if numbers.shape != (n,):
        raise ValueError(f"rows has {numbers.size} entries for {n} features")
    return numbers


def _area_wgs84(area: Area | None) -> shapely.Geometry | None:
    """One prepared geometry in WGS84 from a geometry, GeoSeries or GeoDataFrame (or None)."""
    if area is None:
        return None
    if isinstance(area, gpd.GeoDataFrame | gpd.GeoSeries):
        series = area.geometry if isinstance(area, gpd.GeoDataFrame) else area
        if series.crs is not None and not series.crs.equals(WGS84):
            series = series.to_crs(WGS84)
        geom = series.union_all()
    else:
        geom = area
    if geom is None or shapely.is_empty(geom):
        return None
    shapely.prepare(geom)
    return geom


def _usable(geoms: NDArray[np.object_]) -> BoolArray:
    """Rows with a non-empty geometry whose x and y are all finite."""
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    bad_rows = index[~np.isfinite(coords).all(axis=1)]
    usable = present.copy()
    usable[bad_rows] = False
    return usable


def _problem(
    code: str,
    row: Any,
    value: str | None = None,
    params: dict[str, Any] | None = None,
    severity: str = "error",
) -> Problem:
    """A Problem on the geometry of ``row``; ``row`` is also a message parameter."""
    # Problem.message passes value, field and params to the template, not row.
    return Problem(code, int(row), _FIELD, value, {"row": int(row), **(params or {})}, severity)


def _lonlat_text(x: float, y: float) -> str:
    return f"{x:.6f}, {y:.6f}"


def _number(value: float) -> float | int:
    """``value`` for a message: an int when whole, else one decimal."""
    return int(round(value)) if float(value).is_integer() else round(float(value), 1)


def _plain(value: Any) -> Any:
    """numpy scalars as Python values, so problem params stay JSON-friendly."""
    return value.item() if isinstance(value, np.generic) else value


def _first_per_row(index: IntArray, mask: ArrayLike) -> tuple[IntArray, IntArray]:
    """Rows having some True in ``mask`` and, for each, the position of its first True."""
    positions = np.flatnonzero(np.asarray(mask, dtype=bool))
    rows, first = np.unique(index[positions], return_index=True)
    return rows, positions[first]


def _to_metric(crs: pyproj.CRS) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(WGS84, crs, always_xy=True)


def _project(geoms: Any, transformer: pyproj.Transformer) -> Any:
    if _all_points(geoms):  # an upload of points: no per-geometry coordinate rewrite
        x, y = transformer.transform(shapely.get_x(geoms), shapely.get_y(geoms))
        return shapely.points(np.asarray(x), np.asarray(y))

    def func(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, func)


# ---------------------------------------------------------------------------------------------
# Checks on arrays (positions) used by the public checks and by validate_geometries
# ---------------------------------------------------------------------------------------------


def _finite(geoms: NDArray[np.object_], rows: IntArray) -> tuple[IntArray, list[Problem]]:
    missing = shapely.is_missing(geoms)
    empty = shapely.is_empty(geoms)
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    bad_rows, bad_pos = _first_per_row(index, ~np.isfinite(coords).all(axis=1))
    found: dict[int, Problem] = {}
    for i in np.flatnonzero(missing | empty):
        value = "None" if missing[i] else shapely.to_wkt(geoms[i])
        found[int(i)] = _problem("geometry_empty", rows[i], value)
    for i, pos in zip(bad_rows, bad_pos, strict=True):
        value = f"{coords[pos, 0]}, {coords[pos, 1]}"
        found[int(i)] = _problem("coordinates_not_finite", rows[i], value)
    order = sorted(found)
    return np.asarray(order, dtype=np.int64), [found[i] for i in order]


def _types(
    geoms: NDArray[np.object_], rows: IntArray, allowed: set[str]
) -> tuple[IntArray, list[Problem]]:
    type_ids = shapely.get_type_id(geoms)
    present = (type_ids >= 0) & ~shapely.is_empty(geoms)
    allowed_ids = [i for i, name in enumerate(_TYPE_NAMES) if name in allowed]
    bad = np.flatnonzero(present & ~np.isin(type_ids, allowed_ids))
    allowed_text = ", ".join(sorted(allowed))
    problems = [
        _problem(
            "geometry_type_not_allowed",
            rows[i],
            _TYPE_NAMES[type_ids[i]],
            {"allowed": allowed_text},
        )
        for i in bad
    ]
    return bad.astype(np.int64), problems


def _null_island(geoms: NDArray[np.object_], rows: IntArray) -> tuple[IntArray, list[Problem]]:
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    near_zero = (np.abs(coords) <= _NULL_ISLAND_TOL_DEG).all(axis=1)
    bad, pos = _first_per_row(index, near_zero)
    problems = [
        _problem("null_island", rows[i], _lonlat_text(*coords[p]))
        for i, p in zip(bad, pos, strict=True)
    ]
    return bad.astype(np.int64), problems


def _lonlat_range(geoms: NDArray[np.object_], rows: IntArray) -> tuple[IntArray, list[Problem]]:
    """Rows with a vertex beyond longitude ±180 or latitude ±90: not lon/lat at all
    (projected metres read as degrees), which no distance to an area can be measured for."""
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    beyond = (np.abs(coords[:, 0]) > 180.0) | (np.abs(coords[:, 1]) > 90.0)
    bad, pos = _first_per_row(index, beyond)
    problems = [
        _problem("coordinates_out_of_range", rows[i], _lonlat_text(*coords[p]))
        for i, p in zip(bad, pos, strict=True)
    ]
    return bad.astype(np.int64), problems


def _all_points(geoms: Any) -> bool:
    """True for a non-empty array of non-empty points only."""
    if not isinstance(geoms, np.ndarray) or geoms.ndim != 1 or not len(geoms):
        return False
    return bool(np.all(shapely.get_type_id(geoms) == 0) and not shapely.is_empty(geoms).any())


def _swapped(
    geoms: NDArray[np.object_], rows: IntArray, area: shapely.Geometry
) -> tuple[IntArray, list[Problem]]:
    usable = np.flatnonzero(_usable(geoms))
    candidates = geoms[usable]
    shapely.prepare(area)
    if _all_points(candidates):
        x, y = shapely.get_x(candidates), shapely.get_y(candidates)
        hit = ~shapely.intersects_xy(area, x, y) & shapely.intersects_xy(area, y, x)
    else:
        swapped = shapely.transform(candidates, lambda c: np.ascontiguousarray(c[:, ::-1]))
        hit = ~shapely.intersects(area, candidates) & shapely.intersects(area, swapped)
    bad = usable[hit]
    problems = []
    for i in bad:
        x, y = shapely.get_coordinates(geoms[i])[0]
        problems.append(
            _problem("swapped_axes", rows[i], _lonlat_text(x, y), {"swapped": _lonlat_text(y, x)})
        )
    return bad.astype(np.int64), problems


def _outside_distances_m(
    x: NDArray[np.float64], y: NDArray[np.float64], area: shapely.Geometry, margin_m: float
) -> NDArray[np.float64]:
    """Distance in metres from each vertex to ``area``; 0 where within ``margin_m`` of it."""
    minx, miny, maxx, maxy = (float(v) for v in shapely.bounds(area))
    to_metric = _to_metric(metric_crs_for((minx, miny, maxx, maxy)))
    area_m = _project(area, to_metric)
    zone_m = shapely.buffer(area_m, margin_m) if margin_m > 0 else area_m
    shapely.prepare(zone_m)
    # Wide enough that every vertex within the margin is measured in the metric CRS.
    reach = _METRIC_REACH_DEG + margin_m / 30_000.0
    near = (x >= minx - reach) & (x <= maxx + reach) & (y >= miny - reach) & (y <= maxy + reach)
    dist = np.zeros(x.size, dtype=np.float64)
    xm, ym = to_metric.transform(x[near], y[near])
    xm, ym = np.asarray(xm), np.asarray(ym)
    out_near = ~shapely.intersects_xy(zone_m, xm, ym)
    near_pos = np.flatnonzero(near)
    dist[near_pos[out_near]] = shapely.distance(area_m, shapely.points(xm[out_near], ym[out_near]))
    far = np.flatnonzero(~near)
    if far.size:
        lines = shapely.shortest_line(shapely.points(x[far], y[far]), area)
        ends = shapely.get_coordinates(lines).reshape(-1, 2, 2)
        _az1, _az2, geodesic = _GEOD.inv(ends[:, 0, 0], ends[:, 0, 1], ends[:, 1, 0], ends[:, 1, 1])
        dist[far] = geodesic
    return dist


def _in_area(
    geoms: NDArray[np.object_], rows: IntArray, area: shapely.Geometry, margin_m: float
) -> tuple[IntArray, list[Problem]]:
    usable = np.flatnonzero(_usable(geoms))
    coords, index = shapely.get_coordinates(geoms[usable], return_index=True)
    if coords.size == 0:
        return np.zeros(0, dtype=np.int64), []
    dist = _outside_distances_m(coords[:, 0], coords[:, 1], area, margin_m)
    # Farthest vertex of each geometry: sort by (row, distance) and keep each row's last.
    order = np.lexsort((dist, index))
    last = np.r_[index[order][1:] != index[order][:-1], True]
    worst = order[last]
    outside = dist[worst] > 0
    bad = usable[index[worst][outside]]
    problems = []
    for i, pos in zip(bad, worst[outside], strict=True):
        params = _outside_params(float(dist[pos]), margin_m)
        problems.append(_problem("outside_area", rows[i], _lonlat_text(*coords[pos]), params))
    return bad.astype(np.int64), problems


def _outside_params(distance_m: float, margin_m: float) -> dict[str, Any]:
    """The message parameters of an ``outside_area`` problem."""
    return {
        "distance_m": int(round(distance_m)),
        "distance_km": round(distance_m / 1000.0, 1),
        "margin_m": _number(margin_m),
    }


def _ids(frame: Frame, id_column: str) -> list[Any]:
    if isinstance(frame, gpd.GeoDataFrame) and id_column in frame.columns:
        return [_plain(v) for v in frame[id_column].to_numpy()]
    return [_plain(v) for v in frame.index]


def _duplicates(
    new: NDArray[np.object_],
    rows: IntArray,
    existing: NDArray[np.object_] | None,
    existing_ids: list[Any],
    distance_m: float,
) -> list[Problem]:
    usable = np.flatnonzero(_usable(new))
    if usable.size == 0:
        return []
    minx, miny, maxx, maxy = shapely.total_bounds(new[usable])
    to_metric = _to_metric(metric_crs_for((minx, miny, maxx, maxy)))
    near: Callable[[Any, Any, float], tuple[IntArray, IntArray, NDArray[np.float64]]]
    if _all_points(new[usable]):
        # Points (an upload): coordinate arrays and a grid, no geometry objects at all.
        new_m: Any = _metric_xy(new[usable], to_metric)
        near = _near_points
    else:
        new_m = _project(new[usable], to_metric)
        near = _near_geometries
    problems: list[Problem] = []
    if existing is not None and existing.size:
        # Only features near the batch are projected: far ones would distort in this zone.
        pad = distance_m / 30_000.0 + 1e-3  # degrees; generous below about 70 deg latitude
        window = shapely.box(minx - pad, miny - pad, maxx + pad, maxy + pad)
        candidates = np.flatnonzero(_usable(existing))
        nearby = candidates[shapely.intersects(window, existing[candidates])]
        old = existing[nearby]
        old_m: Any
        if not len(old):
            old_m = (np.zeros(0), np.zeros(0)) if near is _near_points else old
        elif near is _near_points and _all_points(old):
            old_m = _metric_xy(old, to_metric)
        else:  # lines or polygons stored near a batch of points
            near, new_m, old_m = _near_geometries, _as_geoms(new_m), _project(old, to_metric)
        src, dst, dists = near(new_m, old_m, distance_m)
        # Per new row, the nearest existing feature (the first of equals).
        order = np.lexsort((dst, dists, src))
        first = np.r_[True, src[order][1:] != src[order][:-1]] if order.size else order
        for k in order[first]:
            params = {
                "existing_id": existing_ids[nearby[dst[k]]],
                "distance_m": round(float(dists[k]), 1),
            }
            problems.append(
                _problem("duplicate_existing", rows[usable[src[k]]], None, params, "warning")
            )
    src, dst, dists = near(new_m, new_m, distance_m)
    earlier = dst < src
    src, dst, dists = src[earlier], dst[earlier], dists[earlier]
    if src.size:
        order = np.lexsort((dst, dists, src))  # per row: the nearest earlier row
        first = np.r_[True, src[order][1:] != src[order][:-1]]
        for k in order[first]:
            params = {
                "other_row": int(rows[usable[dst[k]]]),
                "distance_m": round(float(dists[k]), 1),
            }
            problems.append(
                _problem("duplicate_in_batch", rows[usable[src[k]]], None, params, "warning")
            )
    return problems


def _metric_xy(
    points: NDArray[np.object_], transformer: pyproj.Transformer
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    x, y = transformer.transform(shapely.get_x(points), shapely.get_y(points))
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def _as_geoms(value: Any) -> Any:
    return shapely.points(*value) if isinstance(value, tuple) else value


def _near_geometries(
    a: NDArray[np.object_], b: NDArray[np.object_], distance: float
) -> tuple[IntArray, IntArray, NDArray[np.float64]]:
    """Pairs ``(i, j)`` of ``a[i]`` and ``b[j]`` within ``distance``, with the distance."""
    src, dst = shapely.STRtree(b).query(a, predicate="dwithin", distance=distance)
    return src, dst, shapely.distance(a[src], b[dst])


def _near_points(
    a: tuple[NDArray[np.float64], NDArray[np.float64]],
    b: tuple[NDArray[np.float64], NDArray[np.float64]],
    distance: float,
) -> tuple[IntArray, IntArray, NDArray[np.float64]]:
    """:func:`_near_geometries` for points given as coordinate arrays: a grid of cells
    ``distance`` wide, each point against the points of its cell and the 8 around it."""
    (ax, ay), (bx, by) = a, b
    empty = np.zeros(0, dtype=np.intp)
    if not len(ax) or not len(bx):
        return empty, empty, np.zeros(0, dtype=np.float64)
    if a is not b and len(ax) > len(bx):  # the fewer points are searched among the many
        dst, src, dists = _near_points(b, a, distance)
        return src, dst, dists
    size = max(float(distance), 1e-6)
    bcx, bcy = np.floor(bx / size).astype(np.int64), np.floor(by / size).astype(np.int64)
    x0, y0 = int(bcx.min()) - 1, int(bcy.min()) - 1
    width = int(bcy.max()) - y0 + 2
    order = np.argsort((bcx - x0) * width + (bcy - y0), kind="stable")
    keys = ((bcx - x0) * width + (bcy - y0))[order]
    # Needles in key order: numpy's binary search starts from the previous answer.
    if a is b:  # the batch against itself: the needles are the points just sorted
        by_key, acx, acy = order, (bcx - x0)[order], (bcy - y0)[order]
    else:
        acx = np.floor(ax / size).astype(np.int64) - x0
        acy = np.floor(ay / size).astype(np.int64) - y0
        by_key = np.argsort(acx * width + acy, kind="stable")
        acx, acy = acx[by_key], acy[by_key]
    low, high = np.clip(acy - 1, 0, width - 1), np.clip(acy + 1, 0, width - 1)
    sources, targets = [], []
    for dx in (-1, 0, 1):
        # The three cells (cx + dx, cy - 1 .. cy + 1) are one run of keys.
        column = acx + dx
        lo = np.searchsorted(keys, column * width + low, "left")
        counts = np.searchsorted(keys, column * width + high, "right") - lo
        total = int(counts.sum())
        if total:
            sources.append(np.repeat(by_key, counts))
            starts = np.repeat(lo - (np.cumsum(counts) - counts), counts)
            targets.append(order[starts + np.arange(total)])
    if not sources:
        return empty, empty, np.zeros(0, dtype=np.float64)
    src, dst = np.concatenate(sources), np.concatenate(targets)
    dxs, dys = ax[src] - bx[dst], ay[src] - by[dst]
    dists = np.sqrt(dxs * dxs + dys * dys)  # as GEOS measures a point-to-point distance
    keep = dists <= distance
    return src[keep], dst[keep], dists[keep]


# ---------------------------------------------------------------------------------------------
# Public checks
# ---------------------------------------------------------------------------------------------


def check_finite(gdf: Frame, *, rows: Sequence[int] | None = None) -> list[Problem]:
    """Rows without usable coordinates: no geometry, an empty one, or NaN/infinite x or y.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame or geopandas.GeoSeries
    rows : sequence of int, optional
        Row numbers as the user sees them, aligned with ``gdf`` (default 1..n).

    Returns
    -------
    list of Problem
        ``geometry_empty`` or ``coordinates_not_finite`` (errors), at most one per row.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import Point
    >>> gdf = gpd.GeoDataFrame(geometry=[Point(112.8, 39.5), None, Point(float("nan"), 39.5)])
    >>> [(p.code, p.row) for p in check_finite(gdf)]
    [('geometry_empty', 2), ('coordinates_not_finite', 3)]
    >>> check_finite(gpd.GeoDataFrame(geometry=[]))
    []
    """
    geoms = _geoms_wgs84(gdf)
    return _finite(geoms, _row_numbers(len(geoms), rows))[1]


def check_geometry_types(
    gdf: Frame, allowed: set[str], *, rows: Sequence[int] | None = None
) -> list[Problem]:
    """Rows whose geometry type is not in ``allowed`` (shapely names such as ``"Point"``).

    Missing and empty geometries are left to :func:`check_finite`. ``MultiPoint`` and other
    multi-part types are only accepted when named.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame or geopandas.GeoSeries
    allowed : set of str
        E.g. ``{"Point"}`` or ``{"LineString", "MultiLineString"}``.
    rows : sequence of int, optional
        Row numbers as the user sees them (default 1..n).

    Returns
    -------
    list of Problem
        ``geometry_type_not_allowed`` (errors); ``value`` is the type found.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import LineString, Point
    >>> gdf = gpd.GeoDataFrame(geometry=[Point(0, 1), LineString([(0, 0), (1, 1)])])
    >>> [(p.row, p.value) for p in check_geometry_types(gdf, {"Point"})]
    [(2, 'LineString')]
    """
    geoms = _geoms_wgs84(gdf)
    return _types(geoms, _row_numbers(len(geoms), rows), set(allowed))[1]


def check_not_null_island(gdf: Frame, *, rows: Sequence[int] | None = None) -> list[Problem]:
    """Rows with a vertex at (0, 0) or within 1e-6 degrees of it: a missing coordinate.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame or geopandas.GeoSeries
    rows : sequence of int, optional
        Row numbers as the user sees them (default 1..n).

    Returns
    -------
    list of Problem
        ``null_island`` (errors).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import Point
    >>> gdf = gpd.GeoDataFrame(geometry=[Point(112.8, 39.5), Point(0, 0)])
    >>> [p.row for p in check_not_null_island(gdf, rows=[10, 11])]
    [11]
    """
    geoms = _geoms_wgs84(gdf)
    return _null_island(geoms, _row_numbers(len(geoms), rows))[1]


def check_in_area(
    gdf: Frame, area: Area | None, margin_m: float, *, rows: Sequence[int] | None = None
) -> list[Problem]:
    """Rows with any vertex farther than ``margin_m`` metres outside ``area``.

    The margin is applied in the metric (UTM) CRS of the area. Rows without usable
    coordinates are skipped (see :func:`check_finite`).

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame or geopandas.GeoSeries
    area : shapely geometry, GeoSeries, GeoDataFrame or None
        The (county) polygon, in WGS84 unless a GeoSeries/GeoDataFrame says otherwise.
        None or empty: no area is known, nothing is reported.
    margin_m : float
        Tolerance outside the boundary, in metres.
    rows : sequence of int, optional
        Row numbers as the user sees them (default 1..n).

    Returns
    -------
    list of Problem
        ``outside_area`` (errors) with ``distance_m``, ``distance_km`` (of the farthest
        vertex, from the boundary) and ``margin_m``; ``value`` is that vertex as "lon, lat".

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import Point, box
    >>> area = box(112.5, 39.2, 113.0, 39.7)
    >>> gdf = gpd.GeoDataFrame(geometry=[Point(112.8, 39.5), Point(113.1, 39.5)], crs=4326)
    >>> [(p.row, p.params["distance_km"]) for p in check_in_area(gdf, area, 500)]
    [(2, 8.6)]
    """
    geoms = _geoms_wgs84(gdf)
    row_numbers = _row_numbers(len(geoms), rows)
    area_geom = _area_wgs84(area)
    return [] if area_geom is None else _in_area(geoms, row_numbers, area_geom, margin_m)[1]


def check_swapped_axes(
    gdf: Frame, area: Area | None, *, rows: Sequence[int] | None = None
) -> list[Problem]:
    """Rows lying wholly outside ``area`` whose (y, x) mirror image lies in it.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame or geopandas.GeoSeries
    area : shapely geometry, GeoSeries, GeoDataFrame or None
        None or empty: no area is known, nothing is reported.
    rows : sequence of int, optional
        Row numbers as the user sees them (default 1..n).

    Returns
    -------
    list of Problem
        ``swapped_axes`` (errors): ``value`` is the first vertex as given ("x, y"), param
        ``swapped`` the same vertex exchanged ("y, x").

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import Point, box
    >>> gdf = gpd.GeoDataFrame(geometry=[Point(39.5, 112.8)])
    >>> [(p.value, p.params["swapped"]) for p in check_swapped_axes(gdf, box(112, 39, 113, 40))]
    [('39.500000, 112.800000', '112.800000, 39.500000')]
    """
    geoms = _geoms_wgs84(gdf)
    row_numbers = _row_numbers(len(geoms), rows)
    area_geom = _area_wgs84(area)
    return [] if area_geom is None else _swapped(geoms, row_numbers, area_geom)[1]


def check_duplicates(
    new_gdf: Frame,
    existing_gdf: Frame | None,
    distance_m: float,
    *,
    rows: Sequence[int] | None = None,
    id_column: str = "id",
) -> list[Problem]:
    """Rows within ``distance_m`` metres of an existing feature or of an earlier row.

    Each row gets at most one ``duplicate_existing`` warning (nearest existing feature; params
    ``existing_id`` from ``id_column``, or the index when there is no such column, and
    ``distance_m``) and at most one ``duplicate_in_batch`` warning (nearest earlier row;
    params ``other_row`` and ``distance_m``). Rows without usable coordinates are skipped.

    Parameters
    ----------
    new_gdf : geopandas.GeoDataFrame or geopandas.GeoSeries
        The batch being added.
    existing_gdf : geopandas.GeoDataFrame, geopandas.GeoSeries or None
        Features already stored; None checks the batch against itself only.
    distance_m : float
        Distance in metres at or under which two features are suspected duplicates.
    rows : sequence of int, optional
        Row numbers of ``new_gdf`` as the user sees them (default 1..n).
    id_column : str
        Column of ``existing_gdf`` holding the feature id.

    Returns
    -------
    list of Problem
        Warnings, ordered by kind then row.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import Point
    >>> old = gpd.GeoDataFrame({"id": ["L-7"]}, geometry=[Point(112.8, 39.5)], crs=4326)
    >>> new = gpd.GeoDataFrame(geometry=[Point(112.80005, 39.5), Point(112.9, 39.6)], crs=4326)
    >>> [(p.row, p.params["existing_id"]) for p in check_duplicates(new, old, 10)]
    [(1, 'L-7')]
    """
    geoms = _geoms_wgs84(new_gdf)
    row_numbers = _row_numbers(len(geoms), rows)
    if existing_gdf is None:
        return _duplicates(geoms, row_numbers, None, [], distance_m)
    existing = _geoms_wgs84(existing_gdf)
    return _duplicates(geoms, row_numbers, existing, _ids(existing_gdf, id_column), distance_m)


def validate_geometries(
    gdf: Frame,
    *,
    allowed_types: Iterable[str],
    area: Area | None,
    margin_m: float,
    existing: Frame | None = None,
    duplicate_distance_m: float | None = None,
    rows: Sequence[int] | None = None,
    id_column: str = "id",
) -> list[Problem]:
    """All geometric checks, in order, each row reported for its first failing check.

    Order: missing/non-finite coordinates, geometry type, (0, 0), swapped axes, beyond
    ±180/±90 degrees, outside the area; a row failing one is not checked further. Rows
    passing them all are checked for duplicates (warnings) when ``duplicate_distance_m`` is
    given, against ``existing`` if given and against earlier rows of the batch.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame or geopandas.GeoSeries
    allowed_types : iterable of str
        Shapely geometry type names accepted, e.g. ``{"Point"}``.
    area : shapely geometry, GeoSeries, GeoDataFrame or None
        The area the features must lie in; None (or empty) skips the swapped-axes and
        in-area checks.
    margin_m : float
        Tolerance outside the area, in metres.
    existing : geopandas.GeoDataFrame or geopandas.GeoSeries, optional
        Features already stored, for the duplicate check.
    duplicate_distance_m : float, optional
        Distance for the duplicate check; None skips it.
    rows : sequence of int, optional
        Row numbers as the user sees them (default 1..n).
    id_column : str
        Id column of ``existing``.

    Returns
    -------
    list of Problem
        Sorted by row, in check order within a row.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import Point, box
    >>> gdf = gpd.GeoDataFrame(geometry=[Point(0, 0), Point(39.5, 112.8), Point(112.8, 39.5)])
    >>> problems = validate_geometries(
    ...     gdf, allowed_types={"Point"}, area=box(112, 39, 113, 40), margin_m=0
    ... )
    >>> [(p.row, p.code) for p in problems]
    [(1, 'null_island'), (2, 'swapped_axes')]
    >>> validate_geometries(
    ...     gdf.iloc[:0], allowed_types={"Point"}, area=box(112, 39, 113, 40), margin_m=0
    ... )
    []
    """
    geoms = _geoms_wgs84(gdf)
    row_numbers = _row_numbers(len(geoms), rows)
    area_geom = _area_wgs84(area)
    allowed = set(allowed_types)
    if _POINTS_PATH and "Point" in allowed and _all_points(geoms):
        keep, problems = _point_checks(geoms, row_numbers, area_geom, margin_m)
    else:
        keep, problems = _geometry_checks(geoms, row_numbers, area_geom, margin_m, allowed)
    if duplicate_distance_m is not None:
        positions = np.flatnonzero(keep)
        existing_geoms = None if existing is None else _geoms_wgs84(existing)
        ids: list[Any] = [] if existing is None else _ids(existing, id_column)
        problems.extend(
            _duplicates(
                geoms[positions], row_numbers[positions], existing_geoms, ids, duplicate_distance_m
            )
        )
    return sorted(problems, key=lambda p: p.row if p.row is not None else -1)


#: Check a batch of points on coordinate arrays (False: as any geometry; the tests
#: compare the two).
_POINTS_PATH = True


def _point_checks(
    geoms: NDArray[np.object_], rows: IntArray, area: shapely.Geometry | None, margin_m: float
) -> tuple[BoolArray, list[Problem]]:
    """:func:`_geometry_checks` for non-empty points, on their coordinate arrays."""
    x, y = shapely.get_x(geoms), shapely.get_y(geoms)
    keep = np.ones(len(geoms), dtype=bool)
    problems: list[Problem] = []

    def drop(bad: BoolArray, code: str, describe: Callable[[int], tuple[Any, Any]]) -> None:
        for i in np.flatnonzero(keep & bad).tolist():
            value, params = describe(i)
            problems.append(_problem(code, rows[i], value, params))
        keep[bad] = False

    drop(
        ~(np.isfinite(x) & np.isfinite(y)),
        "coordinates_not_finite",
        lambda i: (f"{x[i]}, {y[i]}", None),
    )
    tol = _NULL_ISLAND_TOL_DEG
    drop(
        (np.abs(x) <= tol) & (np.abs(y) <= tol),
        "null_island",
        lambda i: (_lonlat_text(x[i], y[i]), None),
    )
    if area is not None:
        at = np.flatnonzero(keep)
        swapped = np.zeros(len(geoms), dtype=bool)
        swapped[at] = ~shapely.intersects_xy(area, x[at], y[at]) & shapely.intersects_xy(
            area, y[at], x[at]
        )
        drop(
            swapped,
            "swapped_axes",
            lambda i: (_lonlat_text(x[i], y[i]), {"swapped": _lonlat_text(y[i], x[i])}),
        )
    drop(
        (np.abs(x) > 180.0) | (np.abs(y) > 90.0),
        "coordinates_out_of_range",
        lambda i: (_lonlat_text(x[i], y[i]), None),
    )
    if area is not None:
        at = np.flatnonzero(keep)
        dist = np.zeros(len(geoms), dtype=np.float64)
        if at.size:
            dist[at] = _outside_distances_m(x[at], y[at], area, margin_m)

        def outside(i: int) -> tuple[Any, Any]:
            return _lonlat_text(x[i], y[i]), _outside_params(float(dist[i]), margin_m)

        drop(dist > 0, "outside_area", outside)
    return keep, problems


def _geometry_checks(
    geoms: NDArray[np.object_],
    row_numbers: IntArray,
    area_geom: shapely.Geometry | None,
    margin_m: float,
    allowed: set[str],
) -> tuple[BoolArray, list[Problem]]:
    """The checks of :func:`validate_geometries` before duplicates: rows kept, problems."""
    keep = np.ones(len(geoms), dtype=bool)
    problems: list[Problem] = []
    steps: list[Callable[[NDArray[np.object_], IntArray], tuple[IntArray, list[Problem]]]] = [
        _finite,
        lambda g, r: _types(g, r, allowed),
        _null_island,
    ]
    if area_geom is not None:
        steps.append(lambda g, r: _swapped(g, r, area_geom))
    steps.append(_lonlat_range)
    if area_geom is not None:
        steps.append(lambda g, r: _in_area(g, r, area_geom, margin_m))
    for step in steps:
        positions = np.flatnonzero(keep)
        bad, found = step(geoms[positions], row_numbers[positions])
        keep[positions[bad]] = False
        problems.extend(found)
    return keep, problems
