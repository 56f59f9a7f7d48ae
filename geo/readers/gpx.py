"""GPX 1.0/1.1: waypoints, routes and tracks."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from xml.etree.ElementTree import Element

import shapely
from shapely.geometry.base import BaseGeometry

from geo.readers.result import WGS84, _problem, _RowError, _Table
from geo.readers.xmldoc import _children, _float_or_none, _line_from_parts, _local, _text

# --- GPX ---

_GPX_COLUMNS = ["gpx_type", "name", "desc", "cmt", "type", "time", "ele", "start_time", "end_time"]


def _read_gpx(root: Element) -> _Table:
    """GPX 1.0/1.1: waypoints as points, routes and tracks as lines, in document order."""
    table = _Table(columns=list(_GPX_COLUMNS), crs=WGS84, crs_source="format")
    table.base = list(_GPX_COLUMNS)
    row = 0
    for child in root:
        kind = _local(child.tag)
        if kind not in ("wpt", "rte", "trk"):
            continue
        row += 1
        try:
            record, geom = _gpx_feature(child, kind, row, table)
        except _RowError as exc:
            table.problems.extend(exc.problems)
            continue
        if geom is not None:
            table.add(row, record, geom)
    return table


def _gpx_point(el: Element, row: int) -> tuple[float, float]:
    """(lon, lat) of a wpt, rtept or trkpt element."""
    for attr in ("lat", "lon"):
        if _float_or_none(el.get(attr)) is None:
            raise _RowError(
                _problem(
                    "gpx_bad_coordinate",
                    row=row,
                    field=attr,
                    value=el.get(attr) or "",
                    element=_local(el.tag),
                )
            )
    return float(el.get("lon", "")), float(el.get("lat", ""))


def _gpx_points(points: list[Element], row: int, table: _Table) -> list[tuple[float, float]]:
    """(lon, lat) of route or track points; unreadable ones are left out with a warning."""
    out = []
    for point in points:
        try:
            out.append(_gpx_point(point, row))
        except _RowError as exc:
            table.problems.extend(replace(p, severity="warning") for p in exc.problems)
    return out


def _gpx_feature(
    el: Element, kind: str, row: int, table: _Table
) -> tuple[dict[str, Any], BaseGeometry | None]:
    """One wpt, rte or trk as (record, geometry); geometry None for an empty track."""
    kids = _children(el)
    record: dict[str, Any] = {c: None for c in _GPX_COLUMNS}
    record["gpx_type"] = {"wpt": "waypoint", "rte": "route", "trk": "track"}[kind]
    for key in ("name", "desc", "cmt", "type"):
        record[key] = _text(kids.get(key))
    if kind == "wpt":
        record["time"] = _text(kids.get("time"))
        record["ele"] = _float_or_none(_text(kids.get("ele")))
        return record, shapely.Point(_gpx_point(el, row))
    segments = (
        [[c for c in seg if _local(c.tag) == "trkpt"] for seg in el if _local(seg.tag) == "trkseg"]
        if kind == "trk"
        else [[c for c in el if _local(c.tag) == "rtept"]]
    )
    lines = [_gpx_points(seg, row, table) for seg in segments]
    times = [t for seg in segments for p in seg if (t := _text(_children(p).get("time")))]
    record["start_time"], record["end_time"] = (times[0], times[-1]) if times else (None, None)
    return record, _line_from_parts(lines, row, record["gpx_type"], table)
