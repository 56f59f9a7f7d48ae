"""GCJ-02 (Amap/Gaode, Tencent) and BD-09 (Baidu): China's offset lon/lat systems.

Vectorised forward formulas and iterative inverses (round trip well under 0.05 m). Each of
the six conversions is one :class:`OffsetConversion`: it takes floats or arrays and gives
floats or arrays back, like the formula underneath, with one typed door for all six.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "OffsetConversion",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

FloatArray = NDArray[np.float64]

# Krasovsky ellipsoid constants of the GCJ-02 algorithm, as published with it.
_GCJ_A = 6378245.0
_GCJ_EE = 0.00669342162296594323
_BD_X_PI = math.pi * 3000.0 / 180.0
# Iterative inverses stop when the forward image matches the input to this many degrees
# (1e-9 deg is about 0.1 mm).
_INVERSE_TOL_DEG = 1e-9
_INVERSE_MAX_ITER = 30


def _as_lonlat(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray, bool]:
    """Float arrays (writable copies, broadcast together) and whether both were scalars."""
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    scalar = x.ndim == 0 and y.ndim == 0
    bx, by = np.broadcast_arrays(x, y)
    return np.array(bx, dtype=np.float64), np.array(by, dtype=np.float64), scalar


def _finish(x: FloatArray, y: FloatArray, scalar: bool) -> tuple[Any, Any]:
    if scalar:
        return float(x), float(y)
    return x, y


def _max_abs(*arrays: FloatArray) -> float:
    """Largest finite absolute value in ``arrays`` (0.0 when there is none)."""
    worst = 0.0
    for a in arrays:
        finite = np.abs(a[np.isfinite(a)])
        if finite.size:
            worst = max(worst, float(finite.max()))
    return worst


def _out_of_china(lon: FloatArray, lat: FloatArray) -> NDArray[np.bool_]:
    """The rectangle outside which GCJ-02 is defined as WGS84 (original algorithm's box)."""
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _gcj_offset(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 minus WGS84, in degrees, at WGS84 (lon, lat); zero outside China."""
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x + common
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x + common
    dlon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * np.pi
    magic = 1.0 - _GCJ_EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_GCJ_A * (1.0 - _GCJ_EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_GCJ_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    outside = _out_of_china(lon, lat)
    return np.where(outside, 0.0, dlon), np.where(outside, 0.0, dlat)


def _wgs_to_gcj(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    dlon, dlat = _gcj_offset(lon, lat)
    return lon + dlon, lat + dlat


def _gcj_to_wgs(glon: FloatArray, glat: FloatArray) -> tuple[FloatArray, FloatArray]:
    # Fixed-point iteration w <- w - (gcj(w) - g); the offset changes slowly, so it converges
    # in a few steps. The one-step start (g - offset(g)) is the textbook approximation.
    dlon, dlat = _gcj_offset(glon, glat)
    return _refine(_wgs_to_gcj, glon, glat, (glon - dlon, glat - dlat))


def _refine(
    forward: Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]],
    lon: FloatArray,
    lat: FloatArray,
    start: tuple[FloatArray, FloatArray],
) -> tuple[FloatArray, FloatArray]:
    """The point whose ``forward`` image is (lon, lat), by fixed-point iteration from ``start``.

    Stops when the image matches to ``_INVERSE_TOL_DEG`` or after ``_INVERSE_MAX_ITER`` steps.
    """
    x, y = start
    for _ in range(_INVERSE_MAX_ITER):
        fx, fy = forward(x, y)
        err_x, err_y = fx - lon, fy - lat
        x, y = x - err_x, y - err_y
        if _max_abs(err_x, err_y) < _INVERSE_TOL_DEG:
            break
    return x, y


def _gcj_to_bd(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * _BD_X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _BD_X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _bd_to_gcj(blon: FloatArray, blat: FloatArray) -> tuple[FloatArray, FloatArray]:
    # The published inverse is approximate (errors of a few centimetres); refine it against
    # the exact forward formula.
    x, y = blon - 0.0065, blat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _BD_X_PI)
    return _refine(_gcj_to_bd, blon, blat, (z * np.cos(theta), z * np.sin(theta)))


def _bd_to_wgs(blon: FloatArray, blat: FloatArray) -> tuple[FloatArray, FloatArray]:
    return _gcj_to_wgs(*_bd_to_gcj(blon, blat))


def _wgs_to_bd(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    return _gcj_to_bd(*_wgs_to_gcj(lon, lat))


class OffsetConversion:
    """One conversion between WGS84, GCJ-02 and BD-09 lon/lat, element-wise.

    Called with two floats it returns two floats; with arrays (which broadcast together)
    it returns two float64 arrays. NaN and infinite inputs give NaN outputs. Its docstring
    is written from ``source``, ``target``, a summary and examples.
    """

    def __init__(
        self,
        name: str,
        formula: Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]],
        systems: tuple[str, str],
        summary: str,
        examples: str,
    ):
        source, target = systems
        self.__name__ = self.__qualname__ = name
        self.formula = formula
        self.__doc__ = (
            f"{summary}\n\n"
            "    Parameters\n    ----------\n    lon, lat : float or array_like\n"
            f"        {source} degrees; arrays broadcast together.\n\n"
            "    Returns\n    -------\n    tuple\n"
            f"        ``(lon, lat)`` in {target}: floats for scalar input, float64 arrays"
            " otherwise.\n\n"
            f"    Examples\n    --------\n{examples}"
        )

    def __repr__(self) -> str:
        return f"<offset conversion {self.__name__}>"

    @overload
    def __call__(self, lon: float, lat: float) -> tuple[float, float]: ...
    @overload
    def __call__(self, lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]: ...
    def __call__(self, lon: ArrayLike, lat: ArrayLike) -> tuple[Any, Any]:
        """``(lon, lat)`` converted; floats for scalar input, float64 arrays otherwise."""
        x, y, scalar = _as_lonlat(lon, lat)
        # NaN and infinite inputs give NaN outputs; numpy's warnings about them are noise.
        with np.errstate(invalid="ignore", over="ignore"):
            rx, ry = self.formula(x, y)
        return _finish(rx, ry, scalar)


_ROUND_TRIP = """\
    >>> lon, lat = {back}(*{there}(112.75, 39.5))
    >>> abs(lon - 112.75) < 1e-8 and abs(lat - 39.5) < 1e-8
    True
"""

wgs84_to_gcj02 = OffsetConversion(
    "wgs84_to_gcj02",
    _wgs_to_gcj,
    ("WGS84", "GCJ-02"),
    """WGS84 lon/lat to GCJ-02 (Amap/Gaode, Tencent), element-wise.

    Points outside the GCJ-02 rectangle around China are returned unchanged.""",
    """\
    >>> lon, lat = wgs84_to_gcj02(116.404, 39.915)
    >>> round(lon, 6), round(lat, 6)
    (116.410244, 39.916404)
    >>> wgs84_to_gcj02([2.35], [48.85])[0].tolist()
    [2.35]
""",
)
gcj02_to_wgs84 = OffsetConversion(
    "gcj02_to_wgs84",
    _gcj_to_wgs,
    ("GCJ-02", "WGS84"),
    """GCJ-02 lon/lat to WGS84, element-wise, by iterating the forward formula.

    Iterates until the forward image of the result matches the input to 1e-9 degrees, so a
    round trip WGS84 -> GCJ-02 -> WGS84 is exact to about a millimetre.""",
    _ROUND_TRIP.format(back="gcj02_to_wgs84", there="wgs84_to_gcj02"),
)
gcj02_to_bd09 = OffsetConversion(
    "gcj02_to_bd09",
    _gcj_to_bd,
    ("GCJ-02", "BD-09"),
    "GCJ-02 lon/lat to BD-09 (Baidu), element-wise, by the published formula.",
    """\
    >>> lon, lat = gcj02_to_bd09(116.404, 39.915)
    >>> round(lon, 6), round(lat, 6)
    (116.410369, 39.921337)
""",
)
bd09_to_gcj02 = OffsetConversion(
    "bd09_to_gcj02",
    _bd_to_gcj,
    ("BD-09", "GCJ-02"),
    "BD-09 lon/lat to GCJ-02, element-wise: published inverse, refined iteratively.",
    _ROUND_TRIP.format(back="bd09_to_gcj02", there="gcj02_to_bd09"),
)
wgs84_to_bd09 = OffsetConversion(
    "wgs84_to_bd09",
    _wgs_to_bd,
    ("WGS84", "BD-09"),
    "WGS84 lon/lat to BD-09 (through GCJ-02), element-wise.",
    """\
    >>> lon, lat = wgs84_to_bd09([112.75, 112.8], [39.5, 39.6])
    >>> lon.shape
    (2,)
""",
)
bd09_to_wgs84 = OffsetConversion(
    "bd09_to_wgs84",
    _bd_to_wgs,
    ("BD-09", "WGS84"),
    "BD-09 lon/lat to WGS84 (through GCJ-02), element-wise, both inverses iterated.",
    _ROUND_TRIP.format(back="bd09_to_wgs84", there="wgs84_to_bd09"),
)

#: The examples of each conversion's docstring, for doctest (it skips instances otherwise).
__test__ = {
    conversion.__name__: conversion.__doc__
    for conversion in (
        wgs84_to_gcj02,
        gcj02_to_wgs84,
        gcj02_to_bd09,
        bd09_to_gcj02,
        wgs84_to_bd09,
        bd09_to_wgs84,
    )
}
