"""Which village a work belongs to, when no village boundaries are loaded.

The approximate area of a village is its Voronoi cell: the part of the township or county
that is nearer to that village's point than to any other village, drawn in the UTM zone
of the data and clipped to the boundary. Results say ``method="approximate"`` so pages
can tell an approximation from a survey.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from geo.gaps import as_wgs84, column_or_none
from geo.metric import WGS84, metric_crs_for

_POINT = 0
_POLYGONAL = (3, 6)  # shapely type ids of Polygon and MultiPolygon
_MARGIN_M = np.array([-1000.0, -1000.0, 1000.0, 1000.0])
# Cell edges are straight in metres; vertices every 500 m keep their shape in lon/lat.
_EDGE_STEP_M = 500.0


def _points_of(geoms: NDArray[np.object_]) -> NDArray[np.object_]:
    """Points as they are; any other geometry by a point on its surface."""
    is_point = shapely.get_type_id(geoms) == _POINT
    return np.where(is_point, geoms, shapely.point_on_surface(geoms))


def _polygonal(geoms: NDArray[np.object_]) -> NDArray[np.object_]:
    """Only the polygonal parts of each geometry (an empty polygon when there are none)."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    keep = np.isin(shapely.get_type_id(parts), _POLYGONAL)
    # A collection may hold MultiPolygons: split those too.
    polys = np.asarray(shapely.get_parts(parts[keep]), dtype=object)
    owner = np.repeat(owner[keep], shapely.get_num_geometries(parts[keep]))
    out = np.full(len(geoms), shapely.Polygon(), dtype=object)
    if len(polys) == 0:
        return out
    present, group = np.unique(owner, return_inverse=True)
    count = np.bincount(group)
    multi = np.asarray(shapely.multipolygons(polys, indices=group), dtype=object)
    out[present] = np.where(count == 1, polys[np.cumsum(count) - count], multi)
    return out


