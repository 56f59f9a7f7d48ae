"""Read uploaded GIS files into GeoDataFrames: GeoJSON, CSV, GPX, KML/KMZ, Shapefile, GeoPackage.

One door, :func:`read_upload`, takes the bytes and the original file name and returns a
:class:`ReadResult`. The format is recognised by content first (ZIP and SQLite magic bytes,
``<`` for XML, ``{``/``[`` for JSON, anything else textual is CSV); the extension is only a
hint, used when the content alone cannot tell.

Guarantees
----------
- Any input ends in a :class:`ReadResult` or a :class:`geo.problems.InputError`; hostile input
  is stopped by :mod:`geo.safety` (size cap, DTD-free XML, checked ZIPs, shallow JSON).
- Geometries are 2D, in the file's own coordinates. A point's elevation, when the file has
  one, is kept in the ``ele`` column. ``gdf.crs`` is set when the file or its format
  declares one; it is never assumed for CSV, Shapefiles without ``.prj`` and the like.
- Rows that cannot be read are left out and reported as row-level problems (row numbers
  count as the user sees them, 1 = first data row, feature, waypoint or placemark);
  ``ReadResult.rows`` maps every kept row back to that number. A file in which no row could
  be read raises InputError with those problems.
- Values are not range-checked here (swapped or out-of-area coordinates are the job of the
  validators); attribute values from CSV stay strings.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gc
import io
import logging
import math
import re
import tempfile
import unicodedata
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from itertools import chain, repeat
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.etree.ElementTree import Element

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import pyogrio
import pyogrio.errors
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from geo.problems import InputError, Problem, short_value
from geo.safety import (
    MAX_COLUMNS,
    MAX_FEATURE_VERTICES,
    check_size,
    load_json,
    parse_xml,
    safe_unzip,
)

if TYPE_CHECKING:
    from _csv import Reader as CsvReader

_LOG = logging.getLogger(__name__)

FORMATS = ("geojson", "csv", "gpx", "kml", "kmz", "shapefile", "gpkg")
WGS84 = "EPSG:4326"
#: Deepest parenthesis nesting accepted in a WKT cell; GEOS parses WKT recursively.
MAX_WKT_NESTING = 12


@dataclass
class ReadResult:
    """What :func:`read_upload` found in one file.

    Attributes
    ----------
    gdf : geopandas.GeoDataFrame
        The readable rows; 2D geometries in the file's own coordinates.
    format : str
        One of :data:`FORMATS`.
    crs_source : str
        ``"file"`` (declared by the file: ``.prj``, GeoPackage, GeoJSON ``crs`` member,
        EWKT ``SRID=``), ``"format"`` (implied by the format: GeoJSON, GPX, KML are lon/lat
        EPSG:4326) or ``"none"`` (unknown; ``gdf.crs`` is None).
    encoding : str or None
        Text encoding used for CSV or DBF attributes.
    rows : list of int
        User-visible row number (1-based) of each gdf row, in order.
    problems : list of Problem
        Rows left out (severity ``"error"``) and things repaired or ignored (``"warning"``).
    columns : list of str
        Attribute names as the file has them (CSV headers, property keys, DBF fields).
    """

    gdf: gpd.GeoDataFrame
    format: str
    crs_source: str
    encoding: str | None = None
    rows: list[int] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)


@dataclass
class _Table:
    """Rows gathered by one format reader before they become a GeoDataFrame."""

    records: list[dict[str, Any]] = field(default_factory=list)
    geoms: list[BaseGeometry | None] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    crs: Any = None
    crs_source: str = "none"
    encoding: str | None = None
    #: Attribute columns present even when no row is read (a format's fixed schema).
    base: list[str] = field(default_factory=list)
    #: Attribute values by column, when a reader gathered them column-wise instead of as
    #: ``records``; its geometries are then 2D, finite and small by construction.
    columnar: dict[str, Any] | None = None

    def add(self, row: int, record: dict[str, Any], geom: BaseGeometry | None) -> None:
        """Keep one readable row."""
        self.rows.append(row)
        self.records.append(record)
        self.geoms.append(geom)


class _RowError(Exception):
    """One row cannot be read; carries the problems to report."""

    def __init__(self, *problems: Problem):
        super().__init__(problems[0].code)
        self.problems = list(problems)


def _problem(
    code: str,
    row: int | None = None,
    field: str | None = None,
    value: object = None,
    severity: str = "error",
    **params: Any,
) -> Problem:
    """A Problem whose params also carry ``row``, so messages can name it."""
    text = None if value is None else short_value(value)
    return Problem(code, row, field, text, {"row": row, **params}, severity)


def _fail(code: str, value: object = None, **params: Any) -> InputError:
    """An InputError with one file-level problem."""
    return InputError([_problem(code, value=value, **params)])


# --- entry point -------------------------------------------------------------------------


def read_upload(
    data: bytes,
    filename: str,
    *,
    max_bytes: int = 50 * 1024 * 1024,
    encoding: str | None = None,
    layer: str | None = None,
) -> ReadResult:
    """Read one uploaded file of any supported format.

    Parameters
    ----------
    data : bytes
        The file's content.
    filename : str
        The name it was uploaded under; its extension is a hint only.
    max_bytes : int
        Largest accepted upload.
    encoding : str, optional
        Text encoding of a CSV or DBF, when the user knows better than the detection.
    layer : str, optional
        Preferred layer of a GeoPackage, or name (without extension) of a shapefile in a
        ZIP; read when present, otherwise the first layer is read with a warning.

    Returns
    -------
    ReadResult

    Raises
    ------
    InputError
        The file cannot be used at all (too large, empty, unknown format, malformed,
        hostile, or not one row readable).

    Examples
    --------
    >>> result = read_upload(b"name,lon,lat\\nwell,112.5,36.1\\n", "wells.csv")
    >>> result.format, result.rows, result.gdf.geometry.iloc[0].wkt
    ('csv', [1], 'POINT (112.5 36.1)')
    >>> read_upload(b"", "x.csv")
    Traceback (most recent call last):
    ...
    geo.problems.InputError: ...
    """
    check_size(data, max_bytes)
    if _is_blank(data):
        raise _fail("empty_file", value=filename)
    try:
        return _read_detected(data, filename, encoding, layer)
    except (InputError, MemoryError):
        raise
    except Exception as exc:
        # Last line of defence for an upload endpoint: a parser bug must not become a 500.
        # The traceback goes to the log; tests assert this code never appears.
        _LOG.exception("reader failed on %r", filename)
        raise _fail("read_failed", value=filename, reason=type(exc).__name__) from exc


def _is_blank(data: bytes) -> bool:
    """True for an empty file, or one holding only a BOM and blanks."""
    for bom in _BOMS:
        data = data.removeprefix(bom)
    return not data.strip(b" \t\r\n\x00")


def _read_detected(
    data: bytes, filename: str, encoding: str | None, layer: str | None
) -> ReadResult:
    """Dispatch on the sniffed container kind."""
    kind = sniff_kind(data, filename)
    if kind == "zip":
        return _read_zip(data, filename, encoding, layer)
    if kind == "gpkg":
        return _finish(_read_gpkg(data, layer), "gpkg")
    if kind == "xml":
        fmt, table = _read_xml(data)
        return _finish(table, fmt)
    if kind == "json":
        return _finish(_read_geojson(data), "geojson")
    try:
        return _finish(_read_csv(data, encoding), "csv")
    except InputError:
        if _EXT_KIND.get(_extension(filename)) != "xml":
            raise
        # Named .gpx/.kml, yet neither XML nor readable CSV: say what the name promised.
        raise _fail("xml_expected", value=filename) from None


# --- format detection --------------------------------------------------------------------

_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_ARCHIVES = (b"Rar!\x1a\x07", b"7z\xbc\xaf\x27\x1c", b"\x1f\x8b", b"BZh")
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_SHP_MAGIC = b"\x00\x00\x27\x0a"
_SHAPE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".sbn", ".sbx", ".qix")
_EXT_KIND = {
    ".geojson": "json",
    ".json": "json",
    ".gpx": "xml",
    ".kml": "xml",
    ".kmz": "zip",
    ".zip": "zip",
    ".gpkg": "gpkg",
}


def _extension(filename: str) -> str:
    """Lower-case extension of ``filename`` (``".csv"``), or ``""``."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].lower()
    return "." + name.rsplit(".", 1)[1] if "." in name else ""


