"""Exports of a layer (or any filtered list of its features) to the formats planners exchange.

Formats (keys of :data:`FORMATS`): ``geojson`` (RFC 7946), ``gpkg`` (GeoPackage),
``shp`` (zipped Shapefile with ``.prj`` and a UTF-8 ``.cpg``), ``kml`` (Google Earth,
Ovital), ``csv`` (UTF-8 with BOM, for Excel) and ``xlsx`` (a sheet per layer, Chinese
headers). GeoPackage, KML and xlsx hold several layers in one file
(:func:`export_layers`).

Machine formats (GeoJSON, GeoPackage, Shapefile, CSV) keep field names and enum codes,
so a file exported here imports back unchanged; the formats people read (KML
descriptions, xlsx) show labels in the chosen language.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import re
import tempfile
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import pyogrio
import shapely

from layers import gpkg
from layers.private_fields import hidden_names, public_spec, row_hidden, visible_feature
from layers.specs import SYSTEM_FIELDS, FieldSpec, LayerSpec
from layers.store_base import BaseStore
from layers.tabular import Sheet, as_text, csv_bytes, fits_cell, xlsx_bytes

#: Labels of the columns every export carries besides the declared fields.
COLUMN_LABELS: dict[str, dict[str, str]] = {
    "id": {"zh": "编号", "en": "ID"},
    "created_at": {"zh": "创建时间", "en": "Created at"},
    "updated_at": {"zh": "更新时间", "en": "Updated at"},
    "created_by": {"zh": "创建人", "en": "Created by"},
    "updated_by": {"zh": "修改人", "en": "Updated by"},
    "source": {"zh": "来源", "en": "Source"},
    "version": {"zh": "版本", "en": "Version"},
    "demo": {"zh": "演示数据", "en": "Demo data"},
    "lon": {"zh": "经度", "en": "Longitude"},
    "lat": {"zh": "纬度", "en": "Latitude"},
    "wkt": {"zh": "几何（WKT）", "en": "Geometry (WKT)"},
}
_YES_NO = {"zh": ("是", "否"), "en": ("Yes", "No")}
_NCNAME = re.compile(r"^[A-Za-z_][\w.\-]*$")
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")
_DEGREE_DECIMALS = 7


@dataclass(frozen=True)
class LayerExport:
    """One layer's part of an export: its spec and the features chosen (a filtered view)."""

    spec: LayerSpec
    features: list[dict[str, Any]]


Writer = Callable[[Sequence[LayerExport], str], bytes]


@dataclass(frozen=True)
class ExportFormat:
    """An export format: file suffix, media type, whether one file holds many layers."""

    key: str
    suffix: str
    media_type: str
    label: Mapping[str, str]
    multi_layer: bool
    write: Writer


# --------------------------------------------------------------------------- values
def columns(spec: LayerSpec) -> list[str]:
    """Attribute columns of an export of ``spec``: id, declared fields, system fields."""
    return ["id", *spec.field_names, *SYSTEM_FIELDS]


def column_label(spec: LayerSpec, name: str, lang: str) -> str:
    """A column's header for people: the field's label (with unit) in ``lang``."""
    fspec = spec.field(name)
    if fspec is not None:
        label = fspec.label_in(lang)
        return f"{label} ({fspec.unit})" if fspec.unit else label
    labels = COLUMN_LABELS.get(name, {})
    return labels.get(lang) or labels.get("zh") or name


def geometry_columns(spec: LayerSpec) -> tuple[str, ...]:
    """Geometry columns of the tabular formats: lon/lat for point layers, else WKT."""
    if not spec.spatial:
        return ()
    if set(spec.geometry) == {"Point"}:
        return ("lon", "lat")
    return ("wkt",)


def value_of(feature: Mapping[str, Any], name: str) -> Any:
    """The raw value of column ``name`` of ``feature`` (``id`` or a property)."""
    if name == "id":
        return feature.get("id")
    return (feature.get("properties") or {}).get(name)


def _yes_no(value: bool, lang: str) -> str:
    yes, no = _YES_NO.get(lang, _YES_NO["zh"])
    return yes if value else no


def _plain_number(value: float, unit: str, lang: str) -> str:
    text = as_text(value)
    return f"{text} {unit}" if unit else text


def _same_text(text: str, lang: str) -> str:
    return text


