"""Where and when a photo was taken, from its EXIF block: a small pure-Python reader.

Only what field capture needs is read: the GPS position (and its stated accuracy), the
time the picture was taken, the camera's GPS time in UTC and the orientation. The EXIF
block is a TIFF structure found in a JPEG's APP1 segment (``Exif\\0\\0``) or a PNG's
``eXIf`` chunk.

Photos come from phones in the field and are untrusted: every offset and count is checked
against the buffer, IFD loops are cut, the number of entries read is capped, and malformed
input yields an empty :class:`PhotoExif` instead of an exception. No value is executed or
decompressed.

Examples
--------
>>> read_exif(b"not a photo")
PhotoExif(lon=None, lat=None, altitude_m=None, accuracy_m=None, taken_at=None, \
gps_time_utc=None, offset=None, orientation=None, datum=None)
>>> image_kind(b"\\x89PNG\\r\\n\\x1a\\n\\x00\\x00\\x00\\x0dIHDR")
'png'
"""

from __future__ import annotations

import datetime as dt
import math
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["PhotoExif", "image_kind", "image_size", "read_exif"]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_EXIF_HEADER = b"Exif\x00\x00"
#: At most this many IFD entries are read in all: real photos have a few hundred.
_MAX_ENTRIES = 2000
#: At most this many JPEG segments are walked before the image data.
_MAX_SEGMENTS = 200
_MAX_PNG_CHUNKS = 1000
# TIFF field types: size in bytes of one value.
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8}
_TAG_ORIENTATION = 0x0112
_TAG_EXIF_IFD = 0x8769
_TAG_GPS_IFD = 0x8825
_TAG_DATETIME = 0x0132
_TAG_DATETIME_ORIGINAL = 0x9003
_TAG_DATETIME_DIGITIZED = 0x9004
_TAG_OFFSET_TIME_ORIGINAL = 0x9011
_GPS_LAT_REF, _GPS_LAT, _GPS_LON_REF, _GPS_LON = 1, 2, 3, 4
_GPS_ALT_REF, _GPS_ALT, _GPS_TIME, _GPS_DATUM = 5, 6, 7, 0x12
_GPS_DATE, _GPS_H_ERROR = 0x1D, 0x1F
_EXIF_TIME = re.compile(r"^(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET = re.compile(r"^[+-]\d{2}:\d{2}$")


@dataclass(frozen=True)
class PhotoExif:
    """What a photo's EXIF says about where and when it was taken.

    Attributes
    ----------
    lon, lat : float or None
        GPS position in degrees (WGS84 as phones record it); None when absent, out of
        range, or exactly (0, 0) (what cameras write without a fix).
    altitude_m : float or None
        Height above sea level (negative below).
    accuracy_m : float or None
        Horizontal positioning error the device stated (``GPSHPositioningError``).
    taken_at : str or None
        ``DateTimeOriginal`` (else ``DateTime``) as ISO 8601 local time, e.g.
        ``2021-08-15T10:20:30``; with ``offset`` when the photo gives its UTC offset.
    gps_time_utc : str or None
        The GPS clock's UTC date and time, ISO 8601 with ``Z``.
    offset : str or None
        ``OffsetTimeOriginal``, e.g. ``+08:00``.
    orientation : int or None
        EXIF orientation 1-8.
    datum : str or None
        ``GPSMapDatum`` as written (``WGS-84`` on nearly every device).
    """

    lon: float | None = None
    lat: float | None = None
    altitude_m: float | None = None
    accuracy_m: float | None = None
    taken_at: str | None = None
    gps_time_utc: str | None = None
    offset: str | None = None
    orientation: int | None = None
    datum: str | None = None

    @property
    def position(self) -> tuple[float, float] | None:
        """``(lon, lat)`` when the photo has a usable GPS position."""
        if self.lon is None or self.lat is None:
            return None
        return self.lon, self.lat

    @property
    def taken_on(self) -> str | None:
        """The local date the photo was taken (``YYYY-MM-DD``), or None."""
        return self.taken_at[:10] if self.taken_at else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields that are set."""
        return {k: v for k, v in self.__dict__.items() if v is not None}


def image_kind(data: bytes) -> str | None:
    """``"jpeg"`` or ``"png"`` when ``data`` starts like one, else None.

    A JPEG must start with SOI followed by another marker; a PNG with its signature and an
    ``IHDR`` chunk. The extension or declared MIME type of an upload is never trusted.

    >>> image_kind(b"\\xff\\xd8\\xff\\xe0\\x00\\x10JFIF")
    'jpeg'
    >>> image_kind(b"<svg/>") is None
    True
    """
    if len(data) >= 4 and data[:3] == b"\xff\xd8\xff" and data[3] not in (0x00, 0xFF):
        return "jpeg"
    if data.startswith(_PNG_SIGNATURE) and data[12:16] == b"IHDR":
        return "png"
    return None


def read_exif(data: bytes) -> PhotoExif:
    """Position, time and orientation from a JPEG or PNG's EXIF block.

    Parameters
    ----------
    data : bytes
        The whole image file.

    Returns
    -------
    PhotoExif
        Empty (every field None) when there is no EXIF block or it cannot be read.
    """
    tiff = _tiff_block(data)
    if tiff is None:
        return PhotoExif()
    try:
        return _from_tiff(tiff)
    except _Malformed:
        return PhotoExif()


# --- containers --------------------------------------------------------------------------


def _tiff_block(data: bytes) -> bytes | None:
    kind = image_kind(data)
    if kind == "jpeg":
        return _jpeg_exif(data)
    if kind == "png":
        return _png_exif(data)
    return None


def _jpeg_segments(data: bytes) -> Iterator[tuple[int, bytes]]:
    """``(marker, payload)`` of each JPEG segment before the image data (bounded)."""
    pos = 2
    for _ in range(_MAX_SEGMENTS):
        while (
            pos < len(data) and data[pos] == 0xFF and pos + 1 < len(data) and data[pos + 1] == 0xFF
        ):
            pos += 1  # fill bytes
        if pos + 4 > len(data) or data[pos] != 0xFF:
            return
        marker = data[pos + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker in (0xDA, 0xD9):  # start of scan / end of image: no metadata after
            return
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if length < 2 or pos + 2 + length > len(data):
            return
        yield marker, data[pos + 4 : pos + 2 + length]
        pos += 2 + length


def _jpeg_exif(data: bytes) -> bytes | None:
    """The TIFF bytes of the first APP1 ``Exif`` segment before the image data."""
    for marker, payload in _jpeg_segments(data):
        if marker == 0xE1 and payload.startswith(_EXIF_HEADER):
            return payload[len(_EXIF_HEADER) :]
    return None


#: Start-of-frame markers (baseline, progressive, lossless, ...; not DHT C4, JPG C8, DAC CC).
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def image_size(data: bytes) -> tuple[int, int] | None:
    r"""``(width, height)`` in pixels from a JPEG's frame header or a PNG's ``IHDR``,
    read without decoding any pixel; None when the header does not say (or says 0).

    A file's size says nothing of its pixel count (a 20000 x 20000 PNG of one colour
    is a few hundred KB), so this is what a cap on pixels is checked against.

    >>> png = b"\x89PNG\r\n\x1a\n" + bytes([0, 0, 0, 13]) + b"IHDR"
    >>> image_size(png + (20000).to_bytes(4, "big") + (30).to_bytes(4, "big"))
    (20000, 30)
    >>> image_size(b"\xff\xd8\xff\xc0\x00\x0b\x08\x00\x10\x00\x20\x01\x01\x11\x00")
    (32, 16)
    >>> image_size(b"not an image") is None
    True
    """
    kind = image_kind(data)
    size: tuple[int, int] | None = None
    if kind == "png" and len(data) >= 24:
        size = struct.unpack(">II", data[16:24])
    elif kind == "jpeg":
        for marker, payload in _jpeg_segments(data):
            if marker in _SOF_MARKERS and len(payload) >= 5:
                height, width = struct.unpack(">HH", payload[1:5])
                size = (width, height)
                break
    if size is None or size[0] <= 0 or size[1] <= 0:
        return None
    return size


def _png_exif(data: bytes) -> bytes | None:
    """The TIFF bytes of a PNG's ``eXIf`` chunk."""
    pos = len(_PNG_SIGNATURE)
    for _ in range(_MAX_PNG_CHUNKS):
        if pos + 8 > len(data):
            return None
        length, ctype = struct.unpack(">I4s", data[pos : pos + 8])
        if pos + 12 + length > len(data):
            return None
        if ctype == b"eXIf":
            return data[pos + 8 : pos + 8 + length]
        if ctype == b"IEND":
            return None
        pos += 12 + length
    return None


