"""EXIF position and time from photos: real camera files and hand-built blocks.

Reference values of the real files come from exif-py's dump of the same files
(ianare/exif-samples, file ``dump``), an independent reader. The hand-built EXIF blocks
are written by the small TIFF writer below, not by the code under test.
"""

import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.exif import PhotoExif, image_kind, read_exif

PHOTOS = Path(__file__).resolve().parents[1] / "data" / "photos"

# ---------------------------------------------------------------- an independent writer
_TYPES = {
    "byte": (1, "B"),
    "ascii": (2, None),
    "short": (3, "H"),
    "long": (4, "I"),
    "rational": (5, "II"),
    "srational": (10, "ii"),
}


def _encode(order, kind, value):
    code, fmt = _TYPES[kind]
    if kind == "ascii":
        raw = value.encode("ascii") + b"\x00"
        return code, len(raw), raw
    values = value if isinstance(value, list) else [value]
    if kind in ("rational", "srational"):
        raw = b"".join(struct.pack(order + fmt, n, d) for n, d in values)
    else:
        raw = b"".join(struct.pack(order + fmt, v) for v in values)
    return code, len(values), raw


def build_tiff(ifd0, exif=None, gps=None, order="<"):
    """A TIFF block: IFD0 (+ Exif and GPS sub-IFDs), values after the IFDs."""
    ifds = [list(ifd0)]
    if exif is not None:
        ifds[0].append((0x8769, "long", ("ifd", len(ifds))))
        ifds.append(list(exif))
    if gps is not None:
        ifds[0].append((0x8825, "long", ("ifd", len(ifds))))
        ifds.append(list(gps))
    offsets, pos = [], 8
    for ifd in ifds:
        offsets.append(pos)
        pos += 2 + 12 * len(ifd) + 4
    data_area = bytearray()
    out = bytearray((b"II" if order == "<" else b"MM") + struct.pack(order + "HI", 42, 8))
    for ifd in ifds:
        out += struct.pack(order + "H", len(ifd))
        for tag, kind, value in sorted(ifd, key=lambda e: e[0]):
            if isinstance(value, tuple) and value[0] == "ifd":
                value = offsets[value[1]]
            code, count, raw = _encode(order, kind, value)
            if len(raw) <= 4:
                field = raw.ljust(4, b"\x00")
            else:
                field = struct.pack(order + "I", pos + len(data_area))
                data_area += raw
                if len(data_area) % 2:
                    data_area += b"\x00"
            out += struct.pack(order + "HHI", tag, code, count) + field
        out += struct.pack(order + "I", 0)
    return bytes(out + data_area)


def jpeg_with(tiff: bytes) -> bytes:
    app1 = b"Exif\x00\x00" + tiff
    return b"\xff\xd8" + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + b"\xff\xd9"


def png_with(tiff: bytes | None) -> bytes:
    def chunk(kind, body):
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
    exif = chunk(b"eXIf", tiff) if tiff is not None else b""
    idat = chunk(b"IDAT", zlib.compress(b"\x00\x00\x00\x00"))
    return b"\x89PNG\r\n\x1a\n" + ihdr + exif + idat + chunk(b"IEND", b"")


def dms(value):
    """Degrees as EXIF rationals, seconds to 1/1000."""
    d = int(value)
    m = int((value - d) * 60)
    s = round(((value - d) * 60 - m) * 60 * 1000)
    return [(d, 1), (m, 1), (s, 1000)]


def phone_gps(
    lon, lat, *, order="<", alt=None, below=False, error_m=None, lat_ref=None, lon_ref=None
):
    gps = [
        (1, "ascii", lat_ref or ("N" if lat >= 0 else "S")),
        (2, "rational", dms(abs(lat))),
        (3, "ascii", lon_ref or ("E" if lon >= 0 else "W")),
        (4, "rational", dms(abs(lon))),
        (7, "rational", [(2, 1), (5, 1), (30, 1)]),
        (0x12, "ascii", "WGS-84"),
        (0x1D, "ascii", "2021:08:15"),
    ]
    if alt is not None:
        gps += [(5, "byte", 1 if below else 0), (6, "rational", [(int(alt * 10), 10)])]
    if error_m is not None:
        gps.append((0x1F, "rational", [(int(error_m * 100), 100)]))
    exif = [(0x9003, "ascii", "2021:08:15 10:20:30"), (0x9011, "ascii", "+08:00")]
    return build_tiff([(0x0112, "short", 6)], exif=exif, gps=gps, order=order)


# ------------------------------------------------------------------------- real files
def test_nikon_photo_with_gps_matches_exif_py_dump():
    found = read_exif((PHOTOS / "DSCN0010.jpg").read_bytes())
    # exif-py: GPSLatitude [43, 28, 1407/500] N, GPSLongitude [11, 53, 645599999/100000000] E
    assert found.lat == pytest.approx(43 + 28 / 60 + (1407 / 500) / 3600, abs=1e-9)
    assert found.lon == pytest.approx(11 + 53 / 60 + (645599999 / 100000000) / 3600, abs=1e-9)
    assert found.taken_at == "2008-10-22T16:28:39"  # EXIF DateTimeOriginal
    assert found.taken_on == "2008-10-22"
    # GPSDate 2008:10:23, GPSTimeStamp [14, 27, 181/25]
    assert found.gps_time_utc == "2008-10-23T14:27:07Z"
    assert found.datum == "WGS-84"
    assert found.orientation == 1
    assert found.position == (found.lon, found.lat)