@dataclass(frozen=True)
class ValueStyle:
    """How :func:`display_value` writes yes/no, dates and numbers with their unit.

    :data:`PLAIN_VALUES` is for files (KML balloons, xlsx labels): ISO dates, numbers as
    stored. Pages pass a localised style (``webmap.display``): ``2024年3月5日``,
    ``1,234 households``.
    """

    yes_no: Callable[[bool, str], str] = _yes_no
    date: Callable[[str, str], str] = _same_text
    number: Callable[[float, str, str], str] = _plain_number


PLAIN_VALUES = ValueStyle()


def display_value(
    fspec: FieldSpec | None, value: Any, lang: str, style: ValueStyle = PLAIN_VALUES
) -> str:
    """A value as people read it: enum labels, yes/no, dates, numbers with their unit.

    The one formatting of a field's value for people: exports (KML, xlsx) use the plain
    style, feature pages and the OGC API's HTML a localised one.

    >>> from layers.specs import SpecRegistry
    >>> wells = SpecRegistry.load()["wells"]
    >>> display_value(wells.field("status"), "faulty", "en"), display_value(None, True, "zh")
    ('Faulty', '是')
    >>> display_value(wells.field("depth_m"), 120.0, "zh"), display_value(None, "", "zh")
    ('120 m', '')
    """
    if value is None or value == "":
        return ""
    if isinstance(value, bool) or (fspec is not None and fspec.type == "boolean"):
        truthy = value is True or str(value).lower() in ("true", "1", "yes")
        return style.yes_no(truthy, lang)
    if fspec is None:
        return as_text(value)
    if fspec.type == "date":
        return style.date(str(value), lang)
    if fspec.type in ("number", "integer") and isinstance(value, int | float):
        return style.number(value, fspec.unit, lang)
    return fspec.value_label(value, lang) if fspec.type == "enum" else as_text(value)


def title_of(spec: LayerSpec, feature: Mapping[str, Any]) -> str:
    """A feature's name: its title field when set, else its id."""
    if spec.title_field:
        title = value_of(feature, spec.title_field)
        if title not in (None, ""):
            return str(title)
    return str(feature.get("id", ""))


def _shape(feature: Mapping[str, Any]) -> Any:
    geometry = feature.get("geometry")
    return shapely.geometry.shape(geometry) if geometry else None


def geometry_cells(spec: LayerSpec, feature: Mapping[str, Any]) -> list[Any]:
    """Values of the geometry columns (see :func:`geometry_columns`) for one feature."""
    names = geometry_columns(spec)
    geometry = feature.get("geometry")
    if not names:
        return []
    if not geometry:
        return [None] * len(names)
    if names == ("lon", "lat"):
        lon, lat = geometry["coordinates"][:2]
        return [lon, lat]
    return [shapely.to_wkt(_shape(feature), rounding_precision=_DEGREE_DECIMALS, trim=True)]


# -------------------------------------------------------------------------- GeoJSON
def write_geojson(parts: Sequence[LayerExport], lang: str) -> bytes:
    """An RFC 7946 FeatureCollection (a multi-layer export gets one collection per layer
    name in ``layers``, which plain GeoJSON readers ignore, so only one layer is allowed)."""
    (part,) = parts
    doc = {
        "type": "FeatureCollection",
        "name": part.spec.name,
        "features": [
            {
                "type": "Feature",
                "id": f["id"],
                "geometry": f.get("geometry"),
                "properties": f.get("properties") or {},
            }
            for f in part.features
        ],
    }
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)


# ---------------------------------------------------------------------------- frames
def _column_series(fspec: FieldSpec | None, name: str, values: list[Any]) -> pd.Series:
    kind = fspec.type if fspec is not None else {"version": "integer", "demo": "boolean"}.get(name)
    if kind == "number":
        return pd.Series([np.nan if v is None else float(v) for v in values], dtype="float64")
    if kind == "integer":
        return pd.Series(values, dtype="Int64")
    if kind == "boolean":
        return pd.Series(values, dtype="boolean")
    return pd.Series([None if v is None else str(v) for v in values], dtype="object")


