"""Coverage gaps: dark stretches of road, fields far from water, villages not visited.

Every function takes frames in WGS84 lon/lat (EPSG:4326), checks them first, works on
copies and returns frames in EPSG:4326 with the measured attributes as columns.
Lateral and nearest-neighbour distances are measured in the UTM zone of the data
(:func:`geo.metric.metric_crs_for`); lengths along lines on the WGS84 ellipsoid.
No function loops over the features of a layer in Python: the work is done by shapely's
vectorised functions, an STRtree and numpy.

Road lighting lives in :mod:`geo.road_gaps`, the input checks and shared measures in
:mod:`geo.measures`; both are re-exported here, so ``from geo.gaps import ...`` is the door.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from geo.measures import (
    _EPS_M,
    _LINE,
    _check_columns,
    _check_thresholds,
    _id_keys,
    _located,
    _metric_crs,
    _metric_geoms,
    _nearest,
    _statuses,
    _truthy,
    as_wgs84,
    column_or_none,
    geodesic_lengths_m,
    nearest_distance_m,
    parse_iso_dates,
)
from geo.metric import WGS84
from geo.road_gaps import road_lighting_gaps

__all__ = [
    "as_wgs84",
    "column_or_none",
    "geodesic_lengths_m",
    "irrigation_gaps",
    "nearest_distance_m",
    "parse_iso_dates",
    "rest_station_gaps",
    "road_lighting_gaps",
    "service_gaps",
    "target_gaps",
    "visit_coverage_by_township",
    "visit_gaps",
    "wells_without_pipe",
]


# ------------------------------------------------------------------- water


def irrigation_gaps(
    targets: gpd.GeoDataFrame,
    wells: gpd.GeoDataFrame,
    *,
    max_distance_m: float = 500.0,
    counted_status: Sequence[str] = ("working",),
    search_cap_m: float | None = None,
) -> gpd.GeoDataFrame:
    """Targets (fields, greenhouses, plantings) farther than ``max_distance_m`` from a well.

    Only wells whose status is in ``counted_status`` count. The nearest well is searched
    in the UTM zone of the data up to ``search_cap_m`` (default ten times
    ``max_distance_m``), so the search stays local. Targets without geometry cannot be
    placed and are left out.

    Parameters
    ----------
    targets : GeoDataFrame
        Any geometries, EPSG:4326.
    wells : GeoDataFrame
        Point wells with ``id`` and ``status``, EPSG:4326.
    max_distance_m : float
        Farthest a target may be from a counted well, in metres.
    counted_status : sequence of str
        Well statuses that count.
    search_cap_m : float, optional
        Search radius; beyond it ``nearest_well_m`` is NaN.

    Returns
    -------
    GeoDataFrame
        The target rows (original index) that are too far, with ``nearest_well_m``
        (NaN beyond the search cap) and ``nearest_well_id`` (None then); EPSG:4326.

    Examples
    --------
    >>> from shapely import Point
    >>> fields = gpd.GeoDataFrame({"id": ["F1", "F2"]},
    ...     geometry=[Point(112, 39.001), Point(112, 39.01)], crs=4326)
    >>> wells = gpd.GeoDataFrame({"id": ["W1"], "status": ["working"]},
    ...     geometry=[Point(112, 39)], crs=4326)
    >>> irrigation_gaps(fields, wells)[["id", "nearest_well_id"]].values.tolist()
    [['F2', 'W1']]
    >>> len(irrigation_gaps(fields.iloc[:0], wells))
    0
    """
    targets = _located(as_wgs84(targets, "targets"))
    wells = as_wgs84(wells, "wells", ["id", "status"])
    cap = 10.0 * max_distance_m if search_cap_m is None else search_cap_m
    _check_thresholds(max_distance_m=max_distance_m, search_cap_m=cap)
    counted = wells[wells["status"].isin(_statuses(counted_status))]
    crs = _metric_crs(targets, counted)
    found, position = _nearest(
        _metric_geoms(targets, crs), _metric_geoms(counted, crs), max(cap, max_distance_m)
    )
    ids = np.concatenate([counted["id"].to_numpy(dtype=object), np.array([None], dtype=object)])
    targets["nearest_well_m"] = found
    targets["nearest_well_id"] = pd.Series(ids[position], index=targets.index, dtype=object)
    return targets[~(found <= max_distance_m)]


def wells_without_pipe(
    wells: gpd.GeoDataFrame,
    pipes: gpd.GeoDataFrame,
    *,
    snap_m: float = 10.0,
    counted_status: Sequence[str] | None = None,
) -> gpd.GeoDataFrame:
    """Wells that no pipe starts from: none names them and none ends within ``snap_m``.

    A well is connected when a pipe's ``well_id`` equals the well's ``id`` (7, 7.0 and
    "7" match) or when an end of a pipe (of any part) lies within ``snap_m`` of it,
    measured in the UTM zone of the data.

    Parameters
    ----------
    wells : GeoDataFrame
        Point wells with ``id`` (and ``status``), EPSG:4326.
    pipes : GeoDataFrame
        LineString pipes with ``well_id``, EPSG:4326.
    snap_m : float
        How near a pipe end must be, in metres.
    counted_status : sequence of str, optional
        Check only wells with these statuses (for instance leave out "planned" and
        "removed"); None checks every well.

    Returns
    -------
    GeoDataFrame
        The unconnected well rows (original index), EPSG:4326.

    Examples
    --------
    >>> from shapely import LineString, Point
    >>> wells = gpd.GeoDataFrame({"id": ["W1", "W2"]},
    ...     geometry=[Point(112, 39), Point(112.1, 39)], crs=4326)
    >>> pipes = gpd.GeoDataFrame({"well_id": [None]},
    ...     geometry=[LineString([(112, 39.00005), (112, 39.01)])], crs=4326)
    >>> wells_without_pipe(wells, pipes)["id"].tolist()
    ['W2']
    >>> wells_without_pipe(wells, pipes.iloc[:0])["id"].tolist()
    ['W1', 'W2']
    """
    wells = as_wgs84(wells, "wells", ["id"] if counted_status is None else ["id", "status"])
    pipes = as_wgs84(pipes, "pipes", ["well_id"])
    _check_thresholds(snap_m=snap_m)
    if counted_status is not None:
        wells = wells[wells["status"].isin(_statuses(counted_status))]
    named = _id_keys(wells["id"]).isin(_id_keys(pipes["well_id"]).dropna())
    parts = shapely.get_parts(np.asarray(pipes.geometry.to_numpy(), dtype=object))
    parts = parts[(shapely.get_type_id(parts) == _LINE) & ~shapely.is_empty(parts)]
    ends = gpd.GeoDataFrame(
        geometry=np.concatenate([shapely.get_point(parts, 0), shapely.get_point(parts, -1)]),
        crs=WGS84,
    )
    crs = _metric_crs(wells, ends)
    found, _position = _nearest(_metric_geoms(wells, crs), _metric_geoms(ends, crs), snap_m)
    return wells[~named.to_numpy() & ~(found <= snap_m)]


# ------------------------------------------------------------------- visits


def _visit_totals(visits: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Per village key: last visit, number of visits, problems raised and solved."""
    when = parse_iso_dates(visits["date"])
    counted = visits[when.notna() & (when <= pd.Timestamp(as_of))]
    frame = pd.DataFrame(
        {
            "key": _id_keys(counted["village_id"]),
            "when": when[counted.index],
            "raised": pd.to_numeric(counted["problems_raised"], errors="coerce").fillna(0),
            "solved": pd.to_numeric(counted["problems_solved"], errors="coerce").fillna(0),
        }
    ).dropna(subset=["key"])
    return frame.groupby("key").agg(
        last=("when", "max"),
        visits=("when", "size"),
        raised=("raised", "sum"),
        solved=("solved", "sum"),
    )


