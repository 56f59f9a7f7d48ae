"""Tests of geo.crs: offset systems, CRS parsing, guessing, conversion and rounding."""

from __future__ import annotations

import dataclasses
import math

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, Polygon

from geo.crs import (
    _GK_FAMILIES,
    WGS84_CHOICE,
    CrsChoice,
    bd09_to_gcj02,
    bd09_to_wgs84,
    gauss_kruger_epsg,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    guess_crs,
    metric_crs_for,
    parse_crs,
    round_coords,
    to_wgs84,
    transform_xy,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from geo.metric import metric_crs_for as metric_crs_for_original
from geo.problems import InputError

SHANYIN_BOUNDS = (112.425, 39.172, 113.069, 39.776)
# Hand-picked places inside Shanyin County (lon, lat): both sides of the 112.5 E zone border.
SHANYIN_LON = np.array([112.47, 112.62, 112.81, 112.95, 113.02, 112.70])
SHANYIN_LAT = np.array([39.45, 39.30, 39.52, 39.61, 39.40, 39.70])
_GEOD = pyproj.Geod(ellps="WGS84")


# ---------------------------------------------------------------------------------------------
# Reference implementation: the plain scalar textbook algorithm (eviltransform/coordtransform
# style), written independently of geo.crs on purpose.
# ---------------------------------------------------------------------------------------------

REF_PI = 3.1415926535897932384626
REF_A = 6378245.0
REF_EE = 0.00669342162296594323
REF_X_PI = REF_PI * 3000.0 / 180.0


def ref_transform_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * REF_PI) + 20.0 * math.sin(2.0 * x * REF_PI)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * REF_PI) + 40.0 * math.sin(y / 3.0 * REF_PI)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * REF_PI) + 320 * math.sin(y * REF_PI / 30.0)) * 2.0 / 3.0
    return ret


def ref_transform_lng(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * REF_PI) + 20.0 * math.sin(2.0 * x * REF_PI)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * REF_PI) + 40.0 * math.sin(x / 3.0 * REF_PI)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * REF_PI) + 300.0 * math.sin(x / 30.0 * REF_PI)) * 2.0 / 3.0
    return ret


def ref_out_of_china(lng: float, lat: float) -> bool:
    return not (72.004 <= lng <= 137.8347 and 0.8293 <= lat <= 55.8271)


def ref_wgs84_to_gcj02(lng: float, lat: float) -> tuple[float, float]:
    if ref_out_of_china(lng, lat):
        return lng, lat
    dlat = ref_transform_lat(lng - 105.0, lat - 35.0)
    dlng = ref_transform_lng(lng - 105.0, lat - 35.0)
    radlat = lat / 180.0 * REF_PI
    magic = math.sin(radlat)
    magic = 1 - REF_EE * magic * magic
    sqrtmagic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((REF_A * (1 - REF_EE)) / (magic * sqrtmagic) * REF_PI)
    dlng = (dlng * 180.0) / (REF_A / sqrtmagic * math.cos(radlat) * REF_PI)
    return lng + dlng, lat + dlat


def ref_gcj02_to_bd09(lng: float, lat: float) -> tuple[float, float]:
    z = math.sqrt(lng * lng + lat * lat) + 0.00002 * math.sin(lat * REF_X_PI)
    theta = math.atan2(lat, lng) + 0.000003 * math.cos(lng * REF_X_PI)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def ref_bd09_to_gcj02_one_step(bd_lon: float, bd_lat: float) -> tuple[float, float]:
    x, y = bd_lon - 0.0065, bd_lat - 0.006
    z = math.sqrt(x * x + y * y) - 0.00002 * math.sin(y * REF_X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * REF_X_PI)
    return z * math.cos(theta), z * math.sin(theta)


