"""Tests of geo.gaps, on geometry built by hand with geodesic offsets (pyproj.Geod)."""

from __future__ import annotations

from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geometries import LAT, LON, frame, fwd, north
from shapely import LineString, MultiLineString, Point, box

from geo.gaps import (
    geodesic_lengths_m,
    irrigation_gaps,
    nearest_distance_m,
    parse_iso_dates,
    rest_station_gaps,
    road_lighting_gaps,
    service_gaps,
    target_gaps,
    visit_coverage_by_township,
    visit_gaps,
    wells_without_pipe,
)
from geo.metric import distance_m, geodesic_length_m
from geo.problems import InputError


def lights_at(metres: list[float], status: str = "working", east: float = 0.0):
    return frame([north(m, east) for m in metres], status=[status] * len(metres))


ROAD_1KM = frame([LineString([north(0), north(1000)])], id=["R1"], name=["Main"])
NO_LIGHTS = frame([], id=[], status=[])


# ------------------------------------------------------------------ road lighting


def test_one_gap_between_400_and_700_m():
    lights = lights_at(list(range(0, 401, 50)) + list(range(700, 1001, 50)))
    gaps = road_lighting_gaps(ROAD_1KM, lights)
    assert len(gaps) == 1
    gap = gaps.iloc[0]
    assert (gap.road_id, gap.road_name) == ("R1", "Main")
    assert gap.start_km == pytest.approx(0.4, abs=1e-5)
    assert gap.end_km == pytest.approx(0.7, abs=1e-5)
    assert gap.length_m == pytest.approx(300.0, abs=0.01)
    assert gap.geometry.geom_type == "LineString"
    first, last = gap.geometry.coords[0], gap.geometry.coords[-1]
    assert distance_m(LON, LAT, *first) == pytest.approx(400.0, abs=0.01)
    assert distance_m(LON, LAT, *last) == pytest.approx(700.0, abs=0.01)
    assert gaps.crs.equals("EPSG:4326")
    assert list(gaps.columns) == [
        "road_id",
        "road_name",
        "start_km",
        "end_km",
        "length_m",
        "geometry",
    ]


@pytest.mark.parametrize(("east", "gaps_expected"), [(29.0, 0), (31.0, 1)])
def test_light_beyond_lateral_reach_does_not_count(east, gaps_expected):
    ends = lights_at([0, 1000])
    middle = lights_at([500], east=east)
    lights = pd.concat([ends, middle], ignore_index=True)
    gaps = road_lighting_gaps(ROAD_1KM, lights, min_gap_m=600, lateral_m=30)
    assert len(gaps) == gaps_expected


def test_faulty_lights_do_not_count_unless_asked():
    lights = lights_at(list(range(0, 1001, 50)), status="faulty")
    gaps = road_lighting_gaps(ROAD_1KM, lights)
    assert len(gaps) == 1 and gaps.iloc[0].length_m == pytest.approx(1000.0, abs=0.01)
    assert road_lighting_gaps(ROAD_1KM, lights, counted_status=("working", "faulty")).empty
    assert road_lighting_gaps(ROAD_1KM, lights, counted_status="faulty").empty


def test_lights_exactly_min_gap_apart_leave_no_gap():
    lights = lights_at(list(range(0, 1001, 100)))
    assert road_lighting_gaps(ROAD_1KM, lights, min_gap_m=100).empty
    assert len(road_lighting_gaps(ROAD_1KM, lights, min_gap_m=99)) == 10


def test_road_without_lights_is_one_whole_gap():
    gaps = road_lighting_gaps(ROAD_1KM, NO_LIGHTS)
    assert len(gaps) == 1
    assert gaps.iloc[0].start_km == 0.0
    expected = geodesic_length_m(ROAD_1KM.geometry.iloc[0])
    assert gaps.iloc[0].length_m == pytest.approx(expected, rel=1e-9)
    assert gaps.iloc[0].geometry.hausdorff_distance(ROAD_1KM.geometry.iloc[0]) < 1e-9


def test_short_dark_road_is_not_a_gap():
    short = frame([LineString([north(0), north(80)])], id=["R2"], name=["Lane"])
    assert road_lighting_gaps(short, NO_LIGHTS, min_gap_m=100).empty


def test_empty_lights_layer_without_crs_or_columns():
    gaps = road_lighting_gaps(ROAD_1KM, gpd.GeoDataFrame(geometry=[]))
    assert len(gaps) == 1


