"""The result of reading one file, the table format readers fill, and the shared finishing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from geo.problems import InputError, Problem, short_value
from geo.safety import (
    MAX_COLUMNS,
    MAX_FEATURE_VERTICES,
)

FORMATS = ("geojson", "csv", "xlsx", "gpx", "kml", "kmz", "shapefile", "gpkg")
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
    #: An .xlsx workbook's sheets, and the one read.
    sheets: list[str] = field(default_factory=list)
    sheet: str | None = None


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
    #: ``records`` (lists, or pandas arrays).
    columnar: dict[str, Any] | None = None
    #: True when the geometries are 2D, finite and small by construction: not checked again.
    clean: bool = False

    def add(self, row: int, record: dict[str, Any], geom: BaseGeometry | None) -> None:
        """Keep one readable row."""
        self.rows.append(row)
        self.records.append(record)
        self.geoms.append(geom)

    def keep(self, positions: list[int]) -> None:
        """Keep only the rows at ``positions`` (in order), whichever way they are held."""
        if self.columnar is not None:
            index = np.asarray(positions, dtype=np.intp)
            self.columnar = {
                name: [values[i] for i in positions] if isinstance(values, list) else values[index]
                for name, values in self.columnar.items()
            }
        else:
            self.records = [self.records[i] for i in positions]
        self.geoms = [self.geoms[i] for i in positions]
        self.rows = [self.rows[i] for i in positions]

    def set_elevations(self, z: dict[int, float]) -> None:
        """Give the rows at the keys of ``z`` that ``ele``, unless they have one."""
        if self.columnar is None:
            for i, value in z.items():
                self.records[i].setdefault("ele", value)
        elif z and "ele" not in self.columnar:
            self.columnar["ele"] = [z.get(i) for i in range(len(self.geoms))]


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
    z: dict[int, float] = {}
    for i, geom in enumerate(table.geoms):
        if geom is None or not geom.has_z:
            continue
        if geom.geom_type == "Point" and not geom.is_empty:
            z[i] = float(shapely.get_coordinates(geom, include_z=True)[0, 2])
        table.geoms[i] = shapely.force_2d(geom)
    table.set_elevations(z)


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
    for i in sorted(bad):
        table.problems.append(_problem("non_finite_coordinate", row=table.rows[i]))
    table.keep([i for i in range(len(arr)) if i not in bad])


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
    table.keep([i for i in range(len(arr)) if i not in bad])


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
    if not table.clean:
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