def _objects(values: pd.Series, present: pd.Series) -> NDArray[np.object_]:
    """An object array holding ``values`` where ``present`` and None elsewhere."""
    out = np.full(len(values), None, dtype=object)
    mask = present.to_numpy()
    out[mask] = values.to_numpy()[mask].tolist()
    return out


def visit_gaps(
    villages: gpd.GeoDataFrame, visits: pd.DataFrame, *, as_of: date, max_days: int = 90
) -> gpd.GeoDataFrame:
    """Every village with its visits up to ``as_of`` and flags for overdue or open problems.

    Visits are matched by ``village_id`` = village ``id``; visits dated after ``as_of``,
    or with an unreadable date, are not counted.

    Parameters
    ----------
    villages : GeoDataFrame
        Villages with ``id`` (and ``name``, ``township``), EPSG:4326.
    visits : DataFrame or GeoDataFrame
        Visits with ``village_id``, ``date`` (ISO text), ``problems_raised`` and
        ``problems_solved``.
    as_of : datetime.date
        The day the report is for.
    max_days : int
        A village last visited more than this many days before ``as_of`` is overdue.

    Returns
    -------
    GeoDataFrame
        The villages (original index, EPSG:4326) with ``last_visit`` (date or None),
        ``days_since`` (int or None), ``visits``, ``problems_raised``, ``problems_solved``,
        ``not_visited_recently`` (never, or more than ``max_days`` ago) and ``unresolved``
        (raised > solved).

    Examples
    --------
    >>> from shapely import Point
    >>> v = gpd.GeoDataFrame({"id": ["V1"]}, geometry=[Point(112, 39)], crs=4326)
    >>> visits = pd.DataFrame({"village_id": ["V1"], "date": ["2024-05-01"],
    ...     "problems_raised": [2], "problems_solved": [1]})
    >>> row = visit_gaps(v, visits, as_of=date(2024, 6, 1)).iloc[0]
    >>> row["days_since"], bool(row["not_visited_recently"]), bool(row["unresolved"])
    (31, False, True)
    >>> visit_gaps(v, visits.iloc[:0], as_of=date(2024, 6, 1))["last_visit"].tolist()
    [None]
    """
    villages = as_wgs84(villages, "villages", ["id"])
    visits = _check_columns(
        visits, "visits", ["village_id", "date", "problems_raised", "problems_solved"]
    )
    _check_thresholds(max_days=max_days)
    as_of = date(as_of.year, as_of.month, as_of.day)
    totals = _visit_totals(visits, as_of).reindex(_id_keys(villages["id"]).to_numpy())
    totals.index = villages.index
    seen = totals["last"].notna()
    days = (pd.Timestamp(as_of) - totals["last"]).dt.days
    villages["last_visit"] = _objects(totals["last"].dt.date, seen)
    villages["days_since"] = _objects(days.fillna(0).astype("int64"), seen)
    villages["visits"] = totals["visits"].fillna(0).astype("int64")
    villages["problems_raised"] = totals["raised"].fillna(0).astype("int64")
    villages["problems_solved"] = totals["solved"].fillna(0).astype("int64")
    villages["not_visited_recently"] = ~seen | (days > max_days)
    villages["unresolved"] = villages["problems_raised"] > villages["problems_solved"]
    return villages