# --- TIFF structure ----------------------------------------------------------------------


class _Malformed(Exception):
    """The EXIF block contradicts itself; give up on it."""


class _Tiff:
    """Bounds-checked reads from one TIFF block."""

    def __init__(self, buf: bytes):
        if len(buf) < 8:
            raise _Malformed("short")
        order = buf[:2]
        if order == b"II":
            self.endian = "<"
        elif order == b"MM":
            self.endian = ">"
        else:
            raise _Malformed("byte order")
        self.buf = buf
        if self.unpack("H", 2)[0] != 42:
            raise _Malformed("magic")
        self.first_ifd = self.unpack("I", 4)[0]
        self.entries_read = 0
        self.seen: set[int] = set()

    def unpack(self, fmt: str, offset: int) -> tuple[Any, ...]:
        size = struct.calcsize(self.endian + fmt)
        if offset < 0 or offset + size > len(self.buf):
            raise _Malformed("out of bounds")
        return struct.unpack(self.endian + fmt, self.buf[offset : offset + size])

    def ifd(self, offset: int) -> dict[int, Any]:
        """The entries of the IFD at ``offset``: tag -> decoded value."""
        if offset in self.seen:
            raise _Malformed("IFD loop")
        self.seen.add(offset)
        (count,) = self.unpack("H", offset)
        self.entries_read += count
        if self.entries_read > _MAX_ENTRIES:
            raise _Malformed("too many entries")
        entries: dict[int, Any] = {}
        for i in range(count):
            tag, ftype, n = self.unpack("HHI", offset + 2 + 12 * i)
            size = _TYPE_SIZES.get(ftype)
            if size is None or n == 0 or n > 1024:
                continue  # unknown type or a block we never need (maker notes...)
            where = offset + 2 + 12 * i + 8
            if size * n > 4:
                where = self.unpack("I", where)[0]
            try:
                entries[tag] = self.value(ftype, n, where)
            except _Malformed:
                continue
        return entries

    def value(self, ftype: int, n: int, offset: int) -> Any:
        if ftype == 2:
            raw = self.buf[offset : offset + n]
            if offset + n > len(self.buf):
                raise _Malformed("ascii out of bounds")
            return raw.split(b"\x00", 1)[0].decode("ascii", "replace").strip()
        if ftype in (5, 10):
            code = "I" if ftype == 5 else "i"
            parts = self.unpack(f"{2 * n}{code}", offset)
            return [_ratio(parts[2 * k], parts[2 * k + 1]) for k in range(n)]
        code = {1: "B", 3: "H", 4: "I", 6: "b", 7: "B", 8: "h", 9: "i", 11: "f", 12: "d"}[ftype]
        return list(self.unpack(f"{n}{code}", offset))