def china_grid(step: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = np.meshgrid(np.arange(73.5, 135.01, step), np.arange(18.0, 53.51, step))
    return lon.ravel(), lat.ravel()


def metres_apart(lon1, lat1, lon2, lat2) -> np.ndarray:
    _a, _b, dist = _GEOD.inv(lon1, lat1, lon2, lat2)
    return np.asarray(dist)


# ---------------------------------------------------------------------------------------------
# GCJ-02 / BD-09
# ---------------------------------------------------------------------------------------------


def test_wgs84_to_gcj02_matches_reference_over_china():
    lon, lat = china_grid(0.7)
    got_lon, got_lat = wgs84_to_gcj02(lon, lat)
    expected = np.array([ref_wgs84_to_gcj02(a, b) for a, b in zip(lon, lat, strict=True)])
    assert np.max(np.abs(got_lon - expected[:, 0])) < 1e-10
    assert np.max(np.abs(got_lat - expected[:, 1])) < 1e-10
    # The offset is real, not zero: hundreds of metres somewhere in the grid.
    assert metres_apart(lon, lat, got_lon, got_lat).max() > 300


def test_gcj02_to_bd09_matches_reference():
    lon, lat = china_grid(1.3)
    got_lon, got_lat = gcj02_to_bd09(lon, lat)
    expected = np.array([ref_gcj02_to_bd09(a, b) for a, b in zip(lon, lat, strict=True)])
    assert np.max(np.abs(got_lon - expected[:, 0])) < 1e-10
    assert np.max(np.abs(got_lat - expected[:, 1])) < 1e-10


def test_inverses_solve_the_reference_forward_formula():
    lon, lat = china_grid(1.1)
    wgs_lon, wgs_lat = gcj02_to_wgs84(lon, lat)
    forward = np.array([ref_wgs84_to_gcj02(a, b) for a, b in zip(wgs_lon, wgs_lat, strict=True)])
    assert np.max(np.abs(forward[:, 0] - lon)) < 2e-9
    assert np.max(np.abs(forward[:, 1] - lat)) < 2e-9
    gcj_lon, gcj_lat = bd09_to_gcj02(lon, lat)
    forward = np.array([ref_gcj02_to_bd09(a, b) for a, b in zip(gcj_lon, gcj_lat, strict=True)])
    assert np.max(np.abs(forward[:, 0] - lon)) < 2e-9
    assert np.max(np.abs(forward[:, 1] - lat)) < 2e-9


def test_bd09_inverse_improves_on_the_one_step_formula():
    bd_lon, bd_lat = 112.8, 39.5
    one_step = ref_bd09_to_gcj02_one_step(bd_lon, bd_lat)
    refined = bd09_to_gcj02(bd_lon, bd_lat)
    assert abs(refined[0] - one_step[0]) < 2e-6 and abs(refined[1] - one_step[1]) < 2e-6
    err_one = np.hypot(*np.subtract(ref_gcj02_to_bd09(*one_step), (bd_lon, bd_lat)))
    err_refined = np.hypot(*np.subtract(ref_gcj02_to_bd09(*refined), (bd_lon, bd_lat)))
    assert err_refined < 1e-9 < err_one


def test_published_pairs_of_coordtransform():
    # wandergis/coordtransform test/app.js, input (116.404, 39.915). Its inverses are the
    # one-step approximations, so ours (iterated) agree only to a few 1e-7 degrees.
    assert wgs84_to_gcj02(116.404, 39.915) == pytest.approx(
        (116.41024449916938, 39.91640428150164), abs=1e-9
    )
    assert gcj02_to_bd09(116.404, 39.915) == pytest.approx(
        (116.41036949371029, 39.92133699351021), abs=1e-9
    )
    assert bd09_to_gcj02(116.404, 39.915) == pytest.approx(
        (116.39762729119315, 39.90865673957631), abs=2e-6
    )
    assert gcj02_to_wgs84(116.404, 39.915) == pytest.approx(
        (116.39775550083061, 39.91359571849836), abs=2e-6
    )


def test_round_trips_over_china_grid_under_5_cm():
    lon, lat = china_grid(0.5)
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert metres_apart(lon, lat, *back).max() < 0.05
    back = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    assert metres_apart(lon, lat, *back).max() < 0.05
    back = bd09_to_gcj02(*gcj02_to_bd09(lon, lat))
    assert metres_apart(lon, lat, *back).max() < 0.05


@settings(max_examples=300, deadline=None)
@given(
    lon=st.floats(min_value=73.5, max_value=135.0), lat=st.floats(min_value=18.0, max_value=53.5)
)
def test_round_trip_anywhere_in_china_under_half_metre(lon: float, lat: float):
    back_lon, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert metres_apart(lon, lat, back_lon, back_lat) < 0.5
    back_lon, back_lat = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    assert metres_apart(lon, lat, back_lon, back_lat) < 0.5


def test_offset_in_shanyin_is_a_few_hundred_metres():
    gcj = wgs84_to_gcj02(SHANYIN_LON, SHANYIN_LAT)
    dist = metres_apart(SHANYIN_LON, SHANYIN_LAT, *gcj)
    assert np.all((dist > 100) & (dist < 700))
    bd = wgs84_to_bd09(SHANYIN_LON, SHANYIN_LAT)
    assert np.all(metres_apart(SHANYIN_LON, SHANYIN_LAT, *bd) > dist)


def test_gcj02_is_wgs84_outside_china():
    paris = (2.3522, 48.8566)
    assert wgs84_to_gcj02(*paris) == paris
    assert gcj02_to_wgs84(*paris) == paris
    lon, lat = wgs84_to_gcj02([2.3522, 112.8, -74.0], [48.8566, 39.5, 40.7])
    assert lon[0] == 2.3522 and lon[2] == -74.0 and lat[2] == 40.7
    assert lon[1] != 112.8
    # Just outside each side of the box (72.004-137.8347 E, 0.8293-55.8271 N), then inside.
    outside_lon = np.array([71.9, 137.9, 100.0, 100.0])
    outside_lat = np.array([40.0, 40.0, 0.8, 55.9])
    lon, lat = wgs84_to_gcj02(outside_lon, outside_lat)
    assert lon.tolist() == outside_lon.tolist() and lat.tolist() == outside_lat.tolist()
    lon, lat = wgs84_to_gcj02([72.1, 137.7, 100.0, 100.0], [40.0, 40.0, 0.9, 55.7])
    assert np.all(lon != [72.1, 137.7, 100.0, 100.0])


def test_scalars_give_floats_and_arrays_keep_their_shape():
    lon, lat = wgs84_to_gcj02(112.8, 39.5)
    assert type(lon) is float and type(lat) is float
    lon2d, lat2d = gcj02_to_wgs84(np.full((2, 3), 112.8), np.full((2, 3), 39.5))
    assert lon2d.shape == (2, 3) and lat2d.shape == (2, 3)
    lon_b, _lat_b = bd09_to_wgs84([112.8, 112.9], 39.5)  # broadcasting a scalar latitude
    assert lon_b.shape == (2,)
    empty = wgs84_to_bd09(np.array([]), np.array([]))
    assert empty[0].shape == (0,) and empty[1].shape == (0,)


def test_nan_and_inf_give_nan_without_warnings():
    lon, lat = gcj02_to_wgs84([np.nan, np.inf, 112.8], [39.5, 39.5, 39.5])
    assert np.isnan(lon[0]) and not np.isfinite(lon[1])
    assert np.isfinite(lon[2]) and np.isfinite(lat[2])
    lon, lat = bd09_to_wgs84(np.nan, np.nan)
    assert math.isnan(lon) and math.isnan(lat)


def test_inputs_are_not_modified():
    lon = np.array([112.8, 112.9])
    lat = np.array([39.5, 39.6])
    gcj02_to_wgs84(lon, lat)
    bd09_to_wgs84(lon, lat)
    assert lon.tolist() == [112.8, 112.9] and lat.tolist() == [39.5, 39.6]


# ---------------------------------------------------------------------------------------------
# parse_crs
# ---------------------------------------------------------------------------------------------

ESRI_PRJ_ZONE_38 = (
    'PROJCS["CGCS2000_3_Degree_GK_Zone_38",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",'
    'DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],'
    'PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Gauss_Kruger"],'
    'PARAMETER["False_Easting",38500000.0],PARAMETER["False_Northing",0.0],'
    'PARAMETER["Central_Meridian",114.0],PARAMETER["Scale_Factor",1.0],'
    'PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]'
)
ESRI_PRJ_CM_114 = ESRI_PRJ_ZONE_38.replace("Zone_38", "CM_114E").replace("38500000.0", "500000.0")
ESRI_PRJ_WGS84 = (
    'GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],'
    'PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]'
)


@pytest.mark.parametrize(
    ("text", "epsg"),
    [
        ("wgs84", 4326),
        ("WGS 84", 4326),
        (" wgs-84 ", 4326),
        ("cgcs2000", 4490),
        ("CGCS 2000", 4490),
        ("EPSG:4526", 4526),
        ("4526", 4526),
        ("epsg:32649", 32649),
        ("EPSG: 4547", 4547),
        ("urn:ogc:def:crs:EPSG::4547", 4547),
        ("OGC:CRS84", 4326),
        (ESRI_PRJ_ZONE_38, 4526),
        (ESRI_PRJ_CM_114, 4547),
        (ESRI_PRJ_WGS84, 4326),
    ],
)
def test_parse_crs_epsg(text: str, epsg: int):
    choice = parse_crs(text)
    assert choice.kind == "epsg"
    assert choice.epsg == epsg
    assert f"EPSG:{epsg}" in choice.label


def test_parse_crs_wkt_from_pyproj_and_label():
    choice = parse_crs(pyproj.CRS.from_epsg(4526).to_wkt())
    assert choice == CrsChoice("epsg", 4526, "CGCS2000 / 3-degree Gauss-Kruger zone 38 (EPSG:4526)")


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("gcj02", "gcj02"),
        ("GCJ-02", "gcj02"),
        ("Gaode", "gcj02"),
        ("高德", "gcj02"),
        ("bd09", "bd09"),
        ("BD-09", "bd09"),
        ("Baidu", "bd09"),
        ("auto", "auto"),
        ("AUTO", "auto"),
    ],
)
def test_parse_crs_keywords(text: str, kind: str):
    choice = parse_crs(text)
    assert choice.kind == kind
    assert choice.epsg is None
    assert choice.label