def visit_coverage_by_township(
    villages: gpd.GeoDataFrame, visits: pd.DataFrame, *, as_of: date, max_days: int = 90
) -> pd.DataFrame:
    """Per township: villages, villages visited within ``max_days`` of ``as_of``, percent.

    Villages without a township are counted under a township of None.

    Returns
    -------
    DataFrame
        Columns ``township``, ``villages``, ``visited``, ``coverage_pct`` (0-100),
        one row per township, sorted by township.

    Examples
    --------
    >>> from shapely import Point
    >>> v = gpd.GeoDataFrame({"id": ["V1", "V2"], "township": ["East", "East"]},
    ...     geometry=[Point(112, 39), Point(112.1, 39)], crs=4326)
    >>> visits = pd.DataFrame({"village_id": ["V1"], "date": ["2024-05-01"],
    ...     "problems_raised": [0], "problems_solved": [0]})
    >>> visit_coverage_by_township(v, visits, as_of=date(2024, 6, 1)).values.tolist()
    [['East', 2, 1, 50.0]]
    >>> len(visit_coverage_by_township(v.iloc[:0], visits, as_of=date(2024, 6, 1)))
    0
    """
    villages = as_wgs84(villages, "villages", ["id", "township"])
    flagged = visit_gaps(villages, visits, as_of=as_of, max_days=max_days)
    table = pd.DataFrame(
        {
            "township": flagged["township"].to_numpy(dtype=object),
            "visited": (~flagged["not_visited_recently"]).to_numpy(dtype=np.int64),
        }
    )
    out = table.groupby("township", dropna=False, sort=True).agg(
        villages=("visited", "size"), visited=("visited", "sum")
    )
    out = out.reset_index()
    out["coverage_pct"] = 100.0 * out["visited"] / out["villages"]
    return out[["township", "villages", "visited", "coverage_pct"]]