def attribute_frame(part: LayerExport, names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The attributes of ``part`` typed by the spec (columns renamed by ``names``)."""
    data: dict[str, pd.Series] = {}
    for name in columns(part.spec):
        values = [value_of(f, name) for f in part.features]
        series = _column_series(part.spec.field(name), name, values)
        data[(names or {}).get(name, name)] = series
    return pd.DataFrame(data)


def geo_frame(part: LayerExport, names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """``part`` as a GeoDataFrame in EPSG:4326 (a plain DataFrame for a non-spatial layer)."""
    frame = attribute_frame(part, names)
    if not part.spec.spatial:
        return frame
    geoms = [_shape(f) for f in part.features]
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs="EPSG:4326"))


# ------------------------------------------------------------------------ GeoPackage
#: System fields written as DATETIME columns of a GeoPackage.
GPKG_DATETIMES = ("created_at", "updated_at")


def gpkg_frame(part: LayerExport) -> tuple[pd.DataFrame, list[str]]:
    """``part`` as written to a GeoPackage, and its date columns: date fields as ISO
    days (declared DATE afterwards), ``created_at``/``updated_at`` as DATETIME."""
    frame = geo_frame(part)
    dates = [f.name for f in part.spec.fields if f.type == "date"]
    for name in dates:
        frame[name] = gpkg.date_series(value_of(f, name) for f in part.features)
    for name in GPKG_DATETIMES:
        frame[name] = gpkg.datetime_series(value_of(f, name) for f in part.features)
    return frame, dates


def write_gpkg(parts: Sequence[LayerExport], lang: str) -> bytes:
    """A GeoPackage 1.2 (GDAL 3.6 reads it without a warning) with one table per layer,
    titled and described in ``lang``, dates in DATE and DATETIME columns."""
    with tempfile.TemporaryDirectory(prefix="vw-export-") as folder:
        path = Path(folder) / "export.gpkg"
        for part in parts:
            options = {
                "IDENTIFIER": part.spec.label_in(lang),
                "DESCRIPTION": part.spec.description.get(lang, ""),
            }
            frame, dates = gpkg_frame(part)
            pyogrio.write_dataframe(
                frame,
                path,
                layer=part.spec.name,
                driver="GPKG",
                append=path.exists(),
                layer_options=options,
                dataset_options=gpkg.DATASET_OPTIONS,
            )
            gpkg.declare_dates(path, part.spec.name, dates)
        return path.read_bytes()


# ------------------------------------------------------------------------- Shapefile
#: Shapefile geometry families; a layer with several gets one file per family.
_SHP_FAMILIES = {
    "Point": "point",
    "MultiPoint": "point",
    "LineString": "line",
    "MultiLineString": "line",
    "Polygon": "polygon",
    "MultiPolygon": "polygon",
}


def shapefile_names(spec: LayerSpec) -> dict[str, str]:
    """Column name -> DBF field name (at most 10 characters, unique)."""
    result: dict[str, str] = {}
    taken: set[str] = set()
    for name in columns(spec):
        short = name[:10]
        counter = 1
        while short.lower() in taken:
            suffix = str(counter)
            short = name[: 10 - len(suffix)] + suffix
            counter += 1
        taken.add(short.lower())
        result[name] = short
    return result


def _shapefile_readme(parts: Sequence[LayerExport], lang: str) -> str:
    lines = [
        "VillageWorks Shapefile export. Coordinates: WGS84 lon/lat (EPSG:4326).",
        "Encoding: UTF-8 (see the .cpg files). Text longer than 254 bytes is cut by the",
        "Shapefile format; use GeoPackage for long notes. Field names (at most 10 characters):",
        "",
    ]
    for part in parts:
        lines.append(f"[{part.spec.name}] {part.spec.label_in(lang)}")
        for name, short in shapefile_names(part.spec).items():
            lines.append(f"  {short:<10}  {name:<20}  {column_label(part.spec, name, lang)}")
        lines.append("")
    return "\n".join(lines)


def _shapefile_parts(part: LayerExport) -> list[tuple[str, LayerExport]]:
    families = sorted({_SHP_FAMILIES[g] for g in part.spec.geometry})
    if len(families) <= 1:
        return [(part.spec.name, part)]
    split: list[tuple[str, LayerExport]] = []
    for family in families:
        chosen = [
            f
            for f in part.features
            if f.get("geometry") and _SHP_FAMILIES.get(f["geometry"]["type"]) == family
        ]
        split.append((f"{part.spec.name}_{family}", LayerExport(part.spec, chosen)))
    return split


def write_shapefile_zip(parts: Sequence[LayerExport], lang: str) -> bytes:
    """A zip of Shapefiles (``.shp .shx .dbf .prj .cpg``), one per layer and geometry family,
    plus ``README.txt`` mapping the 10-character DBF field names to the full ones."""
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="vw-export-") as folder:
        root = Path(folder)
        for part in parts:
            names = shapefile_names(part.spec)
            for stem, piece in _shapefile_parts(part):
                # A point shapefile holds no MultiPoint: promote the file when one is there.
                multi = any(
                    (f.get("geometry") or {}).get("type", "").startswith("Multi")
                    for f in piece.features
                )
                pyogrio.write_dataframe(
                    geo_frame(piece, names),
                    root / f"{stem}.shp",
                    driver="ESRI Shapefile",
                    encoding="UTF-8",
                    promote_to_multi=multi or None,
                )
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(root.iterdir()):
                archive.write(path, path.name)
            archive.writestr("README.txt", _shapefile_readme(parts, lang))
    return buffer.getvalue()


# ------------------------------------------------------------------------------- KML
_KML_NS = "http://www.opengis.net/kml/2.2"
_KML_TYPES = {"number": "double", "integer": "int", "boolean": "bool"}


def _kml_color(hex_rgb: str, alpha: str = "ff") -> str:
    """KML colours are aabbggrr."""
    rgb = hex_rgb.lstrip("#")
    if not re.fullmatch(r"[0-9a-fA-F]{6}", rgb):
        rgb = "1e88e5"
    return f"{alpha}{rgb[4:6]}{rgb[2:4]}{rgb[0:2]}".lower()


def _kml_coords(coords: Sequence[Sequence[float]]) -> str:
    return " ".join(f"{c[0]},{c[1]}" for c in coords)


def _kml_geometry(parent: ET.Element, geometry: Mapping[str, Any]) -> None:
    kind: str = geometry["type"]
    coords: Any = geometry.get("coordinates")
    if kind.startswith("Multi"):
        multi = ET.SubElement(parent, "MultiGeometry")
        for member in coords or []:
            _kml_geometry(multi, {"type": kind[5:], "coordinates": member})
    elif kind == "Point":
        ET.SubElement(ET.SubElement(parent, "Point"), "coordinates").text = _kml_coords([coords])
    elif kind == "LineString":
        line = ET.SubElement(parent, "LineString")
        ET.SubElement(line, "tessellate").text = "1"
        ET.SubElement(line, "coordinates").text = _kml_coords(coords)
    elif kind == "Polygon":
        polygon = ET.SubElement(parent, "Polygon")
        for index, ring in enumerate(coords or []):
            boundary = ET.SubElement(
                polygon, "outerBoundaryIs" if index == 0 else "innerBoundaryIs"
            )
            ring_el = ET.SubElement(ET.SubElement(boundary, "LinearRing"), "coordinates")
            ring_el.text = _kml_coords(ring)
    elif kind == "GeometryCollection":
        multi = ET.SubElement(parent, "MultiGeometry")
        for member in geometry.get("geometries", []):
            _kml_geometry(multi, member)


def kml_description(spec: LayerSpec, feature: Mapping[str, Any], lang: str) -> str:
    """The balloon text: one row per filled field, every value HTML-escaped.

    Google Earth and Ovital render a description as HTML, so user text must be escaped
    here (and is XML-escaped once more when the document is written).
    """
    rows = []
    for name in ("id", *spec.field_names):
        fspec = spec.field(name)
        text = display_value(fspec, value_of(feature, name), lang)
        if text:
            label = html.escape(column_label(spec, name, lang))
            rows.append(f"<tr><th>{label}</th><td>{html.escape(text)}</td></tr>")
    return "<table>" + "".join(rows) + "</table>"


def _kml_schema(document: ET.Element, spec: LayerSpec, lang: str) -> None:
    schema = ET.SubElement(document, "Schema", name=spec.name, id=f"schema_{spec.name}")
    for name in columns(spec)[1:]:
        fspec = spec.field(name)
        kind = _KML_TYPES.get(fspec.type, "string") if fspec else "string"
        field_el = ET.SubElement(schema, "SimpleField", name=name, type=kind)
        ET.SubElement(field_el, "displayName").text = column_label(spec, name, lang)


def _kml_style(document: ET.Element, spec: LayerSpec) -> None:
    color = str(spec.style.get("color", "#1e88e5"))
    style = ET.SubElement(document, "Style", id=f"style_{spec.name}")
    ET.SubElement(ET.SubElement(style, "IconStyle"), "color").text = _kml_color(color)
    line = ET.SubElement(style, "LineStyle")
    ET.SubElement(line, "color").text = _kml_color(color)
    ET.SubElement(line, "width").text = str(spec.style.get("weight", 2))
    ET.SubElement(ET.SubElement(style, "PolyStyle"), "color").text = _kml_color(color, "66")


def _kml_placemark(
    folder: ET.Element, spec: LayerSpec, feature: Mapping[str, Any], lang: str
) -> None:
    fid = str(feature.get("id", ""))
    attrs = {"id": fid} if _NCNAME.match(fid) else {}
    placemark = ET.SubElement(folder, "Placemark", attrs)
    ET.SubElement(placemark, "name").text = title_of(spec, feature)
    ET.SubElement(placemark, "description").text = kml_description(spec, feature, lang)
    ET.SubElement(placemark, "styleUrl").text = f"#style_{spec.name}"
    data = ET.SubElement(
        ET.SubElement(placemark, "ExtendedData"), "SchemaData", schemaUrl=f"#schema_{spec.name}"
    )
    names = columns(spec)[1:] if attrs else ["id", *columns(spec)[1:]]
    for name in names:
        value = value_of(feature, name)
        if value is not None:
            ET.SubElement(data, "SimpleData", name=name).text = as_text(value)
    if feature.get("geometry"):
        _kml_geometry(placemark, feature["geometry"])


def write_kml(parts: Sequence[LayerExport], lang: str) -> bytes:
    """KML 2.2: a folder per layer; each placemark named by the layer's title field (or
    id), described by its fields as text, with the raw values as ExtendedData."""
    ET.register_namespace("", _KML_NS)
    root = ET.Element("kml", xmlns=_KML_NS)
    document = ET.SubElement(root, "Document")
    title = parts[0].spec.label_in(lang) if len(parts) == 1 else "VillageWorks"
    ET.SubElement(document, "name").text = title
    for part in parts:
        _kml_schema(document, part.spec, lang)
        _kml_style(document, part.spec)
    for part in parts:
        folder = ET.SubElement(document, "Folder")
        ET.SubElement(folder, "name").text = part.spec.label_in(lang)
        for feature in part.features:
            _kml_placemark(folder, part.spec, feature, lang)
    body = ET.tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode("utf-8")


# ------------------------------------------------------------------------------- CSV
def tabular_header(spec: LayerSpec) -> list[str]:
    """Column names of the CSV export: attributes, then lon/lat or WKT."""
    return [*columns(spec), *geometry_columns(spec)]


def write_csv(parts: Sequence[LayerExport], lang: str) -> bytes:
    """UTF-8 CSV with a BOM (so Excel shows Chinese), field names as headers, lon/lat
    columns for point layers and WKT for others, through :func:`layers.tabular.csv_bytes`
    (text that Excel would run as a formula gets a leading apostrophe)."""
    (part,) = parts
    spec = part.spec
    names = columns(spec)
    rows = ([*(value_of(f, n) for n in names), *geometry_cells(spec, f)] for f in part.features)
    return csv_bytes(tabular_header(spec), rows)


# ------------------------------------------------------------------------------ xlsx
def _sheet_title(spec: LayerSpec, lang: str, taken: set[str]) -> str:
    base = _SHEET_BAD.sub("_", spec.label_in(lang)).strip("'")[:31] or spec.name[:31]
    title, counter = base, 2
    while title.lower() in taken:
        suffix = f" ({counter})"
        title, counter = base[: 31 - len(suffix)] + suffix, counter + 1
    taken.add(title.lower())
    return title


def xlsx_value(fspec: FieldSpec | None, name: str, value: Any, lang: str) -> Any:
    """What goes into a cell: numbers and dates typed, enums and yes/no as labels."""
    if value is None or value == "":
        return None
    if fspec is not None and fspec.type == "date":
        try:
            return dt.date.fromisoformat(str(value)[:10])
        except ValueError:
            return str(value)
    if isinstance(value, bool) or (fspec is not None and fspec.type == "enum"):
        return display_value(fspec, value, lang)
    if isinstance(value, int | float):
        return value
    return str(value)


def _xlsx_sheet(part: LayerExport, lang: str, taken: set[str]) -> Sheet:
    from openpyxl.utils import get_column_letter

    spec = part.spec
    names = tabular_header(spec)
    widths = [
        40 if name == "wkt" else max(10, min(30, 2 * len(column_label(spec, name, lang))))
        for name in names
    ]
    fields = [(n, spec.field(n)) for n in columns(spec)]

    def rows() -> Any:
        yield [column_label(spec, n, lang) for n in names]
        for feature in part.features:
            values = [xlsx_value(f, n, value_of(feature, n), lang) for n, f in fields]
            for geom_value in geometry_cells(spec, feature):
                too_long = isinstance(geom_value, str) and not fits_cell(geom_value)
                values.append(None if too_long else geom_value)
            yield values

    return Sheet(
        _sheet_title(spec, lang, taken),
        rows(),
        widths=widths,
        freeze="B2",
        auto_filter=f"A1:{get_column_letter(len(names))}{len(part.features) + 1}",
    )


def write_xlsx(parts: Sequence[LayerExport], lang: str) -> bytes:
    """An Excel workbook with a sheet per layer, headers from the field labels in
    ``lang``. Geometry as lon/lat (points) or WKT; a WKT longer than an Excel cell holds
    is left blank (use GeoPackage for such shapes). Written by
    :func:`layers.tabular.xlsx_bytes` (streaming; text cells are never formulas)."""
    taken: set[str] = set()
    return xlsx_bytes([_xlsx_sheet(part, lang, taken) for part in parts])


# --------------------------------------------------------------------------- formats
FORMATS: dict[str, ExportFormat] = {
    f.key: f
    for f in (
        ExportFormat(
            "geojson",
            ".geojson",
            "application/geo+json",
            {"zh": "GeoJSON", "en": "GeoJSON"},
            False,
            write_geojson,
        ),
        ExportFormat(
            "gpkg",
            ".gpkg",
            "application/geopackage+sqlite3",
            {"zh": "GeoPackage", "en": "GeoPackage"},
            True,
            write_gpkg,
        ),
        ExportFormat(
            "shp",
            ".shp.zip",
            "application/zip",
            {"zh": "Shapefile（zip）", "en": "Shapefile (zip)"},
            True,
            write_shapefile_zip,
        ),
        ExportFormat(
            "kml",
            ".kml",
            "application/vnd.google-earth.kml+xml",
            {"zh": "KML（奥维/谷歌地球）", "en": "KML (Google Earth, Ovital)"},
            True,
            write_kml,
        ),
        ExportFormat(
            "csv",
            ".csv",
            "text/csv; charset=utf-8",
            {"zh": "CSV（Excel）", "en": "CSV (Excel)"},
            False,
            write_csv,
        ),
        ExportFormat(
            "xlsx",
            ".xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            {"zh": "Excel 表格", "en": "Excel workbook"},
            True,
            write_xlsx,
        ),
    )
}


def export_layer(
    store: BaseStore,
    layer: str,
    fmt: str,
    features: list[dict[str, Any]] | None = None,
    *,
    lang: str = "zh",
    private: bool = False,
) -> bytes:
    """``features`` (default: every live feature of ``layer``) in format ``fmt``; the
    layer's private fields (:mod:`layers.private_fields`) only with ``private``.

    >>> import tempfile
    >>> from layers.store import GeoJSONStore
    >>> store = GeoJSONStore(Path(tempfile.mkdtemp()))
    >>> export_layer(store, "wells", "csv").decode("utf-8-sig").splitlines()[0][:16]
    'id,name,depth_m,'
    """
    return export_layers(store, {layer: features}, fmt, lang=lang, private=private)


def export_layers(
    store: BaseStore,
    selection: Mapping[str, list[dict[str, Any]] | None],
    fmt: str,
    *,
    lang: str = "zh",
    private: bool = False,
) -> bytes:
    """Several layers in one file (GeoPackage tables, KML folders, xlsx sheets).

    ``selection`` maps layer names to their chosen features (None: every live feature).
    Formats that hold one layer (GeoJSON, CSV) raise ``ValueError`` for more than one.
    Private fields (a resident's phone) are left out unless ``private`` (a planner's or
    an admin's export).
    """
    export_format = FORMATS[fmt]
    if len(selection) != 1 and not export_format.multi_layer:
        raise ValueError(f"{fmt} holds one layer per file")
    parts = []
    for name, chosen in selection.items():
        spec = store.spec(name) if private else public_spec(store.spec(name))
        features = store.features(name) if chosen is None else chosen
        if hidden_names(spec):
            features = [
                visible_feature(spec, f) for f in features if not row_hidden(spec, f["properties"])
            ]
        parts.append(LayerExport(spec, features))
    return export_format.write(parts, lang)