def test_crs_choice_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        WGS84_CHOICE.epsg = 4490  # type: ignore[misc]


@pytest.mark.parametrize("text", ["foo", "", "   ", "EPSG:99999", "12", "gcj-03", "x" * 30_000])
def test_parse_crs_unknown(text: str):
    with pytest.raises(InputError) as info:
        parse_crs(text)
    (problem,) = info.value.problems
    assert problem.code == "crs_unknown"
    zh, en = problem.message("zh"), problem.message("en")
    assert "无法识别的坐标系" in zh and "Unknown coordinate reference system" in en
    if text.strip() and len(text) < 80:
        assert problem.value == text
        assert text in zh and text in en


def test_parse_crs_unsupported_kinds():
    with pytest.raises(InputError) as info:
        parse_crs("EPSG:4978")  # geocentric
    (problem,) = info.value.problems
    assert problem.code == "crs_unsupported"
    assert "EPSG:4978" in problem.message("en") and "EPSG:4978" in problem.message("zh")


def test_parse_crs_without_epsg_match():
    custom = ESRI_PRJ_ZONE_38.replace("CGCS2000_3_Degree_GK_Zone_38", "Site_Grid").replace(
        "38500000.0", "38400000.0"
    )
    with pytest.raises(InputError) as info:
        parse_crs(custom)
    (problem,) = info.value.problems
    assert problem.code == "crs_no_epsg"
    assert "Site_Grid" in problem.message("en") and "EPSG" in problem.message("zh")