# ------------------------------------------------------------------- services


def service_gaps(
    facilities: gpd.GeoDataFrame,
    routes: gpd.GeoDataFrame,
    stops: gpd.GeoDataFrame | None = None,
    *,
    kinds: Sequence[str] = ("hospital", "service_centre", "market", "school"),
    max_distance_m: float = 500.0,
    free_only: bool = True,
    search_cap_m: float | None = None,
) -> gpd.GeoDataFrame:
    """Facilities of ``kinds`` farther than ``max_distance_m`` from a (free) bus route or stop.

    With ``free_only`` only routes whose ``free`` is true count, and, when ``stops`` has a
    ``route_id`` column, only the stops of those routes; stops without ``route_id`` all
    count. Distances are measured in the UTM zone of the data, up to ``search_cap_m``
    (default ten times ``max_distance_m``).

    Parameters
    ----------
    facilities : GeoDataFrame
        Facilities with ``kind``, EPSG:4326.
    routes : GeoDataFrame
        Bus route lines (with ``free`` when ``free_only``), EPSG:4326.
    stops : GeoDataFrame, optional
        Bus stop points, EPSG:4326.
    kinds : sequence of str
        Facility kinds that should be served.
    max_distance_m : float
        Farthest a facility may be from a route or stop, in metres.
    free_only : bool
        Count only free routes.
    search_cap_m : float, optional
        Search radius; beyond it ``distance_m`` is NaN.

    Returns
    -------
    GeoDataFrame
        The facility rows (original index) that are too far, with ``distance_m``.

    Examples
    --------
    >>> from shapely import LineString, Point
    >>> fac = gpd.GeoDataFrame({"kind": ["school", "school"]},
    ...     geometry=[Point(112, 39.001), Point(112, 39.02)], crs=4326)
    >>> bus = gpd.GeoDataFrame({"free": [True]},
    ...     geometry=[LineString([(111.99, 39), (112.01, 39)])], crs=4326)
    >>> service_gaps(fac, bus)["distance_m"].round().tolist()
    [2220.0]
    >>> len(service_gaps(fac.iloc[:0], bus))
    0
    """
    facilities = _located(as_wgs84(facilities, "facilities", ["kind"]))
    routes = as_wgs84(routes, "routes", ["free"] if free_only else [])
    stops = as_wgs84(stops if stops is not None else gpd.GeoDataFrame(geometry=[]), "stops")
    cap = 10.0 * max_distance_m if search_cap_m is None else search_cap_m
    _check_thresholds(max_distance_m=max_distance_m, search_cap_m=cap)
    wanted = facilities[facilities["kind"].isin(_statuses(kinds))]
    if free_only:
        routes = routes[_truthy(routes["free"]).to_numpy()]
        if "route_id" in stops.columns:
            free_ids = _id_keys(routes["id"]) if "id" in routes.columns else pd.Series([])
            stops = stops[_id_keys(stops["route_id"]).isin(free_ids).to_numpy()]
    served = gpd.GeoDataFrame(
        geometry=pd.concat([routes.geometry, stops.geometry], ignore_index=True), crs=WGS84
    )
    crs = _metric_crs(wanted, served)
    found, _position = _nearest(
        _metric_geoms(wanted, crs), _metric_geoms(served, crs), max(cap, max_distance_m)
    )
    wanted["distance_m"] = found
    return wanted[~(found <= max_distance_m)]


