"""Tests of geo.safety: hostile XML, ZIP and JSON, through the guards and through read_upload."""

from __future__ import annotations

import io
import stat
import struct
import sys
import zipfile
from pathlib import Path

import pytest

from geo import safety
from geo.problems import InputError, Problem
from geo.readers import read_upload
from geo.safety import (
    MB,
    check_size,
    json_depth,
    load_json,
    parse_xml,
    refuse_xml_declarations,
    safe_unzip,
)

KML_DIR = Path(__file__).resolve().parents[1] / "data" / "import"


def problem_of(call, *args, **kwargs) -> Problem:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError) as info:
        call(*args, **kwargs)
    problem = info.value.problems[0]
    assert "{" not in problem.message("en").replace("{}", "")
    assert problem.message("zh") != problem.message("en")
    return problem


def make_zip(entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, content in entries.items():
            z.writestr(zipfile.ZipInfo(name), content, compress_type=method)
    return buf.getvalue()


def _lie_about_size(data: bytes, claimed: int) -> bytes:
    """The archive with the uncompressed size of its only entry replaced by ``claimed``."""
    out = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        pos = out.find(signature) + offset
        out[pos : pos + 4] = struct.pack("<L", claimed)
    return bytes(out)


# --- size --------------------------------------------------------------------------------


def test_check_size_names_the_limit_in_mb() -> None:
    check_size(b"x" * 10, 10)
    problem = problem_of(check_size, b"x" * (3 * MB), 2 * MB)
    assert problem.code == "too_large"
    # The text may be re-registered by layers/; the limit must be in it either way.
    assert "2 MB" in problem.message("en") and "2 MB" in problem.message("zh")


# --- XML ---------------------------------------------------------------------------------

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE gpx [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<gpx version="1.1"><wpt lat="1" lon="2"><name>&xxe;</name></wpt></gpx>"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE kml [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<kml><Placemark><name>&lol9;</name></Placemark></kml>"""


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (XXE, "x.gpx"),
        (BILLION_LAUGHS, "lol.kml"),
        (XXE.replace(b"DOCTYPE", b"doctype"), "lower.gpx"),
        (XXE.decode().encode("utf-16"), "utf16.gpx"),
        (XXE.decode().encode("utf-16-be"), "utf16be.gpx"),
        (
            XXE.replace(b"<!DOCTYPE gpx [", b"<!DOCTYPE gpx SYSTEM 'http://127.0.0.1:1/x.dtd' ["),
            "e.gpx",
        ),
        (b'<kml><!ENTITY x "y"></kml>', "entity.kml"),
    ],
)
def test_dtd_and_entities_are_refused_before_parsing(data: bytes, name: str) -> None:
    problem = problem_of(read_upload, data, name)
    assert problem.code == "xml_dtd_forbidden"


@pytest.mark.parametrize(
    "data",
    [
        XXE,
        BILLION_LAUGHS,
        XXE.decode().encode("utf-16"),
        XXE.decode().encode("utf-32"),
        b"<kml><!dOcTyPe x></kml>",
        b'<?xml version="1.0" encoding="GB2312"?><!ENTITY a "b"><kml/>',
    ],
)
def test_first_line_refuses_declarations_in_any_case_and_encoding(data: bytes) -> None:
    problem = problem_of(refuse_xml_declarations, data)
    assert problem.code == "xml_dtd_forbidden"


def test_dtd_inside_a_kmz_is_refused() -> None:
    problem = problem_of(read_upload, make_zip({"doc.kml": BILLION_LAUGHS}), "lol.kmz")
    assert problem.code == "xml_dtd_forbidden"


def test_defusedxml_is_the_second_line_of_defence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(safety, "refuse_xml_declarations", lambda data: None)
    assert problem_of(parse_xml, XXE).code == "xml_dtd_forbidden"
    assert problem_of(parse_xml, BILLION_LAUGHS).code == "xml_dtd_forbidden"


def test_refuse_xml_declarations_lets_plain_xml_pass() -> None:
    refuse_xml_declarations((KML_DIR / "google_earth.kml").read_bytes())
    refuse_xml_declarations("<gpx><name>doctype</name></gpx>".encode("utf-16"))


def test_malformed_xml_names_line_and_column() -> None:
    problem = problem_of(parse_xml, b"<gpx>\n<wpt>\n</gpx>")
    assert problem.code == "xml_invalid" and problem.params["line"] == 3


