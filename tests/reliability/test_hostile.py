"""Hostile input: every file of tests/data/hostile/ (see its README), every bad file of the
geojson-hint corpus and big cases made here, through the upload API and the CLI, plus
hostile request bodies for the other write endpoints.

Every answer is a 4xx with a clear message or a correct import, never a 5xx; a refused
file leaves the data directory byte-identical and every layer's version unchanged.
"""

from __future__ import annotations

import contextlib
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
import shapely

from layers.backends import open_store
from layers.uploads import working_area
from webmap import cli
from webmap.app import create_app

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
HOSTILE = HERE.parent / "data" / "hostile"
HINT_BAD = HERE.parent / "data" / "geojson-hint" / "bad"
DEFAULTS = {
    "streetlights": "power_source=solar;status=working",
    "wells": "status=working",
    "pipes": "purpose=irrigation",
    "greenhouses": "",
}
SQL = [
    "'; DROP TABLE vw_features; --",
    "1' OR '1'='1",
    "Robert'); DROP TABLE students;--",
    "\\'; SELECT pg_sleep(10); --",
    "$$; DELETE FROM vw_layers; $$",
]
FORMULAS = [
    "=cmd|' /C calc'!A0",
    "+SUM(1+1)*cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "-2+3+cmd|' /C calc'!A0",
    '=HYPERLINK("http://127.0.0.1:9","x")',
]


@dataclass
class Case:
    name: str
    layer: str
    expect: str  # refuse | import | either
    data: Callable[[], bytes]


def committed_cases() -> list[Case]:
    """The README's table: one row per file of tests/data/hostile/."""
    rows = re.findall(
        r"^\| `([^`]+)` \| (\w+) \| (refuse|import|either) \|",
        (HOSTILE / "README.md").read_text(encoding="utf-8").split("## Generated")[0],
        re.MULTILINE,
    )
    files = {p.name for p in HOSTILE.iterdir()} - {"README.md"}
    assert {r[0] for r in rows} == files, "README table and folder differ"
    return [Case(n, layer, e, (HOSTILE / n).read_bytes) for n, layer, e in rows]


def hint_cases() -> list[Case]:
    return [
        Case(p.name, "streetlights", "either", p.read_bytes)
        for p in sorted(HINT_BAD.glob("*.geojson"))
    ]


def _line_coords(n: int) -> list[tuple[float, float]]:
    return [(112.8 + i * 1e-7, 39.45 + (i % 2) * 1e-5) for i in range(n)]


def generated_cases(tmp: Path) -> list[Case]:
    """The big cases, made in ``tmp`` (never committed)."""

    def bomb() -> bytes:
        path = tmp / "kmz_bomb_1gib.kmz"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
            with archive.open("doc.kml", "w", force_zip64=True) as fh:
                zeros = b"\0" * (1 << 20)
                for _ in range(1024):
                    fh.write(zeros)
        return path.read_bytes()

    def many_entries() -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as archive:
            for i in range(20_000):
                archive.writestr(f"e{i}.kml", b"")
        return buf.getvalue()

    def line() -> bytes:
        coords = ",".join(f"[{x:.7f},{y:.7f}]" for x, y in _line_coords(1_000_000))
        return (
            '{"type":"Feature","properties":{},"geometry":{"type":"LineString",'
            f'"coordinates":[{coords}]}}}}'
        ).encode()

    def wkt_line() -> bytes:
        coords = ", ".join(f"{x:.7f} {y:.7f}" for x, y in _line_coords(1_000_000))
        return f'wkt\n"LINESTRING ({coords})"\n'.encode()

    def folders() -> bytes:
        placemark = "<Placemark><name>deep</name><Point><coordinates>112.85,39.49</coordinates>"
        placemark += "</Point></Placemark>"
        body = "<Folder>" * 100_000 + placemark + "</Folder>" * 100_000
        return f'<kml xmlns="http://www.opengis.net/kml/2.2">{body}</kml>'.encode()

    def huge_string() -> bytes:
        feature = {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [112.87, 39.49]},
            "properties": {"road": "路" * (1024 * 1024)},
        }
        return orjson.dumps(feature)

    return [
        Case("kmz_bomb_1gib.kmz", "streetlights", "refuse", bomb),
        Case("zip_20000_entries.zip", "streetlights", "refuse", many_entries),
        Case("json_nested_100000_arrays.geojson", "streetlights", "refuse", lambda: b"[" * 100_000),
        Case(
            "json_nested_100000_objects.geojson",
            "streetlights",
            "refuse",
            lambda: b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        ),
        Case("kml_nested_100000_folders.kml", "streetlights", "either", folders),
        Case("line_1000000_vertices.geojson", "pipes", "refuse", line),
        Case("wkt_1000000_vertices.csv", "pipes", "refuse", wkt_line),
        Case("huge_string_value.geojson", "streetlights", "either", huge_string),
    ]