def test_empty_roads():
    gaps = road_lighting_gaps(frame([], id=[], name=[]), lights_at([0, 500]))
    assert gaps.empty
    assert list(gaps.columns)[:5] == ["road_id", "road_name", "start_km", "end_km", "length_m"]
    assert gaps.crs.equals("EPSG:4326")


def test_roads_without_line_geometry_are_skipped():
    roads = frame([None, Point(LON, LAT), ROAD_1KM.geometry.iloc[0]], id=["A", "B", "C"])
    gaps = road_lighting_gaps(roads, NO_LIGHTS)
    assert gaps["road_id"].tolist() == ["C"]
    assert gaps["road_name"].tolist() == [None]
    assert road_lighting_gaps(roads.iloc[:2], lights_at([0])).empty


def test_multilinestring_chainage_runs_over_parts():
    # Part 1 covers 0-500 m, part 2 covers 600-1100 m of the meridian: the 100 m jump
    # between them is not road. Concatenated chainage: part 2 starts at 500.
    road = frame(
        [
            MultiLineString(
                [
                    [north(0).coords[0], north(500).coords[0]],
                    [north(600).coords[0], north(1100).coords[0]],
                ]
            )
        ],
        id=["M"],
        name=["Multi"],
    )
    lights = lights_at(list(range(0, 401, 50)) + list(range(700, 1101, 50)))
    gaps = road_lighting_gaps(road, lights)
    assert len(gaps) == 1
    gap = gaps.iloc[0]
    assert gap.start_km == pytest.approx(0.4, abs=1e-5)
    assert gap.end_km == pytest.approx(0.6, abs=1e-5)
    assert gap.length_m == pytest.approx(200.0, abs=0.01)
    assert gap.geometry.geom_type == "MultiLineString"
    pieces = sorted(geodesic_length_m(p) for p in gap.geometry.geoms)
    assert pieces == pytest.approx([100.0, 100.0], abs=0.01)


def test_gap_inside_second_part_of_multilinestring_is_a_linestring():
    road = frame(
        [
            MultiLineString(
                [
                    [north(0).coords[0], north(500).coords[0]],
                    [north(600).coords[0], north(1100).coords[0]],
                ]
            )
        ],
        id=["M"],
    )
    lights = lights_at(list(range(0, 501, 50)) + [600, 650, 1000, 1050, 1100])
    gaps = road_lighting_gaps(road, lights)
    assert len(gaps) == 1
    assert gaps.iloc[0].geometry.geom_type == "LineString"
    assert gaps.iloc[0].start_km == pytest.approx(0.55, abs=1e-5)
    assert gaps.iloc[0].length_m == pytest.approx(350.0, abs=0.01)


def test_road_crossing_utm_zone_boundary_is_measured_geodesically():
    # Along latitude 39.5 from 113.9 E (zone 49) to 114.1 E (zone 50): about 17.2 km.
    road = frame([LineString([(113.9, 39.5), (114.1, 39.5)])], id=["Z"], name=["Zone"])
    whole = road_lighting_gaps(road, NO_LIGHTS)
    assert whole.iloc[0].length_m == pytest.approx(geodesic_length_m(road.geometry[0]), rel=0.005)
    lons = np.r_[np.linspace(113.9, 113.98, 201), np.linspace(114.02, 114.1, 201)]  # ~34 m
    lights = frame([Point(x, 39.5) for x in lons], status=["working"] * len(lons))
    gaps = road_lighting_gaps(road, lights)
    assert len(gaps) == 1
    gap = gaps.iloc[0]
    assert gap.length_m == pytest.approx(distance_m(113.98, 39.5, 114.02, 39.5), rel=0.005)
    assert gap.start_km * 1000 == pytest.approx(distance_m(113.9, 39.5, 113.98, 39.5), rel=0.005)


def test_light_at_crossroads_counts_for_both_roads():
    centre = north(500)
    west, east = fwd(*centre.coords[0], 270, 500), fwd(*centre.coords[0], 90, 500)
    roads = frame(
        [ROAD_1KM.geometry.iloc[0], LineString([west, east])], id=["NS", "EW"], name=["a", "b"]
    )
    lights = frame([centre], status=["working"])
    assert road_lighting_gaps(roads, lights, min_gap_m=600).empty
    dark = road_lighting_gaps(roads, NO_LIGHTS, min_gap_m=600)
    assert dark["road_id"].tolist() == ["NS", "EW"]


def test_projected_input_gives_the_same_gaps():
    lights = lights_at(list(range(0, 401, 50)) + list(range(700, 1001, 50)))
    gaps = road_lighting_gaps(ROAD_1KM.to_crs(3857), lights.to_crs(32649))
    assert gaps.iloc[0].length_m == pytest.approx(300.0, abs=0.01)
    assert gaps.crs.equals("EPSG:4326")