def test_unknown_xml_encoding_is_a_clear_error() -> None:
    data = b'<?xml version="1.0" encoding="no-such-codec"?><kml/>'
    assert problem_of(read_upload, data, "x.kml").code == "xml_encoding"


# --- JSON --------------------------------------------------------------------------------


def test_json_depth_counts_without_recursion() -> None:
    assert json_depth(1) == 0 and json_depth([]) == 1 and json_depth({"a": [[1]]}) == 3
    deep: list = []
    for _ in range(sys.getrecursionlimit() * 3):
        deep = [deep]
    assert json_depth(deep, limit=64) == 65


def test_json_nesting_at_the_limit_is_accepted() -> None:
    assert json_depth(load_json(b"[" * 64 + b"]" * 64)) == 64
    assert problem_of(load_json, b"[" * 65 + b"]" * 65).code == "json_too_deep"


@pytest.mark.parametrize(
    "data",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        b'{"type": "Feature", "geometry": ' + b"[" * 100_000,
    ],
)
def test_100000_deep_json_is_a_clean_input_error(data: bytes) -> None:
    problem = problem_of(read_upload, data, "deep.geojson")
    assert problem.code == "json_too_deep" and "64" in problem.message("en")


@pytest.mark.parametrize("token", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
def test_nan_tokens_are_refused(token: bytes) -> None:
    problem = problem_of(load_json, b'{"x": [1, ' + token + b"]}")
    assert problem.code == "json_nan" and problem.params["line"] == 1
    assert problem.params["column"] in (11, 12)  # orjson points at the sign or the digit


def test_broken_json_names_line_and_column() -> None:
    problem = problem_of(load_json, b'{\n  "a": 1,\n  "b" 2\n}')
    assert problem.code == "json_invalid" and problem.params["line"] == 3


# --- ZIP ---------------------------------------------------------------------------------


def test_safe_unzip_returns_files_not_directories() -> None:
    data = make_zip({"doc.kml": b"<kml/>", "files/": b"", "files\\icon.png": b"png"})
    assert safe_unzip(data) == {"doc.kml": b"<kml/>", "files/icon.png": b"png"}


@pytest.mark.parametrize(
    "name",
    [
        "../evil.kml",
        "files/../../evil.kml",
        "/etc/cron.d/evil",
        "C:\\Windows\\evil.kml",
        "c:evil.kml",
        "..\\..\\evil.kml",
        "files\\..\\..\\evil.kml",
        "\\\\server\\share\\evil.kml",
    ],
)
def test_zip_slip_names_are_refused(name: str) -> None:
    data = make_zip({"doc.kml": b"<kml/>", name: b"x"})
    problem = problem_of(safe_unzip, data)
    assert problem.code == "zip_unsafe_name" and problem.value == name
    assert problem_of(read_upload, data, "x.kmz").code == "zip_unsafe_name"


def test_symlink_entries_are_refused() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("doc.kml", b"<kml/>")
        link = zipfile.ZipInfo("link.kml")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        z.writestr(link, b"/etc/passwd")
    assert problem_of(safe_unzip, buf.getvalue()).code == "zip_symlink"


def test_encrypted_entries_are_refused() -> None:
    data = bytearray(make_zip({"doc.kml": b"<kml/>"}, zipfile.ZIP_STORED))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        pos = data.find(signature) + offset
        data[pos] |= 0x01
    assert problem_of(safe_unzip, bytes(data)).code == "zip_encrypted"


def test_too_many_entries_are_refused() -> None:
    data = make_zip({f"f{i}.txt": b"" for i in range(1001)})
    problem = problem_of(safe_unzip, data)
    assert problem.code == "zip_too_many_entries" and problem.params["limit"] == 1000
    assert problem_of(safe_unzip, make_zip({"a": b"", "b": b""}), max_entries=1).code == (
        "zip_too_many_entries"
    )


def test_duplicate_names_are_refused() -> None:
    buf = io.BytesIO()
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(buf, "w") as z:
        z.writestr("doc.kml", b"<kml>1</kml>")
        z.writestr("doc.kml", b"<kml>2</kml>")
    assert problem_of(safe_unzip, buf.getvalue()).code == "zip_duplicate_name"


def _zeros_zip(name: str, size: int) -> bytes:
    buf = io.BytesIO()
    chunk = bytes(MB)
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z, z.open(name, "w") as f:
        for _ in range(size // MB):
            f.write(chunk)
    return buf.getvalue()


@pytest.mark.slow
def test_zip_bomb_of_300_mb_zeros_is_refused() -> None:
    bomb = _zeros_zip("doc.kml", 300 * MB)
    assert len(bomb) < 1 * MB  # ~300 KB on disk
    # Refused from the central directory; the time is a row of scripts/bench.py: zip bomb.
    problem = problem_of(read_upload, bomb, "bomb.kmz")
    assert problem.code == "zip_entry_too_large" and problem.value == "doc.kml"
    assert "100 MB" in problem.message("en")


def test_zip_ratio_bomb_under_the_size_limit_is_refused() -> None:
    problem = problem_of(safe_unzip, _zeros_zip("doc.kml", 20 * MB))
    assert problem.code == "zip_ratio" and problem.params["ratio"] > 200


def test_bomb_hidden_in_a_directory_entry_is_refused() -> None:
    problem = problem_of(safe_unzip, _zeros_zip("files/", 20 * MB))
    assert problem.code == "zip_ratio" and problem.value == "files/"


def test_total_size_is_capped() -> None:
    data = make_zip({"a.bin": bytes(600_000), "b.bin": bytes(600_000)})
    problem = problem_of(safe_unzip, data, max_total=1 * MB)
    assert problem.code == "zip_total_too_large" and "1 MB" in problem.message("en")


def test_lying_declared_size_is_refused() -> None:
    liar = _lie_about_size(make_zip({"doc.kml": b"<kml>" + b" " * 50_000 + b"</kml>"}), 10)
    # The declared 10 bytes pass the directory checks, but the data does not match them.
    problem = problem_of(safe_unzip, liar)
    assert problem.code == "zip_invalid"


class _FakeEntryArchive:
    """An archive whose entry yields more bytes than its directory declares."""

    def __init__(self, actual: int):
        self.actual = actual

    def open(self, info: zipfile.ZipInfo) -> io.BytesIO:
        return io.BytesIO(bytes(self.actual))


def test_decompressed_bytes_are_counted_not_trusted() -> None:
    info = zipfile.ZipInfo("doc.kml")
    info.file_size, info.compress_size = 10, 10_000_000
    archive = _FakeEntryArchive(3 * MB)
    with pytest.raises(InputError) as exc:
        safety._read_entry(archive, info, 0, (200 * MB, 1 * MB, 200))  # type: ignore[arg-type]
    assert exc.value.problems[0].code == "zip_entry_too_large"
    with pytest.raises(InputError) as exc:
        safety._read_entry(archive, info, 199 * MB, (200 * MB, 100 * MB, 200))  # type: ignore[arg-type]
    assert exc.value.problems[0].code == "zip_total_too_large"


@pytest.mark.parametrize(
    "data",
    [
        b"PK\x03\x04" + b"\x00" * 100,
        make_zip({"doc.kml": b"<kml/>" * 100})[:-30],
        _lie_about_size(make_zip({"doc.kml": b"<kml/>" * 100}, zipfile.ZIP_STORED), 6),
    ],
)
def test_corrupt_archives_are_refused(data: bytes) -> None:
    assert problem_of(read_upload, data, "x.kmz").code == "zip_invalid"


def test_empty_archive_is_refused_with_its_content_listed() -> None:
    problem = problem_of(read_upload, b"PK\x05\x06" + b"\x00" * 18, "empty.zip")
    assert problem.code == "zip_no_supported_file"


def test_declared_entry_count_is_checked_before_parsing() -> None:
    data = bytearray(make_zip({"a.kml": b"<kml/>"}))
    pos = data.rfind(b"PK\x05\x06")
    data[pos + 8 : pos + 12] = struct.pack("<HH", 60000, 60000)
    problem = problem_of(safe_unzip, bytes(data))
    assert problem.code == "zip_too_many_entries" and problem.params["count"] == 60000


def test_nested_zip_is_not_unpacked() -> None:
    inner = make_zip({"doc.kml": (KML_DIR / "ovital.kml").read_bytes()})
    outer = make_zip({"inner.zip": inner})
    assert problem_of(read_upload, outer, "x.zip").code == "zip_no_supported_file"
