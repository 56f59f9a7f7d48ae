"""webmap.compression: gzip for pages, JSON, GeoJSON, scripts, styles, SVG and tiles."""

from __future__ import annotations

import gzip
import re
import zlib

import orjson
import pytest
from flask import Flask, Response, stream_with_context

from webmap import compression
from webmap.compression import MIN_BYTES, base_etags, compress_response, is_compressible

GZ = {"Accept-Encoding": "gzip, deflate, br"}
LEAFLET = "/static/vendor/leaflet@1.9.3/dist/leaflet.js"
FOLIUM_NAME = re.compile(rb"_[0-9a-f]{32}\b")


def _unnamed(html: bytes) -> bytes:
    return FOLIUM_NAME.sub(b"_X", html)


@pytest.fixture
def client(demo_app):
    return demo_app.test_client()


def test_the_county_map_is_gzipped_and_decodes_to_the_same_page(client):
    plain = client.get("/")
    packed = client.get("/", headers=GZ)
    assert plain.status_code == packed.status_code == 200
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in plain.headers["Vary"]
    assert "Accept-Encoding" in packed.headers["Vary"]
    # folium names its elements at random: the same page apart from those names.
    assert _unnamed(gzip.decompress(packed.data)) == _unnamed(plain.data)
    assert len(packed.data) < len(plain.data) / 3
    assert int(packed.headers["Content-Length"]) == len(packed.data)


def test_geojson_items_are_gzipped(client):
    response = client.get("/ogc/collections/villages/items?limit=50", headers=GZ)
    assert response.status_code == 200
    assert response.mimetype == "application/geo+json"
    assert response.headers["Content-Encoding"] == "gzip"
    doc = orjson.loads(gzip.decompress(response.data))
    assert doc["type"] == "FeatureCollection" and doc["features"]


def test_json_api_is_gzipped(client):
    response = client.get("/ogc/api?f=json", headers=GZ)
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert "paths" in orjson.loads(gzip.decompress(response.data))


def test_static_script_is_gzipped_with_its_own_etag_and_answers_304(client):
    plain = client.get(LEAFLET)
    packed = client.get(LEAFLET, headers=GZ)
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data
    assert "Accept-Ranges" not in packed.headers
    plain_tag, packed_tag = plain.headers["ETag"], packed.headers["ETag"]
    assert packed_tag == plain_tag[:-1] + '-gz"'
    again = client.get(LEAFLET, headers={**GZ, "If-None-Match": packed_tag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == packed_tag
    # The uncompressed copy's tag still revalidates the uncompressed copy.
    assert client.get(LEAFLET, headers={"If-None-Match": plain_tag}).status_code == 304


def test_a_range_request_is_answered_uncompressed(client):
    whole = client.get(LEAFLET).data
    part = client.get(LEAFLET, headers={**GZ, "Range": "bytes=100-199"})
    assert part.status_code == 206
    assert "Content-Encoding" not in part.headers
    assert part.data == whole[100:200]


def test_images_are_never_compressed(client):
    response = client.get("/static/icons/capture-512.png", headers=GZ)
    assert response.status_code == 200
    assert "Content-Encoding" not in response.headers
    assert "Accept-Encoding" not in response.headers.get("Vary", "")


def test_a_small_answer_is_sent_as_it_is():
    small = '{"a": "' + "x" * (MIN_BYTES - 20) + '"}'
    app = _app_with(lambda: Response(small, mimetype="application/json"))
    response = app.test_client().get("/x", headers=GZ)
    assert "Content-Encoding" not in response.headers
    assert response.get_data(as_text=True) == small
    assert "Accept-Encoding" in response.headers["Vary"]


def test_a_client_without_gzip_gets_identity(client):
    response = client.get("/", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in response.headers
    refused = client.get("/", headers={"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused.headers


def _app_with(route_body) -> Flask:
    app = Flask(__name__)
    app.add_url_rule("/x", "x", route_body)
    compression.init_app(app)
    return app


def test_a_streamed_answer_is_compressed_chunk_by_chunk():
    chunks = [f'{{"n": {i}, "pad": "{"x" * 400}"}}\n' for i in range(20)]
    seen = []

    def streamed() -> Response:
        def generate():
            for chunk in chunks:
                seen.append(chunk)
                yield chunk

        return Response(stream_with_context(generate()), mimetype="application/geo+json")

    client = _app_with(streamed).test_client()
    response = client.get("/x", headers=GZ)
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Content-Length" not in response.headers
    assert gzip.decompress(response.data).decode() == "".join(chunks)
    assert seen == chunks
    # Each chunk is flushed when sent: the first part decodes before the stream ends.
    first = next(iter(_app_with(streamed).test_client().get("/x", headers=GZ).response))
    decoder = zlib.decompressobj(31)
    assert decoder.decompress(first).decode() == chunks[0]


def test_no_transform_and_a_set_encoding_are_respected():
    def body() -> Response:
        response = Response("y" * 5000, mimetype="application/json")
        response.headers["Cache-Control"] = "no-transform"
        return response

    response = _app_with(body).test_client().get("/x", headers=GZ)
    assert "Content-Encoding" not in response.headers
    assert response.data == b"y" * 5000


def test_mvt_and_svg_are_compressible_images_are_not():
    assert is_compressible("application/vnd.mapbox-vector-tile")
    assert is_compressible("image/svg+xml")
    assert is_compressible("application/vnd.oai.openapi+json")
    for kind in ("image/png", "image/jpeg", "application/zip", "application/pdf"):
        assert not is_compressible(kind)
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert not is_compressible(xlsx)


def test_base_etags_strips_the_coding_suffix_only():
    assert base_etags('"abc-gz", W/"12-gz", "x-gzip"') == '"abc", W/"12", "x-gzip"'


def test_compress_response_leaves_a_304_alone():
    app = _app_with(lambda: Response(status=304))
    with app.test_request_context("/x", headers=GZ):
        response = compress_response(Response(status=304, mimetype="text/html"))
    assert "Content-Encoding" not in response.headers