def test_inputs_are_not_modified():
    lights = lights_at([0, 1000])
    before_roads, before_lights = ROAD_1KM.copy(), lights.copy()
    road_lighting_gaps(ROAD_1KM, lights)
    pd.testing.assert_frame_equal(ROAD_1KM, before_roads)
    pd.testing.assert_frame_equal(lights, before_lights)


def test_missing_crs_column_and_threshold_are_reported():
    with pytest.raises(InputError) as info:
        road_lighting_gaps(frame([ROAD_1KM.geometry[0]], crs=None, id=["R"]), NO_LIGHTS)
    assert info.value.problems[0].code == "gaps_no_crs"
    with pytest.raises(InputError) as info:
        road_lighting_gaps(ROAD_1KM, frame([north(0)], id=["L"]))
    assert (info.value.problems[0].code, info.value.problems[0].field) == (
        "gaps_missing_column",
        "status",
    )
    with pytest.raises(InputError) as info:
        road_lighting_gaps(ROAD_1KM, NO_LIGHTS, min_gap_m=-1)
    assert info.value.problems[0].code == "gaps_bad_threshold"
    with pytest.raises(TypeError):
        road_lighting_gaps(pd.DataFrame({"id": [1]}), NO_LIGHTS)


def test_many_lights_on_many_roads():
    # 200 roads of 5 km, 100,000 lights (the time is a row of scripts/bench.py: gaps).
    rng = np.random.default_rng(3)
    starts = [fwd(LON, LAT, 90, 300.0 * i) for i in range(200)]
    roads = frame(
        [LineString([s, fwd(*s, 0, 5000)]) for s in starts], id=[f"R{i}" for i in range(200)]
    )
    lines = roads.geometry.to_numpy()[np.repeat(np.arange(200), 500)]
    pts = shapely.line_interpolate_point(lines, rng.random(100_000), normalized=True)
    lights = frame(list(pts), status=["working"] * 100_000)
    gaps = road_lighting_gaps(roads, lights, min_gap_m=150)
    assert (gaps["length_m"] > 150).all()


# ------------------------------------------------------------------ nearest / water

WELL = north(0)


def test_nearest_distance_hand_values_and_cap():
    targets = frame([north(300), north(700), north(20_000), None])
    sources = frame([WELL])
    found = nearest_distance_m(targets, sources, max_distance_m=1000)
    assert found[:2] == pytest.approx([300.0, 700.0], abs=0.5)
    assert np.isnan(found[2]) and np.isnan(found[3])
    assert np.isnan(nearest_distance_m(targets, frame([]), max_distance_m=1000)).all()
    assert len(nearest_distance_m(frame([]), sources, max_distance_m=1000)) == 0


def test_nearest_distance_for_100k_targets():
    # The time is a row of scripts/bench.py: nearest.
    rng = np.random.default_rng(0)
    t = gpd.GeoDataFrame(
        geometry=gpd.points_from_xy(rng.uniform(112, 113, 100_000), rng.uniform(39, 40, 100_000)),
        crs=4326,
    )
    s = gpd.GeoDataFrame(
        geometry=gpd.points_from_xy(rng.uniform(112, 113, 10_000), rng.uniform(39, 40, 10_000)),
        crs=4326,
    )
    found = nearest_distance_m(t, s, max_distance_m=2000)
    assert np.nanmax(found) <= 2000 and np.isfinite(found).mean() > 0.9


def test_irrigation_gaps_only_far_targets_and_only_working_wells():
    fields = frame([north(300), north(700), north(20_000)], id=["near", "far", "remote"])
    wells = frame([WELL, north(700, east=10)], id=["W1", "W2"], status=["working", "faulty"])
    gaps = irrigation_gaps(fields, wells, max_distance_m=500)
    assert gaps["id"].tolist() == ["far", "remote"]
    assert gaps.loc[1, "nearest_well_m"] == pytest.approx(700.0, abs=0.5)
    assert gaps.loc[1, "nearest_well_id"] == "W1"
    assert np.isnan(gaps.loc[2, "nearest_well_m"]) and gaps.loc[2, "nearest_well_id"] is None
    assert irrigation_gaps(fields, wells, counted_status=("working", "faulty"))["id"].tolist() == [
        "remote"
    ]