def test_gps_block_without_a_position_gives_no_position():
    found = read_exif((PHOTOS / "Canon_40D.jpg").read_bytes())  # GPSVersionID only
    assert found.position is None
    assert found.taken_at == "2008-05-30T15:56:01"


def test_photo_without_exif_but_with_xmp_app1_is_empty():
    assert read_exif((PHOTOS / "image01137.jpg").read_bytes()) == PhotoExif()


# ------------------------------------------------------------------------- hand-built
@pytest.mark.parametrize("order", ["<", ">"])
def test_both_byte_orders_in_jpeg(order):
    found = read_exif(jpeg_with(phone_gps(112.8234, 39.5123, order=order, alt=1050.5, error_m=6.5)))
    assert found.lon == pytest.approx(112.8234, abs=1e-6)
    assert found.lat == pytest.approx(39.5123, abs=1e-6)
    assert found.altitude_m == pytest.approx(1050.5)
    assert found.accuracy_m == pytest.approx(6.5)
    assert found.taken_at == "2021-08-15T10:20:30"
    assert found.offset == "+08:00"
    assert found.gps_time_utc == "2021-08-15T02:05:30Z"
    assert found.orientation == 6


def test_png_exif_chunk_is_read():
    found = read_exif(png_with(phone_gps(112.8, 39.5)))
    assert found.position == pytest.approx((112.8, 39.5), abs=1e-6)
    assert image_kind(png_with(None)) == "png"
    assert read_exif(png_with(None)) == PhotoExif()


def test_south_west_and_below_sea_level_are_negative():
    found = read_exif(jpeg_with(phone_gps(-70.25, -33.5, alt=12, below=True)))
    assert found.position == pytest.approx((-70.25, -33.5), abs=1e-6)
    assert found.altitude_m == pytest.approx(-12)


@pytest.mark.parametrize(
    "gps",
    [
        [
            (1, "ascii", "N"),
            (2, "rational", [(0, 1)] * 3),
            (3, "ascii", "E"),
            (4, "rational", [(0, 1)] * 3),
        ],  # (0, 0): a camera without a fix
        [
            (1, "ascii", "N"),
            (2, "rational", [(95, 1), (0, 1), (0, 1)]),
            (3, "ascii", "E"),
            (4, "rational", [(112, 1), (0, 1), (0, 1)]),
        ],  # latitude 95
        [
            (1, "ascii", "N"),
            (2, "rational", [(39, 0), (0, 1), (0, 1)]),
            (3, "ascii", "E"),
            (4, "rational", [(112, 1), (0, 1), (0, 1)]),
        ],  # zero denominator
        [(2, "rational", [(39, 1)]), (4, "ascii", "112")],  # wrong type
    ],
)
def test_unusable_positions_are_none(gps):
    found = read_exif(jpeg_with(build_tiff([], gps=gps)))
    assert found.position is None


def test_impossible_dates_are_dropped():
    block = build_tiff(
        [(0x0132, "ascii", "2021:02:30 10:00:00")], exif=[(0x9003, "ascii", "    :  :     :  :  ")]
    )
    assert read_exif(jpeg_with(block)).taken_at is None


# --------------------------------------------------------------------- hostile input
def test_ifd_loop_and_huge_counts_end_quietly():
    order = "<"
    # IFD0 whose Exif pointer points back at IFD0 itself, and an entry claiming 2**31 values.
    ifd = struct.pack(order + "H", 2)
    ifd += struct.pack(order + "HHII", 0x8769, 4, 1, 8)
    ifd += struct.pack(order + "HHII", 0x0132, 2, 2**31, 4)
    block = b"II" + struct.pack(order + "HI", 42, 8) + ifd + b"\x00" * 4
    assert read_exif(jpeg_with(block)) == PhotoExif()


def test_every_truncation_of_a_real_photo_is_handled():
    data = (PHOTOS / "DSCN0010.jpg").read_bytes()
    for end in range(0, 3000, 7):
        read_exif(data[:end])  # must not raise


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_exif_bytes_never_raise(blob):
    assert isinstance(read_exif(jpeg_with(b"II*\x00\x08\x00\x00\x00" + blob)), PhotoExif)
    assert isinstance(read_exif(jpeg_with(blob)), PhotoExif)


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "jpeg"),
        (png_with(None), "png"),
        (b"GIF89a...", None),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", None),
        (b"\xff\xd8", None),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 8, None),
        (b"", None),
    ],
)
def test_image_kind_by_content(data, kind):
    assert image_kind(data) == kind
