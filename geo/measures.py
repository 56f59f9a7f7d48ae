"""Checked inputs and shared measures of the gap analyses.

Checks that frames are WGS84 with the columns an analysis needs, and measures that several
analyses share: geodesic lengths, ISO dates, nearest distances (in the UTM zone of the
data, :func:`geo.metric.metric_crs_for`). :mod:`geo.gaps` re-exports the public ones.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray

from geo.metric import WGS84, metric_crs_for
from geo.problems import InputError, Problem, short_value

_GEOD = pyproj.Geod(ellps="WGS84")
# Chainages come from projections and geodesics; a millimetre absorbs their rounding.
_EPS_M = 1e-3
# Lateral search boxes are cut along long segments so a box never holds a whole county.
_BOX_STEP_M = 100.0
_LINE = 1  # shapely type id of LineString
# Edges are straight in lon/lat (RFC 7946). They are densified before projecting so a long
# edge keeps its shape in metres: 500 m steps stray at most about 5 mm from it.
_DENSIFY_DEG = 0.005
_TRUE_TEXT = ("true", "1", "1.0", "yes", "y", "t", "是")

Frame = TypeVar("Frame", gpd.GeoDataFrame, pd.DataFrame)


# --------------------------------------------------------------------------- checks


def as_wgs84(frame: gpd.GeoDataFrame, layer: str, columns: Iterable[str] = ()) -> gpd.GeoDataFrame:
    """A copy of ``frame`` in EPSG:4326, after checking its type, CRS and columns.

    An empty frame may lack a CRS and the columns (they are added, empty): there is
    nothing in it to misplace.

    Parameters
    ----------
    frame : GeoDataFrame
        The layer, in any CRS.
    layer : str
        Its name, used in problem reports.
    columns : iterable of str
        Columns the caller needs.

    Returns
    -------
    GeoDataFrame
        A copy in EPSG:4326.

    Raises
    ------
    TypeError
        ``frame`` is not a GeoDataFrame.
    InputError
        No CRS (``gaps_no_crs``) or a needed column is missing (``gaps_missing_column``).

    Examples
    --------
    >>> from shapely import Point
    >>> as_wgs84(gpd.GeoDataFrame({"id": [1]}, geometry=[Point(0, 0)], crs=3857), "x").crs.to_epsg()
    4326
    >>> list(as_wgs84(gpd.GeoDataFrame(geometry=[]), "x", ["id"]).columns)
    ['geometry', 'id']
    """
    if not isinstance(frame, gpd.GeoDataFrame):
        raise TypeError(f"{layer} must be a GeoDataFrame, not {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if len(frame) == 0:
        if frame.active_geometry_name is None:
            frame = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs=WGS84))
        out = frame.copy() if frame.crs is not None else frame.set_crs(WGS84)
        for column in missing:
            out[column] = pd.Series(dtype=object)
        return out.to_crs(WGS84)
    if frame.crs is None:
        raise InputError([Problem("gaps_no_crs", field=layer)])
    if missing:
        raise InputError(
            [Problem("gaps_missing_column", field=c, params={"layer": layer}) for c in missing]
        )
    return frame.to_crs(WGS84) if not frame.crs.equals(WGS84) else frame.copy()


def _geometry_only(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``frame`` reduced to its active geometry column (anything else is returned as is,
    for :func:`as_wgs84` to refuse)."""
    if isinstance(frame, gpd.GeoDataFrame) and frame.active_geometry_name is not None:
        return frame[[frame.active_geometry_name]]
    return frame