def test_irrigation_gaps_polygon_target_containing_a_well_is_served():
    x, y = WELL.coords[0]
    field = frame([box(x - 0.01, y - 0.01, x + 0.01, y + 0.01)], id=["F"])
    assert irrigation_gaps(field, frame([WELL], id=["W"], status=["working"])).empty
    assert len(irrigation_gaps(field, NO_LIGHTS.assign(id=[]))) == 1


def test_wells_without_pipe():
    wells = frame(
        [north(0), north(1000), north(2000), north(3000), north(4000)],
        id=["W1", "W2", "W3", "W4", "W5"],
        status=["working", "working", "working", "working", "planned"],
    )
    pipes = frame(
        [
            LineString([north(9000), north(9500)]),  # named W1, far away
            LineString([north(1005), north(1500)]),  # end 5 m from W2
            LineString([north(1700), north(1985)]),  # end 15 m from W3
            LineString([north(2900, east=5), north(3100, east=5)]),  # passes 5 m from W4
        ],
        well_id=["W1", None, None, None],
    )
    assert wells_without_pipe(wells, pipes)["id"].tolist() == ["W3", "W4", "W5"]
    assert wells_without_pipe(wells, pipes, snap_m=20)["id"].tolist() == ["W4", "W5"]
    only_built = wells_without_pipe(wells, pipes, counted_status=("working",))
    assert only_built["id"].tolist() == ["W3", "W4"]
    assert len(wells_without_pipe(wells, frame([], well_id=[]))) == 5


def test_wells_without_pipe_matches_int_and_float_ids():
    wells = frame([north(0), north(1000)], id=[7, 8])
    pipes = frame([LineString([north(5000), north(6000)])] * 2, well_id=[7.0, np.nan])
    assert wells_without_pipe(wells, pipes)["id"].tolist() == [8]


# ------------------------------------------------------------------ visits

AS_OF = date(2024, 6, 30)
VILLAGES = frame(
    [north(0), north(1000), north(2000), north(3000)],
    id=["V1", "V2", "V3", "V4"],
    name=["A", "B", "C", "D"],
    township=["East", "East", "West", "West"],
)
VISITS = pd.DataFrame(
    {
        "village_id": ["V1", "V1", "V1", "V2", "V4"],
        "date": ["2024-03-01", "2024-06-01", "soon", "2024-01-15", "2024-07-10"],
        "problems_raised": [2, 1, 5, 2, 1],
        "problems_solved": [1, 2, 0, 1, 0],
    }
)


def test_visit_gaps_hand_values():
    out = visit_gaps(VILLAGES, VISITS, as_of=AS_OF, max_days=90).set_index("id")
    assert out.loc["V1", "last_visit"] == date(2024, 6, 1)
    assert out.loc["V1", "days_since"] == 29
    assert out.loc["V2", "days_since"] == 167
    assert out.loc["V3", "last_visit"] is None and out.loc["V3", "days_since"] is None
    assert out.loc["V4", "last_visit"] is None  # its only visit is after as_of
    assert out["visits"].tolist() == [2, 1, 0, 0]
    assert out["problems_raised"].tolist() == [3, 2, 0, 0]
    assert out["problems_solved"].tolist() == [3, 1, 0, 0]
    assert out["not_visited_recently"].tolist() == [False, True, True, True]
    assert out["unresolved"].tolist() == [False, True, False, False]
    assert isinstance(out.loc["V1", "days_since"], int)


def test_visit_gaps_boundary_day_is_recent():
    out = visit_gaps(VILLAGES, VISITS, as_of=AS_OF, max_days=29)
    assert not out["not_visited_recently"].iloc[0]
    assert visit_gaps(VILLAGES, VISITS, as_of=AS_OF, max_days=28)["not_visited_recently"].iloc[0]


def test_visit_gaps_without_visits():
    empty = VISITS.iloc[:0]
    out = visit_gaps(VILLAGES, empty, as_of=AS_OF)
    assert out["not_visited_recently"].all() and (out["visits"] == 0).all()
    assert visit_gaps(VILLAGES.iloc[:0], VISITS, as_of=AS_OF).empty


def test_visit_gaps_matches_numeric_ids_read_as_float():
    villages = frame([north(0)], id=[12])
    visits = pd.DataFrame(
        {"village_id": [12.0, np.nan], "date": ["2024-06-20", "2024-06-21"]}
    ).assign(problems_raised=0, problems_solved=0)
    assert visit_gaps(villages, visits, as_of=AS_OF)["visits"].tolist() == [1]


def test_visit_coverage_by_township():
    table = visit_coverage_by_township(VILLAGES, VISITS, as_of=AS_OF, max_days=90)
    assert table.values.tolist() == [["East", 2, 1, 50.0], ["West", 2, 0, 0.0]]
    wide = visit_coverage_by_township(VILLAGES, VISITS, as_of=AS_OF, max_days=200)
    assert wide["coverage_pct"].tolist() == [100.0, 0.0]


