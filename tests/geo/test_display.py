"""geo.display: the GCJ-02 display shift equals geo.crs.wgs84_to_gcj02 at every vertex."""

import numpy as np
import pytest
import shapely

from geo.crs import wgs84_to_gcj02
from geo.display import DISPLAY_DECIMALS, display_geojson, display_geometries, display_mapping

OUTER = [(112.70, 39.40), (112.72, 39.40), (112.72, 39.42), (112.70, 39.42), (112.70, 39.40)]
HOLE = [(112.705, 39.405), (112.707, 39.405), (112.707, 39.407), (112.705, 39.407)]
SHAPES = {
    "point": shapely.Point(112.8, 39.5),
    "line": shapely.LineString([(112.8, 39.5), (112.81, 39.52), (112.83, 39.51)]),
    "polygon_with_hole": shapely.Polygon(OUTER, [HOLE]),
    "multipoint": shapely.MultiPoint([(112.8, 39.5), (112.9, 39.6)]),
    "multilinestring": shapely.MultiLineString(
        [[(112.8, 39.5), (112.9, 39.6)], [(113, 39), (113.1, 39.1)]]
    ),
    "multipolygon": shapely.MultiPolygon(
        [shapely.Polygon(OUTER, [HOLE]), shapely.box(113, 39, 113.1, 39.1)]
    ),
    "collection": shapely.GeometryCollection(
        [shapely.Point(112.8, 39.5), shapely.box(113, 39, 113.1, 39.1)]
    ),
}


def _expected(shape: shapely.Geometry) -> np.ndarray:
    xy = shapely.get_coordinates(shape)
    lon, lat = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
    return np.column_stack([lon, lat])


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_shift_equals_wgs84_to_gcj02_per_vertex(name):
    shape = SHAPES[name]
    (moved,) = display_geometries([shape], gcj02=True, decimals=None)
    assert moved.geom_type == shape.geom_type
    assert shapely.get_num_geometries(moved) == shapely.get_num_geometries(shape)
    if shape.geom_type == "Polygon":
        assert len(moved.interiors) == 1
    got = shapely.get_coordinates(moved)
    np.testing.assert_allclose(got, _expected(shape), rtol=0, atol=1e-12)
    # The shift is real (hundreds of metres in Shanxi), not a rounding of the input.
    assert np.abs(got - shapely.get_coordinates(shape)).max() > 1e-3


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_off_is_identity_up_to_display_rounding(name):
    shape = SHAPES[name]
    (same,) = display_geometries([shape], gcj02=False, decimals=None)
    assert shapely.equals_exact(same, shape, tolerance=0)
    (rounded,) = display_geometries([shape], gcj02=False)
    np.testing.assert_array_equal(
        shapely.get_coordinates(rounded),
        np.round(shapely.get_coordinates(shape), DISPLAY_DECIMALS),
    )


def test_rounded_shift_is_the_rounded_exact_shift():
    shape = SHAPES["line"]
    (moved,) = display_geometries([shape], gcj02=True)
    np.testing.assert_array_equal(
        shapely.get_coordinates(moved), np.round(_expected(shape), DISPLAY_DECIMALS)
    )


def test_missing_and_empty_geometries_keep_their_place():
    shown = display_geometries([None, shapely.Point(), SHAPES["point"]], gcj02=True)
    assert shown[0] is None and shown[1].is_empty and not shown[2].is_empty
    assert display_geometries([], gcj02=True).tolist() == []
    assert display_geojson([None, SHAPES["point"]], gcj02=False)[0] is None


def test_geojson_and_mapping_forms_agree_with_the_array_form():
    shape = SHAPES["polygon_with_hole"]
    (moved,) = display_geometries([shape], gcj02=True)
    mapped = display_mapping(shapely.geometry.mapping(shape), gcj02=True)
    (as_json,) = display_geojson([shape], gcj02=True)
    assert mapped == as_json
    assert shapely.equals_exact(shapely.geometry.shape(mapped), moved, tolerance=0)
    assert display_mapping(None, gcj02=True) is None


def test_outside_china_nothing_moves():
    paris = shapely.Point(2.35, 48.85)
    (shown,) = display_geometries([paris], gcj02=True, decimals=None)
    assert shapely.equals_exact(shown, paris, tolerance=0)