def _text_start(data: bytes) -> str:
    """The first non-blank character of ``data`` read as text, ignoring any BOM."""
    head = data[:4096]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = head.decode("utf-16", "ignore")
    elif head[:2] in (b"<\x00", b"\x00<"):
        text = head.decode("utf-16-le" if head[0] else "utf-16-be", "ignore")
    else:
        text = head.decode("utf-8-sig", "ignore")
    stripped = text.lstrip(" \t\r\n\ufeff")
    return stripped[:1]


def sniff_kind(data: bytes, filename: str) -> str:
    """Container kind of an upload: ``zip``, ``gpkg``, ``xml``, ``json`` or ``text``.

    Content decides; the extension of ``filename`` only breaks ties for text that is
    neither XML nor JSON at first sight (``null`` in a ``.geojson``).

    Raises
    ------
    InputError
        For recognisably unsupported files: a bare ``.shp``/``.dbf``, Excel, RAR/7z/gzip,
        or binary data.

    Examples
    --------
    >>> sniff_kind(b'{"type": "Point"}', "a.txt"), sniff_kind(b"<gpx/>", "a.csv")
    ('json', 'xml')
    """
    ext = _extension(filename)
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return "zip"
    if data.startswith(b"SQLite format 3\x00"):
        return "gpkg"
    if data.startswith(_SHP_MAGIC):
        raise _fail("shapefile_needs_zip", value=filename)
    if data.startswith(_OLE):
        raise _fail("excel_not_supported", value=filename)
    if data.startswith(_ARCHIVES):
        raise _fail("archive_not_supported", value=filename)
    first = _text_start(data)
    if first == "<":
        return "xml"
    if first in ("{", "["):
        return "json"
    if ext in _SHAPE_PARTS:
        raise _fail("shapefile_needs_zip", value=filename)
    if ext in (".xls", ".xlsx"):
        raise _fail("excel_not_supported", value=filename)
    if _looks_binary(data):
        raise _fail("unknown_format", value=filename)
    return "json" if _EXT_KIND.get(ext) == "json" else "text"


def _looks_binary(data: bytes) -> bool:
    """True for data no text editor would save: NUL bytes outside UTF-16 text."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    return b"\x00" in data[:65536]


# --- shared finishing --------------------------------------------------------------------


def _unique(name: str, taken: set[str]) -> str:
    """``name``, or ``name_2``, ``name_3``… if taken; never ``geometry`` or empty."""
    base = name if name and name != "geometry" else (name or "column") + "_attr"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}_{n}"
    taken.add(candidate)
    return candidate


def _jsonish(value: Any) -> Any:
    """Nested JSON values (objects, arrays) as JSON text, so every cell is a scalar."""
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return value


def _split_z(table: _Table) -> None:
    """Drop Z from every geometry; a point's Z becomes its ``ele`` unless it has one."""
    for i, geom in enumerate(table.geoms):
        if geom is None or not geom.has_z:
            continue
        if geom.geom_type == "Point" and not geom.is_empty and "ele" not in table.records[i]:
            table.records[i]["ele"] = float(shapely.get_coordinates(geom, include_z=True)[0, 2])
        table.geoms[i] = shapely.force_2d(geom)


def _drop_non_finite(table: _Table) -> None:
    """Leave out rows with NaN or infinite coordinates, reporting each."""
    arr = np.empty(len(table.geoms), dtype=object)
    arr[:] = table.geoms
    if not len(arr):
        return
    coords, index = shapely.get_coordinates(arr, return_index=True)
    bad = set(index[~np.isfinite(coords).all(axis=1)].tolist())
    if not bad:
        return
    keep = [i for i in range(len(arr)) if i not in bad]
    for i in sorted(bad):
        table.problems.append(_problem("non_finite_coordinate", row=table.rows[i]))
    table.records = [table.records[i] for i in keep]
    table.geoms = [table.geoms[i] for i in keep]
    table.rows = [table.rows[i] for i in keep]


def _drop_huge(table: _Table) -> None:
    """Leave out rows whose geometry has more than ``MAX_FEATURE_VERTICES`` vertices."""
    arr = np.empty(len(table.geoms), dtype=object)
    arr[:] = table.geoms
    counts = shapely.get_num_coordinates(arr) if len(arr) else np.zeros(0, dtype=np.int64)
    bad = set(np.flatnonzero(counts > MAX_FEATURE_VERTICES).tolist())
    if not bad:
        return
    for i in sorted(bad):
        table.problems.append(
            _problem(
                "too_many_vertices",
                row=table.rows[i],
                count=int(counts[i]),
                limit=MAX_FEATURE_VERTICES,
            )
        )
    keep = [i for i in range(len(arr)) if i not in bad]
    table.records = [table.records[i] for i in keep]
    table.geoms = [table.geoms[i] for i in keep]
    table.rows = [table.rows[i] for i in keep]


def _column_names(table: _Table) -> list[str]:
    """The table's attribute columns: its base ones, then others in order of appearance."""
    names: list[str] = list(table.base)
    seen = set(names)
    keyed = [table.columnar] if table.columnar is not None else table.records
    for record in keyed:
        for key in record:
            if key not in seen:
                seen.add(key)
                names.append(key)
    return names


