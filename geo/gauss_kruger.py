"""Gauss-Kruger zones of China's national and legacy datums, as EPSG codes."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["gauss_kruger_epsg"]


@dataclass(frozen=True)
class _GkFamily:
    """A run of consecutive EPSG codes of one Gauss-Kruger family, one code per zone.

    Zones are numbered as in China: 3-degree zone n has central meridian 3n (zones 25-45),
    6-degree zone n has central meridian 6n - 3 (zones 13-23). With ``zone_prefix`` the
    false easting is ``n * 1e6 + 500000`` (the zone number leads the easting).
    """

    datum: str
    width_deg: int
    zone_prefix: bool
    first_code: int
    first_zone: int
    last_zone: int

    def code(self, zone: int) -> int | None:
        if self.first_zone <= zone <= self.last_zone:
            return self.first_code + zone - self.first_zone
        return None

    def central_meridian(self, zone: int) -> int:
        return 3 * zone if self.width_deg == 3 else 6 * zone - 3


# Checked against the EPSG database shipped with pyproj (names and parameters, every code)
# by tests/geo/test_crs.py. Order is the ranking of equally good guesses: CGCS2000 is the
# current national system, Xian 1980 and Beijing 1954 are legacy; 3-degree zones are the
# usual choice at county scale.
_GK_FAMILIES: tuple[_GkFamily, ...] = (
    _GkFamily("CGCS2000", 3, True, 4513, 25, 45),
    _GkFamily("CGCS2000", 3, False, 4534, 25, 45),
    _GkFamily("CGCS2000", 6, True, 4491, 13, 23),
    _GkFamily("CGCS2000", 6, False, 4502, 13, 23),
    _GkFamily("Xian 1980", 3, True, 2349, 25, 45),
    _GkFamily("Xian 1980", 3, False, 2370, 25, 45),
    _GkFamily("Xian 1980", 6, True, 2327, 13, 23),
    _GkFamily("Xian 1980", 6, False, 2338, 13, 23),
    _GkFamily("Beijing 1954", 3, True, 2401, 25, 45),
    _GkFamily("Beijing 1954", 3, False, 2422, 25, 45),
    _GkFamily("Beijing 1954", 6, True, 21413, 13, 23),
    _GkFamily("Beijing 1954", 6, False, 21453, 13, 23),
)


def _gk_zone(lon: float, width_deg: int) -> int:
    """Zone number (Chinese numbering) of the Gauss-Kruger zone holding ``lon``."""
    if width_deg == 3:
        return int(math.floor(lon / 3.0 + 0.5))
    return int(math.floor(lon / 6.0)) + 1


def gauss_kruger_epsg(
    lon: float, *, width_deg: int = 3, zone_prefix: bool = True, datum: str = "CGCS2000"
) -> int:
    """EPSG code of the Gauss-Kruger zone holding longitude ``lon``.

    Parameters
    ----------
    lon : float
        Longitude in degrees east (73.5-136.5 for the Chinese zones).
    width_deg : {3, 6}
        Zone width.
    zone_prefix : bool
        True for the CRS whose easting starts with the zone number (e.g. ``38500000``),
        False for the one with false easting 500 000 m.
    datum : {"CGCS2000", "Xian 1980", "Beijing 1954"}

    Returns
    -------
    int

    Raises
    ------
    ValueError
        If no such zone is defined.

    Examples
    --------
    >>> gauss_kruger_epsg(112.6), gauss_kruger_epsg(112.4)
    (4526, 4525)
    >>> gauss_kruger_epsg(112.4, zone_prefix=False)
    4546
    >>> gauss_kruger_epsg(112.6, width_deg=6)
    4497
    """
    for family in _GK_FAMILIES:
        if (family.datum, family.width_deg, family.zone_prefix) == (datum, width_deg, zone_prefix):
            code = family.code(_gk_zone(lon, width_deg))
            if code is not None:
                return code
            raise ValueError(f"no {width_deg}-degree Gauss-Kruger zone at longitude {lon}")
    raise ValueError(f"unknown Gauss-Kruger family: {datum}, {width_deg} degrees")
