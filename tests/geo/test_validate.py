"""Tests of geo.validate: one small hand-written frame per rule, messages in zh and en."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
from geometries import frame
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, MultiPoint, Point, Polygon

from geo.problems import Problem
from geo.validate import (
    check_duplicates,
    check_finite,
    check_geometry_types,
    check_in_area,
    check_not_null_island,
    check_swapped_axes,
    validate_geometries,
)

# A hand-drawn stand-in for Shanyin County (lon/lat); its east edge is the meridian 113.05.
AREA = Polygon(
    [(112.45, 39.20), (113.05, 39.20), (113.05, 39.75), (112.70, 39.76), (112.45, 39.60)]
)
INSIDE = Point(112.80, 39.50)
_GEOD = pyproj.Geod(ellps="WGS84")


def east_of_edge(metres: float, lat: float = 39.5) -> Point:
    lon, lat2, _az = _GEOD.fwd(113.05, lat, 90.0, metres)
    return Point(lon, lat2)


def nan_line() -> LineString:
    with np.errstate(invalid="ignore"):
        return shapely.linestrings([[112.8, 39.5], [np.nan, 39.6]])


def assert_renders(problem: Problem, *fragments: object) -> None:
    """The message exists in both languages, has every placeholder filled, names the row."""
    zh, en = problem.message("zh"), problem.message("en")
    assert zh != en
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh)
    for text in (zh, en):
        assert "{" not in text and "}" not in text
        assert str(problem.row) in text
        for fragment in fragments:
            assert str(fragment) in text, (fragment, text)


def codes(problems: list[Problem]) -> list[tuple[int | None, str]]:
    return [(p.row, p.code) for p in problems]


EMPTY = frame([])


# ---------------------------------------------------------------------------------------------
# check_geometry_types
# ---------------------------------------------------------------------------------------------


def test_geometry_types_rejects_other_types():
    gdf = frame(
        [INSIDE, LineString([(112.8, 39.5), (112.9, 39.5)]), MultiPoint([INSIDE]), None, Point()]
    )
    problems = check_geometry_types(gdf, {"Point"})
    assert codes(problems) == [(2, "geometry_type_not_allowed"), (3, "geometry_type_not_allowed")]
    assert [p.value for p in problems] == ["LineString", "MultiPoint"]
    assert problems[0].params == {"row": 2, "allowed": "Point"}
    assert problems[0].severity == "error"
    assert_renders(problems[1], "MultiPoint", "Point")


def test_geometry_types_multi_only_when_allowed():
    gdf = frame([INSIDE, MultiPoint([INSIDE, Point(112.9, 39.6)])])
    assert check_geometry_types(gdf, {"Point", "MultiPoint"}) == []
    problems = check_geometry_types(gdf, {"Point"}, rows=[7, 8])
    assert codes(problems) == [(8, "geometry_type_not_allowed")]


def test_geometry_types_empty_frame():
    assert check_geometry_types(EMPTY, {"Point"}) == []


# ---------------------------------------------------------------------------------------------
# check_finite
# ---------------------------------------------------------------------------------------------


def test_finite_flags_missing_empty_nan_and_inf():
    gdf = frame(
        [INSIDE, None, Point(), Point(np.nan, 39.5), Point(112.8, np.inf), nan_line()], crs=None
    )
    problems = check_finite(gdf, rows=[11, 12, 13, 14, 15, 16])
    assert codes(problems) == [
        (12, "geometry_empty"),
        (13, "geometry_empty"),
        (14, "coordinates_not_finite"),
        (15, "coordinates_not_finite"),
        (16, "coordinates_not_finite"),
    ]
    assert [p.value for p in problems] == [
        "None",
        "POINT EMPTY",
        "nan, 39.5",
        "112.8, inf",
        "nan, 39.6",
    ]
    assert_renders(problems[0])
    assert_renders(problems[1], "POINT EMPTY")
    assert_renders(problems[2], "nan, 39.5")


def test_finite_empty_frame_and_clean_frame():
    assert check_finite(EMPTY) == []
    assert check_finite(frame([INSIDE, Point(113.0, 39.3)])) == []


def test_rows_must_align():
    with pytest.raises(ValueError, match="rows"):
        check_finite(frame([INSIDE]), rows=[1, 2])


# ---------------------------------------------------------------------------------------------
# check_not_null_island
# ---------------------------------------------------------------------------------------------


def test_null_island():
    gdf = frame(
        [
            Point(0, 0),
            Point(5e-7, -5e-7),
            Point(2e-6, 0),
            INSIDE,
            LineString([(112.8, 39.5), (0, 0)]),
            None,
            Point(np.nan, 0),
        ]
    )
    problems = check_not_null_island(gdf)
    assert codes(problems) == [(1, "null_island"), (2, "null_island"), (5, "null_island")]
    assert problems[0].value == "0.000000, 0.000000"
    assert_renders(problems[0], "(0, 0)")


def test_null_island_empty_frame():
    assert check_not_null_island(EMPTY) == []


# ---------------------------------------------------------------------------------------------
# check_in_area
# ---------------------------------------------------------------------------------------------


def test_in_area_distance_and_margin():
    gdf = frame([INSIDE, east_of_edge(300.0), Point(113.15, 39.5)])
    problems = check_in_area(gdf, AREA, margin_m=100)
    assert codes(problems) == [(2, "outside_area"), (3, "outside_area")]
    assert abs(problems[0].params["distance_m"] - 300) <= 3
    expected_km = _GEOD.inv(113.05, 39.5, 113.15, 39.5)[2] / 1000
    assert problems[1].params["distance_km"] == pytest.approx(expected_km, abs=0.1)
    assert problems[1].params["margin_m"] == 100
    assert problems[1].value == "113.150000, 39.500000"
    assert_renders(problems[1], problems[1].params["distance_km"], "100", "113.150000, 39.500000")
    # A 500 m margin accepts the point 300 m out.
    assert codes(check_in_area(gdf, AREA, margin_m=500)) == [(3, "outside_area")]


def test_in_area_far_away_point_uses_geodesic_distance():
    paris = Point(2.3522, 48.8566)
    (problem,) = check_in_area(frame([paris]), AREA, margin_m=1000)
    nearest = shapely.get_coordinates(shapely.shortest_line(paris, AREA))[1]
    expected = _GEOD.inv(2.3522, 48.8566, *nearest)[2]
    assert problem.params["distance_m"] == pytest.approx(expected, rel=1e-6)
    assert problem.params["distance_km"] > 7000


def test_in_area_line_with_one_vertex_out_reports_farthest_vertex():
    line = LineString([(112.8, 39.5), (113.0, 39.5), (113.10, 39.5)])
    polygon_inside = Polygon([(112.6, 39.3), (112.7, 39.3), (112.7, 39.4)])
    problems = check_in_area(frame([line, polygon_inside]), AREA, margin_m=0)
    assert codes(problems) == [(1, "outside_area")]
    assert problems[0].value == "113.100000, 39.500000"
    assert problems[0].params["distance_km"] == pytest.approx(4.3, abs=0.1)


def test_in_area_skips_unusable_rows_and_accepts_area_frames():
    gdf = frame([None, Point(np.nan, 39.5), Point(113.2, 39.5)])
    area_gdf = gpd.GeoDataFrame(geometry=[AREA], crs=4326).to_crs(32649)
    problems = check_in_area(gdf, area_gdf, margin_m=0)
    assert codes(problems) == [(3, "outside_area")]
    assert check_in_area(EMPTY, AREA, margin_m=0) == []


def test_in_area_converts_projected_frames():
    x, y = pyproj.Transformer.from_crs(4326, 4526, always_xy=True).transform(113.2, 39.5)
    inside_x, inside_y = pyproj.Transformer.from_crs(4326, 4526, always_xy=True).transform(
        112.8, 39.5
    )
    gdf = frame([Point(inside_x, inside_y), Point(x, y)], crs="EPSG:4526")
    assert codes(check_in_area(gdf, AREA, margin_m=50)) == [(2, "outside_area")]


# ---------------------------------------------------------------------------------------------
# check_swapped_axes
# ---------------------------------------------------------------------------------------------


def test_swapped_axes():
    gdf = frame([Point(39.5, 112.8), INSIDE, Point(2.35, 48.85), Point(39.3, 113.2)])
    problems = check_swapped_axes(gdf, AREA, rows=[21, 22, 23, 24])
    assert codes(problems) == [(21, "swapped_axes")]
    assert problems[0].value == "39.500000, 112.800000"
    assert problems[0].params == {"row": 21, "swapped": "112.800000, 39.500000"}
    assert_renders(problems[0], "39.500000, 112.800000", "112.800000, 39.500000")


def test_swapped_axes_needs_the_point_outside():
    # In an area straddling the diagonal, a point and its mirror can both be inside.
    square = Polygon([(10, 10), (20, 10), (20, 20), (10, 20)])
    gdf = frame([Point(12, 15), Point(15, 25)])
    assert check_swapped_axes(gdf, square) == []


def test_swapped_axes_empty_frame():
    assert check_swapped_axes(EMPTY, AREA) == []


# ---------------------------------------------------------------------------------------------
# check_duplicates
# ---------------------------------------------------------------------------------------------


def north_of(point: Point, metres: float) -> Point:
    lon, lat, _az = _GEOD.fwd(point.x, point.y, 0.0, metres)
    return Point(lon, lat)


EXISTING = frame(
    [Point(112.70, 39.40), INSIDE, None], id=["L-1", "L-2", "L-3"]
)  # L-3 has lost its geometry


def test_duplicates_against_existing():
    new = frame([north_of(INSIDE, 5.0), north_of(INSIDE, 50.0), Point(112.9, 39.6)])
    problems = check_duplicates(new, EXISTING, 10.0, rows=[2, 3, 4])
    assert codes(problems) == [(2, "duplicate_existing")]
    (problem,) = problems
    assert problem.severity == "warning"
    assert problem.params["existing_id"] == "L-2"
    assert problem.params["distance_m"] == pytest.approx(5.0, abs=0.1)
    assert_renders(problem, "L-2", problem.params["distance_m"])


def test_duplicates_use_index_without_id_column():
    existing = gpd.GeoDataFrame(geometry=[INSIDE], index=[417], crs=4326)
    (problem,) = check_duplicates(frame([north_of(INSIDE, 2.0)]), existing, 10.0)
    assert problem.params["existing_id"] == 417 and type(problem.params["existing_id"]) is int


def test_duplicates_within_batch_name_nearest_earlier_row():
    a = Point(112.60, 39.30)
    gdf = frame([a, north_of(a, 8.0), north_of(a, 3.0), Point(112.9, 39.6), Point(np.nan, 1)])
    problems = check_duplicates(gdf, None, 10.0, rows=[5, 6, 7, 8, 9])
    assert codes(problems) == [(6, "duplicate_in_batch"), (7, "duplicate_in_batch")]
    assert problems[0].params["other_row"] == 5
    # Row 7 is 3 m from row 5 and 5 m from row 6: the nearer earlier row is named.
    nearer_second = frame([a, north_of(a, 8.0), north_of(a, 9.0)])
    last = check_duplicates(nearer_second, None, 10.0)[-1]
    assert (last.row, last.params["other_row"]) == (3, 2)
    assert last.params["distance_m"] == pytest.approx(1.0, abs=0.1)
    assert problems[1].params == {
        "row": 7,
        "other_row": 5,
        "distance_m": pytest.approx(3.0, abs=0.1),
    }
    assert all(p.severity == "warning" for p in problems)
    assert_renders(problems[1], "5", "3.0")


def test_duplicates_empty_frames():
    assert check_duplicates(EMPTY, EXISTING, 10.0) == []
    assert check_duplicates(frame([INSIDE]), EMPTY, 10.0) == []
    assert check_duplicates(frame([INSIDE]), None, 10.0) == []


# ---------------------------------------------------------------------------------------------
# validate_geometries
# ---------------------------------------------------------------------------------------------


def test_validate_geometries_reports_each_row_once_in_order():
    gdf = frame(
        [
            Point(112.60, 39.30),  # 1 fine
            None,  # 2 missing
            Point(np.nan, 39.5),  # 3 not finite (not also outside)
            LineString([(112.8, 39.5), (112.9, 39.5)]),  # 4 wrong type
            Point(0, 0),  # 5 null island (not also outside or swapped)
            Point(39.5, 112.8),  # 6 swapped (not also outside)
            Point(113.2, 39.5),  # 7 outside
            north_of(Point(112.60, 39.30), 3.0),  # 8 close to row 1
            north_of(Point(112.70, 39.40), 4.0),  # 9 close to existing L-1
            north_of(INSIDE, 2.0),  # 10 close to existing L-2
        ]
    )
    problems = validate_geometries(
        gdf,
        allowed_types={"Point"},
        area=AREA,
        margin_m=200,
        existing=EXISTING,
        duplicate_distance_m=10.0,
    )
    assert codes(problems) == [
        (2, "geometry_empty"),
        (3, "coordinates_not_finite"),
        (4, "geometry_type_not_allowed"),
        (5, "null_island"),
        (6, "swapped_axes"),
        (7, "outside_area"),
        (8, "duplicate_in_batch"),
        (9, "duplicate_existing"),
        (10, "duplicate_existing"),
    ]
    assert problems[6].params["other_row"] == 1
    assert problems[7].params["existing_id"] == "L-1"
    assert problems[8].params["existing_id"] == "L-2"
    for problem in problems:
        assert_renders(problem)


def test_validate_geometries_rows_and_no_duplicate_check_by_default():
    gdf = frame([INSIDE, INSIDE, Point(113.2, 39.5)])
    problems = validate_geometries(
        gdf, allowed_types={"Point"}, area=AREA, margin_m=0, rows=[101, 102, 103]
    )
    assert codes(problems) == [(103, "outside_area")]


def test_validate_geometries_skips_duplicates_of_rejected_rows():
    gdf = frame([Point(113.2, 39.5), Point(113.2, 39.5)])
    problems = validate_geometries(
        gdf, allowed_types={"Point"}, area=AREA, margin_m=0, duplicate_distance_m=10.0
    )
    assert codes(problems) == [(1, "outside_area"), (2, "outside_area")]


def test_validate_geometries_empty_frame():
    assert (
        validate_geometries(
            EMPTY,
            allowed_types={"Point"},
            area=AREA,
            margin_m=0,
            existing=EXISTING,
            duplicate_distance_m=5.0,
        )
        == []
    )


def test_no_area_skips_area_checks():
    gdf = frame([Point(39.5, 112.8), Point(0, 0), Point(113.2, 39.5)])
    problems = validate_geometries(gdf, allowed_types={"Point"}, area=None, margin_m=0)
    # Latitude 112.8 is no latitude at all, area or not (tests/reliability found such rows
    # stored as they came).
    assert codes(problems) == [(1, "coordinates_out_of_range"), (2, "null_island")]
    assert check_in_area(gdf, None, margin_m=0) == []
    assert check_swapped_axes(gdf, Polygon(), rows=[4, 5, 6]) == []


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), min_size=1, max_size=60),
    st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), min_size=1, max_size=60),
    st.sampled_from([0.0, 0.5, 1.0, 2.5, 5.0]),
)
def test_the_point_grid_finds_the_pairs_the_strtree_finds(a, b, distance):
    """Upload duplicates use a grid over coordinates for points: same pairs, same distances."""
    from geo.geometry_checks import _near_geometries, _near_points

    ax, ay = (np.array([p[i] for p in a], dtype=float) * 0.7 + 3e5 for i in (0, 1))
    bx, by = (np.array([p[i] for p in b], dtype=float) * 0.7 + 3e5 for i in (0, 1))
    src, dst, dist = _near_points((ax, ay), (bx, by), distance)
    want_src, want_dst, want_dist = _near_geometries(
        shapely.points(ax, ay), shapely.points(bx, by), distance
    )
    got = sorted(zip(src.tolist(), dst.tolist(), dist.tolist(), strict=True))
    want = sorted(zip(want_src.tolist(), want_dst.tolist(), want_dist.tolist(), strict=True))
    assert got == want


_coordinate = st.one_of(
    st.floats(-200, 200, allow_nan=False),
    st.sampled_from([0.0, 1e-7, float("nan"), float("inf"), 112.5, 39.5, 112.95, 39.2]),
    st.floats(112.0, 113.5),
    st.floats(39.0, 40.0),
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(_coordinate, _coordinate), min_size=1, max_size=40),
    st.sampled_from([0.0, 300.0, 5000.0]),
    st.booleans(),
)
def test_points_are_checked_on_arrays_exactly_as_geometries(xy, margin, swap):
    """A batch of points takes a path on coordinate arrays: the same problems, in order."""
    import geo.validate as validate

    area = Polygon([(112.2, 39.1), (113.0, 39.1), (113.0, 39.8), (112.6, 40.0), (112.2, 39.8)])
    points = [Point((y, x) if swap and i % 3 == 0 else (x, y)) for i, (x, y) in enumerate(xy)]
    gdf = gpd.GeoDataFrame(geometry=points, crs=4326)
    existing = gpd.GeoDataFrame({"id": ["L-1"]}, geometry=[Point(112.5, 39.5)], crs=4326)

    def run():
        found = validate_geometries(
            gdf,
            allowed_types={"Point"},
            area=area,
            margin_m=margin,
            existing=existing,
            duplicate_distance_m=5.0,
        )
        return [(p.code, p.row, p.value, p.params, p.severity) for p in found]

    fast = run()
    validate._POINTS_PATH = False
    try:
        slow = run()
    finally:
        validate._POINTS_PATH = True
    assert slow == fast


def test_a_batch_of_points_does_not_take_the_geometry_path(monkeypatch):
    import geo.validate as validate

    def refuse(*args, **kwargs):
        raise AssertionError("points went the geometry way")

    monkeypatch.setattr(validate, "_geometry_checks", refuse)
    gdf = gpd.GeoDataFrame(geometry=[Point(0, 0), Point(39.5, 112.8), Point(112.8, 39.5)])
    found = validate_geometries(
        gdf, allowed_types={"Point"}, area=shapely.box(112, 39, 113, 40), margin_m=0
    )
    assert [(p.row, p.code) for p in found] == [(1, "null_island"), (2, "swapped_axes")]
