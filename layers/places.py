"""The places of a county: its outline, townships and village areas, and what lies where.

The county and township outlines come from the ``boundaries`` layer (``level``); a
village's area is its surveyed polygon (``level=village``, matched by containing the
village point) when one is loaded, else its approximate area (Voronoi cell clipped to the
township, see :func:`geo.areas.village_areas`). Which method was used is kept with the
place, so pages can say so.

Pure functions over GeoDataFrames: no store, no request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from geo.areas import assign_to_areas, village_areas
from geo.metric import WGS84
from layers.errors import BadRequest

_POINT = 0


class PlaceFilter(Protocol):
    """What :meth:`Places.area_of` reads from a page's filters: place ids ("" for none)."""

    @property
    def township(self) -> str: ...

    @property
    def village(self) -> str: ...


@dataclass(frozen=True)
class Place:
    """The county, a township or a village, with the area its works are counted in.

    ``method`` is ``boundary`` (a loaded boundary polygon) or ``approximate`` (a Voronoi
    cell of the village points); ``geometry`` is None when nothing is known.
    """

    level: str
    id: str
    name: str
    geometry: BaseGeometry | None
    method: str = "boundary"
    parent_id: str | None = None


@dataclass
class Places:
    """The places of a county: outline, townships and village areas."""

    county: Place | None
    townships: dict[str, Place] = field(default_factory=dict)
    villages: dict[str, Place] = field(default_factory=dict)

    def township(self, township_id: str) -> Place | None:
        """The township with this boundary id, or None."""
        return self.townships.get(township_id)

    def village(self, village_id: str) -> Place | None:
        """The area of the village with this id, or None."""
        return self.villages.get(village_id)

    def villages_of(self, township_id: str) -> list[Place]:
        """The villages whose point lies in the township, by name."""
        found = [v for v in self.villages.values() if v.parent_id == township_id]
        return sorted(found, key=lambda v: v.name)

    def area_of(self, filters: PlaceFilter) -> BaseGeometry | None:
        """The area the place filters leave (the village's if both are set)."""
        for place in (self.village(filters.village), self.township(filters.township)):
            if place is not None and place.geometry is not None:
                return place.geometry
        return None

    def check(self, filters: PlaceFilter) -> None:
        """Raise :class:`BadRequest` for a township or village filter naming nothing."""
        if filters.township and filters.township not in self.townships:
            raise BadRequest(value=f"township={filters.township}")
        if filters.village and filters.village not in self.villages:
            raise BadRequest(value=f"village={filters.village}")


def _level(boundaries: gpd.GeoDataFrame, level: str) -> gpd.GeoDataFrame:
    if len(boundaries) == 0 or "level" not in boundaries.columns:
        return boundaries.iloc[:0]
    picked = boundaries[boundaries["level"].astype(str) == level]
    return picked[~picked.geometry.is_empty & picked.geometry.notna()]


def _containing(points: gpd.GeoDataFrame, polygons: gpd.GeoDataFrame) -> pd.Series:
    """Id of the polygon (``id`` column) each feature lies in, None when in none."""
    if len(polygons) == 0 or len(points) == 0:
        return pd.Series([None] * len(points), index=points.index, dtype=object)
    areas = gpd.GeoDataFrame(
        {"village_id": polygons["id"].to_numpy(dtype=object)},
        geometry=polygons.geometry.to_numpy(),
        crs=WGS84,
    )
    return assign_to_areas(points, areas)


def _approximate_cells(
    villages: gpd.GeoDataFrame, townships: gpd.GeoDataFrame, county: gpd.GeoDataFrame
) -> gpd.GeoDataFrame:
    """Voronoi cells of ``villages`` per township (clipped to it); the rest to the county."""
    parts = []
    township_of = _containing(villages, townships)
    for tid, group in villages.groupby(township_of.fillna(""), sort=False):
        region = townships[townships["id"] == tid] if tid else county
        if len(region) == 0:
            hull = shapely.convex_hull(shapely.union_all(group.geometry.to_numpy()))
            region = gpd.GeoDataFrame(geometry=[hull.buffer(0.02)], crs=WGS84)
        parts.append(village_areas(group, region))
    if not parts:
        return village_areas(villages.iloc[:0], county)
    return pd.concat(parts, ignore_index=True)


def _county_place(county_rows: gpd.GeoDataFrame, townships: gpd.GeoDataFrame) -> Place | None:
    if len(county_rows):
        row = county_rows.iloc[0]
        return Place("county", str(row["id"]), str(row["name"] or ""), row.geometry)
    if len(townships):
        return Place("county", "", "", shapely.union_all(townships.geometry.to_numpy()))
    return None


