"""GeoJSON (RFC 7946, plus the 2008 ``crs`` member)."""

from __future__ import annotations

import codecs
import math
import re
from collections.abc import Callable
from typing import Any

import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from geo.problems import short_value
from geo.readers.result import WGS84, _fail, _jsonish, _problem, _RowError, _Table, _unique
from geo.safety import (
    MAX_FEATURE_VERTICES,
    load_json,
)

_GEOMETRY_TYPES = (
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
)


def _read_geojson(data: bytes) -> _Table:
    """GeoJSON (RFC 7946, plus the 2008 ``crs`` member) into a table."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        data = data.decode("utf-16").encode("utf-8")
    obj = load_json(data.removeprefix(codecs.BOM_UTF8))
    if not isinstance(obj, dict):
        raise _fail("geojson_not_object", value="null" if obj is None else _json_type(obj))
    table = _Table(crs=WGS84, crs_source="format")
    _geojson_crs(obj, table)
    kind = obj.get("type")
    if kind == "FeatureCollection":
        features = obj.get("features")
        if not isinstance(features, list):
            raise _fail("geojson_no_features", value=_json_type(features))
    elif kind == "Feature":
        features = [obj]
    elif kind in _GEOMETRY_TYPES:
        features = [{"type": "Feature", "geometry": obj, "properties": None}]
    else:
        raise _fail("geojson_bad_type", value=kind if isinstance(kind, str) else _json_type(kind))
    taken = {"source_id"}
    names: dict[str, str] = {}
    for row, feature in enumerate(features, 1):
        try:
            record, geom = _geojson_feature(feature, row, table, names, taken)
        except _RowError as exc:
            table.problems.extend(exc.problems)
            continue
        table.add(row, record, geom)
    table.columns = list(names)
    return table


def _json_type(value: Any) -> str:
    """The JSON name of a parsed value's type, ``(missing)`` for None."""
    names = {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "number",
        float: "number",
    }
    return "(missing)" if value is None else names.get(type(value), type(value).__name__)


def _geojson_crs(obj: dict[str, Any], table: _Table) -> None:
    """Honour an old-style (GeoJSON 2008) ``crs`` member that names an EPSG code."""
    member = obj.get("crs")
    if member is None:
        return
    props = member.get("properties") if isinstance(member, dict) else None
    label = ""
    if isinstance(props, dict):
        label = str(props.get("name") or props.get("code") or "")
        if member.get("type") == "EPSG" and props.get("code") is not None:
            label = f"EPSG:{props.get('code')}"
    lowered = label.lower()
    digits = re.findall(r"\d+", lowered)
    try:
        if "crs84" in lowered:
            table.crs = pyproj.CRS.from_epsg(4326)
        elif "epsg" in lowered and digits:
            table.crs = pyproj.CRS.from_epsg(int(digits[-1]))
        else:
            raise pyproj.exceptions.CRSError(label)
        table.crs_source = "file"
    except (pyproj.exceptions.CRSError, ValueError, OverflowError):
        table.crs, table.crs_source = None, "none"
        table.problems.append(
            _problem("geojson_crs_unknown", value=short_value(member), severity="warning")
        )


def _geojson_feature(
    feature: Any, row: int, table: _Table, names: dict[str, str], taken: set[str]
) -> tuple[dict[str, Any], BaseGeometry | None]:
    """One Feature as (record, geometry); raises _RowError when it cannot be read."""
    if not isinstance(feature, dict):
        raise _RowError(_problem("geojson_bad_feature", row=row, value=repr(feature)))
    if feature.get("type") != "Feature":
        raise _RowError(
            _problem("geojson_bad_feature_type", row=row, field="type", value=feature.get("type"))
        )
    props = feature.get("properties")
    if props is not None and not isinstance(props, dict):
        raise _RowError(
            _problem("geojson_bad_properties", row=row, field="properties", value=repr(props))
        )
    if "geometry" not in feature:
        raise _RowError(
            _problem("geojson_bad_geometry", row=row, field="geometry", value="(missing)")
        )
    geom, z = _geojson_geometry(feature["geometry"], row)
    record: dict[str, Any] = {}
    for key, value in (props or {}).items():
        if key not in names:
            names[key] = _unique(key, taken)
        record[names[key]] = _jsonish(value)
    fid = feature.get("id")
    if isinstance(fid, str | int | float) and not isinstance(fid, bool):
        record["source_id"] = fid
    elif fid is not None:
        table.problems.append(
            _problem("geojson_bad_id", row=row, field="id", value=repr(fid), severity="warning")
        )
    if z is not None and "ele" not in record:
        record["ele"] = z
    return record, geom


