"""Read uploaded GIS files into GeoDataFrames: GeoJSON, CSV, Excel .xlsx, GPX, KML/KMZ,
Shapefile, GeoPackage.

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

An .xlsx workbook (a ZIP, checked like any archive) is cut into cells and read by the CSV
reader's own column pass (:mod:`~geo.readers.xlsx`); its rows count as Excel numbers them.

Modules, one per format: :mod:`~geo.readers.csvfile`, :mod:`~geo.readers.xlsx`,
:mod:`~geo.readers.geojson`,
:mod:`~geo.readers.gpx`, :mod:`~geo.readers.kml`, :mod:`~geo.readers.gdal` (Shapefile,
GeoPackage); shared: :mod:`~geo.readers.upload` (the entry point and ZIPs),
:mod:`~geo.readers.sniff`, :mod:`~geo.readers.result`, :mod:`~geo.readers.xmldoc`,
:mod:`~geo.readers.coordinates`. Import from ``geo.readers`` itself.
"""

from geo.readers.coordinates import parse_coordinate
from geo.readers.result import FORMATS, MAX_WKT_NESTING, WGS84, ReadResult
from geo.readers.sniff import sniff_kind
from geo.readers.upload import read_upload

__all__ = [
    "FORMATS",
    "MAX_WKT_NESTING",
    "WGS84",
    "ReadResult",
    "parse_coordinate",
    "read_upload",
    "sniff_kind",
]