def _attribute_frame(table: _Table, names: list[str]) -> pd.DataFrame | None:
    """The table's attribute columns ``names`` as a DataFrame; None when there are none."""
    if not names:
        return None
    if table.columnar is not None:
        return pd.DataFrame(table.columnar, columns=names, copy=False)
    return pd.DataFrame.from_records(table.records, columns=names)


def _finish(table: _Table, fmt: str) -> ReadResult:
    """Turn a gathered table into a ReadResult (or an InputError if nothing was readable)."""
    if table.columnar is None:
        _split_z(table)
        _drop_non_finite(table)
        _drop_huge(table)
    errors = [p for p in table.problems if p.severity == "error"]
    if not table.rows and errors:
        raise InputError(table.problems)
    if not table.rows:
        table.problems.append(_problem("no_features", severity="warning"))
    names = _column_names(table)
    if len(names) > MAX_COLUMNS:
        raise _fail("too_many_columns", count=len(names), limit=MAX_COLUMNS)
    geometry = gpd.GeoSeries(table.geoms, crs=table.crs)
    frame = _attribute_frame(table, names)  # made here, so GeoDataFrame need not copy it
    gdf = gpd.GeoDataFrame(frame, geometry=geometry, crs=table.crs, copy=False)
    return ReadResult(
        gdf=gdf,
        format=fmt,
        crs_source=table.crs_source if table.crs is not None else "none",
        encoding=table.encoding,
        rows=table.rows,
        problems=table.problems,
        columns=table.columns,
    )


# --- GeoJSON -----------------------------------------------------------------------------

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

_LON_NAMES = ("经度", "东经", "lon", "lng", "long", "longitude", "longitudedd")
_LAT_NAMES = ("纬度", "北纬", "lat", "latitude", "latitudedd")
_X_NAMES = ("x", "x坐标", "坐标x", "pointx", "xcoord", "xcoordinate", "横坐标")
_Y_NAMES = ("y", "y坐标", "坐标y", "pointy", "ycoord", "ycoordinate", "纵坐标")
_WKT_NAMES = ("wkt", "geometry", "几何", "geom", "thegeom", "wktgeom", "空间信息")
_EWKT = re.compile(r"^\s*SRID=(\d+)\s*;(.*)$", re.IGNORECASE | re.DOTALL)


def _norm_header(header: str) -> str:
    """A header folded for matching: full-width to ASCII, lower case, units dropped."""
    text = unicodedata.normalize("NFKC", header).strip().lower()
    text = re.sub(r"[(\[【].*?[)\]】]", "", text)
    return re.sub(r"[\s_\-.:：]", "", text)


def _decode_csv(data: bytes, encoding: str | None) -> tuple[str, str]:
    """(text, encoding name): the given encoding, else UTF-16 by BOM, UTF-8, GB18030."""
    if encoding:
        try:
            return data.decode(encoding), encoding
        except (UnicodeError, LookupError) as exc:  # wrong, unknown or not a text codec
            raise _fail("csv_encoding", value=encoding) from exc
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    else:
        # utf-8 first: gb18030 decodes most UTF-8 bytes too, into the wrong characters.
        candidates = ["utf-8-sig", "gb18030"]
    for name in candidates:
        try:
            text = data.decode(name)
        except UnicodeDecodeError:
            continue
        if name == "utf-8-sig" and not data.startswith(codecs.BOM_UTF8):
            name = "utf-8"
        return text, name
    raise _fail("csv_encoding", value="UTF-8, GB18030")


def _first_line(text: str) -> str:
    """The first non-blank line of ``text`` as ``str.splitlines`` cuts it, or ``""``.

    Reads a growing head of the text rather than splitting all of a large file.
    """
    size = 4096
    while True:
        lines = text[:size].splitlines()
        if size < len(text):
            lines = lines[:-1]  # the last one may go on past the head
        line = next((line for line in lines if line.strip()), None)
        if line is not None or size >= len(text):
            return line or ""
        size *= 8


def _sniff_delimiter(text: str) -> str:
    """Comma, semicolon or tab, whichever the header line has most of."""
    header = _first_line(text)
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    # One column only (a lone WKT column): split on nothing, so "1 2, 3 4" stays whole.
    return best if counts[best] else "\x1f"


def _plain_lines(text: str) -> list[str] | None:
    """The lines of a text without quotes, cut as csv.reader cuts them; None if it has any.

    Without quotes a record is exactly one line: csv.reader can read these lines instead of
    a StringIO copy of the text, which a large file makes costly.
    """
    if '"' in text:
        return None
    if "\r" in text:  # csv.reader ends a line at "\r\n", "\r" or "\n"
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if lines[-1] == "":  # after the final line end: no record
        lines.pop()
    return lines


def _csv_records(text: str, lines: list[str] | None) -> CsvReader:
    """csv.reader over ``text`` (or its ``lines``, see :func:`_plain_lines`).

    With the sniffed delimiter and a field size fit for WKT.
    """
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    source = io.StringIO(text, newline="") if lines is None else iter(lines)
    return csv.reader(source, delimiter=_sniff_delimiter(text))


def _find_columns(norm: list[str]) -> tuple[str, list[int]] | None:
    """``("wkt", [i])`` or ``("xy", [ix, iy])`` for normalised headers, or None.

    A WKT column wins (it can hold lines and polygons); then lon/lat names; then x/y.
    """
    for i, h in enumerate(norm):
        if h in _WKT_NAMES:
            return "wkt", [i]
    for lon_names, lat_names in ((_LON_NAMES, _LAT_NAMES), (_X_NAMES, _Y_NAMES)):
        ix = next((i for i, h in enumerate(norm) if h in lon_names), None)
        iy = next((i for i, h in enumerate(norm) if h in lat_names), None)
        if ix is not None and iy is not None:
            return "xy", [ix, iy]
    return None


def _read_csv(data: bytes, encoding: str | None) -> _Table:
    """CSV (comma, semicolon or tab) with lon/lat, x/y or WKT columns into a table.

    Files with x/y columns are read column by column when that gives the same result (see
    :class:`_CsvColumns`), row by row otherwise.
    """
    text, used = _decode_csv(data, encoding)
    if "\x00" in text:
        raise _fail("unknown_format", value="NUL")
    lines = _plain_lines(text)
    records = _csv_records(text, lines)
    try:
        headers = next(h for h in records if any(c.strip() for c in h))
    except StopIteration:
        raise _fail("empty_file") from None
    if len(headers) > MAX_COLUMNS:
        raise _fail("too_many_columns", count=len(headers), limit=MAX_COLUMNS)
    found = _find_columns([_norm_header(h) for h in headers])
    if found is None:
        raise _fail("csv_no_geometry_columns", value=" | ".join(headers))
    taken: set[str] = set()
    names = [_unique(h.strip(), taken) for h in headers]
    table = _Table(columns=list(headers), encoding=used)
    table.base = [n for i, n in enumerate(names) if i not in found[1]]
    remaining: Iterator[list[str]] = records
    if _CSV_COLUMNWISE and found[0] == "xy":
        with _gc_paused():
            remaining, uniform = _uniform_cells(lines, records, len(headers))
            if uniform is not None and _CsvColumns(names, found[1], table).read(uniform):
                return table
    parse = _CsvRow(headers, names, found[0], found[1], table)
    row = 0
    try:
        for row, cells in enumerate(remaining, 1):
            if any(c.strip() for c in cells):
                parse.read(row, cells)
    except csv.Error as exc:
        raise _fail("csv_invalid", value=str(exc), row=row + 1) from exc
    parse.finish()
    return table