def _geojson_geometry(obj: Any, row: int) -> tuple[BaseGeometry | None, float | None]:
    """A GeoJSON geometry as a 2D shapely geometry, plus a point's Z (or None)."""
    if obj is None:
        return None, None
    if not isinstance(obj, dict):
        raise _RowError(
            _problem("geojson_bad_geometry", row=row, field="geometry", value=repr(obj))
        )
    gtype = obj.get("type")
    if gtype not in _GEOMETRY_TYPES:
        raise _RowError(
            _problem("geojson_bad_geometry_type", row=row, field="geometry.type", value=repr(gtype))
        )
    if gtype == "GeometryCollection":
        parts = obj.get("geometries")
        if not isinstance(parts, list):
            raise _RowError(
                _problem(
                    "geojson_bad_coordinates",
                    row=row,
                    field="geometries",
                    gtype=gtype,
                    value=repr(parts),
                )
            )
        geoms = [_geojson_geometry(part, row)[0] for part in parts]
        if any(g is None for g in geoms):
            raise _RowError(
                _problem("geojson_bad_geometry", row=row, field="geometries", value="null")
            )
        return shapely.GeometryCollection(geoms), None
    if "coordinates" not in obj:
        raise _RowError(
            _problem(
                "geojson_bad_coordinates",
                row=row,
                field="coordinates",
                gtype=gtype,
                value="(missing)",
            )
        )
    return _GeoJSONCoords(row, gtype).build(obj["coordinates"])


class _GeoJSONCoords:
    """Checks the ``coordinates`` of one GeoJSON geometry and builds it."""

    def __init__(self, row: int, gtype: str):
        self.row, self.gtype = row, gtype

    def _error(self, code: str, value: Any, **params: Any) -> _RowError:
        return _RowError(
            _problem(
                code,
                row=self.row,
                field="coordinates",
                value=repr(value),
                gtype=self.gtype,
                **params,
            )
        )

    def position(self, pos: Any) -> tuple[float, float, float | None]:
        """One position: a list of 2 or more finite numbers (extra values ignored)."""
        if not isinstance(pos, list) or len(pos) < 2:
            raise self._error("geojson_bad_position", pos)
        numbers = pos[:3]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in numbers):
            raise self._error("geojson_bad_position", pos)
        if not all(math.isfinite(v) for v in numbers):
            raise self._error("geojson_bad_position", pos)
        return float(pos[0]), float(pos[1]), float(pos[2]) if len(pos) > 2 else None

    def positions(self, seq: Any, minimum: int) -> list[tuple[float, float]]:
        """A list of at least ``minimum`` positions, as 2D tuples."""
        if not isinstance(seq, list):
            raise self._error("geojson_bad_coordinates", seq)
        if len(seq) > MAX_FEATURE_VERTICES:  # refused before a million positions are checked
            raise _RowError(
                _problem(
                    "too_many_vertices",
                    row=self.row,
                    field="coordinates",
                    count=len(seq),
                    limit=MAX_FEATURE_VERTICES,
                )
            )
        points = [self.position(p)[:2] for p in seq]
        if len(points) < minimum:
            raise self._error("geojson_too_few_points", seq, minimum=minimum)
        return points

    def ring(self, seq: Any) -> list[tuple[float, float]]:
        """A closed linear ring of at least 4 positions."""
        points = self.positions(seq, 4)
        if points[0] != points[-1]:
            raise self._error("geojson_ring_not_closed", seq)
        return points

    def polygon(self, seq: Any) -> shapely.Polygon:
        """Rings: exterior first, then holes."""
        if not isinstance(seq, list):
            raise self._error("geojson_bad_coordinates", seq)
        rings = [self.ring(r) for r in seq]
        return shapely.Polygon(rings[0], rings[1:]) if rings else shapely.Polygon()

    def parts(self, seq: Any, build: Callable[[Any], Any]) -> list[Any]:
        """The members of a Multi* geometry."""
        if not isinstance(seq, list):
            raise self._error("geojson_bad_coordinates", seq)
        return [build(part) for part in seq]

    def build(self, coords: Any) -> tuple[BaseGeometry, float | None]:
        """The geometry, and a Point's Z (None otherwise)."""
        if self.gtype == "Point":
            x, y, z = self.position(coords)
            return shapely.Point(x, y), z
        if self.gtype == "MultiPoint":
            return shapely.MultiPoint(self.positions(coords, 0)), None
        if self.gtype == "LineString":
            return shapely.LineString(self.positions(coords, 2)), None
        if self.gtype == "MultiLineString":
            lines = self.parts(coords, lambda p: shapely.LineString(self.positions(p, 2)))
            return shapely.MultiLineString(lines), None
        if self.gtype == "Polygon":
            return self.polygon(coords), None
        return shapely.MultiPolygon(self.parts(coords, self.polygon)), None


# --- CSV ---------------------------------------------------------------------------------