def _check_columns(frame: Frame, layer: str, columns: Iterable[str]) -> Frame:
    """A copy of a plain (or geo) DataFrame after checking it holds ``columns``."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{layer} must be a DataFrame, not {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing and len(frame):
        raise InputError(
            [Problem("gaps_missing_column", field=c, params={"layer": layer}) for c in missing]
        )
    out = frame.copy()
    for column in missing:
        out[column] = pd.Series(dtype=object)
    return out


def _check_thresholds(**values: float) -> None:
    """Raise ``gaps_bad_threshold`` for a negative, infinite or non-numeric threshold."""
    bad = [
        Problem("gaps_bad_threshold", field=name, value=short_value(value))
        for name, value in values.items()
        if isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ]
    if bad:
        raise InputError(bad)


def column_or_none(frame: pd.DataFrame, name: str) -> NDArray[np.object_]:
    """The values of column ``name`` as an object array; all None when there is no such column.

    Examples
    --------
    >>> column_or_none(pd.DataFrame({"a": [1]}), "b").tolist()
    [None]
    >>> column_or_none(pd.DataFrame({"a": []}), "a").tolist()
    []
    """
    if name in frame.columns:
        return np.asarray(frame[name].to_numpy(dtype=object), dtype=object)
    return np.full(len(frame), None, dtype=object)


def _statuses(counted_status: str | Iterable[str]) -> list[str]:
    """``counted_status`` as a list; a bare string is one status, not its letters."""
    return [counted_status] if isinstance(counted_status, str) else list(counted_status)


# ------------------------------------------------------------------- shared measures


def geodesic_lengths_m(geoms: gpd.GeoSeries | NDArray[np.object_]) -> NDArray[np.float64]:
    """Length in metres on the WGS84 ellipsoid of each lon/lat line geometry.

    Vectorised: one ``Geod.inv`` call for every vertex pair of every line. Geometries that
    are not lines (or are missing or empty) measure 0.

    Parameters
    ----------
    geoms : GeoSeries or array of shapely geometries
        LineStrings and MultiLineStrings in lon/lat.

    Returns
    -------
    numpy.ndarray
        One length per geometry, in metres.

    Examples
    --------
    >>> from shapely import LineString
    >>> geodesic_lengths_m(np.array([LineString([(112, 39), (112, 39.01)])])).round(1)
    array([1110.2])
    >>> geodesic_lengths_m(np.array([], dtype=object))
    array([], dtype=float64)
    """
    array = np.asarray(geoms, dtype=object)
    parts, owner = shapely.get_parts(array, return_index=True)
    lines = shapely.get_type_id(parts) == _LINE
    coords, part = shapely.get_coordinates(parts[lines], return_index=True)
    pair = np.flatnonzero(part[1:] == part[:-1])
    if len(pair) == 0:
        return np.zeros(len(array))
    _az, _back, dist = _GEOD.inv(
        coords[pair, 0], coords[pair, 1], coords[pair + 1, 0], coords[pair + 1, 1]
    )
    owner_of_pair = owner[lines][part[pair]]
    total = np.bincount(owner_of_pair, weights=np.asarray(dist), minlength=len(array))
    return np.asarray(total, dtype=np.float64)


def parse_iso_dates(values: pd.Series) -> pd.Series:
    """Dates from ISO text (``YYYY-MM-DD``, or a timestamp starting with it), NaT if unreadable.

    The first ten characters are read as written, so a local timestamp keeps its local day.

    Examples
    --------
    >>> parse_iso_dates(pd.Series(["2024-05-01", "2024-05-02T23:30:00+08:00", "soon"])).tolist()
    [Timestamp('2024-05-01 00:00:00'), Timestamp('2024-05-02 00:00:00'), NaT]
    >>> len(parse_iso_dates(pd.Series([], dtype=object)))
    0
    """
    text = pd.Series(values, copy=False).astype(str).str.slice(0, 10)
    return pd.Series(pd.to_datetime(text, format="%Y-%m-%d", errors="coerce"), index=values.index)


def _id_keys(values: pd.Series) -> pd.Series:
    """Ids as text, so 7, 7.0 and "7" match (readers turn int columns with blanks to float)."""
    keys = values.astype(str)
    if pd.api.types.is_float_dtype(values.dtype):
        whole = values.notna() & (values.abs() < 2**53) & (values % 1 == 0)
        keys = keys.where(~whole, values.where(whole, 0).astype("int64").astype(str))
    return keys.where(values.notna(), None)


def _truthy(values: pd.Series) -> pd.Series:
    """Booleans from a column that may hold bools, 0/1 or text such as "true" and "是"."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.fillna(False).astype(bool)
    return values.astype(str).str.strip().str.lower().isin(_TRUE_TEXT)