# ------------------------------------------------------------------------------- checks
def assert_clear_error(status: int, body: dict) -> None:
    """A 4xx in the one JSON error shape with a message a user can act on."""
    assert 400 <= status < 500, f"HTTP {status}: {body}"
    error = body.get("error") or {}
    assert error.get("message"), body
    assert error.get("code") not in ("internal_error", "read_failed"), body
    for problem in error.get("problems", []):
        assert problem.get("message") and problem.get("code") != "read_failed", problem
        assert "Traceback" not in problem["message"]


class Uploader:
    """The demo county behind the upload API, with a planner's token."""

    def __init__(self, rel, data: Path):
        self.rel = rel
        self.data = data
        self.app = create_app({"DATA_DIR": str(data), "TESTING": True, "SECRET_KEY": "t"})
        self.token = rel.make_accounts(data)["planner"]
        self.client = self.app.test_client()
        self.store = self.app.extensions["villageworks.store"]
        self.county = working_area(self.store).buffer(0.03)  # 2 km margin and more

    def state(self) -> tuple[dict[str, bytes], dict[str, int]]:
        versions = {name: self.store.version(name) for name in self.store.layer_names()}
        return self.rel.data_fingerprint(self.data), versions

    def post(self, case: Case, data: bytes) -> tuple[int, dict]:
        form = {
            "file": (io.BytesIO(data), case.name),
            "layer": case.layer,
            "defaults": DEFAULTS[case.layer],
        }
        response = self.client.post(
            "/api/uploads",
            data=form,
            headers={"Authorization": f"Bearer {self.token}", "Accept-Language": "en"},
        )
        return response.status_code, response.get_json(silent=True) or {}

    def cli(self, case: Case, path: Path) -> tuple[int, str]:
        args = ["import", str(path), "--layer", case.layer, "--data", str(self.data)]
        for pair in filter(None, DEFAULTS[case.layer].split(";")):
            args += ["--set", pair]
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main([*args, "--lang", "en", "--user", "cli"])
        return code, out.getvalue() + err.getvalue()

    def imported(self, body: dict) -> list[dict]:
        layer = body["layer"]
        return [f for f in (self.store.get(layer, fid) for fid in body["ids"]) if f]


def check_import(up: Uploader, case: Case, body: dict) -> None:
    """A file that was imported was imported correctly."""
    features = up.imported(body)
    assert body["status"] in ("committed", "nothing_to_write"), body["status"]
    assert len(features) == len(body["ids"]) and (features or body["ids"] == [])
    for feature in features:
        shape = shapely.geometry.shape(feature["geometry"])
        assert up.county.contains(shape), f"{case.name}: {feature['id']} lies outside the county"
        text = orjson.dumps(feature["properties"]).decode()
        assert "root:x:0:0" not in text, "the content of /etc/passwd was stored"
    roads = sorted(str(f["properties"].get("road")) for f in features)
    if case.name.startswith("sql_injection"):
        assert roads == sorted(SQL)
    elif case.name == "formula_injection.csv":
        assert roads == sorted(FORMULAS)
    elif case.name == "proto_pollution.geojson":
        (props,) = [f["properties"] for f in features]
        assert not {"__proto__", "constructor", "prototype"} & set(props)
        assert props["road"] == "__proto__"
    elif case.name == "gbk_no_encoding.csv":
        assert sorted(f["properties"]["name"] for f in features) == ["东关村水井", "白坊村机井"]
    elif case.name == "utf8_bom_headers.csv":
        assert roads == ["国道208"]
    elif case.name == "control_characters.geojson":
        assert roads == ["a\u001b[31mred\u202egnp.exe\u200b\ufeff\u0007"]


