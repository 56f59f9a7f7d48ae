"""POST/GET /api/uploads and `villageworks import`: the same pipeline, one error shape.

Every refused request must leave the data directory byte-identical (every file hashed
before and after).
"""

import hashlib
import io
import shutil
from pathlib import Path

import pytest

from webmap.app import create_app
from webmap.cli import main as cli

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
SHANYIN = DATA / "import" / "shanyin"
RULES = DATA / "import" / "rules"
HINT = DATA / "geojson-hint"


def tree_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root``, leaving out the (empty) flock files."""
    hashes = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            rel = str(path.relative_to(root))
            if rel.startswith("locks/") and path.suffix == ".lock":
                assert path.stat().st_size == 0
                continue
            hashes[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


@pytest.fixture
def app(demo_app, accounts):
    demo_app.tokens = accounts(demo_app)
    return demo_app


@pytest.fixture
def data_dir(app):
    return Path(app.config["DATA_DIR"])


def bearer(app, role="field"):
    return {"Authorization": f"Bearer {app.tokens[role]}", "Accept": "application/json"}


def post(app, path, name, role="field", headers=None, **fields):
    data = path.read_bytes() if isinstance(path, Path) else path
    form = {"file": (io.BytesIO(data), name), **{k: str(v) for k, v in fields.items()}}
    return app.test_client().post(
        "/api/uploads",
        data=form,
        headers={**bearer(app, role), **(headers or {})},
        content_type="multipart/form-data",
    )


def assert_error_shape(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    error = response.json["error"]
    assert error["status"] == status and error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    return error


# --------------------------------------------------------------------------- basics
def test_needs_a_field_account(app, data_dir):
    before = tree_hashes(data_dir)
    client = app.test_client()
    form = {"file": (io.BytesIO(b"lon,lat\n1,2\n"), "a.csv"), "layer": "wells"}
    response = client.post(
        "/api/uploads",
        data=form,
        headers={"Accept": "application/json"},
        content_type="multipart/form-data",
    )
    assert response.status_code in (400, 401)  # no session: CSRF or login refused first
    assert "error" in response.json
    viewer = post(app, SHANYIN / "wells.geojson", "w.geojson", role="viewer", layer="wells")
    assert_error_shape(viewer, 403, "forbidden")
    assert tree_hashes(data_dir) == before


def test_dry_run_reports_and_writes_nothing(app, data_dir):
    before = tree_hashes(data_dir)
    response = post(
        app, SHANYIN / "lights_excel_gbk.csv", "路灯.csv", layer="streetlights", dry_run="1"
    )
    assert response.status_code == 200
    body = response.json
    assert (body["status"], body["upload_id"], body["accepted"], body["rejected"]) == (
        "preview",
        None,
        3,
        0,
    )
    assert len(body["features"]) == 3
    assert body["crs_guesses"][0]["key"] == "EPSG:4326"
    assert body["problems"][0]["code"] == "crs_guessed"
    assert tree_hashes(data_dir) == before


def test_commit_then_get_the_record(app, data_dir):
    response = post(
        app,
        SHANYIN / "lights_ovital.kmz",
        "奥维 路灯 <b>.kmz",
        layer="streetlights",
        defaults="power_source=solar;installed_date=2021-08",
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert body["accepted"] == 3 and len(body["ids"]) == 3 and body["upload_id"]
    record = app.test_client().get(f"/api/uploads/{body['upload_id']}", headers=bearer(app))
    assert record.status_code == 200
    assert record.json["filename"] == "奥维 路灯 <b>.kmz"
    sha = hashlib.sha256((SHANYIN / "lights_ovital.kmz").read_bytes()).hexdigest()
    assert record.json["sha256"] == sha
    kept = app.extensions["villageworks.store"].files.read(
        f"uploads/{body['upload_id']}/original.bin"
    )
    assert hashlib.sha256(kept or b"").hexdigest() == sha
    listing = app.test_client().get("/api/uploads", headers=bearer(app, "viewer")).json
    assert [u["upload_id"] for u in listing["uploads"]] == [body["upload_id"]]
    missing = app.test_client().get("/api/uploads/U-20200101-000000", headers=bearer(app))
    assert_error_shape(missing, 404, "upload_not_found")
    traversal = app.test_client().get("/api/uploads/..%2F..%2Fusers.json", headers=bearer(app))
    assert traversal.status_code == 404


FORMATS = [
    ("lights_excel_gbk.csv", "streetlights", {}, 3),
    ("lights_ovital.kmz", "streetlights", {"defaults": "power_source=solar"}, 3),
    ("wells_bom.csv", "wells", {}, 2),
    ("wells.geojson", "wells", {}, 2),
    ("pipes_track.gpx", "pipes", {"defaults": '{"purpose": "irrigation"}'}, 1),
    ("visits_google_earth.kml", "visits", {}, 1),
    ("greenhouses_4547_shp.zip", "greenhouses", {"column_map": "built=built_date"}, 2),
    ("plantings_4526.gpkg", "plantings", {}, 2),
]


@pytest.mark.parametrize(("name", "layer", "fields", "count"), FORMATS)
def test_every_format_through_the_api(app, name, layer, fields, count):
    response = post(app, SHANYIN / name, name, layer=layer, **fields)
    assert response.status_code == 201, response.json
    assert response.json["accepted"] == count and response.json["rejected"] == 0


def test_crs_field_is_used(app):
    gcj = b"lng,lat,power_source\n112.8074,39.5046,solar\n"
    as_wgs = post(app, gcj, "a.csv", layer="streetlights", crs="wgs84", dry_run="1").json
    as_gcj = post(app, gcj, "a.csv", layer="streetlights", crs="gcj02", dry_run="1").json
    assert as_gcj["crs_key"] == "gcj02" and as_wgs["crs_key"] == "EPSG:4326"
    lon_w = as_wgs["features"][0]["geometry"]["coordinates"][0]
    lon_g = as_gcj["features"][0]["geometry"]["coordinates"][0]
    assert 0.004 < lon_w - lon_g < 0.008  # the GCJ-02 shift here is about 500 m west-east
    bad = post(app, gcj, "a.csv", layer="streetlights", crs="EPSG:123456789")
    error = assert_error_shape(bad, 422, "validation_failed")
    assert error["problems"][0]["code"] == "crs_unknown"


# ---------------------------------------------------------------------------- rules
RULE_CODES = [
    ("required.csv", "streetlights", "required"),
    ("not_allowed.csv", "streetlights", "not_allowed"),
    ("not_a_date.csv", "streetlights", "not_a_date"),
    ("not_an_integer.csv", "plantings", "not_an_integer"),
    ("bad_pattern.csv", "villages", "bad_pattern"),
    ("ref_missing.csv", "streetlights", "ref_missing"),
    ("null_island.csv", "streetlights", "null_island"),
    ("geometry_type.geojson", "streetlights", "geometry_type_not_allowed"),
    ("nan.geojson", "streetlights", "json_nan"),
    ("entity_expansion.kml", "streetlights", "xml_dtd_forbidden"),
    ("external_entity.gpx", "streetlights", "xml_dtd_forbidden"),
    ("zip_slip.kmz", "streetlights", "zip_unsafe_name"),
    ("zip_bomb.kmz", "streetlights", "zip_ratio"),
    ("program.exe", "streetlights", "unknown_format"),
    ("empty.csv", "streetlights", "empty_file"),
]


@pytest.mark.parametrize(("name", "layer", "code"), RULE_CODES)
def test_broken_files_get_422_with_the_problem_and_write_nothing(app, data_dir, name, layer, code):
    before = tree_hashes(data_dir)
    response = post(app, RULES / name, name, layer=layer, headers={"Accept-Language": "en"})
    error = assert_error_shape(response, 422, "validation_failed")
    codes = [p["code"] for p in error["problems"]]
    assert code in codes
    problem = error["problems"][codes.index(code)]
    assert set(problem) >= {"row", "field", "value", "message", "severity"}
    assert tree_hashes(data_dir) == before


def test_messages_follow_the_language(app):
    zh = post(app, RULES / "required.csv", "r.csv", layer="streetlights").json
    client = app.test_client()
    form = {
        "file": (io.BytesIO((RULES / "required.csv").read_bytes()), "r.csv"),
        "layer": "streetlights",
    }
    en = client.post(
        "/api/uploads?lang=en", data=form, headers=bearer(app), content_type="multipart/form-data"
    ).json

    def message(body):
        return next(p["message"] for p in body["error"]["problems"] if p["code"] == "required")

    assert message(zh) == "第 1 行：缺少必填字段“供电方式”"
    assert message(en) == "Row 1: required field 'Power source' is missing"


@pytest.mark.parametrize(
    "path",
    sorted((HINT / "good").glob("*.geojson")) + sorted((HINT / "bad").glob("*.geojson")),
    ids=lambda p: p.name,
)
def test_geojson_hint_files_never_crash_and_never_land(app, data_dir, path):
    before = tree_hashes(data_dir)
    response = post(
        app, path, path.name, layer="plantings", defaults='{"species": "樟子松", "count": 1}'
    )
    assert response.status_code == 422, response.json  # all outside the county or broken
    assert response.json["error"]["problems"]
    assert tree_hashes(data_dir) == before


def test_mixed_file_needs_skip_rejected(app, data_dir):
    mixed = b"lon,lat,power_source\n112.8012,39.5034,solar\n112.8021,39.5041,wind\n"
    before = tree_hashes(data_dir)
    error = assert_error_shape(
        post(app, mixed, "m.csv", layer="streetlights"), 422, "validation_failed"
    )
    assert "upload_has_rejected_rows" in [p["code"] for p in error["problems"]]
    assert tree_hashes(data_dir) == before
    ok = post(app, mixed, "m.csv", layer="streetlights", skip_rejected="1")
    assert ok.status_code == 201 and (ok.json["accepted"], ok.json["rejected"]) == (1, 1)


def test_idempotency_key_makes_retries_land_once(app):
    store_count = app.extensions["villageworks.store"].count
    before = store_count("wells")
    headers = {"Idempotency-Key": "phone-7f3a-0001"}
    first = post(app, SHANYIN / "wells.geojson", "w.geojson", layer="wells", headers=headers)
    second = post(app, SHANYIN / "wells.geojson", "w.geojson", layer="wells", headers=headers)
    assert first.status_code == 201 and second.status_code == 200
    assert second.json["status"] == "replayed"
    assert second.json["upload_id"] == first.json["upload_id"]
    assert store_count("wells") == before + 2
    bad = post(
        app,
        SHANYIN / "wells.geojson",
        "w.geojson",
        layer="wells",
        headers={"Idempotency-Key": "<script>"},
    )
    assert_error_shape(bad, 400, "capture_bad_key")


def test_undo_needs_a_planner_and_keeps_history(app):
    body = post(app, SHANYIN / "wells.geojson", "w.geojson", layer="wells").json
    client = app.test_client()
    path = f"/api/uploads/{body['upload_id']}/undo"
    assert_error_shape(client.post(path, headers=bearer(app, "field")), 403, "forbidden")
    done = client.post(path, headers=bearer(app, "planner"))
    assert done.status_code == 200 and done.json["status"] == "undone"
    store = app.extensions["villageworks.store"]
    assert store.get("wells", body["ids"][0]) is None
    assert len(store.history("wells", body["ids"][0])) >= 2
    assert_error_shape(
        client.post(path, headers=bearer(app, "planner")), 400, "upload_already_undone"
    )


# ------------------------------------------------------------------------------ CLI
def copy_demo(target: Path) -> Path:
    for sub in ("layers", "specs"):
        shutil.copytree(ROOT / "data" / "demo" / sub, target / sub)
    return target


@pytest.fixture
def cli_data(tmp_path):
    return copy_demo(tmp_path / "cli")


@pytest.mark.parametrize(("name", "layer", "fields", "count"), FORMATS)
def test_every_format_through_the_cli(cli_data, capsys, name, layer, fields, count):
    args = [
        "import",
        str(SHANYIN / name),
        "--layer",
        layer,
        "--data",
        str(cli_data),
        "--lang",
        "en",
        "--user",
        "cli-test",
    ]
    if "defaults" in fields:
        text = fields["defaults"].strip("{}").replace('"', "").replace(": ", "=")
        args += ["--set", text]
    if "column_map" in fields:
        args += ["--map", fields["column_map"]]
    before = tree_hashes(cli_data)
    assert cli([*args, "--dry-run"]) == 0
    assert tree_hashes(cli_data) == before
    assert f"would add {count} feature(s)" in capsys.readouterr().out
    assert cli(args) == 0
    assert f"added {count} feature(s) to {layer}" in capsys.readouterr().out


@pytest.mark.parametrize(("name", "layer", "code"), RULE_CODES[:8])
def test_cli_refuses_broken_files_and_writes_nothing(cli_data, capsys, name, layer, code):
    before = tree_hashes(cli_data)
    exit_code = cli(
        ["import", str(RULES / name), "--layer", layer, "--data", str(cli_data), "--lang", "en"]
    )
    assert exit_code == 1
    err = capsys.readouterr().err
    assert "nothing was saved" in err
    assert tree_hashes(cli_data) == before


def test_cli_names_the_working_area_for_gpx_from_slovenia(cli_data, capsys):
    exit_code = cli(
        [
            "import",
            str(DATA / "gpx" / "route.gpx"),
            "--layer",
            "pipes",
            "--set",
            "purpose=irrigation",
            "--data",
            str(cli_data),
            "--lang",
            "en",
        ]
    )
    assert exit_code == 1
    assert "outside the working area (山阴县" in capsys.readouterr().err


def test_413_for_too_large_uploads(tmp_path, accounts):
    data = copy_demo(tmp_path / "data")
    app = create_app(
        {"DATA_DIR": str(data), "TESTING": True, "SECRET_KEY": "t", "MAX_UPLOAD_MB": 1}
    )
    app.tokens = accounts(app)
    before = tree_hashes(data)
    big = b"lon,lat\n" + b"112.8,39.5\n" * 200_000  # 2.2 MB
    response = post(app, big, "big.csv", layer="wells")
    assert response.status_code == 413 and response.mimetype == "application/json"
    error = response.json["error"]
    assert error["status"] == 413 and "1 MB" in error["message"]
    assert tree_hashes(data) == before