def _village_cells(
    rest: gpd.GeoDataFrame,
    townships: gpd.GeoDataFrame,
    county_frame: gpd.GeoDataFrame,
    surveyed: gpd.GeoDataFrame,
) -> dict[str, Any]:
    """The approximate area of each village without a surveyed polygon, by village id."""
    if len(rest) == 0:
        return {}
    cells = _approximate_cells(rest, townships, county_frame)
    if len(surveyed):
        surveyed_union = shapely.union_all(surveyed.geometry.to_numpy())
        cells = cells.set_geometry(cells.geometry.difference(surveyed_union))
    return dict(zip(cells["village_id"], cells.geometry, strict=True))


def find_places(boundaries: gpd.GeoDataFrame, villages: gpd.GeoDataFrame) -> Places:
    """The county outline, townships and village areas from two layers.

    Parameters
    ----------
    boundaries : GeoDataFrame
        The ``boundaries`` layer (``id``, ``level``, ``name``), EPSG:4326.
    villages : GeoDataFrame
        The ``villages`` layer (``id``, ``name``), EPSG:4326.
    """
    county_rows = _level(boundaries, "county")
    townships = _level(boundaries, "township")
    surveyed = _level(boundaries, "village")
    places = Places(county=_county_place(county_rows, townships))
    for row in townships.sort_values(["code", "name"], na_position="last").itertuples():
        places.townships[str(row.id)] = Place(
            "township", str(row.id), str(row.name or ""), row.geometry
        )
    located = villages[villages.geometry.notna() & ~villages.geometry.is_empty]
    township_of = _containing(located, townships)
    polygon_of = _containing(located, surveyed)
    by_id = surveyed.set_index("id").geometry if len(surveyed) else {}
    rest = located[polygon_of.isna().to_numpy()]
    county_frame = county_rows if len(county_rows) else townships
    cell_of = _village_cells(rest, townships, county_frame, surveyed)
    for row, tid, pid in zip(located.itertuples(), township_of, polygon_of, strict=True):
        vid = str(row.id)
        if isinstance(pid, str):
            geom, method = by_id[pid], "boundary"
        else:
            geom, method = cell_of.get(vid), "approximate"
        parent = tid if isinstance(tid, str) else None
        places.villages[vid] = Place("village", vid, str(row.name or ""), geom, method, parent)
    return places


def anchor_points(geoms: gpd.GeoSeries) -> np.ndarray:
    """Each geometry's point: points as they are, others a point on their surface."""
    arr = np.asarray(geoms.to_numpy(), dtype=object)
    if len(arr) == 0:
        return arr
    is_point = shapely.get_type_id(arr) == _POINT
    return np.where(is_point, arr, shapely.point_on_surface(arr))


def _first_containing(places: Sequence[Place], point: BaseGeometry) -> Place | None:
    return next(
        (p for p in places if p.geometry is not None and p.geometry.intersects(point)), None
    )


def where_is(places: Places, feature: Mapping[str, Any]) -> tuple[Place | None, Place | None]:
    """The township and village (area) a feature (GeoJSON) lies in, by its point."""
    geometry = feature.get("geometry")
    if not geometry:
        return None, None
    geom = shapely.geometry.shape(geometry)
    point = geom if geom.geom_type == "Point" else geom.point_on_surface()
    village = _first_containing(list(places.villages.values()), point)
    if village is not None and village.parent_id in places.townships:
        return places.townships[village.parent_id], village
    return _first_containing(list(places.townships.values()), point), village


def works_per_village(
    works: Mapping[str, gpd.GeoDataFrame], villages: Sequence[Place]
) -> dict[str, int]:
    """How many works (all work layers but villages) lie in each village's area."""
    areas = gpd.GeoDataFrame(
        {"village_id": [v.id for v in villages]},
        geometry=[v.geometry for v in villages],
        crs=WGS84,
    )
    areas = areas[areas.geometry.notna()]
    counts = dict.fromkeys((v.id for v in villages), 0)
    if len(areas) == 0:
        return counts
    for name, frame in works.items():
        if name == "villages" or len(frame) == 0:
            continue
        for vid, n in assign_to_areas(frame, areas).value_counts().items():
            counts[str(vid)] = counts.get(str(vid), 0) + int(n)
    return counts


def village_count_per_township(places: Places) -> dict[str, int]:
    """How many villages each township holds."""
    counts = dict.fromkeys(places.townships, 0)
    for village in places.villages.values():
        if village.parent_id in counts:
            counts[village.parent_id] += 1
    return counts