class _CsvRow:
    """Reads data rows of one CSV file into its table."""

    def __init__(
        self, headers: list[str], names: list[str], mode: str, idx: list[int], table: _Table
    ):
        self.headers, self.names, self.mode, self.idx, self.table = headers, names, mode, idx, table
        self.srids: set[str] = set()
        self.xy: list[tuple[float, float]] = []

    def read(self, row: int, cells: list[str]) -> None:
        """One row: kept with its geometry, or reported."""
        width = len(self.headers)
        if len(cells) > width and any(c.strip() for c in cells[width:]):
            self.table.problems.append(
                _problem(
                    "csv_extra_cells", row=row, value=" | ".join(cells[width:]), severity="warning"
                )
            )
        cells = cells[:width] + [""] * (width - len(cells))
        try:
            geom = None
            if self.mode == "wkt":
                geom = self.wkt(row, cells)
            else:
                self.point(row, cells)
        except _RowError as exc:
            self.table.problems.extend(exc.problems)
            return
        record = {
            name: (cell.strip() or None)
            for i, (name, cell) in enumerate(zip(self.names, cells, strict=True))
            if i not in self.idx
        }
        self.table.add(row, record, geom)

    def point(self, row: int, cells: list[str]) -> None:
        """Note the x/lon, y/lat of a row (points are made at the end, in one go).

        All bad cells of the row are reported together.
        """
        values: list[float] = []
        problems: list[Problem] = []
        for i in self.idx:
            raw = cells[i].strip()
            if not raw:
                problems.append(_problem("csv_missing_coordinate", row=row, field=self.headers[i]))
                continue
            try:
                values.append(parse_coordinate(raw))
            except ValueError:
                problems.append(
                    _problem("csv_bad_coordinate", row=row, field=self.headers[i], value=raw)
                )
        if problems:
            raise _RowError(*problems)
        self.xy.append((values[0], values[1]))

    def wkt(self, row: int, cells: list[str]) -> BaseGeometry:
        """A geometry from the WKT (or EWKT) cell."""
        header = self.headers[self.idx[0]]
        raw = cells[self.idx[0]].strip()
        if not raw:
            raise _RowError(_problem("csv_missing_coordinate", row=row, field=header))
        match = _EWKT.match(raw)
        if match:
            self.srids.add(match.group(1))
        text = match.group(2) if match else raw
        if _paren_depth(text) > MAX_WKT_NESTING:
            raise _RowError(_problem("csv_bad_wkt", row=row, field=header, value=raw))
        try:
            with np.errstate(all="ignore"):
                geom = shapely.from_wkt(text)
        except (shapely.errors.ShapelyError, ValueError, TypeError) as exc:
            raise _RowError(_problem("csv_bad_wkt", row=row, field=header, value=raw)) from exc
        if geom is None:
            raise _RowError(_problem("csv_bad_wkt", row=row, field=header, value=raw))
        return geom

    def finish(self) -> None:
        """Make the points of an x/y file; take the CRS of an EWKT file."""
        if self.mode == "xy":
            coords = np.array(self.xy, dtype=float).reshape(-1, 2)
            points: Any = shapely.points(coords)  # an array here: coords is 2-D
            self.table.geoms = list(points)
        self.set_crs()

    def set_crs(self) -> None:
        """An EWKT ``SRID=`` shared by every row declares the CRS."""
        if len(self.srids) != 1:
            return
        try:
            self.table.crs = pyproj.CRS.from_epsg(int(next(iter(self.srids))))
            self.table.crs_source = "file"
        except (pyproj.exceptions.CRSError, ValueError, OverflowError):
            self.table.problems.append(
                _problem("csv_srid_unknown", value=next(iter(self.srids)), severity="warning")
            )


def _paren_depth(text: str) -> int:
    """Deepest parenthesis nesting in ``text``, computed without a Python loop."""
    raw = np.frombuffer(text.encode("utf-8", "ignore"), dtype=np.uint8)
    steps = (raw == ord("(")).astype(np.int32) - (raw == ord(")")).astype(np.int32)
    return int(np.cumsum(steps).max()) if len(steps) else 0


_DMS = re.compile(r"^(\d+(?:\.\d+)?)°(?:(\d+(?:\.\d+)?)'(?:(\d+(?:\.\d+)?)\")?)?$")
_PLAIN_NUMBER = re.compile(r"\s*-?\d{1,9}(?:\.\d{1,20})?\s*")
_HEMISPHERE = re.compile(r"^(东经|西经|北纬|南纬|[NSEW东西南北])?(.*?)([NSEW东西南北])?$")


def parse_coordinate(text: str) -> float:
    """A coordinate typed by a person: decimal, full-width, decimal comma or D°M'S".

    Full-width digits and punctuation are folded to ASCII. One comma and no dot is a
    decimal comma (``112,5``); otherwise commas are thousands separators. Degrees,
    minutes, seconds (``°'"``, ``′″`` or ``度分秒``) and a hemisphere letter or word
    (``N``/``S``/``E``/``W``, ``北纬``…; ``S``/``W``/``南``/``西`` are negative) are understood.

    Raises
    ------
    ValueError
        For anything else, NaN and infinities included.

    Examples
    --------
    >>> parse_coordinate("112.5"), parse_coordinate("１１２．５"), parse_coordinate("112,5")
    (112.5, 112.5, 112.5)
    >>> parse_coordinate("112°48'36\\""), parse_coordinate("北纬36度30分")
    (112.81, 36.5)
    """
    if _PLAIN_NUMBER.fullmatch(text):
        return float(text)  # the common case, without the folding below
    s = unicodedata.normalize("NFKC", text).strip().upper()
    s = s.replace("−", "-").replace("′′", '"').replace("″", '"').replace("′", "'")
    s = s.replace("''", '"').replace("度", "°").replace("分", "'").replace("秒", '"')
    s = re.sub(r"\s+", "", s)
    match = _HEMISPHERE.match(s)
    if match is None:  # pragma: no cover - the pattern matches any string
        raise ValueError(text)
    prefix, body, suffix = match.groups()
    if prefix and suffix:
        raise ValueError(text)
    sign = -1.0 if (prefix or suffix or "") in ("S", "W", "西经", "南纬", "西", "南") else 1.0
    if body.startswith("-"):
        sign, body = -sign, body[1:]
    elif body.startswith("+"):
        body = body[1:]
    value = _dms(body) if "°" in body else _decimal(body)
    if not math.isfinite(value):
        raise ValueError(text)
    return sign * value


