"""Tests of geo.areas: Voronoi village areas and assigning works to them."""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely import LineString, Point, box

from geo.areas import assign_to_areas, village_areas
from geo.metric import distance_m, geodesic_area_m2
from geo.problems import InputError

SQUARE = box(112.0, 39.0, 112.1, 39.1)  # about 8.6 km x 11.1 km
BOUNDARY = gpd.GeoDataFrame({"level": ["township"]}, geometry=[SQUARE], crs=4326)
SITES = [(112.02, 39.02), (112.08, 39.02), (112.05, 39.08)]
VILLAGES = gpd.GeoDataFrame(
    {"id": ["V1", "V2", "V3"], "name": ["East", "West", "North"]},
    geometry=[Point(p) for p in SITES],
    crs=4326,
)


def area_m2(geom) -> float:
    """Geodesic area with edges kept straight in lon/lat, as GeoJSON draws them.

    Densified first: an undivided edge along a parallel would be measured along the
    geodesic, which bows away from the parallel.
    """
    return geodesic_area_m2(shapely.segmentize(geom, 0.0005))


def nearest_village(x: float, y: float, sites=SITES) -> tuple[int, float]:
    """Index of the geodesically nearest site and its margin over the second nearest (m)."""
    d = sorted((distance_m(x, y, *s), i) for i, s in enumerate(sites))
    return d[0][1], d[1][0] - d[0][0]


@pytest.fixture(scope="module")
def areas():
    return village_areas(VILLAGES, BOUNDARY)


def test_one_cell_per_village_with_columns(areas):
    assert areas["village_id"].tolist() == ["V1", "V2", "V3"]
    assert areas["name"].tolist() == ["East", "West", "North"]
    assert (areas["method"] == "approximate").all()
    assert areas.crs.equals("EPSG:4326")
    assert (areas.geometry.geom_type == "Polygon").all()


def test_every_cell_inside_the_boundary(areas):
    for cell in areas.geometry:
        assert cell.difference(SQUARE).area < 1e-12
        assert SQUARE.buffer(1e-9).contains(cell)


def test_cells_cover_the_boundary_without_overlap(areas):
    total = sum(area_m2(c) for c in areas.geometry)
    assert total == pytest.approx(area_m2(SQUARE), rel=1e-6)
    assert shapely.union_all(areas.geometry.to_numpy()).symmetric_difference(SQUARE).area < 1e-12
    for a, b in itertools.combinations(areas.geometry, 2):
        assert a.intersection(b).area < 1e-12


def test_each_cell_holds_its_own_village(areas):
    for cell, site in zip(areas.geometry, SITES, strict=True):
        assert cell.contains(Point(site))


def test_points_go_to_the_nearest_village(areas):
    rng = np.random.default_rng(7)
    xs, ys = rng.uniform(112.0, 112.1, 400), rng.uniform(39.0, 39.1, 400)
    expected = [nearest_village(x, y) for x, y in zip(xs, ys, strict=True)]
    clear = [m > 20.0 for _, m in expected]  # UTM and ellipsoid agree far from an edge
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(xs, ys), crs=4326)
    got = assign_to_areas(points, areas)
    ids = np.array(["V1", "V2", "V3"])
    want = ids[[i for i, _ in expected]]
    assert sum(clear) > 350
    assert (got.to_numpy()[clear] == want[clear]).all()


def test_two_villages_split_the_square_near_the_middle():
    two = VILLAGES.iloc[:2].copy()
    two.geometry = [Point(112.02, 39.05), Point(112.08, 39.05)]
    halves = village_areas(two, BOUNDARY)
    share = [area_m2(c) / area_m2(SQUARE) for c in halves.geometry]
    assert share == pytest.approx([0.5, 0.5], abs=0.002)


def test_single_village_gets_the_whole_boundary():
    one = village_areas(VILLAGES.iloc[:1], BOUNDARY)
    assert len(one) == 1
    assert one.geometry.iloc[0].symmetric_difference(SQUARE).area < 1e-12


def test_villages_at_one_place_share_a_cell_and_missing_ones_get_none():
    doubled = gpd.GeoDataFrame(
        {"id": ["A", "B", "C", "D"]},
        geometry=[Point(SITES[0]), Point(SITES[0]), Point(SITES[1]), None],
        crs=4326,
    )
    cells = village_areas(doubled, BOUNDARY)
    assert cells["village_id"].tolist() == ["A", "B", "C"]
    assert cells["name"].tolist() == [None, None, None]
    assert cells.geometry.iloc[0].equals(cells.geometry.iloc[1])
    total = sum(area_m2(c) for c in cells.geometry.iloc[1:])
    assert total == pytest.approx(area_m2(SQUARE), rel=1e-6)


def test_multipolygon_boundary_is_divided_as_a_whole():
    far = box(112.2, 39.0, 112.3, 39.1)
    two_parts = gpd.GeoDataFrame(geometry=[SQUARE, far], crs=4326)
    cells = village_areas(VILLAGES, two_parts)
    total = sum(area_m2(c) for c in cells.geometry)
    assert total == pytest.approx(area_m2(SQUARE) + area_m2(far), rel=1e-6)
    assert cells.geometry.iloc[1].intersects(far)  # V2 (east) is nearest to the far square


def test_empty_inputs():
    assert village_areas(VILLAGES.iloc[:0], BOUNDARY).empty
    assert village_areas(VILLAGES, BOUNDARY.iloc[:0]).empty
    assert list(village_areas(VILLAGES.iloc[:0], BOUNDARY).columns) == [
        "village_id",
        "name",
        "method",
        "geometry",
    ]


def test_missing_crs_is_refused():
    with pytest.raises(InputError):
        village_areas(VILLAGES.set_crs(None, allow_override=True), BOUNDARY)


def test_assign_lines_polygons_edges_and_outside(areas):
    features = gpd.GeoDataFrame(
        {"id": list("abcdef")},
        geometry=[
            Point(SITES[2]),
            LineString([(112.015, 39.02), (112.025, 39.02)]),  # around V1
            box(112.075, 39.015, 112.085, 39.025),  # around V2
            Point(113.0, 39.0),  # outside every area
            None,
            Point(112.0, 39.0),  # on the boundary corner: V1's cell
        ],
        index=[10, 11, 12, 13, 14, 15],
        crs=4326,
    )
    got = assign_to_areas(features, areas)
    assert got.index.tolist() == [10, 11, 12, 13, 14, 15]
    assert got.tolist() == ["V3", "V1", "V2", None, None, "V1"]
    assert got.name == "village_id"


def test_point_on_a_shared_edge_goes_to_the_first_area():
    left, right = box(0, 0, 1, 1), box(1, 0, 2, 1)
    areas = gpd.GeoDataFrame({"village_id": ["L", "R"]}, geometry=[left, right], crs=4326)
    edge = gpd.GeoDataFrame(geometry=[Point(1, 0.5)], crs=4326)
    assert assign_to_areas(edge, areas).tolist() == ["L"]
    assert assign_to_areas(edge, areas.iloc[::-1]).tolist() == ["R"]


def test_assign_empty_features_and_empty_areas(areas):
    assert assign_to_areas(VILLAGES.iloc[:0], areas).tolist() == []
    assert assign_to_areas(VILLAGES, areas.iloc[:0]).tolist() == [None, None, None]