def test_every_hostile_file_is_refused_cleanly_or_imported_correctly(tmp_path, rel):
    up = Uploader(rel, rel.demo_data_dir(tmp_path / "data"))
    # Warm up: the first upload creates lock files and loads the layers.
    up.post(Case("warm.geojson", "streetlights", "refuse", bytes), b"")
    cases = committed_cases() + hint_cases() + generated_cases(tmp_path)
    outcomes: dict[str, int] = {"refused": 0, "imported": 0}
    failures: list[str] = []
    zip_slip_targets = [Path("/tmp/vw-zip-slip.kml"), Path("/tmp/vw-zip-absolute.kml")]
    for case in cases:
        data = case.data()
        before = up.state()
        try:
            status, body = up.post(case, data)
            assert status < 500, f"HTTP {status}: {body}"
            if status >= 300:
                assert case.expect in ("refuse", "either"), f"refused: {body}"
                assert_clear_error(status, body)
                assert up.state() == before, "a refused file changed the stored data"
                outcomes["refused"] += 1
            else:
                assert case.expect in ("import", "either"), f"imported: {body.get('ids')}"
                check_import(up, case, body)
                outcomes["imported"] += 1
            # The same file through the CLI: never a traceback, refusals write nothing.
            path = tmp_path / "cli" / case.name
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(data)
            before = up.state()
            code, text = up.cli(case, path)
            path.unlink()
            assert code in (0, 1), text
            if status >= 300:
                assert code == 1 and "error" in text, text
                assert up.state() == before, "a refused file changed the stored data (CLI)"
        except AssertionError as exc:
            failures.append(f"{case.name}: {str(exc)[:400]}")
        except Exception as exc:  # any other exception is a crash of the pipeline
            failures.append(f"{case.name}: {type(exc).__name__}: {str(exc)[:300]}")
    for target in zip_slip_targets:
        assert not target.exists(), f"an archive wrote {target}"
    assert not failures, "\n".join(failures)
    rel.assert_layers_sound(up.data)
    rel.record_figures(
        "hostile-files",
        {"files_tried": len(cases), **outcomes, "paths": ["API", "CLI"]},
    )
    assert len(cases) >= 60


class ZeroStream(io.RawIOBase):
    """A ``size``-byte multipart body (a file of zeros), made as it is read."""

    def __init__(self, size: int, boundary: str):
        self.head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="layer"\r\n\r\n'
            f"streetlights\r\n--{boundary}\r\nContent-Disposition: form-data; "
            f'name="file"; filename="big.geojson"\r\n\r\n'
        ).encode()
        self.tail = f"\r\n--{boundary}--\r\n".encode()
        self.size = size
        self.pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        self.pos = max(0, min(self.size, base + offset))
        return self.pos

    def tell(self) -> int:
        return self.pos

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.size - self.pos)
        chunk = bytearray(n)
        for text, start in ((self.head, 0), (self.tail, self.size - len(self.tail))):
            lo, hi = max(start, self.pos), min(start + len(text), self.pos + n)
            if lo < hi:
                chunk[lo - self.pos : hi - self.pos] = text[lo - start : hi - start]
        buffer[:n] = chunk
        self.pos += n
        return n


def test_a_200_mb_upload_is_refused_before_it_is_read(tmp_path, rel):
    data = rel.demo_data_dir(tmp_path / "data")
    token = rel.make_accounts(data)["field"]
    app = create_app({"DATA_DIR": str(data), "TESTING": True, "SECRET_KEY": "t"})
    client = app.test_client()
    before = rel.data_fingerprint(data)
    size = 200 * 1024 * 1024
    stream = ZeroStream(size, "xyz")
    response = client.post(
        "/api/uploads",
        input_stream=stream,
        content_length=size,
        content_type="multipart/form-data; boundary=xyz",
        headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"},
    )
    assert response.status_code == 413
    assert_clear_error(413, response.get_json())
    assert "50 MB" in response.get_json()["error"]["message"]
    assert stream.pos < 1024 * 1024, "the body was read before being refused"
    # Streamed without a declared length: still no 5xx, nothing stored.
    response = client.post(
        "/api/uploads",
        input_stream=ZeroStream(size, "xyz"),
        content_type="multipart/form-data; boundary=xyz",
        headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"},
    )
    assert 400 <= response.status_code < 500
    assert rel.data_fingerprint(data) == before


