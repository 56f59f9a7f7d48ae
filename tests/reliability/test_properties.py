"""Properties (hypothesis): whatever bytes or text reach a reader end in a result or a
clean validation error, never another exception.

Already covered elsewhere and not repeated here: ``geo.readers.read_upload`` with random
and mutated files (tests/geo/test_readers.py), EXIF (tests/geo/test_exif.py), and the
WGS84 -> GCJ-02 -> WGS84 round trip under 0.5 m anywhere in China
(tests/geo/test_crs.py::test_round_trip_anywhere_in_china_under_half_metre). This module
adds the readers behind them and beside them: the whole upload pipeline (CRS guessing,
location checks, the store's own checks) on random and mutated files, its options as
typed into the form, the ledger import, photos and the JSON bodies of the write APIs.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from functools import cache
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo.crs import parse_crs
from geo.problems import InputError
from layers.errors import VillageWorksError
from layers.ledger_io import plan_import
from layers.photos import check_photo
from layers.uploads import UploadOptions, run_upload
from webmap.app import create_app

pytestmark = pytest.mark.backend_independent

ROOT = Path(__file__).resolve().parents[2]
FUZZ = settings(
    max_examples=int(os.environ.get("VILLAGEWORKS_FUZZ_EXAMPLES", "80")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
NAMES = st.sampled_from(
    ["x.csv", "x.geojson", "x.json", "x.gpx", "x.kml", "x.kmz", "x.zip", "x.gpkg", "x", "x.txt"]
)
SEEDS = [
    (b"lon,lat,road\n112.85,39.50,a\n112.86,39.51,b\n", "s.csv"),
    ("经度,纬度,名称\n112.85,39.50,东关\n".encode("gbk"), "g.csv"),
    (
        b'{"type":"FeatureCollection","features":[{"type":"Feature","geometry":'
        b'{"type":"Point","coordinates":[112.85,39.5]},"properties":{"road":"x"}}]}',
        "f.geojson",
    ),
    (
        b'<kml xmlns="http://www.opengis.net/kml/2.2"><Placemark><name>a</name><Point>'
        b"<coordinates>112.85,39.5</coordinates></Point></Placemark></kml>",
        "k.kml",
    ),
    (b"x,y,road\n38401083.29,4374645.59,m\n", "m.csv"),
    (b'wkt,road\n"LINESTRING (112.85 39.5, 112.86 39.51)",l\n', "w.csv"),
]


@cache
def demo_app():
    """One app over a copy of the demo county for the whole module (hypothesis runs many
    examples; uploads here are dry runs, a write API may accept a random feature)."""
    data = Path(tempfile.mkdtemp(prefix="vw-props-")) / "data"
    for sub in ("layers", "specs"):
        shutil.copytree(ROOT / "data" / "demo" / sub, data / sub)
    app = create_app({"DATA_DIR": str(data), "TESTING": True, "SECRET_KEY": "t"})
    from layers.users import UserStore

    users = UserStore(data)
    users.add("admin1", "admin", "correct-horse-9")
    return app, users.new_token("admin1")


def store():
    return demo_app()[0].extensions["villageworks.store"]


@st.composite
def mutated(draw: st.DrawFn) -> tuple[bytes, str]:
    data, name = draw(st.sampled_from(SEEDS))
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 6))):
        pos = draw(st.integers(0, max(len(buf) - 1, 0)))
        op = draw(st.sampled_from(["flip", "cut", "insert"]))
        if op == "flip" and buf:
            buf[pos] = draw(st.integers(0, 255))
        elif op == "cut":
            del buf[pos : pos + draw(st.integers(1, 20))]
        else:
            buf[pos:pos] = draw(
                st.sampled_from(
                    [b"NaN", b"-1e400", b"0", b",", b'"', b"\n", b"\xff", b"]", b"9" * 40]
                )
            )
    return bytes(buf), draw(st.sampled_from([name, "x.csv", "x.geojson", "x"]))


def _pipeline(data: bytes, name: str, **options) -> None:
    layer = options.pop("layer", "streetlights")
    try:
        report = run_upload(
            store(), data, name, UploadOptions(layer=layer, dry_run=True, **options), user="p"
        )
    except VillageWorksError as exc:
        assert 400 <= exc.status < 500, exc
        assert exc.user_message("en")
        assert "read_failed" not in [p.code for p in getattr(exc, "problems", [])]
    else:
        assert report.status == "preview" and report.accepted + report.rejected <= report.total


@FUZZ
@given(data=st.binary(max_size=3000), name=NAMES)
def test_any_bytes_through_the_whole_upload_pipeline(data: bytes, name: str) -> None:
    _pipeline(data, name)


@FUZZ
@given(case=mutated(), layer=st.sampled_from(["streetlights", "wells", "pipes", "ledger"]))
def test_mutated_files_through_the_whole_upload_pipeline(case, layer) -> None:
    _pipeline(*case, layer=layer)


@FUZZ
@given(
    crs=st.one_of(
        st.text(max_size=30), st.sampled_from(["EPSG:99999", "EPSG:-1", "gcj02", "ESRI:1"])
    ),
    encoding=st.one_of(st.none(), st.sampled_from(["gbk", "utf-7", "rot13", "punycode", "x"])),
    swap=st.sampled_from([None, True, False]),
    margin=st.sampled_from([0.0, -5.0, 1e12, float("nan"), float("inf")]),
)
def test_any_upload_options_end_cleanly(crs, encoding, swap, margin) -> None:
    _pipeline(SEEDS[0][0], "s.csv", crs=crs, encoding=encoding, swap_xy=swap, margin_m=margin)


@FUZZ
@given(text=st.text(max_size=60))
def test_any_text_as_a_crs(text: str) -> None:
    try:
        parse_crs(text)
    except InputError as exc:
        assert exc.problems


@FUZZ
@given(data=st.binary(max_size=3000), name=st.sampled_from(["l.csv", "l.xlsx", "l.xlsm", "l"]))
def test_any_bytes_to_the_ledger_import(data: bytes, name: str) -> None:
    plan = plan_import(store(), data, name, lang="en")
    assert plan.ok or (plan.problems and all(p.message for p in plan.problems))


@FUZZ
@given(data=st.binary(max_size=2000), name=st.text(max_size=20))
def test_any_bytes_as_a_photo(data: bytes, name: str) -> None:
    assert isinstance(check_photo(data, name), list)


@FUZZ
@given(
    body=st.one_of(
        st.binary(max_size=500),
        st.recursive(
            st.none()
            | st.booleans()
            | st.floats()
            | st.integers(-(2**53), 2**53)
            | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(
                    st.sampled_from(
                        ["type", "geometry", "properties", "coordinates", "layer", "x"]
                    ),
                    inner,
                    max_size=5,
                )
            ),
            max_leaves=20,
        ).map(orjson.dumps),
    ),
    path=st.sampled_from(
        [
            ("POST", "/ogc/collections/streetlights/items"),
            ("POST", "/api/capture"),
            ("PUT", "/ogc/collections/streetlights/items/SL-000001"),
            ("PATCH", "/ogc/collections/streetlights/items/SL-000001"),
        ]
    ),
)
def test_any_body_to_the_write_apis_is_never_a_server_error(body: bytes, path) -> None:
    app, token = demo_app()
    method, url = path
    before = store().version("streetlights")
    response = app.test_client().open(
        url,
        method=method,
        data=io.BytesIO(body),
        content_type="application/merge-patch+json" if method == "PATCH" else "application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code < 500, response.get_data(as_text=True)[:300]
    if response.status_code >= 400:
        assert store().version("streetlights") == before
