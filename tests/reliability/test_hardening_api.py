"""Hardening of the write API (issue #15): malformed ``If-Match`` headers, the ``Allow``
header of 405 answers, who may write which layer, number bounds and layer-spec patterns.

Everything runs against the real app: gunicorn on loopback over a copy of the demo county
(``tests/reliability/conftest.py``), real HTTP requests, real data files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from layers.backends import open_store

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
