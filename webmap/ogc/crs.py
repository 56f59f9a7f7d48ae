"""CRS handling of the OGC API (Part 2): which CRSs a collection offers, and conversions.

The storage CRS is CRS84 (lon/lat, as in the layer files), named here once. Responses in
another CRS use that CRS's axis order as EPSG defines it (OGC API - Features Part 2):
EPSG:4326 and EPSG:4490 are latitude first, the CGCS2000 Gauss-Kruger zones
(EPSG:4546, 4547, ...) are northing first.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pyproj

from geo.crs import gauss_kruger_epsg
from layers.errors import BadRequest

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
STORAGE_CRS = CRS84
EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/{}"
WGS84_URI = EPSG_URI.format(4326)
CGCS2000_URI = EPSG_URI.format(4490)
#: Shanyin county: used for the Gauss-Kruger zone of a layer that has no features yet.
DEFAULT_CENTRE_LON = 112.8
_DEGREE_DECIMALS = 7
_METRE_DECIMALS = 3
_EPSG_RE = re.compile(
    r"^(?:\[?EPSG:(\d+)\]?|https?://www\.opengis\.net/def/crs/EPSG/0/(\d+))$", re.IGNORECASE
)
_CRS84_NAMES = {CRS84, "OGC:CRS84", "[OGC:CRS84]", "http://www.opengis.net/def/crs/OGC/0/CRS84"}


def gk_zone_uri(centre_lon: float | None) -> str:
    """URI of the CGCS2000 3-degree Gauss-Kruger zone (central meridian, no zone prefix)
    holding ``centre_lon`` (default: the county's centre)."""
    lon = DEFAULT_CENTRE_LON if centre_lon is None else centre_lon
    try:
        code = gauss_kruger_epsg(lon, width_deg=3, zone_prefix=False)
    except ValueError:
        code = gauss_kruger_epsg(DEFAULT_CENTRE_LON, width_deg=3, zone_prefix=False)
    return EPSG_URI.format(code)


def supported_crs(centre_lon: float | None) -> list[str]:
    """CRSs a collection offers: CRS84 (default), EPSG:4326, CGCS2000 and its GK zone."""
    return [CRS84, WGS84_URI, CGCS2000_URI, gk_zone_uri(centre_lon)]


def normalise(text: str) -> str:
    """A CRS given as URI, ``EPSG:n`` or ``[EPSG:n]`` (safe CURIE) as its OGC URI."""
    value = text.strip()
    if value in _CRS84_NAMES:
        return CRS84
    match = _EPSG_RE.match(value)
    if match:
        return EPSG_URI.format(int(match.group(1) or match.group(2)))
    return value


def choose(text: str | None, allowed: Iterable[str], param: str) -> str:
    """The CRS URI asked for by parameter ``param`` (CRS84 when absent), or 400."""
    if text is None or text == "":
        return CRS84
    uri = normalise(text)
    if uri not in set(allowed):
        raise BadRequest(value=f"{param}: unsupported CRS {text!r}")
    return uri


@functools.cache
def _crs(uri: str) -> pyproj.CRS:
    return pyproj.CRS.from_user_input("OGC:CRS84" if uri == CRS84 else uri)


@functools.cache
def _transformer(source: str, target: str) -> pyproj.Transformer:
    # Authority axis order on purpose (no always_xy): this is what Part 2 asks for.
    return pyproj.Transformer.from_crs(_crs(source), _crs(target))


def is_projected(uri: str) -> bool:
    """Whether ``uri`` is a projected (metric) CRS."""
    return bool(_crs(uri).is_projected)


def bbox_to_crs84(bbox: tuple[float, ...], uri: str) -> tuple[float, float, float, float]:
    """A ``bbox`` given in ``uri`` (its axis order) as lon/lat bounds."""
    if len(bbox) == 6:
        bbox = (bbox[0], bbox[1], bbox[3], bbox[4])
    a0, a1, b0, b1 = bbox
    if uri == CRS84:
        return (a0, a1, b0, b1)
    bounds = _transformer(uri, CRS84).transform_bounds(a0, a1, b0, b1, densify_pts=21)
    if not all(math.isfinite(v) for v in bounds):
        raise BadRequest(value="bbox lies outside the area of the bbox-crs")
    return (bounds[0], bounds[1], bounds[2], bounds[3])


def bbox_from_crs84(bbox: tuple[float, float, float, float], uri: str) -> list[float]:
    """Lon/lat bounds as a bbox in ``uri`` (its axis order)."""
    if uri == CRS84:
        return list(bbox)
    bounds = _transformer(CRS84, uri).transform_bounds(*bbox, densify_pts=21)
    return [round(v, _decimals(uri)) for v in bounds]


def _decimals(uri: str) -> int:
    return _METRE_DECIMALS if is_projected(uri) else _DEGREE_DECIMALS


def _positions(coords: Any, out: list[tuple[float, float]]) -> None:
    if coords and isinstance(coords[0], int | float):
        out.append((float(coords[0]), float(coords[1])))
    else:
        for part in coords or []:
            _positions(part, out)


def _rebuild(coords: Any, values: Any) -> Any:
    if coords and isinstance(coords[0], int | float):
        return next(values)
    return [_rebuild(part, values) for part in coords or []]


def _geometry_positions(geometry: Mapping[str, Any] | None, out: list[tuple[float, float]]) -> None:
    if not geometry:
        return
    if geometry.get("type") == "GeometryCollection":
        for member in geometry.get("geometries", []):
            _geometry_positions(member, out)
    else:
        _positions(geometry.get("coordinates"), out)


def _geometry_rebuild(geometry: Mapping[str, Any] | None, values: Any) -> Any:
    if not geometry:
        return geometry
    if geometry.get("type") == "GeometryCollection":
        members = [_geometry_rebuild(m, values) for m in geometry.get("geometries", [])]
        return {"type": "GeometryCollection", "geometries": members}
    return {"type": geometry["type"], "coordinates": _rebuild(geometry["coordinates"], values)}


def _convert(geometries: list[Mapping[str, Any] | None], source: str, target: str) -> list[Any]:
    positions: list[tuple[float, float]] = []
    for geometry in geometries:
        _geometry_positions(geometry, positions)
    if not positions:
        return list(geometries)
    xy = np.asarray(positions, dtype=np.float64)
    a, b = _transformer(source, target).transform(xy[:, 0], xy[:, 1])
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise BadRequest(value="coordinates cannot be expressed in the requested CRS")
    digits = _decimals(target)
    pairs = np.column_stack([np.round(a, digits), np.round(b, digits)]).tolist()
    values = iter(pairs)
    return [_geometry_rebuild(g, values) for g in geometries]


def features_to_crs(features: list[dict[str, Any]], uri: str) -> list[dict[str, Any]]:
    """Copies of stored (CRS84) ``features`` with geometries in ``uri``, in one
    vectorised transformation."""
    if uri == CRS84:
        return features
    converted = _convert([f.get("geometry") for f in features], CRS84, uri)
    return [{**f, "geometry": g} for f, g in zip(features, converted, strict=True)]


def geometry_to_crs84(geometry: Mapping[str, Any] | None, uri: str) -> Any:
    """A geometry sent in ``uri`` (its axis order) as lon/lat."""
    if uri == CRS84 or not geometry:
        return geometry
    return _convert([geometry], uri, CRS84)[0]
