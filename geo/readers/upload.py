"""The one door, :func:`read_upload`: size cap, sniffing, dispatch to a format reader, ZIPs."""

from __future__ import annotations

import logging

from geo.problems import InputError
from geo.readers.csvfile import _read_csv
from geo.readers.gdal import _read_gpkg, _read_shapefile
from geo.readers.geojson import _read_geojson
from geo.readers.gpx import _read_gpx
from geo.readers.kml import _read_kml
from geo.readers.result import ReadResult, _fail, _finish, _problem, _Table
from geo.readers.sniff import _EXT_KIND, _extension, _is_blank, sniff_kind
from geo.readers.xlsx import read_xlsx
from geo.readers.xmldoc import _local, _parse_any_xml
from geo.safety import (
    check_size,
    safe_unzip,
)

#: Named as before the split into modules, so log filters keep working.
_LOG = logging.getLogger("geo.readers")


def read_upload(
    data: bytes,
    filename: str,
    *,
    max_bytes: int = 50 * 1024 * 1024,
    encoding: str | None = None,
    layer: str | None = None,
    sheet: str | None = None,
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
    sheet : str, optional
        Sheet of an .xlsx workbook to read; by default the first one with coordinate
        columns. ``ReadResult.sheets`` lists the workbook's sheets.

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
        return _read_detected(data, filename, encoding, layer, sheet)
    except (InputError, MemoryError):
        raise
    except Exception as exc:
        # Last line of defence for an upload endpoint: a parser bug must not become a 500.
        # The traceback goes to the log; tests assert this code never appears.
        _LOG.exception("reader failed on %r", filename)
        raise _fail("read_failed", value=filename, reason=type(exc).__name__) from exc


def _read_detected(
    data: bytes, filename: str, encoding: str | None, layer: str | None, sheet: str | None = None
) -> ReadResult:
    """Dispatch on the sniffed container kind."""
    kind = sniff_kind(data, filename)
    if kind == "zip":
        return _read_zip(data, filename, encoding, layer, sheet)
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


# --- ZIP: KMZ, zipped shapefiles, zipped single files ------------------------------------

_INNER_KINDS = {
    ".gpx": "xml",
    ".geojson": "json",
    ".json": "json",
    ".csv": "text",
    ".txt": "text",
    ".gpkg": "gpkg",
}


def _read_zip(
    data: bytes, filename: str, encoding: str | None, layer: str | None, sheet: str | None = None
) -> ReadResult:
    """A ZIP: an .xlsx workbook, KMZ, zipped shapefile, or one zipped GPX/GeoJSON/CSV/
    GeoPackage."""
    files = safe_unzip(data)  # an .xlsx too: its entries pass the same guards first
    lower = {name.lower(): name for name in files}
    if "[content_types].xml" in lower:
        return _read_workbook(data, filename, lower, sheet)
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


def _read_workbook(
    data: bytes, filename: str, lower: dict[str, str], sheet: str | None
) -> ReadResult:
    """An Office Open XML package: an Excel workbook is read, anything else refused."""
    if "xl/workbook.xml" not in lower and "xl/workbook.bin" not in lower:
        raise _fail("office_not_supported", value=filename)
    if "xl/workbook.bin" in lower:  # .xlsb: binary sheets, which openpyxl cannot read
        raise _fail("xlsb_not_supported", value=filename)
    found = read_xlsx(data, filename, sheet)
    note = _problem(
        "xlsx_sheet_read",
        value=found.sheet,
        severity="warning",
        header_row=found.header_row,
        sheets=", ".join(found.sheets),
    )
    found.table.problems.insert(0, note)
    result = _finish(found.table, "xlsx")
    result.sheets, result.sheet = found.sheets, found.sheet
    return result


# --- GDAL-backed formats: Shapefile and GeoPackage ---------------------------------------
