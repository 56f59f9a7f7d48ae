"""Hardening of the write API (issue #15): malformed ``If-Match`` headers, the ``Allow``
header of 405 answers, who may write which layer, number bounds and layer-spec patterns.

Everything runs against the real app: gunicorn on loopback over a copy of the demo county
(``tests/reliability/conftest.py``), real HTTP requests, real data files.
"""

from __future__ import annotations

import io
import json
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from layers.backends import open_store
from layers.specs import SpecError, SpecRegistry
from layers.users import files_of

pytestmark = pytest.mark.slow


@pytest.fixture
def site(tmp_path: Path, rel: Any, gunicorn: Any) -> Any:
    """The demo county under gunicorn (2 workers), one account per role."""
    data = rel.demo_data_dir(tmp_path / "data")
    tokens = rel.make_accounts(data)
    server = gunicorn(data, workers=2)
    server.tokens = tokens
    return server


def call(
    rel: Any,
    site: Any,
    method: str,
    path: str,
    role: str | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    """One request as ``role`` (None: anonymous); a JSON body is decoded when there is one."""
    sent = {"Accept": "application/json", **(headers or {})}
    if role is not None:
        sent["Authorization"] = f"Bearer {site.tokens[role]}"
    raw_body = None
    if body is not None:
        raw_body = body if isinstance(body, bytes) else orjson.dumps(body)
        sent.setdefault("Content-Type", "application/geo+json")
    status, got, raw = rel.http(method, f"{site.url}{path}", raw_body, sent)
    try:
        decoded = json.loads(raw) if raw else None
    except ValueError:
        decoded = raw.decode(errors="replace")
    return status, got, decoded


def first_feature(rel: Any, site: Any, layer: str) -> dict[str, Any]:
    status, _, page = call(rel, site, "GET", f"/ogc/collections/{layer}/items?limit=1")
    assert status == 200, page
    return page["features"][0]  # type: ignore[no-any-return]


# ----------------------------------------------------------------- 10: malformed If-Match
MALFORMED_IF_MATCH = [
    'W/"a", ""',
    '"',
    ",",
    '*,"x"',
    "",
    '""',
    "W/",
    '"1" "2"',
    '"' + "x" * 4000 + '"',
    '"' + "9" * 5000 + '"',
    "9" * 5000,
    "\u00b2",
]


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_a_malformed_if_match_is_400_or_412_and_changes_nothing(
    site: Any, rel: Any, method: str
) -> None:
    feature = first_feature(rel, site, "streetlights")
    path = f"/ogc/collections/streetlights/items/{feature['id']}"
    body = None
    headers: dict[str, str] = {}
    if method == "PUT":
        body = {"type": "Feature", "geometry": feature["geometry"], "properties": {}}
        body["properties"] = {
            k: v for k, v in feature["properties"].items() if k in ("road", "status")
        }
        body["properties"]["power_source"] = "solar"
    elif method == "PATCH":
        body = {"properties": {"road": "changed by a malformed If-Match"}}
        headers["Content-Type"] = "application/merge-patch+json"
    for value in MALFORMED_IF_MATCH:
        status, _, answer = call(
            rel, site, method, path, "planner", body, {**headers, "If-Match": value}
        )
        assert status in (400, 412), (value[:40], status, answer)
        assert answer["error"]["message"], answer
    status, _, after = call(rel, site, "GET", path)
    assert status == 200
    assert after["properties"]["version"] == feature["properties"]["version"]
    assert after["properties"].get("road") == feature["properties"].get("road")
    assert "server error" not in site.log().lower()


def test_an_unparseable_if_match_is_400_and_an_unknown_tag_412(site: Any, rel: Any) -> None:
    feature = first_feature(rel, site, "streetlights")
    path = f"/ogc/collections/streetlights/items/{feature['id']}"
    version = feature["properties"]["version"]
    status, _, answer = call(rel, site, "DELETE", path, "planner", headers={"If-Match": '""'})
    assert status == 400, answer
    assert "If-Match" in answer["error"]["message"]
    status, _, answer = call(
        rel, site, "DELETE", path, "planner", headers={"If-Match": f'"{version + 7}", "x"'}
    )
    assert status == 412, answer
    # A well-formed list holding the current version still deletes.
    status, _, answer = call(
        rel, site, "DELETE", path, "planner", headers={"If-Match": f'"x", "{version}"'}
    )
    assert status == 204, answer


# ----------------------------------------------------------------- 15: Allow on 405
def test_a_405_names_the_allowed_methods_in_json_and_html(site: Any, rel: Any) -> None:
    status, headers, answer = call(rel, site, "DELETE", "/ogc/collections", "viewer")
    assert status == 405, answer
    allowed = {m.strip() for m in headers.get("Allow", "").split(",")}
    assert "GET" in allowed and "DELETE" not in allowed, headers
    assert answer["error"]["status"] == 405
    assert headers["Content-Type"].startswith("application/json")

    feature = first_feature(rel, site, "streetlights")
    status, headers, _ = call(
        rel, site, "POST", f"/ogc/collections/streetlights/items/{feature['id']}", "planner", {}
    )
    assert status == 405
    allowed = {m.strip() for m in headers.get("Allow", "").split(",")}
    assert {"GET", "PUT", "PATCH", "DELETE"} <= allowed, headers

    status, headers, page = call(
        rel, site, "PUT", "/dashboard", "viewer", b"x", {"Accept": "text/html"}
    )
    assert status == 405
    assert headers["Content-Type"].startswith("text/html"), headers
    assert "GET" in headers.get("Allow", ""), headers
    assert "405" in page


# ----------------------------------------------------------------- 2: who may write what
def point_feature(rel: Any, site: Any, layer: str, **properties: Any) -> dict[str, Any]:
    (x, y) = rel.grid_points(site.data_dir, "streetlights", 1)[0]
    geometry = {"type": "Point", "coordinates": [round(x, 7), round(y, 7)]}
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def ledger_item(title: str) -> dict[str, Any]:
    properties = {"title": title, "category": "streetlights", "target": 10, "measure": "count"}
    return {"type": "Feature", "geometry": None, "properties": properties}


def assert_names_role(answer: Any, role_text: str) -> None:
    assert answer["error"]["status"] == 403, answer
    assert answer["error"]["code"] == "write_role_needed", answer
    assert role_text in answer["error"]["message"], answer


def test_a_field_account_cannot_write_the_ledger_or_reference_layers(site: Any, rel: Any) -> None:
    items = "/ogc/collections/{}/items"
    status, _, answer = call(rel, site, "POST", items.format("ledger"), "field", ledger_item("x"))
    assert status == 403, answer
    assert_names_role(answer, "规划")
    status, _, answer = call(
        rel, site, "POST", items.format("ledger") + "?lang=en", "field", ledger_item("x")
    )
    assert status == 403
    assert_names_role(answer, "Planner")
    assert "Ledger" in answer["error"]["message"] or "ledger" in answer["error"]["message"]

    status, _, created = call(
        rel, site, "POST", items.format("ledger"), "planner", ledger_item("y")
    )
    assert status == 201, created
    entry = {"item_id": created["id"], "date": "2024-05-01", "quantity": 1}
    body = {"type": "Feature", "geometry": None, "properties": entry}
    status, _, answer = call(rel, site, "POST", items.format("ledger_progress"), "field", body)
    assert status == 403, answer

    county = {
        "type": "Polygon",
        "coordinates": [[[112.9, 39.5], [112.95, 39.5], [112.95, 39.55], [112.9, 39.5]]],
    }
    polygon = {
        "type": "Feature",
        "geometry": county,
        "properties": {"level": "county", "name": "X"},
    }
    status, _, answer = call(rel, site, "POST", items.format("boundaries"), "field", polygon)
    assert status == 403, answer

    # Field staff still add works.
    light = point_feature(rel, site, "streetlights", power_source="solar", status="working")
    status, _, answer = call(rel, site, "POST", items.format("streetlights"), "field", light)
    assert status == 201, answer

    # The same rule on the other write paths: capture and uploads.
    capture = {"layer": "boundaries", **polygon}
    status, _, answer = call(rel, site, "POST", "/api/capture", "field", capture)
    assert status == 403, answer
    body, ctype = multipart({"layer": "boundaries", "crs": "wgs84"}, [polygon])
    status, _, answer = call(
        rel, site, "POST", "/api/uploads", "field", body, {"Content-Type": ctype}
    )
    assert status == 403, answer
    assert_names_role(answer, "规划")
    store = open_store(site.data_dir, rel.database_url())
    try:
        assert not [f for f in store.features("ledger") if f["properties"].get("title") == "x"]
        assert not [f for f in store.features("boundaries") if f["properties"]["name"] == "X"]
    finally:
        store.close()


def multipart(fields: dict[str, str], features: list[dict[str, Any]]) -> tuple[bytes, str]:
    """A multipart body with ``fields`` and a GeoJSON ``file`` of ``features``."""
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
        out.write(value.encode() + b"\r\n")
    data = orjson.dumps({"type": "FeatureCollection", "features": features})
    out.write(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="f.geojson"'
        f"\r\nContent-Type: application/geo+json\r\n\r\n".encode()
    )
    out.write(data + f"\r\n--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


@pytest.fixture
def strict_site(tmp_path: Path, rel: Any, gunicorn: Any) -> Any:
    """The demo county where the county's TOML files raise the roles: only admins write
    the roadside shops and the ledger items (``write_role = "admin"``)."""
    data = rel.demo_data_dir(tmp_path / "data")
    # Through the site's files: on PostGIS the county's specs live in the database.
    files = files_of(data)
    shops = files.read("specs/shops.toml")
    assert shops is not None
    files.write("specs/shops.toml", b'write_role = "admin"\n' + shops)
    files.write("specs/ledger_rights.toml", b'name = "ledger"\nwrite_role = "admin"\n')
    tokens = rel.make_accounts(data)
    server = gunicorn(data, workers=2)
    server.tokens = tokens
    return server


def test_a_layer_s_write_role_guards_every_write_path(strict_site: Any, rel: Any) -> None:
    site = strict_site
    for layer, role in (("roadside_shops", "admin"), ("ledger", "admin"), ("wells", "field")):
        status, _, doc = call(rel, site, "GET", f"/ogc/collections/{layer}")
        assert (status, doc["writeRole"]) == (200, role), doc
    status, _, doc = call(rel, site, "GET", "/ogc/collections/boundaries")
    assert doc["writeRole"] == "planner"
    shop = first_feature(rel, site, "roadside_shops")
    path = f"/ogc/collections/roadside_shops/items/{shop['id']}"
    new = point_feature(rel, site, "roadside_shops", name="新店", bins=2)
    status, _, answer = call(
        rel, site, "POST", "/ogc/collections/roadside_shops/items", "planner", new
    )
    assert status == 403, answer
    assert_names_role(answer, "管理员")
    replace = {
        "type": "Feature",
        "geometry": shop["geometry"],
        "properties": {"name": "改", "bins": 3},
    }
    status, _, answer = call(rel, site, "PUT", path, "planner", replace)
    assert status == 403, answer
    patch_headers = {"Content-Type": "application/merge-patch+json"}
    status, _, answer = call(
        rel, site, "PATCH", path, "planner", {"properties": {"bins": 4}}, patch_headers
    )
    assert status == 403, answer
    status, _, answer = call(rel, site, "DELETE", path, "planner")
    assert status == 403, answer
    # Capture and uploads (API and pages) of the same layer.
    capture = {"layer": "roadside_shops", **new}
    status, _, answer = call(rel, site, "POST", "/api/capture", "planner", capture)
    assert status == 403, answer
    body, ctype = multipart({"layer": "roadside_shops", "crs": "wgs84"}, [new])
    status, _, answer = call(
        rel, site, "POST", "/api/uploads", "planner", body, {"Content-Type": ctype}
    )
    assert status == 403, answer
    status, headers, page = call(
        rel,
        site,
        "POST",
        "/uploads/new",
        "planner",
        body,
        {"Content-Type": ctype, "Accept": "text/html"},
    )
    assert status == 403, page
    assert "管理员" in page
    status, _, page = call(
        rel, site, "GET", "/uploads/new", "planner", headers={"Accept": "text/html"}
    )
    assert status == 200
    assert 'value="roadside_shops"' not in page
    # The ledger pages.
    form = urllib.parse.urlencode({"title": "新事项", "category": "streetlights"}).encode()
    status, _, page = call(
        rel,
        site,
        "POST",
        "/ledger/new",
        "planner",
        form,
        {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"},
    )
    assert status == 403, page
    # The account the layer asks for may.
    status, _, answer = call(rel, site, "DELETE", path, "admin")
    assert status == 204, answer
    status, _, answer = call(
        rel, site, "POST", "/ogc/collections/roadside_shops/items", "admin", new
    )
    assert status == 201, answer


def test_numbers_are_bounded_by_default_and_never_nan(site: Any, rel: Any) -> None:
    items = "/ogc/collections/{}/items"
    status, _, item = call(rel, site, "POST", items.format("ledger"), "planner", ledger_item("n"))
    assert status == 201, item
    for quantity, code in (
        (1e308, "above_max"),
        ("1e308", "above_max"),
        (10**400, None),
        ("NaN", "not_a_number"),
        ("inf", "not_a_number"),
        ("-Infinity", "not_a_number"),
    ):
        entry = {"item_id": item["id"], "date": "2024-05-01", "quantity": quantity}
        body = {"type": "Feature", "geometry": None, "properties": entry}
        raw = json.dumps(body).encode()  # Python's json writes 10**400 as digits
        status, _, answer = call(rel, site, "POST", items.format("ledger_progress"), "planner", raw)
        assert status in (400, 422), (quantity, status, answer)
        if code is not None and status == 422:
            problems = answer["error"]["problems"]
            assert [p["code"] for p in problems] == [code], problems
            assert problems[0]["field"] == "quantity"
    # The shops' bins are an integer field with min 1 and max 20; a plain number field
    # without bounds (the ledger target) stops at 1e12, an integer at 2**53.
    body = ledger_item("big")
    body["properties"]["target"] = 2e12
    status, _, answer = call(
        rel, site, "POST", items.format("ledger") + "?lang=en", "planner", body
    )
    assert status == 422, answer
    (problem,) = answer["error"]["problems"]
    assert problem["code"] == "above_max" and "1000000000000" in problem["message"], problem
    body["properties"]["target"] = 5e11
    status, _, answer = call(rel, site, "POST", items.format("ledger"), "planner", body)
    assert status == 201, answer


# ----------------------------------------------------------------- 17: pattern safety
def write_coded_layer(data: Path, pattern: str) -> Path:
    """A county layer whose ``code`` field must match ``pattern``."""
    path = data / "specs" / "coded.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "\n".join(
            [
                'name = "coded_posts"',
                'kind = "work"',
                'geometry = ["Point"]',
                'id_prefix = "CP"',
                'label = { zh = "编码桩", en = "Coded posts" }',
                "",
                "[[fields]]",
                'name = "code"',
                'type = "string"',
                f"pattern = {json.dumps(pattern)}",
                'label = { zh = "编码", en = "Code" }',
                "",
            ]
        ),
        "utf-8",
    )
    return path


@pytest.mark.backend_independent
def test_a_backtracking_pattern_is_refused_when_the_spec_loads(tmp_path: Path) -> None:
    path = write_coded_layer(tmp_path / "data", "^(a|a)*$")
    with pytest.raises(SpecError) as refused:
        SpecRegistry.load(path.parent)
    message = str(refused.value)
    assert "coded.toml" in message and "'code'" in message and "^(a|a)*$" in message
    for pattern in ("^(a+)+$", "^(?:x|xy)+$", "^((ab)*c)*$", "(["):
        write_coded_layer(tmp_path / "data", pattern)
        with pytest.raises(SpecError):
            SpecRegistry.load(path.parent)
    write_coded_layer(tmp_path / "data", "^[0-9]{12}$")
    assert SpecRegistry.load(path.parent)["coded_posts"].field("code") is not None


def test_a_slow_pattern_that_slips_past_the_check_times_out(
    tmp_path: Path, rel: Any, gunicorn: Any
) -> None:
    data = rel.demo_data_dir(tmp_path / "data")
    write_coded_layer(data, "^(a|a){0,60}$")  # bounded repetition: not refused at load
    tokens = rel.make_accounts(data)
    site = gunicorn(data, workers=1)
    site.tokens = tokens
    items = "/ogc/collections/coded_posts/items"
    slow = point_feature(rel, site, "coded_posts", code="a" * 50 + "c")
    status, _, answer = call(rel, site, "POST", items + "?lang=en", "field", slow)
    assert status == 422, answer
    (problem,) = answer["error"]["problems"]
    assert problem["code"] == "pattern_timeout", problem
    assert "took too long" in problem["message"]
    # The one worker is free again: a good value is written at once.
    good = point_feature(rel, site, "coded_posts", code="aaaa")
    status, _, answer = call(rel, site, "POST", items, "field", good)
    assert status == 201, answer
