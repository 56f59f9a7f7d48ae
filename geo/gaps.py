"""Coverage gaps: dark stretches of road, fields far from water, villages not visited.

Every function takes frames in WGS84 lon/lat (EPSG:4326), checks them first, works on
copies and returns frames in EPSG:4326 with the measured attributes as columns.
Lateral and nearest-neighbour distances are measured in the UTM zone of the data
(:func:`geo.metric.metric_crs_for`); lengths along lines on the WGS84 ellipsoid.
No function loops over the features of a layer in Python: the work is done by shapely's
vectorised functions, an STRtree and numpy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

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


# ------------------------------------------------------------------- road lighting


@dataclass(frozen=True)
class _Network:
    """The vertices of every road part, in order, with a chainage running over all roads.

    Chainage is geodesic and continuous: it does not grow between two parts of a road
    nor between roads, so one sorted array serves every road. ``road_start`` is NaN for
    roads without a line.
    """

    lonlat: NDArray[np.float64]
    xy: NDArray[np.float64]
    chain: NDArray[np.float64]
    vertex_part: NDArray[np.intp]
    part_first: NDArray[np.intp]
    part_last: NDArray[np.intp]
    part_road: NDArray[np.intp]
    road_start: NDArray[np.float64]
    road_end: NDArray[np.float64]


def _network(lines: NDArray[np.object_], crs: pyproj.CRS) -> _Network | None:
    """The road network of ``lines`` (lon/lat), or None when there is no line in it."""
    parts, road = shapely.get_parts(lines, return_index=True)
    keep = (shapely.get_type_id(parts) == _LINE) & ~shapely.is_empty(parts)
    parts, road = shapely.segmentize(parts[keep], _DENSIFY_DEG), road[keep]
    if len(parts) == 0:
        return None
    lonlat, vertex_part = shapely.get_coordinates(parts, return_index=True)
    to_metric = pyproj.Transformer.from_crs(WGS84, crs, always_xy=True)
    xy = np.column_stack(to_metric.transform(lonlat[:, 0], lonlat[:, 1]))
    step = np.zeros(len(lonlat) - 1)
    inner = np.flatnonzero(vertex_part[1:] == vertex_part[:-1])
    _az, _back, dist = _GEOD.inv(*lonlat[inner].T, *lonlat[inner + 1].T)
    step[inner] = dist
    chain = np.concatenate([[0.0], np.cumsum(step)])
    ids = np.arange(len(parts))
    part_first = np.searchsorted(vertex_part, ids, "left")
    part_last = np.searchsorted(vertex_part, ids, "right") - 1
    roads = np.arange(len(lines))
    first_part = np.searchsorted(road, roads, "left")
    last_part = np.searchsorted(road, roads, "right") - 1
    has = last_part >= first_part
    road_start, road_end = np.full(len(lines), np.nan), np.full(len(lines), np.nan)
    road_start[has] = chain[part_first[first_part[has]]]
    road_end[has] = chain[part_last[last_part[has]]]
    return _Network(
        lonlat, xy, chain, vertex_part, part_first, part_last, road, road_start, road_end
    )


def _segment_boxes(
    a: NDArray[np.float64], b: NDArray[np.float64], pad: float
) -> tuple[NDArray[np.object_], NDArray[np.intp]]:
    """Boxes around segments a-b widened by ``pad``, long segments cut into several boxes."""
    length = np.hypot(*(b - a).T)
    cuts = np.maximum(1, np.ceil(length / max(4 * pad, _BOX_STEP_M))).astype(np.intp)
    seg = np.repeat(np.arange(len(a)), cuts)
    j = np.arange(len(seg)) - np.repeat(np.cumsum(cuts) - cuts, cuts)
    f0, f1 = (j / cuts[seg])[:, None], ((j + 1) / cuts[seg])[:, None]
    p0, p1 = a[seg] + f0 * (b - a)[seg], a[seg] + f1 * (b - a)[seg]
    lo, hi = np.minimum(p0, p1) - pad, np.maximum(p0, p1) + pad
    return shapely.box(lo[:, 0], lo[:, 1], hi[:, 0], hi[:, 1]), seg


def _locate_lights(
    net: _Network, xy: NDArray[np.float64], lateral_m: float
) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """Road and chainage of every (light, road stretch) pair within ``lateral_m``.

    A light near two roads (a crossroads) counts for both; a light near two stretches of
    one road (a hairpin) lights both.
    """
    seg = np.flatnonzero(net.vertex_part[1:] == net.vertex_part[:-1])
    if len(xy) == 0 or len(seg) == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0)
    a, b = net.xy[seg], net.xy[seg + 1]
    boxes, box_seg = _segment_boxes(a, b, lateral_m + _EPS_M)
    box_i, light_i = shapely.STRtree(np.asarray(shapely.points(xy), dtype=object)).query(boxes)
    s = box_seg[box_i]
    ab, ap = b[s] - a[s], xy[light_i] - a[s]
    den = np.einsum("ij,ij->i", ab, ab)
    t = np.divide(np.einsum("ij,ij->i", ap, ab), den, out=np.zeros(len(s)), where=den > 0)
    t = np.clip(t, 0.0, 1.0)
    near = np.hypot(*(ap - t[:, None] * ab).T) <= lateral_m
    v = seg[s[near]]
    chain = net.chain[v] + t[near] * (net.chain[v + 1] - net.chain[v])
    return net.part_road[net.vertex_part[v]], chain


def _dark_stretches(
    net: _Network, road: NDArray[np.intp], chain: NDArray[np.float64], min_gap_m: float
) -> tuple[NDArray[np.intp], NDArray[np.float64], NDArray[np.float64]]:
    """Road, start and end chainage of every stretch between lights longer than min_gap_m."""
    has = np.flatnonzero(~np.isnan(net.road_start))
    pos = np.concatenate([chain, net.road_start[has], net.road_end[has]])
    rid = np.concatenate([road, has, has])
    order = np.lexsort((pos, rid))
    pos, rid = pos[order], rid[order]
    gap = np.flatnonzero((rid[1:] == rid[:-1]) & (np.diff(pos) > min_gap_m + _EPS_M))
    return rid[gap], pos[gap], pos[gap + 1]


def _pieces(
    net: _Network, start: NDArray[np.float64], end: NDArray[np.float64]
) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.float64], NDArray[np.float64]]:
    """Stretches cut at the ends of road parts: stretch index, part, start and end chainage."""
    part_start, part_end = net.chain[net.part_first], net.chain[net.part_last]
    first = np.searchsorted(part_end, start, "right")
    count = np.maximum(np.searchsorted(part_start, end, "left") - first, 0)
    stretch = np.repeat(np.arange(len(start)), count)
    part = first[stretch] + np.arange(len(stretch)) - np.repeat(np.cumsum(count) - count, count)
    a = np.maximum(start[stretch], part_start[part])
    b = np.minimum(end[stretch], part_end[part])
    keep = b - a > _EPS_M
    return stretch[keep], part[keep], a[keep], b[keep]


def _along(net: _Network, j: NDArray[np.intp], at: NDArray[np.float64]) -> NDArray[np.float64]:
    """Lon/lat of chainage ``at`` on the segment starting at vertex ``j``."""
    den = net.chain[j + 1] - net.chain[j]
    t = np.divide(at - net.chain[j], den, out=np.zeros(len(j)), where=den > 0)
    t = np.clip(t, 0.0, 1.0)[:, None]
    return net.lonlat[j] + t * (net.lonlat[j + 1] - net.lonlat[j])


def _substrings(
    net: _Network, part: NDArray[np.intp], a: NDArray[np.float64], b: NDArray[np.float64]
) -> NDArray[np.object_]:
    """LineStrings of road parts between chainages a and b (vectorised substring)."""
    v0, v1 = net.part_first[part], net.part_last[part]
    j0 = np.clip(np.searchsorted(net.chain, a, "right") - 1, v0, v1 - 1)
    j1 = np.maximum(np.clip(np.searchsorted(net.chain, b, "left") - 1, v0, v1 - 1), j0)
    n = j1 - j0 + 2
    piece = np.repeat(np.arange(len(part)), n)
    k = np.arange(len(piece)) - np.repeat(np.cumsum(n) - n, n)
    coords = net.lonlat[j0[piece] + k]
    coords[k == 0] = _along(net, j0, a)
    coords[k == n[piece] - 1] = _along(net, j1, b)
    return np.asarray(shapely.linestrings(coords, indices=piece), dtype=object)


def _grouped(pieces: NDArray[np.object_], owner: NDArray[np.intp]) -> NDArray[np.object_]:
    """One geometry per owner (0..n-1, all present): the piece, or a MultiLineString."""
    count = np.bincount(owner)
    first = np.cumsum(count) - count
    multi = np.asarray(shapely.multilinestrings(pieces, indices=owner), dtype=object)
    return np.where(count == 1, pieces[first], multi)


def road_lighting_gaps(
    roads: gpd.GeoDataFrame,
    lights: gpd.GeoDataFrame,
    *,
    min_gap_m: float = 100.0,
    lateral_m: float = 30.0,
    counted_status: Sequence[str] = ("working",),
) -> gpd.GeoDataFrame:
    """Stretches of road longer than ``min_gap_m`` without a counted streetlight.

    Lights whose status is in ``counted_status`` and that lie within ``lateral_m`` of a
    road (measured in the UTM zone of the roads) are projected onto it. Sorted with the
    road's start and end, consecutive positions further apart than ``min_gap_m`` bound a
    gap. A light within reach of two roads counts for both. Chainage is geodesic, from
    the road's first vertex; the parts of a MultiLineString follow each other in stored
    order (as in ``shapely.line_locate_point``), and a gap running over two parts is a
    MultiLineString. A road with no light is one whole gap if it is longer than
    ``min_gap_m``.

    Parameters
    ----------
    roads : GeoDataFrame
        LineString/MultiLineString roads with ``id`` (and ``name``), EPSG:4326.
    lights : GeoDataFrame
        Point streetlights with ``status``, EPSG:4326.
    min_gap_m, lateral_m : float
        Longest allowed dark stretch; furthest a light may stand from the road, in metres.
    counted_status : sequence of str
        Statuses of lights that count as light.

    Returns
    -------
    GeoDataFrame
        One row per gap, in road order: ``road_id``, ``road_name``, ``start_km`` and
        ``end_km`` (chainage from the road's start), ``length_m``; EPSG:4326.

    Examples
    --------
    >>> from shapely import LineString, Point
    >>> road = gpd.GeoDataFrame(
    ...     {"id": ["R1"], "name": ["Main"]},
    ...     geometry=[LineString([(112, 39), (112, 39.01)])], crs=4326)
    >>> light = gpd.GeoDataFrame({"status": ["working"]}, geometry=[Point(112, 39.005)], crs=4326)
    >>> road_lighting_gaps(road, light)[["start_km", "end_km"]].round(3).values.tolist()
    [[0.0, 0.555], [0.555, 1.11]]
    >>> len(road_lighting_gaps(road.iloc[:0], light))
    0
    """
    roads = as_wgs84(roads, "roads", ["id"])
    lights = as_wgs84(lights, "lights", ["status"])
    _check_thresholds(min_gap_m=min_gap_m, lateral_m=lateral_m)
    crs = _metric_crs(roads)
    net = _network(np.asarray(roads.geometry.to_numpy(), dtype=object), crs)
    if net is None:
        return _road_gaps_frame(roads, np.zeros(0, dtype=np.intp), np.zeros(0), np.zeros(0), [])
    lit = _located(lights[lights["status"].isin(_statuses(counted_status))])
    geoms = np.asarray(lit.geometry.to_numpy(), dtype=object)
    points = bool(len(geoms)) and bool(np.all(shapely.get_type_id(geoms) == 0))
    lonlat = shapely.get_coordinates(geoms if points else shapely.centroid(geoms))
    to_metric = pyproj.Transformer.from_crs(WGS84, crs, always_xy=True)
    xy = np.column_stack(to_metric.transform(lonlat[:, 0], lonlat[:, 1])).reshape(-1, 2)
    road, chain = _locate_lights(net, xy, lateral_m)
    gap_road, start, end = _dark_stretches(net, road, chain, min_gap_m)
    stretch, part, a, b = _pieces(net, start, end)
    kept, owner = np.unique(stretch, return_inverse=True)
    geoms = _grouped(_substrings(net, part, a, b), owner.astype(np.intp))
    gap_road, start, end = gap_road[kept], start[kept], end[kept]
    from_start = start - net.road_start[gap_road]
    return _road_gaps_frame(roads, gap_road, from_start, end - start, geoms)


def _road_gaps_frame(
    roads: gpd.GeoDataFrame,
    road: NDArray[np.intp],
    start_m: NDArray[np.float64],
    length_m: NDArray[np.float64],
    geoms: NDArray[np.object_] | list[Any],
) -> gpd.GeoDataFrame:
    """The result frame of :func:`road_lighting_gaps`."""
    return gpd.GeoDataFrame(
        {
            "road_id": roads["id"].to_numpy()[road],
            "road_name": column_or_none(roads, "name")[road],
            "start_km": start_m / 1000.0,
            "end_km": (start_m + length_m) / 1000.0,
            "length_m": length_m,
        },
        geometry=gpd.GeoSeries(np.asarray(geoms, dtype=object), crs=WGS84),
        crs=WGS84,
    )


# ------------------------------------------------------------------- water


def irrigation_gaps(
    targets: gpd.GeoDataFrame,
    wells: gpd.GeoDataFrame,
    *,
    max_distance_m: float = 500.0,
    counted_status: Sequence[str] = ("working",),
    search_cap_m: float | None = None,
) -> gpd.GeoDataFrame:
    """Targets (fields, greenhouses, plantings) farther than ``max_distance_m`` from a well.

    Only wells whose status is in ``counted_status`` count. The nearest well is searched
    in the UTM zone of the data up to ``search_cap_m`` (default ten times
    ``max_distance_m``), so the search stays local. Targets without geometry cannot be
    placed and are left out.

    Parameters
    ----------
    targets : GeoDataFrame
        Any geometries, EPSG:4326.
    wells : GeoDataFrame
        Point wells with ``id`` and ``status``, EPSG:4326.
    max_distance_m : float
        Farthest a target may be from a counted well, in metres.
    counted_status : sequence of str
        Well statuses that count.
    search_cap_m : float, optional
        Search radius; beyond it ``nearest_well_m`` is NaN.

    Returns
    -------
    GeoDataFrame
        The target rows (original index) that are too far, with ``nearest_well_m``
        (NaN beyond the search cap) and ``nearest_well_id`` (None then); EPSG:4326.

    Examples
    --------
    >>> from shapely import Point
    >>> fields = gpd.GeoDataFrame({"id": ["F1", "F2"]},
    ...     geometry=[Point(112, 39.001), Point(112, 39.01)], crs=4326)
    >>> wells = gpd.GeoDataFrame({"id": ["W1"], "status": ["working"]},
    ...     geometry=[Point(112, 39)], crs=4326)
    >>> irrigation_gaps(fields, wells)[["id", "nearest_well_id"]].values.tolist()
    [['F2', 'W1']]
    >>> len(irrigation_gaps(fields.iloc[:0], wells))
    0
    """
    targets = _located(as_wgs84(targets, "targets"))
    wells = as_wgs84(wells, "wells", ["id", "status"])
    cap = 10.0 * max_distance_m if search_cap_m is None else search_cap_m
    _check_thresholds(max_distance_m=max_distance_m, search_cap_m=cap)
    counted = wells[wells["status"].isin(_statuses(counted_status))]
    crs = _metric_crs(targets, counted)
    found, position = _nearest(
        _metric_geoms(targets, crs), _metric_geoms(counted, crs), max(cap, max_distance_m)
    )
    ids = np.concatenate([counted["id"].to_numpy(dtype=object), np.array([None], dtype=object)])
    targets["nearest_well_m"] = found
    targets["nearest_well_id"] = pd.Series(ids[position], index=targets.index, dtype=object)
    return targets[~(found <= max_distance_m)]


def wells_without_pipe(
    wells: gpd.GeoDataFrame,
    pipes: gpd.GeoDataFrame,
    *,
    snap_m: float = 10.0,
    counted_status: Sequence[str] | None = None,
) -> gpd.GeoDataFrame:
    """Wells that no pipe starts from: none names them and none ends within ``snap_m``.

    A well is connected when a pipe's ``well_id`` equals the well's ``id`` (7, 7.0 and
    "7" match) or when an end of a pipe (of any part) lies within ``snap_m`` of it,
    measured in the UTM zone of the data.

    Parameters
    ----------
    wells : GeoDataFrame
        Point wells with ``id`` (and ``status``), EPSG:4326.
    pipes : GeoDataFrame
        LineString pipes with ``well_id``, EPSG:4326.
    snap_m : float
        How near a pipe end must be, in metres.
    counted_status : sequence of str, optional
        Check only wells with these statuses (for instance leave out "planned" and
        "removed"); None checks every well.

    Returns
    -------
    GeoDataFrame
        The unconnected well rows (original index), EPSG:4326.

    Examples
    --------
    >>> from shapely import LineString, Point
    >>> wells = gpd.GeoDataFrame({"id": ["W1", "W2"]},
    ...     geometry=[Point(112, 39), Point(112.1, 39)], crs=4326)
    >>> pipes = gpd.GeoDataFrame({"well_id": [None]},
    ...     geometry=[LineString([(112, 39.00005), (112, 39.01)])], crs=4326)
    >>> wells_without_pipe(wells, pipes)["id"].tolist()
    ['W2']
    >>> wells_without_pipe(wells, pipes.iloc[:0])["id"].tolist()
    ['W1', 'W2']
    """
    wells = as_wgs84(wells, "wells", ["id"] if counted_status is None else ["id", "status"])
    pipes = as_wgs84(pipes, "pipes", ["well_id"])
    _check_thresholds(snap_m=snap_m)
    if counted_status is not None:
        wells = wells[wells["status"].isin(_statuses(counted_status))]
    named = _id_keys(wells["id"]).isin(_id_keys(pipes["well_id"]).dropna())
    parts = shapely.get_parts(np.asarray(pipes.geometry.to_numpy(), dtype=object))
    parts = parts[(shapely.get_type_id(parts) == _LINE) & ~shapely.is_empty(parts)]
    ends = gpd.GeoDataFrame(
        geometry=np.concatenate([shapely.get_point(parts, 0), shapely.get_point(parts, -1)]),
        crs=WGS84,
    )
    crs = _metric_crs(wells, ends)
    found, _position = _nearest(_metric_geoms(wells, crs), _metric_geoms(ends, crs), snap_m)
    return wells[~named.to_numpy() & ~(found <= snap_m)]


# ------------------------------------------------------------------- visits


def _visit_totals(visits: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Per village key: last visit, number of visits, problems raised and solved."""
    when = parse_iso_dates(visits["date"])
    counted = visits[when.notna() & (when <= pd.Timestamp(as_of))]
    frame = pd.DataFrame(
        {
            "key": _id_keys(counted["village_id"]),
            "when": when[counted.index],
            "raised": pd.to_numeric(counted["problems_raised"], errors="coerce").fillna(0),
            "solved": pd.to_numeric(counted["problems_solved"], errors="coerce").fillna(0),
        }
    ).dropna(subset=["key"])
    return frame.groupby("key").agg(
        last=("when", "max"),
        visits=("when", "size"),
        raised=("raised", "sum"),
        solved=("solved", "sum"),
    )


def _objects(values: pd.Series, present: pd.Series) -> NDArray[np.object_]:
    """An object array holding ``values`` where ``present`` and None elsewhere."""
    out = np.full(len(values), None, dtype=object)
    mask = present.to_numpy()
    out[mask] = values.to_numpy()[mask].tolist()
    return out


def visit_gaps(
    villages: gpd.GeoDataFrame, visits: pd.DataFrame, *, as_of: date, max_days: int = 90
) -> gpd.GeoDataFrame:
    """Every village with its visits up to ``as_of`` and flags for overdue or open problems.

    Visits are matched by ``village_id`` = village ``id``; visits dated after ``as_of``,
    or with an unreadable date, are not counted.

    Parameters
    ----------
    villages : GeoDataFrame
        Villages with ``id`` (and ``name``, ``township``), EPSG:4326.
    visits : DataFrame or GeoDataFrame
        Visits with ``village_id``, ``date`` (ISO text), ``problems_raised`` and
        ``problems_solved``.
    as_of : datetime.date
        The day the report is for.
    max_days : int
        A village last visited more than this many days before ``as_of`` is overdue.

    Returns
    -------
    GeoDataFrame
        The villages (original index, EPSG:4326) with ``last_visit`` (date or None),
        ``days_since`` (int or None), ``visits``, ``problems_raised``, ``problems_solved``,
        ``not_visited_recently`` (never, or more than ``max_days`` ago) and ``unresolved``
        (raised > solved).

    Examples
    --------
    >>> from shapely import Point
    >>> v = gpd.GeoDataFrame({"id": ["V1"]}, geometry=[Point(112, 39)], crs=4326)
    >>> visits = pd.DataFrame({"village_id": ["V1"], "date": ["2024-05-01"],
    ...     "problems_raised": [2], "problems_solved": [1]})
    >>> row = visit_gaps(v, visits, as_of=date(2024, 6, 1)).iloc[0]
    >>> row["days_since"], bool(row["not_visited_recently"]), bool(row["unresolved"])
    (31, False, True)
    >>> visit_gaps(v, visits.iloc[:0], as_of=date(2024, 6, 1))["last_visit"].tolist()
    [None]
    """
    villages = as_wgs84(villages, "villages", ["id"])
    visits = _check_columns(
        visits, "visits", ["village_id", "date", "problems_raised", "problems_solved"]
    )
    _check_thresholds(max_days=max_days)
    as_of = date(as_of.year, as_of.month, as_of.day)
    totals = _visit_totals(visits, as_of).reindex(_id_keys(villages["id"]).to_numpy())
    totals.index = villages.index
    seen = totals["last"].notna()
    days = (pd.Timestamp(as_of) - totals["last"]).dt.days
    villages["last_visit"] = _objects(totals["last"].dt.date, seen)
    villages["days_since"] = _objects(days.fillna(0).astype("int64"), seen)
    villages["visits"] = totals["visits"].fillna(0).astype("int64")
    villages["problems_raised"] = totals["raised"].fillna(0).astype("int64")
    villages["problems_solved"] = totals["solved"].fillna(0).astype("int64")
    villages["not_visited_recently"] = ~seen | (days > max_days)
    villages["unresolved"] = villages["problems_raised"] > villages["problems_solved"]
    return villages


def visit_coverage_by_township(
    villages: gpd.GeoDataFrame, visits: pd.DataFrame, *, as_of: date, max_days: int = 90
) -> pd.DataFrame:
    """Per township: villages, villages visited within ``max_days`` of ``as_of``, percent.

    Villages without a township are counted under a township of None.

    Returns
    -------
    DataFrame
        Columns ``township``, ``villages``, ``visited``, ``coverage_pct`` (0-100),
        one row per township, sorted by township.

    Examples
    --------
    >>> from shapely import Point
    >>> v = gpd.GeoDataFrame({"id": ["V1", "V2"], "township": ["East", "East"]},
    ...     geometry=[Point(112, 39), Point(112.1, 39)], crs=4326)
    >>> visits = pd.DataFrame({"village_id": ["V1"], "date": ["2024-05-01"],
    ...     "problems_raised": [0], "problems_solved": [0]})
    >>> visit_coverage_by_township(v, visits, as_of=date(2024, 6, 1)).values.tolist()
    [['East', 2, 1, 50.0]]
    >>> len(visit_coverage_by_township(v.iloc[:0], visits, as_of=date(2024, 6, 1)))
    0
    """
    villages = as_wgs84(villages, "villages", ["id", "township"])
    flagged = visit_gaps(villages, visits, as_of=as_of, max_days=max_days)
    table = pd.DataFrame(
        {
            "township": flagged["township"].to_numpy(dtype=object),
            "visited": (~flagged["not_visited_recently"]).to_numpy(dtype=np.int64),
        }
    )
    out = table.groupby("township", dropna=False, sort=True).agg(
        villages=("visited", "size"), visited=("visited", "sum")
    )
    out = out.reset_index()
    out["coverage_pct"] = 100.0 * out["visited"] / out["villages"]
    return out[["township", "villages", "visited", "coverage_pct"]]


# ------------------------------------------------------------------- services


def service_gaps(
    facilities: gpd.GeoDataFrame,
    routes: gpd.GeoDataFrame,
    stops: gpd.GeoDataFrame | None = None,
    *,
    kinds: Sequence[str] = ("hospital", "service_centre", "market", "school"),
    max_distance_m: float = 500.0,
    free_only: bool = True,
    search_cap_m: float | None = None,
) -> gpd.GeoDataFrame:
    """Facilities of ``kinds`` farther than ``max_distance_m`` from a (free) bus route or stop.

    With ``free_only`` only routes whose ``free`` is true count, and, when ``stops`` has a
    ``route_id`` column, only the stops of those routes; stops without ``route_id`` all
    count. Distances are measured in the UTM zone of the data, up to ``search_cap_m``
    (default ten times ``max_distance_m``).

    Parameters
    ----------
    facilities : GeoDataFrame
        Facilities with ``kind``, EPSG:4326.
    routes : GeoDataFrame
        Bus route lines (with ``free`` when ``free_only``), EPSG:4326.
    stops : GeoDataFrame, optional
        Bus stop points, EPSG:4326.
    kinds : sequence of str
        Facility kinds that should be served.
    max_distance_m : float
        Farthest a facility may be from a route or stop, in metres.
    free_only : bool
        Count only free routes.
    search_cap_m : float, optional
        Search radius; beyond it ``distance_m`` is NaN.

    Returns
    -------
    GeoDataFrame
        The facility rows (original index) that are too far, with ``distance_m``.

    Examples
    --------
    >>> from shapely import LineString, Point
    >>> fac = gpd.GeoDataFrame({"kind": ["school", "school"]},
    ...     geometry=[Point(112, 39.001), Point(112, 39.02)], crs=4326)
    >>> bus = gpd.GeoDataFrame({"free": [True]},
    ...     geometry=[LineString([(111.99, 39), (112.01, 39)])], crs=4326)
    >>> service_gaps(fac, bus)["distance_m"].round().tolist()
    [2220.0]
    >>> len(service_gaps(fac.iloc[:0], bus))
    0
    """
    facilities = _located(as_wgs84(facilities, "facilities", ["kind"]))
    routes = as_wgs84(routes, "routes", ["free"] if free_only else [])
    stops = as_wgs84(stops if stops is not None else gpd.GeoDataFrame(geometry=[]), "stops")
    cap = 10.0 * max_distance_m if search_cap_m is None else search_cap_m
    _check_thresholds(max_distance_m=max_distance_m, search_cap_m=cap)
    wanted = facilities[facilities["kind"].isin(_statuses(kinds))]
    if free_only:
        routes = routes[_truthy(routes["free"]).to_numpy()]
        if "route_id" in stops.columns:
            free_ids = _id_keys(routes["id"]) if "id" in routes.columns else pd.Series([])
            stops = stops[_id_keys(stops["route_id"]).isin(free_ids).to_numpy()]
    served = gpd.GeoDataFrame(
        geometry=pd.concat([routes.geometry, stops.geometry], ignore_index=True), crs=WGS84
    )
    crs = _metric_crs(wanted, served)
    found, _position = _nearest(
        _metric_geoms(wanted, crs), _metric_geoms(served, crs), max(cap, max_distance_m)
    )
    wanted["distance_m"] = found
    return wanted[~(found <= max_distance_m)]


def rest_station_gaps(
    streets: gpd.GeoDataFrame, rest_stations: gpd.GeoDataFrame, *, max_distance_m: float = 1000.0
) -> gpd.GeoDataFrame:
    """Parts of streets farther than ``max_distance_m`` from every rest station.

    Each street minus the union of the stations' buffers (drawn in the UTM zone of the
    data with 64 segments per circle, so reach is under-estimated by at most 0.12 %),
    split into LineString parts, each measured on the ellipsoid. Pass only the rest
    stations (facilities of kind ``rest_station``).

    Parameters
    ----------
    streets : GeoDataFrame
        LineString/MultiLineString streets with ``id`` (and ``name``), EPSG:4326.
    rest_stations : GeoDataFrame
        Station points, EPSG:4326.
    max_distance_m : float
        Reach of a station, in metres.

    Returns
    -------
    GeoDataFrame
        One row per uncovered LineString part: ``street_id``, ``street_name``,
        ``length_m``; EPSG:4326.

    Examples
    --------
    >>> from shapely import LineString, Point
    >>> street = gpd.GeoDataFrame({"id": ["S1"]},
    ...     geometry=[LineString([(112, 39), (112, 39.02)])], crs=4326)
    >>> station = gpd.GeoDataFrame(geometry=[Point(112, 39)], crs=4326)
    >>> rest_station_gaps(street, station)["length_m"].round(-1).tolist()
    [1220.0]
    >>> rest_station_gaps(street, station.iloc[:0])["length_m"].round(-1).tolist()
    [2220.0]
    """
    streets = _located(as_wgs84(streets, "streets", ["id"]))
    stations = _located(as_wgs84(rest_stations, "rest_stations"))
    _check_thresholds(max_distance_m=max_distance_m)
    crs = _metric_crs(streets, stations)
    lines = _metric_geoms(streets, crs)
    reach = shapely.union_all(
        shapely.buffer(_metric_geoms(stations, crs), max_distance_m, quad_segs=16)
    )
    shapely.prepare(reach)
    touched = shapely.intersects(lines, reach)
    lines[touched] = shapely.difference(lines[touched], reach)
    parts, owner = shapely.get_parts(lines, return_index=True)
    keep = (shapely.get_type_id(parts) == _LINE) & ~shapely.is_empty(parts)
    back = gpd.GeoSeries(parts[keep], crs=crs).to_crs(WGS84)
    length = geodesic_lengths_m(back.to_numpy())
    out = gpd.GeoDataFrame(
        {
            "street_id": streets["id"].to_numpy()[owner[keep]],
            "street_name": column_or_none(streets, "name")[owner[keep]],
            "length_m": length,
        },
        geometry=back.to_numpy(),
        crs=WGS84,
    )
    return out[out["length_m"] > _EPS_M].reset_index(drop=True)


# ------------------------------------------------------------------- ledger targets


def target_gaps(progress: pd.DataFrame) -> pd.DataFrame:
    """Ledger rows behind their target, worst first.

    Rows without a positive numeric target are left out; a missing ``actual`` is 0.

    Parameters
    ----------
    progress : DataFrame
        Columns ``village``, ``layer``, ``target``, ``actual``.

    Returns
    -------
    DataFrame
        The rows (original index) where ``actual < target``, with ``shortfall``
        (target - actual) and ``pct`` (actual / target x 100), sorted by ``pct``.

    Examples
    --------
    >>> p = pd.DataFrame({"village": ["A", "B"], "layer": ["wells", "wells"],
    ...     "target": [4, 2], "actual": [1, 2]})
    >>> target_gaps(p)[["village", "shortfall", "pct"]].values.tolist()
    [['A', 3.0, 25.0]]
    >>> len(target_gaps(p.iloc[:0]))
    0
    """
    out = _check_columns(progress, "progress", ["village", "layer", "target", "actual"])
    target = pd.to_numeric(out["target"], errors="coerce")
    actual = pd.to_numeric(out["actual"], errors="coerce").fillna(0.0)
    behind = (target > 0) & (actual < target)
    out = out[behind.to_numpy()]
    out["shortfall"] = (target - actual)[behind].astype(float)
    out["pct"] = (100.0 * actual / target)[behind].astype(float)
    return out.sort_values("pct", kind="stable")
