"""The exact request sequence QGIS >= 3.32 sends to edit an OGC API - Features layer
(Part 4), replayed against a live server with raw HTTP (issue #19 section 8).

From QGIS's source (qgis/QGIS, ``src/providers/wfs/oapif/``):

- ``qgsoapifprovider.cpp`` ``QgsOapifProvider::computeCapabilities``: after the first
  items page, ``OPTIONS {itemsUrl}``; when its ``Allow`` lists ``POST`` the layer can add
  features, then ``OPTIONS {itemsUrl}/{id of the first feature}`` (``unknown_id`` for an
  empty layer): ``PUT`` there allows changing attributes and geometries (and ``PATCH``
  is used for them when listed), ``DELETE`` allows deleting.
- ``qgsoapifcreatefeaturerequest.cpp``: ``POST {itemsUrl}`` with ``Content-Type:
  application/geo+json``, the feature without ``id`` and ``bbox`` (``Content-Crs`` only
  for a CRS other than CRS84); the new id is the text after the last ``/items/`` of the
  ``Location`` header, so a 201 without ``Location`` loses the feature.
- ``qgsoapifpatchfeaturerequest.cpp``: ``PATCH {itemsUrl}/{id}`` with ``Content-Type:
  application/merge-patch+json``, either ``{"properties": {...changed}}`` or
  ``{"geometry": ...}``, no ``If-Match``.
- ``qgsoapifputfeaturerequest.cpp``: ``PUT {itemsUrl}/{id}``, ``application/geo+json``,
  the whole feature with its ``id``, no ``If-Match``.
- ``qgsoapifdeletefeaturerequest.cpp``: ``DELETE {itemsUrl}/{id}``, no ``If-Match``.

Every request carries the authentication of the connection: a Bearer header (HTTP
headers of the connection, or an OAuth2 config) or, with a Basic auth config, Basic with
the API token as the password (``webmap/basic_auth.py``).
"""

from __future__ import annotations

import base64
import http.client
import json
from urllib.parse import urlsplit

import pytest
from geometries import nth_point
from live_app import serving

USER_AGENT = "Mozilla/5.0 QGIS/33404/Debian GNU/Linux 12 (bookworm)"


class Qgis:
    """Sends requests as QGIS's OAPIF provider does."""

    def __init__(self, base: str, auth: str):
        self.host = urlsplit(base).netloc
        self.auth = auth

    def send(self, method: str, path: str, body: dict | None = None, content_type: str = ""):
        headers = {
            "Authorization": self.auth,
            "User-Agent": USER_AGENT,
            "Accept": "application/geo+json, application/json",
        }
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode()
            headers["Content-Type"] = content_type
        connection = http.client.HTTPConnection(self.host, timeout=60)
        try:
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            raw = response.read()
            return response.status, dict(response.getheaders()), raw
        finally:
            connection.close()


def allowed(headers: dict) -> set[str]:
    return {m.strip() for m in headers.get("Allow", "").split(",")}


@pytest.fixture
def app(empty_app, accounts):
    empty_app.tokens = accounts(empty_app)
    return empty_app


def bearer(token: str) -> str:
    return f"Bearer {token}"


def basic(token: str) -> str:
    return "Basic " + base64.b64encode(f"planner1:{token}".encode()).decode()


@pytest.mark.parametrize("scheme", [bearer, basic], ids=["bearer", "basic"])
@pytest.mark.parametrize("collection", ["streetlights", "greenhouses-points"])
def test_qgis_332_editing_sequence(app, scheme, collection):
    with serving(app) as base:
        qgis = Qgis(base, scheme(app.tokens["planner"]))
        items = f"/ogc/collections/{collection}/items"
        status, _, _ = qgis.send("GET", f"/ogc/collections/{collection}")
        assert status == 200
        status, _, raw = qgis.send("GET", f"{items}?limit=10")
        assert status == 200 and json.loads(raw)["features"] == []
        status, headers, _ = qgis.send("OPTIONS", items)
        assert status == 200 and "POST" in allowed(headers), headers
        status, headers, _ = qgis.send("OPTIONS", f"{items}/unknown_id")  # an empty layer
        assert {"GET", "PUT", "PATCH", "DELETE"} <= allowed(headers), headers

        props = {"power_source": "solar", "status": "working", "crop": "西红柿"}
        if collection == "greenhouses-points":
            props = {"crop": "西红柿"}
        new = {"type": "Feature", "geometry": nth_point(3), "properties": props}
        status, headers, raw = qgis.send("POST", items, new, "application/geo+json")
        assert status == 201, raw
        location = headers["Location"]
        created_id = location[location.rindex("/items/") + len("/items/") :]
        assert created_id == json.loads(raw)["id"]

        status, headers, _ = qgis.send("OPTIONS", f"{items}/{created_id}")
        assert {"GET", "PUT", "PATCH", "DELETE"} <= allowed(headers)
        merge = "application/merge-patch+json"
        field, value = ("crop", "黄瓜") if collection != "streetlights" else ("status", "faulty")
        status, _, raw = qgis.send(
            "PATCH", f"{items}/{created_id}", {"properties": {field: value}}, merge
        )
        assert status == 200, raw
        status, _, raw = qgis.send(
            "PATCH", f"{items}/{created_id}", {"geometry": nth_point(4)}, merge
        )
        assert status == 200, raw
        assert json.loads(raw)["geometry"]["coordinates"] == pytest.approx(
            nth_point(4)["coordinates"]
        )

        whole = {
            "type": "Feature",
            "id": created_id,
            "geometry": nth_point(5),
            "properties": {**props, field: value},
        }
        status, _, raw = qgis.send("PUT", f"{items}/{created_id}", whole, "application/geo+json")
        assert status == 200, raw
        status, _, raw = qgis.send("GET", f"{items}/{created_id}")
        got = json.loads(raw)
        assert got["properties"][field] == value and got["properties"]["version"] == 4
        assert got["geometry"]["coordinates"] == pytest.approx(nth_point(5)["coordinates"])

        status, _, _ = qgis.send("DELETE", f"{items}/{created_id}")
        assert status == 204
        status, _, _ = qgis.send("GET", f"{items}/{created_id}")
        assert status == 404


def test_the_landing_page_says_which_qgis_versions_read_and_edit(app):
    client = app.test_client()
    zh = client.get("/ogc/?f=html&lang=zh").get_data(as_text=True)
    assert "QGIS 3.22 及以上版本可读取" in zh and "QGIS 3.32 及以上版本支持" in zh
    assert "greenhouses-points" in zh and "API 令牌" in zh
    en = client.get("/ogc/?f=html&lang=en").get_data(as_text=True)
    assert "QGIS 3.32 and later" in en and "Versions before 3.32 can only read" in en
    assert "GDAL_HTTP_AUTH=BASIC" in en
    doc = client.get("/ogc/?f=json&lang=en").json
    assert "3.32" in doc["description"] and "read and edit them directly" not in doc["description"]