def _dms(body: str) -> float:
    """Degrees, minutes, seconds (``112°48'36"``) as decimal degrees."""
    match = _DMS.match(body)
    if match is None:
        raise ValueError(body)
    deg, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    if minutes >= 60 or seconds >= 60:
        raise ValueError(body)
    return deg + minutes / 60 + seconds / 3600


def _decimal(body: str) -> float:
    """A decimal number with an optional decimal comma or thousands separators."""
    if "," in body:
        body = (
            body.replace(",", "") if "." in body or body.count(",") > 1 else body.replace(",", ".")
        )
    if not re.fullmatch(r"\d+(?:\.\d*)?(?:E[+-]?\d+)?|\.\d+(?:E[+-]?\d+)?", body):
        raise ValueError(body)
    return float(body)


# --- CSV, column by column ---------------------------------------------------------------

#: Read clean x/y CSV files column by column. False forces the row-by-row reader (the
#: tests compare the two).
_CSV_COLUMNWISE = True
#: In a column of cells each preceded by a newline, matches before any cell that is not a
#: plain number, i.e. not one ``parse_coordinate`` reads as ``float(cell)`` at first sight
#: (ASCII only, on purpose: anything else is left to the row-by-row reader).
_NOT_PLAIN = re.compile(r"\n(?![ \t]*-?[0-9]{1,9}(?:\.[0-9]{1,20})?[ \t]*(?:\n|\Z))")
#: The type pandas gives a column of strings (``str`` since pandas 3).
_STR_DTYPE: Any = pd.Series(["text"]).dtype
#: Every character ``str.strip()`` removes, i.e. every one ``str.isspace()`` accepts.
_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause automatic garbage collection while making objects that all stay alive.

    A 100,000-row file makes close to a million objects (cells, points); the collections
    their allocation triggers would walk them all again and again, for nothing, taking
    about half the reading time. Collection resumes afterwards unless it was off already,
    so overlapping uses (threads) leave it on in the end if it was on at first.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass
class _Cells:
    """The data cells of a CSV file whose data rows are all exactly as wide as its header."""

    #: The cells, row after row.
    flat: list[str]
    #: Row number of each data row (blank records in between count, but are not kept).
    rows: list[int]
    #: Whether some cell may hold whitespace: if not, no cell needs stripping.
    spaced: bool


def _uniform_cells(
    lines: list[str] | None, records: CsvReader, width: int
) -> tuple[Iterator[list[str]], _Cells | None]:
    """The cells after the header row, or None unless every data row has ``width`` cells.

    ``lines`` are those of a text without quotes (see :func:`_plain_lines`), ``records``
    the reader that has just read the header. Also returns the records the row-by-row
    reader should go on with: ``records`` itself, or the ones read from it here.
    """
    if lines is not None:  # a line is a record: split it at each delimiter
        data = lines[records.line_num :]
        return records, _unquoted_cells(data, records.dialect.delimiter, width)
    rest: list[list[str]] = []
    try:
        rest.extend(records)  # keeps the records read before an error
    except csv.Error as exc:  # as the row-by-row reader would fail, whatever rows came before
        raise _fail("csv_invalid", value=str(exc), row=len(rest) + 1) from exc
    return iter(rest), _quoted_cells(rest, width)


def _unquoted_cells(lines: list[str], sep: str, width: int) -> _Cells | None:
    """The cells of the data lines of a text without quotes."""
    rows, kept = _numbered(lines)
    if not kept or set(map(str.count, kept, repeat(sep))) != {width - 1}:
        return None
    joined = sep.join(kept)
    return _Cells(joined.split(sep), rows, _has_space(joined, sep))


def _quoted_cells(records: list[list[str]], width: int) -> _Cells | None:
    """The cells of the records csv.reader read from a text with quotes."""
    rows, kept = _numbered(records)
    if not kept or set(map(len, kept)) != {width}:
        return None
    flat = list(chain.from_iterable(kept))
    return _Cells(flat, rows, _has_space("\x00".join(flat), "\x00"))  # no NUL in a CSV


def _has_space(text: str, sep: str) -> bool:
    """True if ``text`` holds whitespace other than ``sep`` (a quick scan per character)."""
    return any(ch in text for ch in _WHITESPACE if ch != sep)


def _numbered(items: list[Any]) -> tuple[list[int], list[Any]]:
    """Row numbers (from 1) of the non-empty items, and those items.

    An empty item is an empty line: no record, but a row as a spreadsheet counts them.
    """
    if all(items):
        return list(range(1, len(items) + 1)), items
    rows = [i for i, item in enumerate(items, 1) if item]
    return rows, [items[i - 1] for i in rows]


class _CsvColumns:
    """Reads the data rows of an x/y CSV file column by column into its table.

    Only when every coordinate is a plain number, so that no row is refused and each
    coordinate is ``float(cell)``, exactly as :class:`_CsvRow` would read it.
    """

    def __init__(self, names: list[str], idx: list[int], table: _Table):
        self.names, self.idx, self.table = names, idx, table

    def read(self, cells: _Cells) -> bool:
        """Fill the table; False, leaving it untouched, if a coordinate is not plain."""
        width = len(self.names)
        x = _plain_numbers(cells.flat[self.idx[0] :: width])
        y = None if x is None else _plain_numbers(cells.flat[self.idx[1] :: width])
        if x is None or y is None:
            return False
        self.table.columnar = self.attributes(cells)
        points: Any = shapely.points(x, y)  # an array here: x and y are arrays
        self.table.geoms = list(points)
        self.table.rows = cells.rows
        return True

    def attributes(self, cells: _Cells) -> dict[str, Any]:
        """Each non-coordinate column, stripped, with blank cells as None (as _CsvRow)."""
        width = len(self.names)
        others = [(i, name) for i, name in enumerate(self.names) if i not in self.idx]
        if cells.spaced:
            return {name: [c.strip() or None for c in cells.flat[i::width]] for i, name in others}
        if "" in cells.flat:
            return {name: [c or None for c in cells.flat[i::width]] for i, name in others}
        grid = np.fromiter(cells.flat, dtype=object, count=len(cells.flat)).reshape(-1, width)
        # Strings only: give them the type pandas would infer, without the inferring.
        return {name: pd.array(grid[:, i], dtype=_STR_DTYPE) for i, name in others}