# ---------------------------------------------------------------------------------------------
# Gauss-Kruger table (every code checked against pyproj's EPSG database)
# ---------------------------------------------------------------------------------------------


def _params(code: int) -> dict[str, float]:
    crs = pyproj.CRS.from_epsg(code)
    return {p.name: p.value for p in crs.coordinate_operation.params}


def test_every_gauss_kruger_code_matches_the_epsg_database():
    checked = 0
    for family in _GK_FAMILIES:
        for zone in range(family.first_zone, family.last_zone + 1):
            code = family.code(zone)
            assert code is not None
            crs = pyproj.CRS.from_epsg(code)
            cm = family.central_meridian(zone)
            name = crs.name
            assert name.startswith(family.datum + " / "), (code, name)
            assert ("3-degree" in name) == (family.width_deg == 3), (code, name)
            label = f"zone {zone}" if family.zone_prefix else f"CM {cm}E"
            assert name.endswith(label), (code, name)
            params = _params(code)
            assert params["Longitude of natural origin"] == cm
            assert params["Scale factor at natural origin"] == 1.0
            false_easting = zone * 1_000_000 + 500_000 if family.zone_prefix else 500_000
            assert params["False easting"] == false_easting
            checked += 1
    assert checked == 3 * (21 + 21 + 11 + 11)
    assert family.code(family.last_zone + 1) is None


