"""Coordinate reference systems: Chinese offset systems, CRS choice, guessing and conversion.

Everything the app stores is WGS84 lon/lat (EPSG:4326, x=lon, y=lat). This module turns what
users bring into that:

* GCJ-02 (Amap/Gaode, Tencent) and BD-09 (Baidu) offset lon/lat, from
  :mod:`geo.chinese_offsets`, and Gauss-Kruger zones, from :mod:`geo.gauss_kruger`
  (both re-exported here);
* ``parse_crs`` for what a user types or a ``.prj`` file says;
* ``guess_crs`` for bare numbers of unknown origin, ranked by how many land in the area;
* ``to_wgs84`` / ``transform_xy`` to convert, ``round_coords`` to write RFC 7946 output.

CGCS2000 and WGS84 agree to well under a metre, so they are treated as the same for this work.
Metric work (distances, areas) uses :func:`geo.metric.metric_crs_for`, re-exported here.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import geopandas as gpd
import numpy as np
import pyproj
import shapely
from numpy.typing import ArrayLike
from pyproj.exceptions import CRSError

from geo.chinese_offsets import (
    FloatArray,
    _as_lonlat,
    _bd_to_wgs,
    _gcj_to_wgs,
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from geo.gauss_kruger import _GK_FAMILIES, _gk_zone, gauss_kruger_epsg
from geo.messages import render
from geo.metric import WGS84, metric_crs_for
from geo.problems import InputError, Problem, short_value

__all__ = [
    "CrsChoice",
    "CrsGuess",
    "WGS84_CHOICE",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "gauss_kruger_epsg",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "guess_crs",
    "metric_crs_for",
    "parse_crs",
    "round_coords",
    "to_wgs84",
    "transform_xy",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]


# ---------------------------------------------------------------------------------------------
# CRS choice
# ---------------------------------------------------------------------------------------------

CrsKind = Literal["epsg", "gcj02", "bd09", "auto"]


@dataclass(frozen=True)
class CrsChoice:
    """The CRS that a set of coordinates is in, as chosen by the user or guessed.

    ``kind`` is ``"epsg"`` (then ``epsg`` holds the code), ``"gcj02"`` or ``"bd09"`` (offset
    lon/lat of Chinese map apps), or ``"auto"`` (take the CRS the data declare).
    ``label`` is a short human-readable name.
    """

    kind: CrsKind
    epsg: int | None
    label: str


WGS84_CHOICE = CrsChoice("epsg", 4326, "WGS 84 (EPSG:4326)")
_GCJ02_CHOICE = CrsChoice("gcj02", None, "GCJ-02 (Amap/Gaode, Tencent)")
_BD09_CHOICE = CrsChoice("bd09", None, "BD-09 (Baidu)")
_AUTO_CHOICE = CrsChoice("auto", None, "auto")

# Keys are lower-cased with spaces, '-', '_' and '/' removed.
_KEYWORDS: dict[str, CrsChoice | int] = {
    "wgs84": 4326,
    "wgs1984": 4326,
    "gps": 4326,
    "cgcs2000": 4490,
    "cgcs": 4490,
    "国家2000": 4490,
    "gcj02": _GCJ02_CHOICE,
    "gcj": _GCJ02_CHOICE,
    "mars": _GCJ02_CHOICE,
    "amap": _GCJ02_CHOICE,
    "gaode": _GCJ02_CHOICE,
    "tencent": _GCJ02_CHOICE,
    "高德": _GCJ02_CHOICE,
    "腾讯": _GCJ02_CHOICE,
    "火星": _GCJ02_CHOICE,
    "火星坐标": _GCJ02_CHOICE,
    "bd09": _BD09_CHOICE,
    "bd09ll": _BD09_CHOICE,
    "baidu": _BD09_CHOICE,
    "百度": _BD09_CHOICE,
    "auto": _AUTO_CHOICE,
    "自动": _AUTO_CHOICE,
}
_MAX_CRS_TEXT = 20_000


@functools.lru_cache(maxsize=256)
def _epsg_choice(code: int) -> CrsChoice:
    """The CrsChoice of a known-good EPSG code, labelled with its official name."""
    return CrsChoice("epsg", code, f"{pyproj.CRS.from_epsg(code).name} (EPSG:{code})")


def _choice_from_crs(crs: pyproj.CRS, text: str) -> CrsChoice:
    """The CrsChoice for a parsed CRS; raises InputError when it cannot be used."""
    if not (crs.is_geographic or crs.is_projected):
        raise InputError(
            [Problem("crs_unsupported", value=short_value(text), params={"name": crs.name})]
        )
    code = crs.to_epsg()
    if code is None and crs.equals(pyproj.CRS.from_epsg(4326), ignore_axis_order=True):
        code = 4326  # OGC:CRS84 and friends: WGS84 with lon/lat order
    if code is None:
        raise InputError(
            [Problem("crs_no_epsg", value=short_value(text), params={"name": crs.name})]
        )
    return _epsg_choice(code)


def parse_crs(text: str) -> CrsChoice:
    """The CRS named by ``text``: a keyword, an EPSG code, or WKT / ``.prj`` / PROJ text.

    Keywords (case, spaces and dashes ignored): ``wgs84``, ``cgcs2000``, ``gcj02`` (also
    ``amap``, ``gaode``, ``tencent``, 高德, 腾讯), ``bd09`` (``baidu``, 百度), ``auto``.
    Codes: ``EPSG:4526``, ``epsg:32649``, ``4526``. Any other text is read by pyproj and must
    match an EPSG code (ESRI ``.prj`` files of the standard Chinese systems do).

    Parameters
    ----------
    text : str
        What the user typed or the contents of a ``.prj`` file.

    Returns
    -------
    CrsChoice

    Raises
    ------
    geo.problems.InputError
        With problem ``crs_unknown`` (not a CRS), ``crs_unsupported`` (not a 2D geographic
        or projected CRS) or ``crs_no_epsg`` (valid, but no EPSG code matches).

    Examples
    --------
    >>> parse_crs("EPSG:4526").epsg
    4526
    >>> parse_crs("Gaode").kind
    'gcj02'
    >>> parse_crs(" wgs-84 ") == WGS84_CHOICE
    True
    """
    if not isinstance(text, str) or not text.strip() or len(text) > _MAX_CRS_TEXT:
        raise InputError([Problem("crs_unknown", value=short_value(text))])
    stripped = text.strip()
    key = re.sub(r"[\s\-_/]+", "", stripped).lower()
    known = _KEYWORDS.get(key)
    if isinstance(known, CrsChoice):
        return known
    if isinstance(known, int):
        return _epsg_choice(known)
    match = re.fullmatch(r"(?:epsg:?)?(\d{4,6})", key)
    try:
        if match:
            crs = pyproj.CRS.from_epsg(int(match.group(1)))
        else:
            crs = pyproj.CRS.from_user_input(stripped)
    except CRSError:
        raise InputError([Problem("crs_unknown", value=short_value(text))]) from None
    return _choice_from_crs(crs, stripped)


# ---------------------------------------------------------------------------------------------
# Guessing
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CrsGuess:
    """One candidate CRS for coordinates of unknown origin.

    ``reason`` is a message code (``crs_guess_*`` in :mod:`geo.msg_crs`);
    ``fraction_in_area`` the share of finite points that land in (or near) the area when
    read this way; ``swapped`` says the two columns must be exchanged first (x is latitude,
    or x is the northing as in Chinese survey tables).
    """

    choice: CrsChoice
    reason: str
    fraction_in_area: float
    swapped: bool = False

    def message(self, lang: str = "zh") -> str:
        """Why this guess, in ``lang`` (``"zh"`` or ``"en"``)."""
        return render(
            self.reason,
            lang,
            label=self.choice.label,
            percent=round(100.0 * self.fraction_in_area),
        )


_GUESS_SAMPLE = 2000
_GUESS_TOLERANCE_DEG = 0.1  # about 10 km: datum shifts and sloppy projections still count
_GOOD_ENOUGH = 0.95  # guesses within 95 % of the best fraction are ranked by family only


@functools.lru_cache(maxsize=128)
def _transformer_to_wgs84(epsg: int) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(epsg, 4326, always_xy=True)


def _epsg_to_wgs84(epsg: int, x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    if epsg == 4326:
        return x.copy(), y.copy()
    with np.errstate(invalid="ignore", over="ignore"):
        lon, lat = _transformer_to_wgs84(epsg).transform(x, y)
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def _fraction_inside(
    lon: FloatArray, lat: FloatArray, bounds: tuple[float, float, float, float]
) -> float:
    minx, miny, maxx, maxy = bounds
    t = _GUESS_TOLERANCE_DEG
    inside = (lon >= minx - t) & (lon <= maxx + t) & (lat >= miny - t) & (lat <= maxy + t)
    return float(np.count_nonzero(inside)) / max(lon.size, 1)


def _zones_for(
    bounds: tuple[float, float, float, float], width_deg: int, x: FloatArray, y: FloatArray
) -> list[int]:
    """Zone numbers worth trying: those the area touches plus any the eastings name."""
    minx, _miny, maxx, _maxy = bounds
    pad = width_deg / 2.0 + _GUESS_TOLERANCE_DEG
    zones = set(range(_gk_zone(minx - pad, width_deg), _gk_zone(maxx + pad, width_deg) + 1))
    for values in (x, y):
        prefixes = np.floor(np.abs(values) / 1e6)
        if prefixes.size:
            zones.add(int(np.median(prefixes)))
    return sorted(zones)


def _projected_candidates(
    bounds: tuple[float, float, float, float], x: FloatArray, y: FloatArray
) -> list[tuple[int, str]]:
    """(EPSG code, reason code) of the projected CRSs worth trying, best family first."""
    candidates: list[tuple[int, str]] = []
    for family in _GK_FAMILIES:
        reason = "crs_guess_gk_zone_prefix" if family.zone_prefix else "crs_guess_gk_cm"
        for zone in _zones_for(bounds, family.width_deg, x, y):
            code = family.code(zone)
            if code is not None:
                candidates.append((code, reason))
    minx, _miny, maxx, _maxy = bounds
    first = int((minx - 3.0 + 180.0) // 6.0) + 1
    last = int((maxx + 3.0 + 180.0) // 6.0) + 1
    north = (bounds[1] + bounds[3]) >= 0
    for zone in range(max(first, 1), min(last, 60) + 1):
        code = (32600 if north else 32700) + zone
        candidates.append((code, "crs_guess_utm"))
    return candidates


def _sample(values: FloatArray) -> FloatArray:
    if values.size <= _GUESS_SAMPLE:
        return values
    picks = np.linspace(0, values.size - 1, _GUESS_SAMPLE).astype(np.int64)
    return values[picks]


def guess_crs(
    xs: ArrayLike, ys: ArrayLike, area_bounds: tuple[float, float, float, float]
) -> list[CrsGuess]:
    """Candidate CRSs for bare coordinates, best first, judged by where they would land.

    Each candidate (lon/lat; lat/lon swapped; GCJ-02/BD-09 lon/lat; CGCS2000, Xian 1980 and
    Beijing 1954 Gauss-Kruger zones with and without zone prefix, 3 and 6 degrees, near the
    area; WGS84 UTM) is applied with pyproj, in both column orders for projected systems, and
    kept if some points land within about 0.1 degree of ``area_bounds``. Candidates landing
    within 95 % of the best share are ranked by family: WGS84/CGCS2000 lon/lat, swapped
    lon/lat, GCJ-02, BD-09, then CGCS2000, Xian 1980, Beijing 1954 Gauss-Kruger, UTM.

    Parameters
    ----------
    xs, ys : array_like
        The first and second coordinate columns as found in the file. NaN/inf are ignored;
        at most 2000 evenly spaced points are tried.
    area_bounds : tuple of float
        ``(minx, miny, maxx, maxy)`` of the area (county) in WGS84 degrees.

    Returns
    -------
    list of CrsGuess
        Empty when no point is finite or no candidate puts any point near the area.

    Examples
    --------
    >>> shanyin = (112.425, 39.172, 113.069, 39.776)
    >>> guess_crs([112.8], [39.5], shanyin)[0].choice.epsg
    4326
    >>> guess_crs([39.5], [112.8], shanyin)[0].swapped
    True
    >>> guess_crs([38_388_000.0], [4_374_800.0], shanyin)[0].choice.epsg
    4526
    >>> guess_crs([], [], shanyin)
    []
    """
    x, y, _scalar = _as_lonlat(xs, ys)
    x, y = x.ravel(), y.ravel()
    finite = np.isfinite(x) & np.isfinite(y)
    x, y = _sample(x[finite]), _sample(y[finite])
    if x.size == 0:
        return []
    minx, miny, maxx, maxy = (float(v) for v in area_bounds)
    area = (minx, miny, maxx, maxy)

    scored: list[tuple[CrsGuess, int]] = []

    def consider(guess: CrsGuess) -> None:
        if guess.fraction_in_area > 0.0:
            scored.append((guess, len(scored)))

    lonlat = CrsGuess(WGS84_CHOICE, "crs_guess_lonlat", _fraction_inside(x, y, area))
    consider(lonlat)
    consider(CrsGuess(WGS84_CHOICE, "crs_guess_latlon_swapped", _fraction_inside(y, x, area), True))
    if lonlat.fraction_in_area > 0.0:
        for choice, func in ((_GCJ02_CHOICE, _gcj_to_wgs), (_BD09_CHOICE, _bd_to_wgs)):
            with np.errstate(invalid="ignore", over="ignore"):
                lon, lat = func(x, y)
            consider(CrsGuess(choice, "crs_guess_app_offset", _fraction_inside(lon, lat, area)))
    # Degrees cannot be metres of a projected system in China (eastings of 10^5 and more,
    # northings of millions): skip the projected candidates, whose transformers cost
    # about 35 ms each to build (a one-row CSV of lon/lat paid a second for them).
    degrees = bool(np.all(np.abs(x) <= 360.0) and np.all(np.abs(y) <= 360.0))
    for code, reason in [] if degrees else _projected_candidates(area, x, y):
        choice = _epsg_choice(code)
        lon, lat = _epsg_to_wgs84(code, x, y)
        consider(CrsGuess(choice, reason, _fraction_inside(lon, lat, area)))
        lon, lat = _epsg_to_wgs84(code, y, x)
        fraction = _fraction_inside(lon, lat, area)
        consider(CrsGuess(choice, "crs_guess_northing_first", fraction, True))

    if not scored:
        return []
    best = max(g.fraction_in_area for g, _ in scored)

    def rank(item: tuple[CrsGuess, int]) -> tuple[bool, float, int]:
        guess, order = item
        good = guess.fraction_in_area >= _GOOD_ENOUGH * best
        return (not good, 0.0 if good else -guess.fraction_in_area, order)

    return [guess for guess, _ in sorted(scored, key=rank)]


def named_crs_order(
    xs: ArrayLike, ys: ArrayLike, choice: CrsChoice, area_bounds: tuple[float, float, float, float]
) -> CrsGuess | None:
    """For coordinates said to be in ``choice`` (a projected EPSG code): a guess with
    ``swapped`` when they land in the area only with their two columns exchanged (Chinese
    survey tables put X, the northing, first), else None. Longitude and latitude the wrong
    way round under a named geographic CRS are left to the location check, which names
    the rows (``swapped_axes``).

    >>> shanyin = (112.425, 39.172, 113.069, 39.776)
    >>> gk = parse_crs("EPSG:4526")
    >>> named_crs_order([4_374_800.0], [38_388_000.0], gk, shanyin).swapped
    True
    >>> named_crs_order([38_388_000.0], [4_374_800.0], gk, shanyin) is None
    True
    """
    if choice.kind != "epsg" or choice.epsg is None or not _is_projected(choice.epsg):
        return None
    x, y, _scalar = _as_lonlat(xs, ys)
    x, y = x.ravel(), y.ravel()
    finite = np.isfinite(x) & np.isfinite(y)
    x, y = _sample(x[finite]), _sample(y[finite])
    if x.size == 0:
        return None
    minx, miny, maxx, maxy = (float(v) for v in area_bounds)
    area = (minx, miny, maxx, maxy)
    given = _fraction_inside(*_epsg_to_wgs84(choice.epsg, x, y), area)
    swapped = _fraction_inside(*_epsg_to_wgs84(choice.epsg, y, x), area)
    if swapped > 0.0 and swapped > given:
        return CrsGuess(choice, "crs_guess_northing_first", swapped, True)
    return None


@functools.lru_cache(maxsize=64)
def _is_projected(epsg: int) -> bool:
    return bool(pyproj.CRS.from_epsg(epsg).is_projected)


# ---------------------------------------------------------------------------------------------
# Conversion
# ---------------------------------------------------------------------------------------------


def _offset_func(choice: CrsChoice) -> Callable[[FloatArray, FloatArray], tuple[Any, Any]]:
    return _gcj_to_wgs if choice.kind == "gcj02" else _bd_to_wgs


def transform_xy(xs: ArrayLike, ys: ArrayLike, choice: CrsChoice) -> tuple[FloatArray, FloatArray]:
    """Coordinates in ``choice`` to WGS84 lon/lat arrays (x=lon, y=lat).

    Parameters
    ----------
    xs, ys : array_like
        Coordinates in the order of the CRS's x (easting, longitude) and y axes.
    choice : CrsChoice
        Not ``"auto"``: bare numbers declare no CRS.

    Returns
    -------
    tuple of numpy.ndarray
        ``(lon, lat)``, float64, same shape as the input (NaN stays NaN).

    Raises
    ------
    geo.problems.InputError
        ``crs_auto_unresolved`` for an ``"auto"`` choice.

    Examples
    --------
    >>> lon, lat = transform_xy([38_500_000.0], [4_374_014.113], parse_crs("4526"))
    >>> round(float(lon[0]), 6), round(float(lat[0]), 6)
    (114.0, 39.5)
    """
    x, y, _scalar = _as_lonlat(xs, ys)
    if choice.kind == "epsg" and choice.epsg is not None:
        return _epsg_to_wgs84(choice.epsg, x, y)
    if choice.kind not in ("gcj02", "bd09"):
        raise InputError([Problem("crs_auto_unresolved", value=choice.label)])
    with np.errstate(invalid="ignore", over="ignore"):
        lon, lat = _offset_func(choice)(x, y)
    return lon, lat


def _transform_geometries(geoms: Any, func: Callable[[FloatArray], FloatArray]) -> Any:
    """``func`` applied to the coordinates of an array of geometries, keeping Z where present.

    ``func`` gets an (N, 2) or (N, 3) array and must change only the first two columns.
    """
    geoms = np.asarray(geoms, dtype=object)
    out = geoms.copy()
    has_z = shapely.has_z(geoms)
    with np.errstate(invalid="ignore", over="ignore"):
        out[~has_z] = shapely.transform(geoms[~has_z], func, include_z=False)
        out[has_z] = shapely.transform(geoms[has_z], func, include_z=True)
    return out


def to_wgs84(gdf: gpd.GeoDataFrame, choice: CrsChoice) -> gpd.GeoDataFrame:
    """A copy of ``gdf`` in EPSG:4326, its coordinates read as being in ``choice``.

    ``choice`` is authoritative: a CRS already set on ``gdf`` is overridden, except for
    ``"auto"``, which uses it. The input frame is never modified.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
    choice : CrsChoice

    Returns
    -------
    geopandas.GeoDataFrame
        Same rows, columns and geometry column name, CRS EPSG:4326, x=lon, y=lat.

    Raises
    ------
    geo.problems.InputError
        ``crs_auto_unresolved`` if ``choice`` is ``"auto"`` and ``gdf`` has no CRS.

    Examples
    --------
    >>> import geopandas as gpd
    >>> empty = gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=None))
    >>> to_wgs84(empty, parse_crs("gcj02")).crs.to_epsg(), len(to_wgs84(empty, WGS84_CHOICE))
    (4326, 0)
    """
    out = gdf.copy()
    if choice.kind == "auto":
        if gdf.crs is None:
            raise InputError([Problem("crs_auto_unresolved", value=choice.label)])
        return out.to_crs(WGS84)
    if choice.kind == "epsg":
        if choice.epsg is None:
            raise InputError([Problem("crs_auto_unresolved", value=choice.label)])
        with np.errstate(invalid="ignore", over="ignore"):
            return out.set_crs(choice.epsg, allow_override=True).to_crs(WGS84)
    func = _offset_func(choice)

    def convert(coords: FloatArray) -> FloatArray:
        result = np.array(coords, dtype=np.float64)
        result[:, 0], result[:, 1] = func(coords[:, 0], coords[:, 1])
        return result

    geoms = _transform_geometries(out.geometry.to_numpy(), convert)
    name = out.geometry.name
    series = gpd.GeoSeries(geoms, index=out.index, crs=WGS84, name=name)
    return out.set_geometry(series, crs=WGS84)


_Shape = TypeVar("_Shape", shapely.Geometry, gpd.GeoDataFrame, gpd.GeoSeries)


def round_coords(geom_or_gdf: _Shape, ndigits: int = 7) -> _Shape:
    """Coordinates rounded to ``ndigits`` decimals (7 = about 1 cm, RFC 7946's advice).

    Parameters
    ----------
    geom_or_gdf : shapely.Geometry, geopandas.GeoSeries or geopandas.GeoDataFrame
    ndigits : int

    Returns
    -------
    Same type as the input; frames and series are copies.

    Examples
    --------
    >>> from shapely import Point
    >>> round_coords(Point(112.123456789, 39.987654321)).wkt
    'POINT (112.1234568 39.9876543)'
    """

    def rounded(coords: FloatArray) -> FloatArray:
        return np.round(coords, ndigits)

    if isinstance(geom_or_gdf, gpd.GeoDataFrame):
        out = geom_or_gdf.copy()
        name = out.geometry.name
        geoms = _transform_geometries(out.geometry.to_numpy(), rounded)
        out[name] = gpd.GeoSeries(geoms, index=out.index, crs=out.crs)
        return out
    if isinstance(geom_or_gdf, gpd.GeoSeries):
        geoms = _transform_geometries(geom_or_gdf.to_numpy(), rounded)
        return gpd.GeoSeries(
            geoms, index=geom_or_gdf.index, crs=geom_or_gdf.crs, name=geom_or_gdf.name
        )
    result: _Shape = _transform_geometries([geom_or_gdf], rounded)[0]
    return result
