"""Tests of geo.summary: the figures of village and township pages."""

from __future__ import annotations

from datetime import date

import geopandas as gpd
import pandas as pd
import pytest
from geometries import LAT, LON, frame, north
from shapely import LineString, Point, box

from geo.metric import geodesic_area_m2
from geo.problems import InputError
from geo.summary import polygon_areas_m2, works_by_month, works_summary

GREENHOUSE = box(LON, LAT, LON + 0.001, LAT + 0.0005)  # about 86 m x 56 m

FRAMES = {
    "streetlights": frame(
        [Point(north(m)) for m in (0, 50, 100, 150)],
        status=["working", "working", "faulty", "removed"],
    ),
    "plantings": frame(
        [Point(LON, LAT), Point(LON, LAT), box(LON, LAT, LON + 0.001, LAT + 0.001), Point(0, 0)],
        species=["poplar", "willow", "poplar", None],
        count=[120, 30, 80.0, None],
    ),
    "greenhouses": frame([GREENHOUSE, Point(LON, LAT)], area_m2=[999.0, 400.0]),
    "wells": frame(
        [Point(LON, LAT)] * 4,
        status=["working", "faulty", "planned", "removed"],
        yield_m3h=[40.0, 20.0, 50.0, 60.0],
    ),
    "pipes": frame(
        [LineString([north(0), north(1000)]), LineString([north(0), north(250), north(500)])],
        well_id=["W1", None],
    ),
    "visits": pd.DataFrame(
        {
            "village_id": ["V1", "V1", "V1"],
            "date": ["2024-03-01", "2024-06-01", "bad"],
            "problems_raised": [2, 3, None],
            "problems_solved": [1, 3, 1],
        }
    ),
    "roads": None,
}


def test_works_summary_hand_values():
    s = works_summary(FRAMES)
    assert s["counts"] == {
        "streetlights": 4,
        "plantings": 4,
        "greenhouses": 2,
        "wells": 4,
        "pipes": 2,
        "visits": 3,
    }
    assert s["by_status"]["streetlights"] == {"working": 2, "faulty": 1, "removed": 1}
    assert s["by_status"]["wells"] == {"working": 1, "faulty": 1, "planned": 1, "removed": 1}
    assert s["trees_by_species"] == {"poplar": 200, "unknown": 0, "willow": 30}
    assert s["trees"] == 230
    assert s["greenhouses"] == 2
    # Polygon by its geodesic area (its area_m2 property is ignored), point by area_m2.
    assert s["greenhouse_area_m2"] == pytest.approx(geodesic_area_m2(GREENHOUSE) + 400.0, rel=1e-7)
    assert (s["wells"], s["well_yield_m3h"]) == (2, 60.0)
    assert s["pipe_length_m"] == pytest.approx(1500.0, abs=1e-6)
    assert (s["visits"], s["problems_raised"], s["problems_solved"]) == (3, 5, 5)
    assert s["last_visit"] == date(2024, 6, 1)


def test_works_summary_types_are_plain_python():
    s = works_summary(FRAMES)
    for key in ("trees", "wells", "visits", "problems_raised", "greenhouses"):
        assert type(s[key]) is int
    for key in ("greenhouse_area_m2", "well_yield_m3h", "pipe_length_m"):
        assert type(s[key]) is float


def test_works_summary_of_nothing():
    empty = {layer: frame([]) for layer in ("wells", "pipes", "greenhouses", "plantings")}
    for frames in ({}, empty, {"visits": pd.DataFrame()}):
        s = works_summary(frames)
        assert s["trees_by_species"] == {} and s["trees"] == 0
        assert s["greenhouse_area_m2"] == 0.0 and s["pipe_length_m"] == 0.0
        assert (s["wells"], s["well_yield_m3h"]) == (0, 0.0)
        assert (s["visits"], s["problems_raised"], s["last_visit"]) == (0, 0, None)


def test_works_summary_measures_projected_input_in_metres():
    pipes = FRAMES["pipes"].to_crs(32649)
    assert works_summary({"pipes": pipes})["pipe_length_m"] == pytest.approx(1500.0, abs=1e-3)


def test_polygon_areas_match_geodesic_area():
    shapes = gpd.GeoSeries([GREENHOUSE, box(112, 39, 112.01, 39.01), Point(1, 1), None], crs=4326)
    got = polygon_areas_m2(shapes)
    assert got[0] == pytest.approx(geodesic_area_m2(GREENHOUSE), rel=1e-7)
    assert got[1] == pytest.approx(geodesic_area_m2(box(112, 39, 112.01, 39.01)), rel=1e-6)
    assert list(got[2:]) == [0.0, 0.0]


def test_works_by_month():
    frames = {
        "wells": pd.DataFrame({"completed_date": ["2024-01-05", "2024-01-20", "2024-04-01"]}),
        "greenhouses": frame(
            [Point(0, 0)] * 3, built_date=["2024-02-29T10:00:00+08:00", None, "not a date"]
        ),
    }
    fields = {"wells": "completed_date", "greenhouses": "built_date", "pipes": "completed_date"}
    table = works_by_month(frames, fields)
    assert table.index.tolist() == ["2024-01", "2024-02", "2024-03", "2024-04"]
    assert table.index.name == "month"
    assert table["wells"].tolist() == [2, 0, 0, 1]
    assert table["greenhouses"].tolist() == [0, 1, 0, 0]
    assert table["pipes"].tolist() == [0, 0, 0, 0]
    assert list(table.columns) == ["wells", "greenhouses", "pipes"]


def test_works_by_month_empty_and_missing_field():
    assert works_by_month({}, {"wells": "completed_date"}).empty
    with pytest.raises(InputError) as info:
        works_by_month({"wells": pd.DataFrame({"date": ["2024-01-01"]})}, {"wells": "built"})
    assert info.value.problems[0].code == "gaps_missing_column"
