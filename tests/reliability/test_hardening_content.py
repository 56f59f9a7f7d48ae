"""Hardening of what users put in (issue #15): upload idempotency keys per user, stray
upload folders, photo size and re-encoding, vertex caps, display simplification and the
anonymous export throttle.

Everything runs against the real app: gunicorn on loopback over a real data directory
(``tests/reliability/conftest.py``), real files, real Pillow images, real Chromium.
"""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from layers.backends import open_store
from layers.users import UserStore

pytestmark = pytest.mark.slow


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]) -> tuple:
    """A multipart/form-data body and its Content-Type."""
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
        out.write(value.encode() + b"\r\n")
    for name, (filename, data, ctype) in files.items():
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: {ctype}\r\n\r\n'.encode()
        )
        out.write(data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def collection(points: list[tuple[float, float]], road: str) -> bytes:
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [round(x, 7), round(y, 7)]},
            "properties": {"road": f"{road}-{i}", "power_source": "solar", "status": "working"},
        }
        for i, (x, y) in enumerate(points)
    ]
    return orjson.dumps({"type": "FeatureCollection", "features": features})


def upload(rel: Any, base: str, token: str, data: bytes, key: str) -> tuple[int, dict]:
    body, ctype = multipart(
        {"layer": "streetlights", "crs": "wgs84"},
        {"file": ("lights.geojson", data, "application/geo+json")},
    )
    headers = {
        "Authorization": f"Bearer {token}",
        "Idempotency-Key": key,
        "Content-Type": ctype,
        "Accept": "application/json",
    }
    status, _, raw = rel.http("POST", f"{base}/api/uploads", body, headers)
    return status, json.loads(raw or b"{}")


@pytest.fixture
def site(tmp_path: Path, rel: Any, gunicorn: Any) -> Any:
    """The demo county under gunicorn (2 workers), with two field accounts."""
    data = rel.demo_data_dir(tmp_path / "data")
    tokens = rel.make_accounts(data)
    users = UserStore(data)
    users.add("field2", "field", rel.PASSWORD)
    tokens["field2"] = users.new_token("field2")
    server = gunicorn(data, workers=2)
    server.tokens = tokens
    return server


# ----------------------------------------------------------------- 4: idempotency keys
def test_upload_idempotency_keys_are_scoped_per_user(site: Any, rel: Any) -> None:
    points = rel.grid_points(site.data_dir, "streetlights", 4)
    key = "shared-key-0001"
    first, first_body = upload(
        rel, site.url, site.tokens["field"], collection(points[:2], "a"), key
    )
    assert first == 201, first_body
    # The same user retrying the same key: a replay of that upload.
    again, again_body = upload(
        rel, site.url, site.tokens["field"], collection(points[:2], "a"), key
    )
    assert again == 200 and again_body["status"] == "replayed", again_body
    assert again_body["upload_id"] == first_body["upload_id"]
    # Another user with the same key: a new upload of their own rows.
    other, other_body = upload(
        rel, site.url, site.tokens["field2"], collection(points[2:], "b"), key
    )
    assert other == 201, other_body
    assert other_body["status"] == "committed"
    assert other_body["upload_id"] != first_body["upload_id"]
    assert len(other_body["ids"]) == 2
    store = open_store(site.data_dir, rel.database_url())
    try:
        roads = {f["properties"]["road"]: f for f in store.features("streetlights")}
    finally:
        store.close()
    assert {"b-0", "b-1"} <= set(roads)
    assert roads["b-0"]["properties"]["created_by"] == "field2"


# ----------------------------------------------------------------- 12: stray upload folders
def test_an_upload_killed_before_its_record_leaves_no_folder_after_a_restart(
    tmp_path: Path, rel: Any, gunicorn: Any
) -> None:
    from layers.upload_log import stray_upload_dirs, stray_upload_problems

    data = rel.demo_data_dir(tmp_path / "data")
    tokens = rel.make_accounts(data)
    points = rel.grid_points(data, "streetlights", 2)
    crashing = gunicorn(data, workers=1, VILLAGEWORKS_CRASH_AT="upload_begin:1")
    with pytest.raises(OSError):  # the worker dies (like kill -9) inside the upload
        upload(rel, crashing.url, tokens["field"], collection(points, "c"), "crash-key-0001")
    crashing.kill9()
    folders = [p for p in (data / "uploads").glob("U-*")]
    assert len(folders) == 1 and not (folders[0] / "meta.json").exists()
    # What a failed upload of an earlier version left: a folder holding only its lock file.
    older = data / "uploads" / "U-20260101-abcdef"
    older.mkdir()
    (older / "writing.lock").write_bytes(b"")
    # `villageworks check` material: both are reported, in both languages.
    assert stray_upload_dirs(data) == sorted([folders[0].name, older.name])
    problems = stray_upload_problems(data)
    assert len(problems) == 2
    assert folders[0].name in problems[1].message("en") and "上传" in problems[1].message("zh")
    # A restart cleans them up; a retry with the key then lands once.
    server = gunicorn(data, workers=1)
    assert not folders[0].exists() and not older.exists()
    assert stray_upload_dirs(data) == []
    status, body = upload(
        rel, server.url, tokens["field"], collection(points, "c"), "crash-key-0001"
    )
    assert status == 201, body
    assert [p.name for p in (data / "uploads").glob("U-*")] == [body["upload_id"]]