def _metric_crs(*frames: gpd.GeoDataFrame) -> pyproj.CRS:
    """The metric CRS for the union of the bounds of ``frames`` (all in EPSG:4326)."""
    bounds = np.array([f.total_bounds for f in frames if len(f)], dtype=float).reshape(-1, 4)
    if not np.isfinite(bounds).any():
        return metric_crs_for(gpd.GeoDataFrame(geometry=[], crs=WGS84))
    lo, hi = np.nanmin(bounds[:, :2], axis=0), np.nanmax(bounds[:, 2:], axis=0)
    return metric_crs_for((float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])))


def _located(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The rows of ``frame`` that have a non-empty geometry."""
    geoms = frame.geometry
    return frame[geoms.notna().to_numpy() & ~shapely.is_empty(geoms.to_numpy())]


# ------------------------------------------------------------------ nearest distance


def _nearest(
    targets: NDArray[np.object_], sources: NDArray[np.object_], max_distance_m: float
) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    """Distance to, and position of, the nearest source of each target (NaN, -1 if none)."""
    distance = np.full(len(targets), np.nan)
    position = np.full(len(targets), -1, dtype=np.intp)
    usable = np.flatnonzero(~shapely.is_missing(sources) & ~shapely.is_empty(sources))
    if len(targets) == 0 or len(usable) == 0:
        return distance, position
    tree = shapely.STRtree(sources[usable])
    # An unbounded search, then the radius: GEOS's bounded search is about twice slower
    # (and if the nearest source is beyond the radius, so is every other).
    (target_i, source_i), found = tree.query_nearest(targets, return_distance=True)
    within = found <= max_distance_m
    distance[target_i[within]] = found[within]
    position[target_i[within]] = usable[source_i[within]]
    return distance, position


def _metric_geoms(frame: gpd.GeoDataFrame, crs: pyproj.CRS) -> NDArray[np.object_]:
    """The geometries of ``frame`` projected to ``crs``, as a numpy array."""
    geoms = np.asarray(frame.geometry.to_numpy(), dtype=object)
    dense = geoms.copy()
    edges = shapely.get_type_id(geoms) > 0  # points have no edge to densify
    if edges.any():
        dense[edges] = shapely.segmentize(geoms[edges], _DENSIFY_DEG)
    return np.asarray(gpd.GeoSeries(dense, crs=WGS84).to_crs(crs).to_numpy(), dtype=object)


def nearest_distance_m(
    targets: gpd.GeoDataFrame, sources: gpd.GeoDataFrame, *, max_distance_m: float
) -> NDArray[np.float64]:
    """Distance in metres from each target to the nearest source, NaN beyond ``max_distance_m``.

    Both layers are projected to one UTM zone and searched with ``STRtree.query_nearest``
    bounded by ``max_distance_m``, so the search stays local and fast (100,000 targets
    against 10,000 sources take well under a second). Distances are between the
    geometries, so a point inside a polygon source is at 0 m.

    Parameters
    ----------
    targets, sources : GeoDataFrame
        Layers with a CRS (EPSG:4326 expected).
    max_distance_m : float
        Search radius in metres.

    Returns
    -------
    numpy.ndarray
        One distance per target row, in row order; NaN when no source is within the radius
        or the target has no geometry.

    Examples
    --------
    >>> from shapely import Point
    >>> t = gpd.GeoDataFrame(geometry=[Point(112, 39), Point(113, 39)], crs=4326)
    >>> s = gpd.GeoDataFrame(geometry=[Point(112, 39.001)], crs=4326)
    >>> nearest_distance_m(t, s, max_distance_m=500).round()
    array([111.,  nan])
    >>> nearest_distance_m(t.iloc[:0], s, max_distance_m=500)
    array([], dtype=float64)
    """
    # Only the geometries are needed: no copy of every other column.
    targets = as_wgs84(_geometry_only(targets), "targets")
    sources = as_wgs84(_geometry_only(sources), "sources")
    _check_thresholds(max_distance_m=max_distance_m)
    crs = _metric_crs(targets, sources)
    found, _position = _nearest(
        _metric_geoms(targets, crs), _metric_geoms(sources, crs), max_distance_m
    )
    return found