def _plain_numbers(column: list[str]) -> np.ndarray | None:
    """The cells as floats, or None unless each is one plain number (see ``_NOT_PLAIN``)."""
    joined = "\n" + "\n".join(column)
    if joined.count("\n") != len(column) or _NOT_PLAIN.search(joined):
        return None
    # NumPy parses each number with PyOS_string_to_double, as float() does: same values.
    values = np.fromstring(joined, sep="\n")
    return values if len(values) == len(column) else None


# --- XML: GPX and KML --------------------------------------------------------------------

_XML_DECL_ENCODING = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)[\"']")
_EXPAT_NATIVE = {"utf-8", "utf8", "utf-16", "utf16", "us-ascii", "ascii", "iso-8859-1", "latin-1"}
_CODEC_ALIASES = {"gb2312": "gb18030", "gbk": "gb18030", "cp936": "gb18030", "x-gbk": "gb18030"}


def _local(tag: Any) -> str:
    """Local name of an element tag (``{ns}name`` → ``name``)."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _transcode_xml(data: bytes, codec: str) -> bytes:
    """``data`` decoded with ``codec`` and re-encoded as UTF-8 with its declaration fixed."""
    try:
        text = data.decode(_CODEC_ALIASES.get(codec.lower(), codec))
    except (UnicodeDecodeError, LookupError) as exc:
        raise _fail("xml_encoding", value=codec) from exc
    text = re.sub(
        r"^(\s*<\?xml[^>]*?encoding\s*=\s*)[\"'][^\"']*[\"']", r'\1"UTF-8"', text, count=1
    )
    return text.encode("utf-8")


def _parse_any_xml(data: bytes) -> tuple[Element, list[Problem]]:
    """Parse XML in any encoding Python knows, guessing GB18030 for mislabelled UTF-8."""
    match = _XML_DECL_ENCODING.match(data.removeprefix(codecs.BOM_UTF8))
    declared = match.group(1).decode("ascii").lower() if match else None
    if declared and declared not in _EXPAT_NATIVE:
        return parse_xml(_transcode_xml(data, declared)), []
    try:
        return parse_xml(data), []
    except InputError as exc:
        # Chinese tools sometimes write GBK bytes under a UTF-8 (or no) declaration.
        invalid = exc.problems[0].code == "xml_invalid"
        if not invalid or declared not in (None, "utf-8", "utf8") or _is_utf8(data):
            raise
    root = parse_xml(_transcode_xml(data, "gb18030"))
    return root, [_problem("xml_encoding_guessed", value="GB18030", severity="warning")]


def _is_utf8(data: bytes) -> bool:
    """True if ``data`` decodes as UTF-8."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _read_xml(data: bytes) -> tuple[str, _Table]:
    """GPX or KML, by root element."""
    root, problems = _parse_any_xml(data)
    name = _local(root.tag)
    if name == "gpx":
        table, fmt = _read_gpx(root), "gpx"
    elif name in ("kml", "Document", "Folder", "Placemark"):
        table, fmt = _read_kml(root), "kml"
    else:
        raise _fail("xml_unknown_root", value=name)
    table.problems[:0] = problems
    return fmt, table


def _children(el: Element) -> dict[str, Element]:
    """First direct child of each local name."""
    out: dict[str, Element] = {}
    for child in el:
        out.setdefault(_local(child.tag), child)
    return out


def _text(el: Element | None) -> str | None:
    """Stripped text of ``el``, None when absent or blank."""
    if el is None or el.text is None:
        return None
    return el.text.strip() or None


def _float_or_none(text: str | None) -> float | None:
    """``text`` as a finite float, or None."""
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


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


def _line_from_parts(
    parts: list[list[tuple[float, float]]], row: int, what: str, table: _Table
) -> BaseGeometry | None:
    """LineString, MultiLineString, or a warned-about Point/None for degenerate input."""
    usable = [p for p in parts if len(p) >= 2]
    if len(usable) == 1:
        return shapely.LineString(usable[0])
    if usable:
        return shapely.MultiLineString(usable)
    points = [pt for p in parts for pt in p]
    if not points:
        table.problems.append(_problem("empty_line", row=row, value=what, severity="warning"))
        return None
    table.problems.append(_problem("single_point_line", row=row, value=what, severity="warning"))
    return shapely.Point(points[0])


# --- KML ---

_KML_GEOMETRIES = (
    "Point",
    "LineString",
    "LinearRing",
    "Polygon",
    "MultiGeometry",
    "Track",
    "MultiTrack",
    "Model",
)


def _read_kml(root: Element) -> _Table:
    """KML 2.x: every Placemark in document order, with its Folder path."""
    table = _Table(columns=["name", "description", "folder"], crs=WGS84, crs_source="format")
    table.base = ["name", "description", "folder"]
    taken = {"name", "description", "folder", "time", "start_time", "end_time", "ele"}
    extended: dict[str, str] = {}
    for row, (placemark, folder) in enumerate(_placemarks(root, table), 1):
        try:
            record, geom = _kml_placemark(placemark, folder, row, table)
        except _RowError as exc:
            table.problems.extend(exc.problems)
            continue
        for key, value in _extended_data(placemark):
            if key not in extended:
                extended[key] = _unique(key, taken)
                table.columns.append(key)
            record[extended[key]] = value
        table.add(row, record, geom)
    return table


#: Folder names kept in a placemark's folder path; deeper folders add nothing to it.
_MAX_FOLDER_PATH = 32


def _placemarks(root: Element, table: _Table) -> Iterator[tuple[Element, str]]:
    """(Placemark, folder path) in document order, without recursion."""
    stack: list[tuple[Element, tuple[str, ...]]] = [(root, ())]
    while stack:
        el, path = stack.pop()
        name = _local(el.tag)
        if name == "Placemark":
            yield el, "/".join(path)
            continue
        if name == "NetworkLink":
            # Never fetched: an upload must not make the server open URLs.
            table.problems.append(
                _problem(
                    "kml_networklink_ignored",
                    severity="warning",
                    value=_text(_children(el).get("name")) or "",
                )
            )
            continue
        if name == "Folder" and len(path) < _MAX_FOLDER_PATH:
            # Capped: copying an ever longer path at each of 100,000 nested folders is
            # quadratic (seconds of CPU for a 2 MB file).
            path = (*path, _text(_children(el).get("name")) or "")
        stack.extend((child, path) for child in reversed(list(el)))


def _extended_data(placemark: Element) -> Iterator[tuple[str, str | None]]:
    """(name, value) pairs of ExtendedData: Data/value and SchemaData/SimpleData."""
    ext = _children(placemark).get("ExtendedData")
    if ext is None:
        return
    for item in ext:
        kind = _local(item.tag)
        if kind == "Data" and item.get("name"):
            yield item.get("name", ""), _text(_children(item).get("value"))
        elif kind == "SchemaData":
            for simple in item:
                if _local(simple.tag) == "SimpleData" and simple.get("name"):
                    yield simple.get("name", ""), _text(simple)


