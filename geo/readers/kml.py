"""KML 2.x (and the KML inside a KMZ): placemarks with their folder path, and the photos
a KMZ's placemarks show (:func:`kmz_images`)."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote
from xml.etree.ElementTree import Element

import shapely
from shapely.geometry.base import BaseGeometry

from geo.readers.result import WGS84, _problem, _RowError, _Table, _unique
from geo.readers.xmldoc import (
    _children,
    _float_or_none,
    _line_from_parts,
    _local,
    _parse_any_xml,
    _text,
)
from geo.safety import safe_unzip

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
    geom_els = [c for c in placemark if _local(c.tag) in _KML_GEOMETRIES]
    if not geom_els:
        return record, None
    builder = _KmlGeometry(row, table)
    # Google Location History writes an empty <Point/> beside the gx:Track: keep the track.
    usable = [g for g in geom_els if not _empty_point(g)] or geom_els[:1]
    if len(usable) < len(geom_els):
        builder.empty_point_skipped()
    if len(usable) == 1:
        geom, ele, times = builder.build(usable[0])
    else:
        parts = [part for g in usable if (part := builder.build(g)[0]) is not None]
        geom, ele = _combine(parts), None
        times = builder.times
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

    def empty_point_skipped(self) -> None:
        """Warn that an empty Point of the Placemark was left out."""
        self.table.problems.append(
            _problem("kml_empty_point_skipped", row=self.row, field="Point", severity="warning")
        )

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
            elif _empty_point(child) and len(el) > 1:
                self.empty_point_skipped()
            elif kind in _KML_GEOMETRIES:
                geom, _z = self.leaf(child)
                if geom is not None:
                    parts.append(geom)
        return _combine(parts), None, self.times


def _empty_point(el: Element) -> bool:
    """A ``<Point>`` without coordinates (``<Point/>``, or empty ``<coordinates>``)."""
    if _local(el.tag) != "Point":
        return False
    coords = _children(el).get("coordinates")
    return coords is None or not (_text(coords) or "").strip()


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


# --- photos inside a KMZ -----------------------------------------------------------------

_IMG_SRC = re.compile(r"""<img\b[^>]*?\bsrc\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.I)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
#: ExtendedData that Google Earth uses for a placemark's photos (comma or space separated).
_MEDIA_KEYS = ("gx_media_links",)
#: At most this many image references are kept per placemark.
_MAX_REFS = 50


@dataclass(frozen=True)
class KmzImage:
    """One image a KMZ placemark refers to.

    Attributes
    ----------
    row : int
        The placemark's row, numbered as the KML reader numbers rows.
    ref : str
        The reference as written (``files/IMG_0001.jpg``).
    name : str or None
        The archive entry it resolves to; None when it points outside the archive.
    data : bytes or None
        The entry's content; None when the archive has no such entry.
    """

    row: int
    ref: str
    name: str | None
    data: bytes | None


def description_images(text: str | None) -> list[str]:
    """The image references of a description's ``<img src>``, in order and each once;
    links to another host or ``data:`` URLs are left out (never fetched).

    >>> description_images('<p><img src="files/a.jpg" width=300><IMG SRC=images/b.png>')
    ['files/a.jpg', 'images/b.png']
    >>> description_images('<img src="https://example.com/x.jpg">'), description_images(None)
    ([], [])
    """
    out: list[str] = []
    for match in _IMG_SRC.finditer(text or ""):
        ref = next(g for g in match.groups() if g is not None).strip()
        if ref and not _SCHEME.match(ref) and not ref.startswith("//") and ref not in out:
            out.append(ref)
    return out[:_MAX_REFS]


def placemark_images(root: Element) -> dict[int, list[str]]:
    """Row -> the images each placemark's description (``<img src>``) or Google Earth's
    ``gx_media_links`` refers to, rows numbered as the KML reader numbers them; placemarks
    without images are left out."""
    out: dict[int, list[str]] = {}
    scratch = _Table(columns=[], crs=WGS84, crs_source="format")
    for row, (placemark, _folder) in enumerate(_placemarks(root, scratch), 1):
        refs = description_images(_text(_children(placemark).get("description")))
        for key, value in _extended_data(placemark):
            if key in _MEDIA_KEYS:
                refs += [r for r in re.split(r"[\s,]+", value or "") if r and not _SCHEME.match(r)]
        if refs:
            out[row] = list(dict.fromkeys(refs))[:_MAX_REFS]
    return out


def _resolve(ref: str, base: str, files: dict[str, bytes]) -> str | None:
    """The archive entry ``ref`` names, relative to the KML's folder ``base``; None when it
    leaves the archive. Names are matched exactly, then ignoring case."""
    path = unquote(ref.split("?")[0].split("#")[0]).replace("\\", "/")
    if path.startswith("/"):
        return None
    joined = posixpath.normpath(posixpath.join(base, path))
    if joined.startswith("../") or joined == "..":
        return None
    if joined in files:
        return joined
    lower = {name.lower(): name for name in files}
    return lower.get(joined.lower(), joined)


def kmz_images(data: bytes) -> list[KmzImage]:
    """Every image the placemarks of a KMZ refer to, with the archive entry's content.

    The archive is unpacked by :func:`geo.safety.safe_unzip` (its limits apply) and the KML
    is the one the reader takes (``doc.kml``, else the first ``.kml``). Empty for an archive
    without KML or images; raises :class:`geo.problems.InputError` as the reader would.

    >>> import io, zipfile
    >>> buf = io.BytesIO()
    >>> with zipfile.ZipFile(buf, "w") as z:
    ...     z.writestr("doc.kml", '<kml><Placemark><description><![CDATA[<img src="files/a.jpg">'
    ...                ']]></description><Point><coordinates>112.8,39.5</coordinates></Point>'
    ...                '</Placemark></kml>')
    ...     z.writestr("files/a.jpg", b"JPEG")
    >>> [(i.row, i.ref, i.data) for i in kmz_images(buf.getvalue())]
    [(1, 'files/a.jpg', b'JPEG')]
    """
    files = safe_unzip(data)
    kmls = [name for name in files if name.lower().endswith(".kml")]
    if not kmls:
        return []
    chosen = {name.lower(): name for name in files}.get("doc.kml", kmls[0])
    root, _problems = _parse_any_xml(files[chosen])
    base = posixpath.dirname(chosen)
    out = []
    for row, refs in placemark_images(root).items():
        for ref in refs:
            name = _resolve(ref, base, files)
            out.append(KmzImage(row, ref, name, files.get(name) if name else None))
    return out