def _ratio(num: int, den: int) -> float:
    return num / den if den else math.nan


def _first(value: Any) -> Any:
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _finite(value: Any) -> float | None:
    value = _first(value)
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def _degrees(parts: Any, ref: Any, negative: str) -> float | None:
    """Decimal degrees from EXIF (degrees, minutes, seconds) rationals and N/S/E/W."""
    if not isinstance(parts, list) or not parts or len(parts) > 3:
        return None
    values = [float(p) for p in parts]
    if not all(math.isfinite(v) and v >= 0 for v in values):
        return None
    values += [0.0] * (3 - len(values))
    degrees = values[0] + values[1] / 60.0 + values[2] / 3600.0
    if isinstance(ref, str) and ref.strip().upper().startswith(negative):
        degrees = -degrees
    return degrees


def _iso_time(text: Any) -> str | None:
    if not isinstance(text, str):
        return None
    m = _EXIF_TIME.match(text)
    if not m:
        return None
    try:
        y, mo, d, h, mi, sec = (int(g) for g in m.groups())
        moment = dt.datetime(y, mo, d, h, mi, sec)
    except ValueError:
        return None
    return moment.isoformat()


def _gps_time(gps: dict[int, Any]) -> str | None:
    date, hms = gps.get(_GPS_DATE), gps.get(_GPS_TIME)
    if not isinstance(date, str) or not isinstance(hms, list) or len(hms) != 3:
        return None
    if not all(math.isfinite(v) for v in hms):
        return None
    m = re.match(r"^(\d{4}):(\d{2}):(\d{2})$", date.strip())
    if not m:
        return None
    try:
        day = dt.datetime(int(m[1]), int(m[2]), int(m[3]), tzinfo=dt.UTC)
        moment = day + dt.timedelta(hours=hms[0], minutes=hms[1], seconds=int(hms[2]))
    except (ValueError, OverflowError):
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _position(gps: dict[int, Any]) -> tuple[float | None, float | None]:
    lat = _degrees(gps.get(_GPS_LAT), gps.get(_GPS_LAT_REF), "S")
    lon = _degrees(gps.get(_GPS_LON), gps.get(_GPS_LON_REF), "W")
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None, None
    if lat == 0 and lon == 0:
        return None, None
    return lon, lat