def _kml_placemark(
    placemark: Element, folder: str, row: int, table: _Table
) -> tuple[dict[str, Any], BaseGeometry | None]:
    """One Placemark as (record, geometry)."""
    kids = _children(placemark)
    record: dict[str, Any] = {
        "name": _text(kids.get("name")),
        "description": _text(kids.get("description")),
        "folder": folder,
    }
    stamp, span = kids.get("TimeStamp"), kids.get("TimeSpan")
    if stamp is not None:
        record["time"] = _text(_children(stamp).get("when"))
    if span is not None:
        record["start_time"] = _text(_children(span).get("begin"))
        record["end_time"] = _text(_children(span).get("end"))
    geom_el = next((c for c in placemark if _local(c.tag) in _KML_GEOMETRIES), None)
    if geom_el is None:
        return record, None
    geom, ele, times = _KmlGeometry(row, table).build(geom_el)
    if ele:  # KML writes altitude 0 for "no altitude" (clampToGround): not an elevation.
        record["ele"] = ele
    if times:
        record.setdefault("start_time", times[0])
        record.setdefault("end_time", times[-1])
    return record, geom


class _KmlGeometry:
    """Builds the geometry of one Placemark; MultiGeometry is walked without recursion."""

    def __init__(self, row: int, table: _Table):
        self.row, self.table = row, table
        self.times: list[str] = []

    def _error(self, el: Element, value: Any) -> _RowError:
        return _RowError(
            _problem("kml_bad_geometry", row=self.row, field=_local(el.tag), value=value)
        )

    def coords(self, el: Element | None, owner: Element) -> list[tuple[float, float, float]]:
        """``lon,lat[,alt]`` tuples of a ``<coordinates>`` element (altitude 0 if absent)."""
        text = _text(el) or ""
        out = []
        for token in re.sub(r"\s*,\s*", ",", text).split():
            numbers = [_float_or_none(v) for v in token.split(",")[:3]]
            if len(numbers) < 2 or any(n is None for n in numbers):
                raise self._error(owner, token)
            x, y, *z = (n or 0.0 for n in numbers)
            out.append((x, y, z[0] if z else 0.0))
        return out

    def points(self, el: Element | None, owner: Element) -> list[tuple[float, float]]:
        """The 2D points of a ``<coordinates>`` element."""
        return [(x, y) for x, y, _z in self.coords(el, owner)]

    def ring(self, el: Element | None, owner: Element) -> list[tuple[float, float]]:
        """A LinearRing's points, closed if the writer left it open."""
        coords = _children(el).get("coordinates") if el is not None else None
        points = self.points(coords, owner)
        if len(points) >= 3 and points[0] != points[-1]:
            points.append(points[0])
            self.table.problems.append(
                _problem("kml_ring_closed", row=self.row, field="LinearRing", severity="warning")
            )
        if len(points) < 4:
            raise self._error(owner, f"{len(points)} points")
        return points

    def polygon(self, el: Element) -> shapely.Polygon:
        """Outer boundary plus any number of inner rings."""
        outer = _children(el).get("outerBoundaryIs")
        rings = [c for c in outer if _local(c.tag) == "LinearRing"] if outer is not None else []
        if not rings:
            raise self._error(el, "outerBoundaryIs")
        holes = [
            self.ring(r, el)
            for inner in el
            if _local(inner.tag) == "innerBoundaryIs"
            for r in inner
            if _local(r.tag) == "LinearRing"
        ]
        return shapely.Polygon(self.ring(rings[0], el), holes)

    def track(self, el: Element) -> list[tuple[float, float]]:
        """A gx:Track's ``gx:coord`` points (``lon lat alt``), collecting its ``when`` times."""
        points = []
        for child in el:
            kind = _local(child.tag)
            if kind == "when" and _text(child):
                self.times.append(_text(child) or "")
            elif kind == "coord":
                values = [_float_or_none(v) for v in (_text(child) or "").split()[:3]]
                if len(values) < 2 or values[0] is None or values[1] is None:
                    raise self._error(el, _text(child))
                points.append((values[0], values[1]))
        return points

    def leaf(self, el: Element) -> tuple[BaseGeometry | None, float | None]:
        """One simple geometry element, and a Point's altitude."""
        kind = _local(el.tag)
        coords_el = _children(el).get("coordinates")
        if kind == "Point":
            coords = self.coords(coords_el, el)
            if not coords:
                raise self._error(el, "")
            return shapely.Point(coords[0][:2]), coords[0][2]
        if kind in ("LineString", "LinearRing"):
            line = self.points(coords_el, el)
            return _line_from_parts([line], self.row, kind, self.table), None
        if kind == "Polygon":
            return self.polygon(el), None
        if kind == "Track":
            return _line_from_parts([self.track(el)], self.row, kind, self.table), None
        if kind == "MultiTrack":
            lines = [self.track(t) for t in el if _local(t.tag) == "Track"]
            return _line_from_parts(lines, self.row, kind, self.table), None
        raise _RowError(_problem("kml_unsupported_geometry", row=self.row, value=kind))

    def build(self, el: Element) -> tuple[BaseGeometry | None, float | None, list[str]]:
        """(geometry, point altitude or None, gx:Track times)."""
        if _local(el.tag) != "MultiGeometry":
            geom, z = self.leaf(el)
            return geom, z, self.times
        parts: list[BaseGeometry] = []
        stack = list(reversed(list(el)))  # document order, without recursion
        while stack:
            child = stack.pop()
            kind = _local(child.tag)
            if kind == "MultiGeometry":
                stack.extend(reversed(list(child)))
            elif kind in _KML_GEOMETRIES:
                geom, _z = self.leaf(child)
                if geom is not None:
                    parts.append(geom)
        return _combine(parts), None, self.times


def _combine(parts: list[BaseGeometry]) -> BaseGeometry:
    """Parts of a MultiGeometry as the matching Multi* type, or a GeometryCollection."""
    flat: list[BaseGeometry] = []
    for part in parts:
        flat.extend(getattr(part, "geoms", [part]))
    types = {g.geom_type for g in flat}
    multi: dict[str, Callable[[Any], BaseGeometry]] = {
        "Point": shapely.MultiPoint,
        "LineString": shapely.MultiLineString,
        "Polygon": shapely.MultiPolygon,
    }
    if len(types) == 1 and (make := multi.get(types.pop())) is not None:
        return make(flat)
    return shapely.GeometryCollection(parts)


# --- ZIP: KMZ, zipped shapefiles, zipped single files ------------------------------------

