"""Road-lighting gaps: stretches of road farther than a spacing from any street light.

Lights are placed on the road network by their lateral distance (UTM zone of the data)
and chainage along each road is geodesic. Re-exported by :mod:`geo.gaps`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pyproj
import shapely
from numpy.typing import NDArray

from geo.measures import (
    _BOX_STEP_M,
    _DENSIFY_DEG,
    _EPS_M,
    _GEOD,
    _LINE,
    _check_thresholds,
    _located,
    _metric_crs,
    _statuses,
    as_wgs84,
    column_or_none,
)
from geo.metric import WGS84

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