def test_gauss_kruger_epsg_for_shanyin():
    west, east = SHANYIN_BOUNDS[0], SHANYIN_BOUNDS[2]
    assert (gauss_kruger_epsg(west), gauss_kruger_epsg(east)) == (4525, 4526)
    assert gauss_kruger_epsg(112.4999) == 4525 and gauss_kruger_epsg(112.5001) == 4526
    assert gauss_kruger_epsg(west, zone_prefix=False) == 4546
    assert gauss_kruger_epsg(east, zone_prefix=False) == 4547
    assert gauss_kruger_epsg(east, width_deg=6) == 4497
    assert gauss_kruger_epsg(east, width_deg=6, zone_prefix=False) == 4508
    assert gauss_kruger_epsg(east, datum="Xian 1980") == 2362
    assert gauss_kruger_epsg(east, datum="Beijing 1954", width_deg=6) == 21419
    assert pyproj.CRS.from_epsg(32649).name == "WGS 84 / UTM zone 49N"
    with pytest.raises(ValueError, match="no 3-degree"):
        gauss_kruger_epsg(10.0)
    with pytest.raises(ValueError, match="unknown"):
        gauss_kruger_epsg(112.0, datum="ITRF")


def test_metric_crs_for_is_reexported():
    assert metric_crs_for is metric_crs_for_original
    assert metric_crs_for(SHANYIN_BOUNDS).to_epsg() == 32649


# ---------------------------------------------------------------------------------------------
# guess_crs
# ---------------------------------------------------------------------------------------------


def _project(code: int, lon=SHANYIN_LON, lat=SHANYIN_LAT) -> tuple[np.ndarray, np.ndarray]:
    x, y = pyproj.Transformer.from_crs(4326, code, always_xy=True).transform(lon, lat)
    return np.asarray(x), np.asarray(y)


def _codes(guesses) -> list[int | None]:
    return [g.choice.epsg for g in guesses]


def test_guess_lonlat_in_area():
    guesses = guess_crs(SHANYIN_LON, SHANYIN_LAT, SHANYIN_BOUNDS)
    best = guesses[0]
    assert (best.choice, best.reason, best.fraction_in_area, best.swapped) == (
        WGS84_CHOICE,
        "crs_guess_lonlat",
        1.0,
        False,
    )
    kinds = [g.choice.kind for g in guesses]
    assert kinds[:3] == ["epsg", "gcj02", "bd09"]
    assert all(g.reason == "crs_guess_app_offset" for g in guesses[1:3])


def test_guess_swapped_lonlat():
    guesses = guess_crs(SHANYIN_LAT, SHANYIN_LON, SHANYIN_BOUNDS)
    assert guesses[0].swapped is True
    assert guesses[0].reason == "crs_guess_latlon_swapped"
    assert guesses[0].choice.epsg == 4326
    assert not any(g.reason == "crs_guess_lonlat" for g in guesses)


@pytest.mark.parametrize(
    ("true_code", "reason"),
    [
        (4526, "crs_guess_gk_zone_prefix"),
        (4547, "crs_guess_gk_cm"),
        (4497, "crs_guess_gk_zone_prefix"),
    ],
)
def test_guess_gauss_kruger(true_code: int, reason: str):
    x, y = _project(true_code)
    guesses = guess_crs(x, y, SHANYIN_BOUNDS)
    assert guesses[0].choice.epsg == true_code
    assert guesses[0].reason == reason
    assert guesses[0].fraction_in_area == 1.0
    assert guesses[0].swapped is False
    assert guesses[0].choice.label.endswith(f"(EPSG:{true_code})")


def test_guess_zone_37_with_prefix_for_western_points():
    lon = np.array([112.43, 112.45, 112.48])
    lat = np.array([39.40, 39.45, 39.50])
    guesses = guess_crs(*_project(4525, lon, lat), SHANYIN_BOUNDS)
    assert guesses[0].choice.epsg == 4525


def test_guess_ranks_cgcs2000_before_legacy_datums_and_utm():
    guesses = guess_crs(*_project(4546), SHANYIN_BOUNDS)
    codes = _codes(guesses)
    # 3-degree CM 111E and 6-degree CM 111E are the same projection: both offered.
    assert codes[:2] == [4546, 4508]
    assert codes.index(2382) < codes.index(2434) < codes.index(32649)
    xian = guess_crs(*_project(2362), SHANYIN_BOUNDS)
    assert _codes(xian)[:3] == [4526, 2362, 2414]


def test_guess_northing_first_survey_order():
    x, y = _project(4526)
    guesses = guess_crs(y, x, SHANYIN_BOUNDS)
    assert guesses[0].choice.epsg == 4526
    assert guesses[0].swapped is True
    assert guesses[0].reason == "crs_guess_northing_first"