_INNER_KINDS = {
    ".gpx": "xml",
    ".geojson": "json",
    ".json": "json",
    ".csv": "text",
    ".txt": "text",
    ".gpkg": "gpkg",
}


def _read_zip(data: bytes, filename: str, encoding: str | None, layer: str | None) -> ReadResult:
    """A ZIP: KMZ, zipped shapefile, or one zipped GPX/GeoJSON/CSV/GeoPackage."""
    files = safe_unzip(data)
    lower = {name.lower(): name for name in files}
    if "[content_types].xml" in lower:
        raise _fail("excel_not_supported", value=filename)
    shapes = [n for n in files if n.lower().endswith(".shp")]
    if shapes:
        return _finish(_read_shapefile(files, shapes, encoding, layer), "shapefile")
    kmls = [n for n in files if n.lower().endswith(".kml")]
    if kmls:
        chosen = lower.get("doc.kml", kmls[0])
        fmt, table = _read_xml(files[chosen])
        if fmt != "kml":
            raise _fail("xml_unknown_root", value=chosen)
        return _finish(table, "kmz")
    inner = [n for n in files if _extension(n) in _INNER_KINDS]
    if len(inner) != 1:
        raise _fail("zip_no_supported_file", value=", ".join(sorted(files))[:200])
    content = files[inner[0]]
    if content.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        raise _fail("zip_no_supported_file", value=inner[0])
    return _read_detected(content, inner[0], encoding, layer)


# --- GDAL-backed formats: Shapefile and GeoPackage ---------------------------------------


def _read_with_gdal(path: Path, layer: str | int | None, encoding: str | None) -> gpd.GeoDataFrame:
    """pyogrio read with GDAL errors and warnings turned into problems."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pyogrio.read_dataframe(path, layer=layer, encoding=encoding, fid_as_index=True)
    except (
        pyogrio.errors.DataSourceError,
        pyogrio.errors.DataLayerError,
        pyogrio.errors.FieldError,
        pyogrio.errors.GeometryError,
        pyogrio.errors.FeatureError,
        pyogrio.errors.CRSError,
        shapely.errors.ShapelyError,
    ) as exc:
        raise _fail("gis_read_failed", value=str(exc)[:200]) from exc


def _table_from_gdf(gdf: gpd.GeoDataFrame, start: int) -> _Table:
    """A GDAL-read frame as a table; rows are FIDs counted from 1."""
    crs = gdf.crs
    attrs = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    table = _Table(
        columns=[str(c) for c in attrs.columns],
        crs=crs,
        crs_source="file" if crs is not None else "none",
    )
    records = attrs.astype(object).where(attrs.notna(), None).to_dict("records")
    for fid, record, geom in zip(gdf.index, records, gdf.geometry, strict=True):
        table.add(int(fid) + start, {str(k): v for k, v in record.items()}, geom)
    return table


def _dbf_encoding(dbf: bytes) -> str:
    """Encoding of a DBF without ``.cpg``: UTF-8 if all its text decodes so, else GBK."""
    try:
        header_len = int.from_bytes(dbf[8:10], "little")
        names = b"".join(dbf[i : i + 11] for i in range(32, max(32, header_len - 1), 32))
        text = names + dbf[header_len:]
    except (IndexError, ValueError):
        text = dbf
    for name, codec in (("UTF-8", "utf-8"), ("GBK", "gbk"), ("GB18030", "gb18030")):
        try:
            text.decode(codec)
            return name
        except UnicodeDecodeError:
            continue
    return "ISO-8859-1"


def _read_shapefile(
    files: dict[str, bytes], shapes: list[str], encoding: str | None, layer: str | None
) -> _Table:
    """One shapefile out of an unzipped archive (the one named ``layer``, else the first)."""
    by_name = {name[:-4].rsplit("/", 1)[-1]: name for name in reversed(shapes)}
    picked, notes = _pick_layer(list(by_name)[::-1], layer)
    chosen = by_name[picked]
    stem = chosen[:-4]
    parts = {
        n[len(stem) :].lower(): data
        for n, data in files.items()
        if n[:-4] == stem and n[len(stem) :].lower() in _SHAPE_PARTS
    }
    for needed in (".shx", ".dbf"):
        if needed not in parts:
            raise _fail("shapefile_missing_part", value=needed, name=chosen)
    cpg = parts.get(".cpg", b"").decode("ascii", "ignore").strip()
    with tempfile.TemporaryDirectory(prefix="vw-shp-") as tmp:
        for ext, content in parts.items():
            (Path(tmp) / f"upload{ext}").write_bytes(content)
        used = encoding or (None if cpg else _dbf_encoding(parts[".dbf"]))
        try:
            gdf = _read_with_gdal(Path(tmp) / "upload.shp", None, used)
        except UnicodeDecodeError:
            # A .cpg that lies (says UTF-8 for a GBK file): trust the bytes instead.
            used = _dbf_encoding(parts[".dbf"])
            gdf = _read_with_gdal(Path(tmp) / "upload.shp", None, used)
    table = _table_from_gdf(gdf, start=1)
    table.encoding = used or cpg
    table.problems.extend(notes)
    return table


def _pick_layer(names: list[str], layer: str | None) -> tuple[str, list[Problem]]:
    """The layer to read: ``layer`` when there is one of that name, else the first.

    ``layer`` is a preference, not a demand: callers pass the name of the app layer being
    filled, which an exported GeoPackage often shares. Not finding it, or leaving other
    layers unread, is a warning.
    """
    if layer in names:
        return layer, []
    chosen, notes = names[0], []
    if layer is not None:
        notes.append(
            _problem(
                "layer_not_found",
                value=layer,
                severity="warning",
                chosen=chosen,
                layers=", ".join(names),
            )
        )
    elif len(names) > 1:
        notes.append(
            _problem("several_layers", value=chosen, severity="warning", layers=", ".join(names))
        )
    return chosen, notes


def _read_gpkg(data: bytes, layer: str | None) -> _Table:
    """The first spatial layer of a GeoPackage (or the one named ``layer``)."""
    with tempfile.TemporaryDirectory(prefix="vw-gpkg-") as tmp:
        path = Path(tmp) / "upload.gpkg"
        path.write_bytes(data)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                listed = pyogrio.list_layers(path)
        except pyogrio.errors.DataSourceError as exc:
            raise _fail("gis_read_failed", value=str(exc)[:200]) from exc
        spatial = [str(name) for name, gtype in listed if gtype is not None]
        if not spatial:
            raise _fail("gpkg_no_spatial_layer", value=", ".join(str(n) for n, _ in listed))
        chosen, notes = _pick_layer(spatial, layer)
        gdf = _read_with_gdal(path, chosen, None)
    # GeoPackage FIDs already count from 1, as users see them in QGIS.
    table = _table_from_gdf(gdf, start=0)
    table.problems.extend(notes)
    return table