def _bodies() -> Iterator[tuple[str, str, str, bytes, str]]:
    """(name, method, path, body, content type) of hostile requests to write endpoints."""
    line = orjson.dumps(
        {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": _line_coords(1_000_000)},
            "properties": {"purpose": "irrigation"},
        }
    )
    point = '{"type":"Feature","geometry":{"type":"Point","coordinates":%s},"properties":%s}'
    light = '{"power_source":"solar","status":"working"}'
    cases = {
        "nested_100000": b"[" * 100_000 + b"]" * 100_000,
        "nested_objects_100000": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        "nan": (point % ("[NaN, 39.5]", light)).encode(),
        "infinity": (point % ("[112.85, Infinity]", light)).encode(),
        "zero_zero": (point % ("[0, 0]", light)).encode(),
        "swapped": (point % ("[39.5, 112.85]", light)).encode(),
        "projected": (point % ("[38401083.29, 4374645.59]", light)).encode(),
        "latitude_139": (point % ("[112.85, 139.5]", light)).encode(),
        "string_coords": (point % ('["112.85", "39.5"]', light)).encode(),
        "properties_array": (point % ("[112.85, 39.5]", "[1, 2]")).encode(),
        "proto": (point % ("[112.85, 39.5]", '{"__proto__": {"x": 1}}')).encode(),
        "not_json": b"\x00\xff<html>",
        "empty": b"",
        "json_array": b"[]",
        "json_string": b'"Feature"',
        "lone_surrogate": (point % ("[112.85, 39.5]", '{"road": "\\ud800"}')).encode(),
    }
    for name, body in cases.items():
        yield f"ogc-{name}", "POST", "/ogc/collections/streetlights/items", body, "application/json"
        yield f"capture-{name}", "POST", "/api/capture", body, "application/json"
    yield "ogc-line-1000000", "POST", "/ogc/collections/pipes/items", line, "application/json"
    yield "ogc-unknown-layer", "POST", "/ogc/collections/../items", b"{}", "application/json"
    yield (
        "ogc-patch-xml",
        "PATCH",
        "/ogc/collections/streetlights/items/SL-000001",
        b"<x/>",
        ("application/xml"),
    )
    yield (
        "ogc-put-nan",
        "PUT",
        "/ogc/collections/streetlights/items/SL-000001",
        cases["nan"],
        ("application/geo+json"),
    )
    yield (
        "upload-no-file",
        "POST",
        "/api/uploads",
        b"layer=streetlights",
        ("application/x-www-form-urlencoded"),
    )


def test_hostile_request_bodies_get_a_clean_4xx_and_change_nothing(tmp_path, rel):
    data = rel.demo_data_dir(tmp_path / "data")
    token = rel.make_accounts(data)["admin"]
    app = create_app({"DATA_DIR": str(data), "TESTING": True, "SECRET_KEY": "t"})
    client = app.test_client()
    store = app.extensions["villageworks.store"]
    client.post("/ogc/collections/streetlights/items", headers={"Authorization": "Bearer x"})
    tried, failures = 0, []
    for name, method, path, body, mimetype in _bodies():
        before = rel.data_fingerprint(data), [store.version(n) for n in store.layer_names()]
        response = client.open(
            path,
            method=method,
            data=body,
            content_type=mimetype,
            headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"},
        )
        tried += 1
        try:
            assert_clear_error(response.status_code, response.get_json(silent=True) or {})
            after = rel.data_fingerprint(data), [store.version(n) for n in store.layer_names()]
            assert after == before, "a refused request changed the stored data"
        except AssertionError as exc:
            failures.append(f"{name}: {str(exc)[:300]}")
    # The ledger import (a session form): a CSV field over the csv module's limit.
    assert not failures, "\n".join(failures)
    rel.record_figures("hostile-bodies", {"requests_tried": tried})


def test_ledger_files_with_huge_fields_or_bombs_are_refused(tmp_path, rel):
    from layers.ledger_io import plan_import

    data = rel.demo_data_dir(tmp_path / "data")
    store = open_store(data, rel.database_url())
    try:
        bomb = io.BytesIO()
        with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (60 * 1024 * 1024))
        for blob, name in (
            ("事项,类别\n".encode() + b'"' + b"x" * 200_000 + b'",y\n', "l.csv"),
            (b"a" * 300_000, "l.csv"),
            (bomb.getvalue(), "l.xlsx"),
            (b"PK\x03\x04" + b"\0" * 100, "l.xlsx"),
        ):
            plan = plan_import(store, blob, name, lang="en")
            assert not plan.ok and plan.problems[0].message
    finally:
        store.close()