def rest_station_gaps(
    streets: gpd.GeoDataFrame, rest_stations: gpd.GeoDataFrame, *, max_distance_m: float = 1000.0
) -> gpd.GeoDataFrame:
    """Parts of streets farther than ``max_distance_m`` from every rest station.

    Each street minus the union of the stations' buffers (drawn in the UTM zone of the
    data with 64 segments per circle, so reach is under-estimated by at most 0.12 %),
    split into LineString parts, each measured on the ellipsoid. Pass only the rest
    stations (facilities of kind ``rest_station``).

    Parameters
    ----------
    streets : GeoDataFrame
        LineString/MultiLineString streets with ``id`` (and ``name``), EPSG:4326.
    rest_stations : GeoDataFrame
        Station points, EPSG:4326.
    max_distance_m : float
        Reach of a station, in metres.

    Returns
    -------
    GeoDataFrame
        One row per uncovered LineString part: ``street_id``, ``street_name``,
        ``length_m``; EPSG:4326.

    Examples
    --------
    >>> from shapely import LineString, Point
    >>> street = gpd.GeoDataFrame({"id": ["S1"]},
    ...     geometry=[LineString([(112, 39), (112, 39.02)])], crs=4326)
    >>> station = gpd.GeoDataFrame(geometry=[Point(112, 39)], crs=4326)
    >>> rest_station_gaps(street, station)["length_m"].round(-1).tolist()
    [1220.0]
    >>> rest_station_gaps(street, station.iloc[:0])["length_m"].round(-1).tolist()
    [2220.0]
    """
    streets = _located(as_wgs84(streets, "streets", ["id"]))
    stations = _located(as_wgs84(rest_stations, "rest_stations"))
    _check_thresholds(max_distance_m=max_distance_m)
    crs = _metric_crs(streets, stations)
    lines = _metric_geoms(streets, crs)
    reach = shapely.union_all(
        shapely.buffer(_metric_geoms(stations, crs), max_distance_m, quad_segs=16)
    )
    shapely.prepare(reach)
    touched = shapely.intersects(lines, reach)
    lines[touched] = shapely.difference(lines[touched], reach)
    parts, owner = shapely.get_parts(lines, return_index=True)
    keep = (shapely.get_type_id(parts) == _LINE) & ~shapely.is_empty(parts)
    back = gpd.GeoSeries(parts[keep], crs=crs).to_crs(WGS84)
    length = geodesic_lengths_m(back.to_numpy())
    out = gpd.GeoDataFrame(
        {
            "street_id": streets["id"].to_numpy()[owner[keep]],
            "street_name": column_or_none(streets, "name")[owner[keep]],
            "length_m": length,
        },
        geometry=back.to_numpy(),
        crs=WGS84,
    )
    return out[out["length_m"] > _EPS_M].reset_index(drop=True)


# ------------------------------------------------------------------- ledger targets


def target_gaps(progress: pd.DataFrame) -> pd.DataFrame:
    """Ledger rows behind their target, worst first.

    Rows without a positive numeric target are left out; a missing ``actual`` is 0.

    Parameters
    ----------
    progress : DataFrame
        Columns ``village``, ``layer``, ``target``, ``actual``.

    Returns
    -------
    DataFrame
        The rows (original index) where ``actual < target``, with ``shortfall``
        (target - actual) and ``pct`` (actual / target x 100), sorted by ``pct``.

    Examples
    --------
    >>> p = pd.DataFrame({"village": ["A", "B"], "layer": ["wells", "wells"],
    ...     "target": [4, 2], "actual": [1, 2]})
    >>> target_gaps(p)[["village", "shortfall", "pct"]].values.tolist()
    [['A', 3.0, 25.0]]
    >>> len(target_gaps(p.iloc[:0]))
    0
    """
    out = _check_columns(progress, "progress", ["village", "layer", "target", "actual"])
    target = pd.to_numeric(out["target"], errors="coerce")
    actual = pd.to_numeric(out["actual"], errors="coerce").fillna(0.0)
    behind = (target > 0) & (actual < target)
    out = out[behind.to_numpy()]
    out["shortfall"] = (target - actual)[behind].astype(float)
    out["pct"] = (100.0 * actual / target)[behind].astype(float)
    return out.sort_values("pct", kind="stable")