def _cells(points: NDArray[np.object_], extent: shapely.Geometry) -> NDArray[np.object_]:
    """The Voronoi cell of each point, clipped to ``extent`` (all in one metric CRS).

    Points at the same place share one cell.
    """
    xy = shapely.get_coordinates(points)
    unique, inverse = np.unique(xy, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    if len(unique) <= 1:
        return np.full(len(points), extent, dtype=object)
    sites = np.asarray(shapely.points(unique), dtype=object)
    diagram = shapely.voronoi_polygons(shapely.multipoints(sites), extend_to=extent)
    cells = np.asarray(shapely.get_parts(diagram), dtype=object)
    # Match cells to sites by containment: robust whatever order GEOS returns them in.
    site_i, cell_i = shapely.STRtree(cells).query(sites, predicate="within")
    site_cell = np.empty(len(unique), dtype=object)
    site_cell[site_i] = cells[cell_i]
    clipped = _polygonal(np.asarray(shapely.intersection(site_cell, extent), dtype=object))
    return clipped[inverse]


def village_areas(villages: gpd.GeoDataFrame, boundary: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Approximate village areas: Voronoi cells of the villages, clipped to ``boundary``.

    The cells are drawn in the UTM zone of the boundary, so "nearest" means nearest in
    metres, then brought back to lon/lat and clipped there by the boundary itself, so
    they tile it exactly: no gap, no overlap (villages at the very same place share one
    cell). Villages without geometry get no cell; villages given as polygons stand at a
    point on their surface.

    Parameters
    ----------
    villages : GeoDataFrame
        Village points with ``id`` (and ``name``), EPSG:4326.
    boundary : GeoDataFrame
        The polygon(s) to divide, e.g. a township or the county, EPSG:4326; all its
        polygons are merged.

    Returns
    -------
    GeoDataFrame
        One row per village with a non-empty cell: ``village_id``, ``name``,
        ``method`` ("approximate") and the cell polygon; EPSG:4326.

    Examples
    --------
    >>> from shapely import Point, box
    >>> v = gpd.GeoDataFrame({"id": ["V1", "V2"], "name": ["A", "B"]},
    ...     geometry=[Point(112.01, 39.01), Point(112.03, 39.01)], crs=4326)
    >>> county = gpd.GeoDataFrame(geometry=[box(112, 39, 112.04, 39.02)], crs=4326)
    >>> village_areas(v, county)["village_id"].tolist()
    ['V1', 'V2']
    >>> len(village_areas(v.iloc[:0], county))
    0
    """
    villages = as_wgs84(villages, "villages", ["id"])
    boundary = as_wgs84(boundary, "boundary")
    geoms = np.asarray(villages.geometry.to_numpy(), dtype=object)
    placed = np.flatnonzero(~shapely.is_missing(geoms) & ~shapely.is_empty(geoms))
    shapes = np.asarray(boundary.geometry.to_numpy(), dtype=object)
    region = shapely.union_all(_polygonal(shapes)) if len(shapes) else shapely.Polygon()
    if region.is_empty:
        placed = placed[:0]
    crs = metric_crs_for(region.bounds if not region.is_empty else boundary)
    sites = gpd.GeoSeries(_points_of(geoms[placed]), crs=WGS84).to_crs(crs)
    extent = np.asarray(gpd.GeoSeries([region], crs=WGS84).to_crs(crs).total_bounds)
    if np.isfinite(extent).all():
        # A generous frame: cells must still cover the boundary once back in lon/lat.
        cells = _cells(
            np.asarray(sites.to_numpy(), dtype=object), shapely.box(*(extent + _MARGIN_M))
        )
    else:
        cells = np.zeros(0, dtype=object)
    dense = shapely.segmentize(cells, _EDGE_STEP_M)
    back = np.asarray(gpd.GeoSeries(dense, crs=crs).to_crs(WGS84).to_numpy(), dtype=object)
    out = gpd.GeoDataFrame(
        {
            "village_id": villages["id"].to_numpy(dtype=object)[placed],
            "name": column_or_none(villages, "name")[placed],
            "method": "approximate",
        },
        geometry=_polygonal(np.asarray(shapely.intersection(back, region), dtype=object)),
        crs=WGS84,
    )
    return out[~out.geometry.is_empty.to_numpy()].reset_index(drop=True)


def assign_to_areas(features: gpd.GeoDataFrame, areas: gpd.GeoDataFrame) -> pd.Series:
    """The ``village_id`` of the area each feature lies in, None when in none.

    Points go by containment (a point on a shared edge goes to the first area in
    ``areas`` order); lines and polygons by a point on their surface, so a pipe crossing
    two villages belongs to exactly one. Vectorised with an STRtree.

    Parameters
    ----------
    features : GeoDataFrame
        Any layer, EPSG:4326.
    areas : GeoDataFrame
        Polygons with ``village_id``: :func:`village_areas` or surveyed village
        boundaries, EPSG:4326.

    Returns
    -------
    pandas.Series
        ``village_id`` per feature (object dtype), indexed like ``features``.

    Examples
    --------
    >>> from shapely import Point, box
    >>> areas = gpd.GeoDataFrame({"village_id": ["V1"]},
    ...     geometry=[box(112, 39, 112.1, 39.1)], crs=4326)
    >>> works = gpd.GeoDataFrame(geometry=[Point(112.05, 39.05), Point(113, 39)], crs=4326)
    >>> assign_to_areas(works, areas).tolist()
    ['V1', None]
    >>> assign_to_areas(works.iloc[:0], areas).tolist()
    []
    """
    features = as_wgs84(features, "features")
    areas = as_wgs84(areas, "areas", ["village_id"])
    where = _points_of(np.asarray(features.geometry.to_numpy(), dtype=object))
    shapes = np.asarray(areas.geometry.to_numpy(), dtype=object)
    feature_i, area_i = shapely.STRtree(shapes).query(where, predicate="intersects")
    order = np.lexsort((area_i, feature_i))
    feature_i, area_i = feature_i[order], area_i[order]
    first = np.r_[True, feature_i[1:] != feature_i[:-1]] if len(feature_i) else feature_i > 0
    ids = np.full(len(features), None, dtype=object)
    ids[feature_i[first]] = areas["village_id"].to_numpy(dtype=object)[area_i[first]]
    return pd.Series(ids, index=features.index, name="village_id", dtype=object)