def test_parse_iso_dates():
    parsed = parse_iso_dates(pd.Series(["2024-02-29", "2024-02-30", None, "2024-05-01T08:00"]))
    assert parsed.isna().tolist() == [False, True, True, False]


# ------------------------------------------------------------------ services

ROUTE_Y = 0.0


def _routes():
    free = LineString([north(0, east=-3000), north(0, east=3000)])
    paid = LineString([north(2000, east=-3000), north(2000, east=3000)])
    return frame([free, paid], id=["B1", "B2"], name=["Free", "Paid"], free=[True, False])


def test_service_gaps_free_routes_and_stops():
    facilities = frame(
        [north(300), north(1900), north(1000, east=5000), north(5000), north(1000)],
        id=["H", "S", "M", "E", "C"],
        kind=["hospital", "school", "market", "enterprise", "clinic"],
    )
    stops = frame([north(1000, east=5100), north(1000)], id=["P1", "P2"], route_id=["B1", "B2"])
    gaps = service_gaps(facilities, _routes(), stops, max_distance_m=500)
    assert gaps["id"].tolist() == ["S"]
    assert gaps["distance_m"].iloc[0] == pytest.approx(1900.0, abs=1.0)
    assert service_gaps(facilities, _routes(), stops, free_only=False).empty
    no_stops = service_gaps(facilities, _routes(), None, max_distance_m=500)
    assert no_stops["id"].tolist() == ["S", "M"]


def test_service_gaps_reads_free_as_text():
    routes = _routes().assign(free=["true", "false"])
    facilities = frame([north(1900)], id=["S"], kind=["school"])
    assert len(service_gaps(facilities, routes, None)) == 1
    assert service_gaps(facilities, routes.assign(free=["false", "是"]), None).empty


def test_service_gaps_without_routes_flags_every_facility():
    facilities = frame([north(0)], id=["H"], kind=["hospital"])
    gaps = service_gaps(facilities, frame([], free=[]), None)
    assert gaps["id"].tolist() == ["H"] and np.isnan(gaps["distance_m"].iloc[0])


def test_rest_station_gaps():
    street = frame([LineString([north(0), north(5000)])], id=["S1"], name=["Long"])
    at_start = rest_station_gaps(street, frame([north(0)]), max_distance_m=1000)
    assert len(at_start) == 1
    assert at_start.iloc[0].length_m == pytest.approx(4000.0, abs=2.0)
    assert at_start.iloc[0].street_id == "S1" and at_start.iloc[0].street_name == "Long"
    assert distance_m(LON, LAT, *at_start.iloc[0].geometry.coords[0]) == pytest.approx(1000, abs=2)
    middle = rest_station_gaps(street, frame([north(2500)]), max_distance_m=1000)
    assert middle["length_m"].tolist() == pytest.approx([1500.0, 1500.0], abs=2.0)
    assert (middle.geometry.geom_type == "LineString").all()
    none = rest_station_gaps(street, frame([]), max_distance_m=1000)
    assert none.iloc[0].length_m == pytest.approx(5000.0, rel=1e-9)
    assert rest_station_gaps(street, frame([north(2500)]), max_distance_m=3000).empty
    assert rest_station_gaps(frame([], id=[]), frame([north(0)])).empty


def test_geodesic_lengths_m():
    lines = np.array(
        [
            LineString([north(0), north(1000)]),
            MultiLineString([[north(0).coords[0], north(300).coords[0]]] * 2),
            Point(0, 0),
            None,
        ],
        dtype=object,
    )
    assert geodesic_lengths_m(lines) == pytest.approx([1000.0, 600.0, 0.0, 0.0], abs=1e-6)


# ------------------------------------------------------------------ targets


def test_target_gaps():
    progress = pd.DataFrame(
        {
            "village": ["A", "B", "C", "D", "E"],
            "layer": ["wells", "wells", "plantings", "wells", "wells"],
            "target": [4, 2, 100, 0, None],
            "actual": [1, 2, 90, 0, 3],
        }
    )
    out = target_gaps(progress)
    assert out["village"].tolist() == ["A", "C"]
    assert out["shortfall"].tolist() == [3.0, 10.0]
    assert out["pct"].tolist() == [25.0, 90.0]
    assert target_gaps(progress.iloc[:0]).empty
    with pytest.raises(InputError):
        target_gaps(progress.drop(columns="actual"))