def test_guess_fraction_counts_points_outside():
    lon = np.append(SHANYIN_LON, [116.4, 121.5, np.nan, 113.0])
    lat = np.append(SHANYIN_LAT, [39.9, 31.2, 39.5, np.inf])
    (best, *_rest) = guess_crs(lon, lat, SHANYIN_BOUNDS)
    assert best.reason == "crs_guess_lonlat"
    assert best.fraction_in_area == pytest.approx(6 / 8)


def test_guess_nothing_fits():
    guangzhou = guess_crs([113.26, 113.3], [23.13, 23.1], SHANYIN_BOUNDS)
    assert guangzhou == []
    assert guess_crs([], [], SHANYIN_BOUNDS) == []
    assert guess_crs([np.nan], [np.nan], SHANYIN_BOUNDS) == []
    assert guess_crs([0.0], [0.0], SHANYIN_BOUNDS) == []


def test_guess_message_renders():
    guess = guess_crs(*_project(4526), SHANYIN_BOUNDS)[0]
    zh, en = guess.message("zh"), guess.message("en")
    assert "EPSG:4526" in zh and "100%" in zh and "带号" in zh
    assert "EPSG:4526" in en and "100%" in en and "zone number" in en


def test_guess_large_input_is_sampled():
    rng = np.random.default_rng(7)
    lon = rng.uniform(112.5, 113.0, 100_000)
    lat = rng.uniform(39.2, 39.7, 100_000)
    guesses = guess_crs(*_project(4547, lon, lat), SHANYIN_BOUNDS)
    assert guesses[0].choice.epsg == 4547


# ---------------------------------------------------------------------------------------------
# transform_xy and to_wgs84
# ---------------------------------------------------------------------------------------------


def test_transform_xy_gauss_kruger_on_central_meridian():
    # On the central meridian the easting is exactly the false easting.
    lon, lat = transform_xy([38_500_000.0], [4_374_014.113], parse_crs("EPSG:4526"))
    assert lon[0] == pytest.approx(114.0, abs=1e-9)
    assert lat[0] == pytest.approx(39.5, abs=1e-7)
    lon, lat = transform_xy([500_000.0], [4_374_014.113], parse_crs("EPSG:4547"))
    assert lon[0] == pytest.approx(114.0, abs=1e-9)


def test_transform_xy_offsets_and_wgs84():
    gcj = [ref_wgs84_to_gcj02(a, b) for a, b in zip(SHANYIN_LON, SHANYIN_LAT, strict=True)]
    gx, gy = np.array(gcj).T
    lon, lat = transform_xy(gx, gy, parse_crs("gcj02"))
    assert np.max(np.abs(lon - SHANYIN_LON)) < 1e-8 and np.max(np.abs(lat - SHANYIN_LAT)) < 1e-8
    bd = [ref_gcj02_to_bd09(a, b) for a, b in gcj]
    bx, by = np.array(bd).T
    lon, lat = transform_xy(bx, by, parse_crs("bd09"))
    assert np.max(np.abs(lon - SHANYIN_LON)) < 1e-8 and np.max(np.abs(lat - SHANYIN_LAT)) < 1e-8
    lon, lat = transform_xy(SHANYIN_LON, SHANYIN_LAT, WGS84_CHOICE)
    assert lon.tolist() == SHANYIN_LON.tolist()
    with pytest.raises(InputError) as info:
        transform_xy([1.0], [2.0], parse_crs("auto"))
    assert info.value.problems[0].code == "crs_auto_unresolved"


def _frame_in(code_or_func, crs=None) -> gpd.GeoDataFrame:
    if callable(code_or_func):
        pts = [code_or_func(a, b) for a, b in zip(SHANYIN_LON, SHANYIN_LAT, strict=True)]
        x, y = np.array(pts).T
    else:
        x, y = _project(code_or_func)
    return gpd.GeoDataFrame(
        {"name": [f"灯{i}" for i in range(len(x))]}, geometry=shapely.points(x, y), crs=crs
    ).rename_geometry("geom")


def test_to_wgs84_gcj02_frame_is_a_converted_copy():
    gdf = _frame_in(ref_wgs84_to_gcj02)
    before = gdf.copy()
    out = to_wgs84(gdf, parse_crs("高德"))
    assert out.crs.to_epsg() == 4326
    assert out.geometry.name == "geom" and list(out.columns) == ["name", "geom"]
    assert np.max(np.abs(out.geometry.x.to_numpy() - SHANYIN_LON)) < 1e-8
    assert np.max(np.abs(out.geometry.y.to_numpy() - SHANYIN_LAT)) < 1e-8
    assert gdf.crs is None
    assert gdf.geometry.geom_equals_exact(before.geometry, tolerance=0).all()
    assert out["name"].tolist() == gdf["name"].tolist()


