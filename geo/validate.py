"""Geometric checks of incoming features, reported as :class:`geo.problems.Problem` lists.

Every check takes a GeoDataFrame (or GeoSeries) in WGS84 lon/lat (a frame in another CRS is
converted first; a frame without CRS is taken as lon/lat) and an optional ``rows`` sequence
aligned with it: the row numbers the user sees in their file (default 1..n). Checks never
raise on bad data; they return problems. Distances are computed in the metric CRS of
:func:`geo.metric.metric_crs_for`.

:func:`validate_geometries` runs them in order and reports each row once per cause: a row
without usable coordinates is not also reported as outside the area, and so on. The
array-level checks they wrap live in :mod:`geo.geometry_checks`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from geo.geometry_checks import (
    _NULL_ISLAND_TOL_DEG,
    Area,
    BoolArray,
    Frame,
    IntArray,
    _all_points,
    _area_wgs84,
    _duplicates,
    _finite,
    _geoms_wgs84,
    _ids,
    _in_area,
    _lonlat_range,
    _lonlat_text,
    _null_island,
    _outside_distances_m,
    _outside_params,
    _problem,
    _row_numbers,
    _swapped,
    _types,
    _vertices,
)
from geo.messages import register
from geo.problems import Problem

__all__ = [
    "check_duplicates",
    "check_finite",
    "check_geometry_types",
    "check_in_area",
    "check_not_null_island",
    "check_swapped_axes",
    "check_vertex_count",
    "validate_geometries",
]

register(
    "feature_too_many_vertices",
    "第 {row} 行的几何有 {count} 个顶点，超过此图层每个要素的上限 {limit} 个："
    "请先简化（抽稀）后再提交。",
    "Row {row}: the geometry has {count} vertices, more than this layer's limit of {limit} "
    "per feature; simplify it first.",
)


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


def check_vertex_count(
    gdf: Frame, max_vertices: int, *, rows: Sequence[int] | None = None
) -> list[Problem]:
    """Rows whose geometry has more than ``max_vertices`` vertices (a layer's
    ``max_vertices``: one feature must not make every page that shows it heavy).

    Returns
    -------
    list of Problem
        ``feature_too_many_vertices`` (errors on the ``geometry`` field) with the count and
        the limit.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import LineString, Point
    >>> line = LineString([(112.8 + i / 1000, 39.5) for i in range(50)])
    >>> gdf = gpd.GeoDataFrame(geometry=[Point(112.8, 39.5), line])
    >>> [(p.row, p.field, p.params["count"]) for p in check_vertex_count(gdf, 10)]
    [(2, 'geometry', 50)]
    >>> print(check_vertex_count(gdf, 10)[0].message("en"))
    Row 2: the geometry has 50 vertices, more than this layer's limit of 10 per feature; \
simplify it first.
    """
    geoms = _geoms_wgs84(gdf)
    return _vertices(geoms, _row_numbers(len(geoms), rows), max_vertices)[1]


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
