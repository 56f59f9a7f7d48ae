"""The row-level geometry checks behind :mod:`geo.validate`, on arrays of geometries.

Each takes an object array of WGS84 geometries and the user's row numbers, and returns
the rows it refuses with their problems; :mod:`geo.validate` wraps them as the public
``check_*`` functions and runs them in order in ``validate_geometries``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

import geopandas as gpd
import numpy as np
import pyproj
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj import Geod

from geo.metric import WGS84, metric_crs_for
from geo.problems import Problem

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


def _vertices(
    geoms: NDArray[np.object_], rows: IntArray, limit: int
) -> tuple[IntArray, list[Problem]]:
    """Rows whose geometry has more than ``limit`` vertices (every part and ring counted)."""
    counts = shapely.get_num_coordinates(geoms)
    bad = np.flatnonzero(counts > limit)
    problems = [
        _problem(
            "feature_too_many_vertices", rows[i], None, {"count": int(counts[i]), "limit": limit}
        )
        for i in bad
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