def test_to_wgs84_bd09_lines_keep_z_and_none():
    bd = [ref_gcj02_to_bd09(*ref_wgs84_to_gcj02(a, b)) for a, b in [(112.8, 39.5), (112.9, 39.6)]]
    line = LineString([(*bd[0], 1050.0), (*bd[1], 1100.0)])
    gdf = gpd.GeoDataFrame(geometry=[line, None])
    out = to_wgs84(gdf, parse_crs("baidu"))
    coords = shapely.get_coordinates(out.geometry.iloc[0], include_z=True)
    assert coords[:, :2] == pytest.approx(np.array([[112.8, 39.5], [112.9, 39.6]]), abs=1e-8)
    assert coords[:, 2].tolist() == [1050.0, 1100.0]
    assert out.geometry.iloc[1] is None


def test_to_wgs84_epsg_overrides_declared_crs_and_auto_uses_it():
    gdf = _frame_in(4526, crs="EPSG:3857")  # mislabelled: numbers are really zone 38
    out = to_wgs84(gdf, parse_crs("EPSG:4526"))
    assert out.crs.to_epsg() == 4326
    assert np.max(np.abs(out.geometry.x.to_numpy() - SHANYIN_LON)) < 1e-7
    assert gdf.crs.to_epsg() == 3857
    auto = to_wgs84(_frame_in(4547, crs="EPSG:4547"), parse_crs("auto"))
    assert np.max(np.abs(auto.geometry.y.to_numpy() - SHANYIN_LAT)) < 1e-7
    with pytest.raises(InputError) as info:
        to_wgs84(_frame_in(4547), parse_crs("auto"))
    assert info.value.problems[0].code == "crs_auto_unresolved"
    assert info.value.problems[0].message("zh") != info.value.problems[0].message("en")


def test_to_wgs84_empty_frame():
    empty = gpd.GeoDataFrame({"id": []}, geometry=gpd.GeoSeries([]))
    for text in ("gcj02", "EPSG:4526", "wgs84"):
        out = to_wgs84(empty, parse_crs(text))
        assert len(out) == 0 and out.crs.to_epsg() == 4326


# ---------------------------------------------------------------------------------------------
# round_coords
# ---------------------------------------------------------------------------------------------


def test_round_coords_geometry_series_and_frame():
    point = Point(112.123456789, 39.987654321)
    assert round_coords(point).coords[0] == (112.1234568, 39.9876543)
    assert round_coords(point, 3).coords[0] == (112.123, 39.988)
    poly = Polygon([(112.11111111, 39.1), (112.2, 39.1), (112.2, 39.22222222)])
    assert shapely.get_coordinates(round_coords(poly))[0].tolist() == [112.1111111, 39.1]
    gdf = gpd.GeoDataFrame({"id": [1, 2]}, geometry=[point, None], crs=4326)
    out = round_coords(gdf)
    assert out.geometry.iloc[0].coords[0] == (112.1234568, 39.9876543)
    assert out.geometry.iloc[1] is None and out.crs.to_epsg() == 4326
    assert gdf.geometry.iloc[0].coords[0] == (112.123456789, 39.987654321)
    series = round_coords(gdf.geometry)
    assert isinstance(series, gpd.GeoSeries) and series.iloc[0].x == 112.1234568


def test_guessing_lon_lat_builds_no_projected_transformer():
    # Issue #16: a one-row CSV of lon/lat built 26 Gauss-Kruger transformers (about a
    # second) before it could say "WGS84"; degrees cannot be metres of a projected CRS.
    from geo import crs

    crs._transformer_to_wgs84.cache_clear()
    shanyin = (112.425, 39.172, 113.069, 39.776)
    guesses = crs.guess_crs([112.8161], [39.5268], shanyin)
    assert guesses[0].choice.epsg == 4326
    assert crs._transformer_to_wgs84.cache_info().currsize == 0
    projected = crs.guess_crs([38_388_000.0], [4_374_800.0], shanyin)
    assert projected[0].choice.epsg == 4526
    assert crs._transformer_to_wgs84.cache_info().currsize > 0