def _altitude(gps: dict[int, Any]) -> float | None:
    alt = _finite(gps.get(_GPS_ALT))
    if alt is None:
        return None
    return -alt if _first(gps.get(_GPS_ALT_REF)) == 1 else alt


def _from_tiff(buf: bytes) -> PhotoExif:
    tiff = _Tiff(buf)
    ifd0 = tiff.ifd(tiff.first_ifd)
    exif: dict[int, Any] = {}
    gps: dict[int, Any] = {}
    for tag, target in ((_TAG_EXIF_IFD, exif), (_TAG_GPS_IFD, gps)):
        pointer = _first(ifd0.get(tag))
        if isinstance(pointer, int) and pointer > 0:
            try:
                target.update(tiff.ifd(pointer))
            except _Malformed:
                continue
    lon, lat = _position(gps)
    orientation = _first(ifd0.get(_TAG_ORIENTATION))
    offset = exif.get(_TAG_OFFSET_TIME_ORIGINAL)
    datum = gps.get(_GPS_DATUM)
    accuracy = _finite(gps.get(_GPS_H_ERROR))
    return PhotoExif(
        lon=lon,
        lat=lat,
        altitude_m=_altitude(gps) if lon is not None else None,
        accuracy_m=accuracy if accuracy is not None and accuracy >= 0 else None,
        taken_at=_iso_time(exif.get(_TAG_DATETIME_ORIGINAL))
        or _iso_time(exif.get(_TAG_DATETIME_DIGITIZED))
        or _iso_time(ifd0.get(_TAG_DATETIME)),
        gps_time_utc=_gps_time(gps),
        offset=offset if isinstance(offset, str) and _OFFSET.match(offset) else None,
        orientation=orientation if isinstance(orientation, int) and 1 <= orientation <= 8 else None,
        datum=datum if isinstance(datum, str) and datum else None,
    )
