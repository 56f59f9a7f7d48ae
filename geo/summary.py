"""Figures for the village and township pages: counts, trees, areas, lengths, visits.

Pass the frames of one village (see :func:`geo.areas.assign_to_areas`) or of a whole
township; missing layers and empty frames give zeros. Every figure is a plain Python
number, string or date, ready for a template or JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray

from geo.gaps import as_wgs84, geodesic_lengths_m, parse_iso_dates
from geo.metric import WGS84
from geo.problems import InputError, Problem

_POINT = 0
_POLYGONAL = (3, 6)  # shapely type ids of Polygon and MultiPolygon
# Wells that exist and draw water: neither only planned nor removed.
_NOT_IN_SERVICE = ("planned", "removed")

FrameMap = Mapping[str, gpd.GeoDataFrame | pd.DataFrame | None]


def polygon_areas_m2(geoms: gpd.GeoSeries) -> NDArray[np.float64]:
    """Area in square metres of each lon/lat polygon on the WGS84 ellipsoid (0 if not a polygon).

    Vectorised through a Lambert azimuthal equal-area projection centred on the data:
    areas are those of the ellipsoid, and for fields and greenhouses they agree with
    :func:`geo.metric.geodesic_area_m2` to better than a millionth.

    Examples
    --------
    >>> from shapely import box
    >>> float(polygon_areas_m2(gpd.GeoSeries([box(112, 39, 112.001, 39.001)], crs=4326))[0])
    ... # doctest: +ELLIPSIS
    9616.8...
    >>> polygon_areas_m2(gpd.GeoSeries([], crs=4326))
    array([], dtype=float64)
    """
    geoms = geoms.to_crs(WGS84)
    polygons = np.isin(shapely.get_type_id(geoms.to_numpy()), _POLYGONAL)
    areas = np.zeros(len(geoms))
    if not polygons.any():
        return areas
    minx, miny, maxx, maxy = geoms[polygons].total_bounds
    equal_area = pyproj.CRS.from_proj4(
        f"+proj=laea +lat_0={(miny + maxy) / 2} +lon_0={(minx + maxx) / 2} "
        "+ellps=WGS84 +units=m +no_defs"
    )
    areas[polygons] = geoms[polygons].to_crs(equal_area).area.to_numpy()
    return areas


def _numbers(frame: pd.DataFrame, column: str) -> pd.Series:
    """A column as floats (unreadable and missing values are 0); zeros if absent."""
    if column not in frame.columns:
        return pd.Series(0.0, index=frame.index)
    return pd.to_numeric(frame[column], errors="coerce").fillna(0.0).astype(float)


def _frames(frames: FrameMap) -> dict[str, pd.DataFrame]:
    """The present frames, geographic ones in EPSG:4326."""
    out: dict[str, pd.DataFrame] = {}
    for layer, frame in frames.items():
        if frame is None:
            continue
        out[layer] = as_wgs84(frame, layer) if isinstance(frame, gpd.GeoDataFrame) else frame
    return out


def _empty() -> pd.DataFrame:
    return pd.DataFrame()


def _trees(plantings: pd.DataFrame) -> dict[str, int]:
    """Trees planted per species (sum of ``count``), species missing as "unknown"."""
    if len(plantings) == 0:
        return {}
    species = plantings.get("species", pd.Series(None, plantings.index, dtype=object))
    table = pd.DataFrame(
        {
            "species": species.astype(object).where(species.notna(), "unknown").astype(str),
            "count": _numbers(plantings, "count"),
        }
    )
    sums = table.groupby("species", sort=True)["count"].sum()
    return {str(k): int(v) for k, v in sums.items()}


def _greenhouse_area_m2(greenhouses: pd.DataFrame) -> float:
    """Geodesic area of polygon greenhouses plus the ``area_m2`` of point ones."""
    if len(greenhouses) == 0 or not isinstance(greenhouses, gpd.GeoDataFrame):
        return 0.0
    measured = polygon_areas_m2(greenhouses.geometry)
    is_point = shapely.get_type_id(greenhouses.geometry.to_numpy()) == _POINT
    declared = _numbers(greenhouses, "area_m2").to_numpy()
    return float(measured.sum() + declared[is_point].sum())


def _wells(wells: pd.DataFrame) -> tuple[int, float]:
    """Wells in service (not planned nor removed) and their total ``yield_m3h``."""
    if len(wells) == 0:
        return 0, 0.0
    status = wells.get("status", pd.Series(None, wells.index, dtype=object))
    serving = ~status.isin(_NOT_IN_SERVICE).to_numpy()
    return int(serving.sum()), float(_numbers(wells, "yield_m3h").to_numpy()[serving].sum())


def _pipe_length_m(pipes: pd.DataFrame) -> float:
    """Total geodesic length of the pipes."""
    if len(pipes) == 0 or not isinstance(pipes, gpd.GeoDataFrame):
        return 0.0
    return float(geodesic_lengths_m(pipes.geometry.to_numpy()).sum())


def _visits(visits: pd.DataFrame) -> dict[str, Any]:
    """Number of visits, problems raised and solved, date of the last visit."""
    if len(visits) == 0:
        return {"visits": 0, "problems_raised": 0, "problems_solved": 0, "last_visit": None}
    dates = parse_iso_dates(visits["date"]) if "date" in visits.columns else pd.Series([pd.NaT])
    last = dates.max()
    return {
        "visits": len(visits),
        "problems_raised": int(_numbers(visits, "problems_raised").sum()),
        "problems_solved": int(_numbers(visits, "problems_solved").sum()),
        "last_visit": None if pd.isna(last) else last.date(),
    }


def works_summary(frames: FrameMap) -> dict[str, Any]:
    """The figures of a village or township page, from its layers.

    Parameters
    ----------
    frames : mapping of layer name to (Geo)DataFrame or None
        Layers by their names ("streetlights", "wells", "pipes", "greenhouses",
        "plantings", "visits", ...); missing layers count as empty.

    Returns
    -------
    dict
        ``counts`` (rows per layer), ``by_status`` (per layer with a ``status`` column:
        rows per status), ``trees_by_species`` and ``trees`` (sum of ``count``),
        ``greenhouses`` and ``greenhouse_area_m2`` (geodesic area of polygons, the
        ``area_m2`` property of points), ``wells`` and ``well_yield_m3h`` (wells neither
        planned nor removed), ``pipe_length_m`` (geodesic), ``visits``,
        ``problems_raised``, ``problems_solved``, ``last_visit`` (date or None).

    Examples
    --------
    >>> from shapely import Point
    >>> wells = gpd.GeoDataFrame({"status": ["working", "removed"], "yield_m3h": [40, 30]},
    ...     geometry=[Point(112, 39), Point(112.1, 39)], crs=4326)
    >>> s = works_summary({"wells": wells})
    >>> s["counts"], s["wells"], s["well_yield_m3h"]
    ({'wells': 2}, 1, 40.0)
    >>> works_summary({})["last_visit"] is None
    True
    """
    present = _frames(frames)
    get = present.get
    by_status = {
        layer: {str(k): int(v) for k, v in f["status"].value_counts(sort=False).items()}
        for layer, f in present.items()
        if "status" in f.columns
    }
    trees = _trees(get("plantings", _empty()))
    wells, well_yield = _wells(get("wells", _empty()))
    return {
        "counts": {layer: len(f) for layer, f in present.items()},
        "by_status": by_status,
        "trees_by_species": trees,
        "trees": sum(trees.values()),
        "greenhouses": len(get("greenhouses", _empty())),
        "greenhouse_area_m2": _greenhouse_area_m2(get("greenhouses", _empty())),
        "wells": wells,
        "well_yield_m3h": well_yield,
        "pipe_length_m": _pipe_length_m(get("pipes", _empty())),
        **_visits(get("visits", _empty())),
    }


def works_by_month(frames: FrameMap, date_fields: Mapping[str, str]) -> pd.DataFrame:
    """Works per month and layer, dated by ``date_fields`` (layer -> date column).

    Months run without holes from the first to the last dated work; undated works and
    unreadable dates are not counted; a missing layer gives a column of zeros.

    Returns
    -------
    DataFrame
        Index ``month`` ("YYYY-MM"), one int column per layer of ``date_fields``.

    Raises
    ------
    InputError
        A present layer lacks its date column (``gaps_missing_column``).

    Examples
    --------
    >>> wells = pd.DataFrame({"completed_date": ["2024-01-05", "2024-03-09"]})
    >>> works_by_month({"wells": wells}, {"wells": "completed_date"})["wells"].tolist()
    [1, 0, 1]
    >>> works_by_month({}, {"wells": "completed_date"}).shape
    (0, 1)
    """
    present = _frames(frames)
    columns: dict[str, pd.Series] = {}
    for layer, field in date_fields.items():  # a loop over layers, not features
        frame = present.get(layer, _empty())
        if len(frame) and field not in frame.columns:
            problem = Problem("gaps_missing_column", field=field, params={"layer": layer})
            raise InputError([problem])
        if len(frame) == 0:
            frame = pd.DataFrame({field: pd.Series([], dtype=object)})
        dates = parse_iso_dates(frame[field])
        columns[layer] = dates.dropna().dt.to_period("M").value_counts()
    months = pd.PeriodIndex(pd.concat(columns.values()).index if columns else [], freq="M")
    if len(months) == 0:
        empty = pd.DataFrame({layer: pd.Series([], dtype="int64") for layer in date_fields})
        return empty.rename_axis("month")
    span = pd.period_range(pd.Period(months.min(), "M"), pd.Period(months.max(), "M"), freq="M")
    table = pd.DataFrame({layer: c.reindex(span, fill_value=0) for layer, c in columns.items()})
    table.index = pd.Index(span.strftime("%Y-%m"), name="month")
    return table.astype("int64")
