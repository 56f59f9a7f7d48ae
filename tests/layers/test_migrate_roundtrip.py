"""`villageworks migrate` carries everything both ways, and refuses what it cannot carry.

GeoJSON -> PostGIS -> GeoJSON (into new, empty directories each time, the PostGIS side
read through servers whose data directories are empty) compares equal: every layer's
dump, including the county's own layers declared only in the source's ``specs/``, every
site file byte for byte (accounts, sessions, uploads with originals, photos with
thumbnails, throttles, specs) and the signing key, so a session signed before still
opens the migrated site. The refusals name what they refuse and write nothing.
"""

import io
import json
import re
import shutil
from pathlib import Path

import orjson
import pytest
from county_specs import BENCHES_TOML
from geometries import point

from layers.backends import migrate, open_store
from layers.errors import VillageWorksError
from layers.site_files import DirFiles, site_files
from layers.site_migration import SIGNING_KEY, classify_paths
from layers.store import GeoJSONStore
from webmap.app import create_app
from webmap.cli import main as cli

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "data" / "demo"
PHOTO = ROOT / "tests" / "data" / "photos" / "Canon_40D.jpg"
WELLS = ROOT / "tests" / "data" / "import" / "shanyin" / "wells.geojson"
PASSWORD = "correct-horse-9"
LIGHT = {"power_source": "solar", "pole_height_m": 8, "status": "working"}
BENCHES = BENCHES_TOML


@pytest.fixture
def database(request):
    """A fresh PostGIS schema; skipped under ``--backend geojson``."""
    if request.config.getoption("backend") == "geojson":
        pytest.skip("--backend geojson")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def geojson_env(monkeypatch):
    """Apps built by the test use GeoJSON files unless given a database URL."""
    monkeypatch.delenv("VILLAGEWORKS_DATABASE_URL", raising=False)
    monkeypatch.delenv("VILLAGEWORKS_SECRET_KEY", raising=False)
    monkeypatch.delenv("VILLAGEWORKS_SECRET_KEY_FILE", raising=False)


def app_over(data_dir: Path, database_url: str = ""):
    config = {"DATA_DIR": str(data_dir), "TESTING": True, "DATABASE_URL": database_url}
    return create_app({**config, "SEED_DEMO": False})


def login(client, name: str, password: str = PASSWORD):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post("/login", data={"name": name, "password": password, "csrf_token": token})


def busy_site(data_dir: Path, accounts) -> dict:
    """The demo county, a second county-declared layer, every kind of layer change, four
    accounts with tokens, a login session, a failed login, an upload with its original
    and a photo with its thumbnail, made through the GeoJSON app."""
    for sub in ("layers", "specs"):
        shutil.copytree(DEMO / sub, data_dir / sub)
    (data_dir / "specs" / "benches.toml").write_text(BENCHES, encoding="utf-8")
    app = app_over(data_dir)
    tokens = accounts(app)
    store = app.extensions["villageworks.store"]
    bench = store.create("benches", point(112.81, 39.51), {"seats": 4}, user="a").ids[0]
    store.create("benches", point(112.82, 39.52), {"seats": 2}, user="a", idempotency_key="b1")
    store.delete("benches", bench, user="p")
    fid = store.create("streetlights", point(), LIGHT, user="a", idempotency_key="k1").ids[0]
    store.update("streetlights", fid, user="b", properties={"status": "faulty"})
    store.delete("streetlights", "SL-000001", user="c")
    client = app.test_client()
    assert login(client, "field1").status_code == 302
    assert login(app.test_client(), "viewer1", "wrong-password-1").status_code != 302
    bearer = {"Authorization": f"Bearer {tokens['field']}", "Accept": "application/json"}
    upload = client.post(
        "/api/uploads",
        data={"file": (io.BytesIO(WELLS.read_bytes()), "水井.geojson"), "layer": "wells"},
        headers=bearer,
        content_type="multipart/form-data",
    )
    assert upload.status_code == 201, upload.get_data(as_text=True)
    capture = {
        "layer": "streetlights",
        "geometry": {"type": "Point", "coordinates": [112.8201, 39.5121]},
        "accuracy_m": 6.0,
        "location_source": "gps",
        "properties": {"power_source": "solar", "pole_height_m": "8"},
    }
    photo = client.post(
        "/api/capture",
        data={
            "capture": json.dumps(capture),
            "photos": [(io.BytesIO(PHOTO.read_bytes()), "p.jpg")],
        },
        headers={**bearer, "Idempotency-Key": "photo-roundtrip-1"},
        content_type="multipart/form-data",
    )
    assert photo.status_code == 201, photo.get_data(as_text=True)
    photo_id = photo.json["photos"][0]
    assert client.get(f"/photos/{photo_id}/thumb").status_code == 200
    return {
        "app": app,
        "tokens": tokens,
        "session": client.get_cookie("session").value,
        "upload_id": upload.json["upload_id"],
        "photo_id": photo_id,
    }


def dumps(store):
    return {name: store.export_layer(name) for name in store.layer_names()}


def site_bytes(files) -> dict[str, bytes]:
    """Every site file migrate carries, by path."""
    paths = classify_paths(files.list(), files.kind)[0]
    return {path: files.read(path) for path in paths}


def what_a_server_sees(app, site) -> dict:
    """Accounts, the upload log, the photo and the session, as HTTP shows them."""
    client = app.test_client()
    admin = {"Authorization": f"Bearer {site['tokens']['admin']}", "Accept": "application/json"}
    uploads = client.get("/api/uploads", headers=admin).json["uploads"]
    original = client.get(f"/api/uploads/{site['upload_id']}", headers=admin).json
    client.set_cookie("session", site["session"])
    return {
        "uploads": uploads,
        "upload": original,
        "photo": client.get(f"/photos/{site['photo_id']}").data,
        "thumb": client.get(f"/photos/{site['photo_id']}/thumb").data,
        "session_user": "field1" in client.get("/").get_data(as_text=True),
        "shops": client.get("/ogc/collections/roadside_shops/items?limit=1").json["numberMatched"],
        "benches": client.get("/ogc/collections/benches/items").json["numberMatched"],
    }


def test_geojson_postgis_geojson_compares_equal(tmp_path, database, geojson_env, accounts, capsys):
    site = busy_site(tmp_path / "a", accounts)
    source = site["app"].extensions["villageworks.store"]
    before = what_a_server_sees(site["app"], site)
    assert before["session_user"] and before["shops"] == 53 and before["benches"] == 1
    a = ["migrate", "--data", str(tmp_path / "a"), "--lang", "en"]
    assert cli([*a, "--to", "postgis", database, "--target-data", str(tmp_path / "b")]) == 0
    summary = capsys.readouterr().out
    assert "in 16 layers" in summary and "4 accounts, 1 uploads, 1 photos" in summary
    assert "signing key: carried" in summary
    # The PostGIS side, read by a server whose data directory is new and empty.
    middle = open_store(tmp_path / "m", database)
    back = ["migrate", "--data", str(tmp_path / "n"), "--from", database, "--lang", "en"]
    assert cli([*back, "--to", "geojson", str(tmp_path / "c")]) == 0
    final = GeoJSONStore(tmp_path / "c")
    first, between, after = dumps(source), dumps(middle), dumps(final)
    assert first == between == after
    assert {"roadside_shops", "benches"} <= set(first) and len(first["roadside_shops"].live) == 53
    assert first["benches"].deleted and first["benches"].idempotency["b1"]
    assert len(first["streetlights"].records) == 4  # 3 edits and the capture
    assert [r["source"] for r in first["wells"].records] == [f"upload:{site['upload_id']}"]
    files = site_bytes(DirFiles(tmp_path / "a"))
    assert {"users.json", "specs/benches.toml", "throttle/logins.json"} <= set(files)
    assert f"uploads/{site['upload_id']}/original.bin" in files
    assert f"photos/thumbs/{site['photo_id']}.jpg" in files
    assert files == site_bytes(middle.files) == site_bytes(DirFiles(tmp_path / "c"))
    key = (tmp_path / "a.secrets" / "secret_key").read_bytes().strip()
    assert middle.files.read(SIGNING_KEY) == key
    assert (tmp_path / "c.secrets" / "secret_key").read_bytes() == key
    assert oct((tmp_path / "c.secrets" / "secret_key").stat().st_mode & 0o777) == "0o600"
    assert what_a_server_sees(app_over(tmp_path / "s", database), site) == before
    assert what_a_server_sees(app_over(tmp_path / "c"), site) == before
    middle.close()


# ------------------------------------------------------------------------- refusals
@pytest.fixture
def target(request, tmp_path):
    """Where a refusal test migrates to: PostGIS, or a data directory on the GeoJSON run."""
    if request.config.getoption("backend") == "geojson":
        return tmp_path / "t", ""
    return tmp_path / "t", request.getfixturevalue("pg_url")


def small_site(data_dir: Path) -> GeoJSONStore:
    for sub in ("layers", "specs"):
        shutil.copytree(DEMO / sub, data_dir / sub)
    store = GeoJSONStore(data_dir)
    store.create("streetlights", point(), LIGHT, user="a")
    return store


def nothing_written(data_dir: Path, url: str) -> bool:
    files = site_files(data_dir, url)
    try:
        written = [p for p in files.list() if not p.startswith("locks/")]
    finally:
        files.close()
    store = open_store(data_dir, url)
    try:
        return not written and store.is_empty()
    finally:
        store.close()


def refusal(source, target, **kwargs) -> VillageWorksError:
    with pytest.raises(VillageWorksError) as caught:
        migrate(source, *target, **kwargs)
    return caught.value


def test_unknown_entries_are_refused_by_name_unless_forced(tmp_path, target, geojson_env):
    source = small_site(tmp_path / "a")
    (tmp_path / "a" / "notes.txt").write_text("村委会电话", encoding="utf-8")
    (tmp_path / "a" / "backup").mkdir()
    (tmp_path / "a" / "backup" / "old.geojson").write_text("{}")
    error = refusal(source, target)
    assert "backup/, notes.txt" in error.user_message("en")
    assert "nothing was migrated" in error.user_message("en") and "--force" in error.user_message()
    assert (
        "backup/, notes.txt" in error.user_message("zh")
        and "未迁移任何内容" in error.user_message()
    )
    assert nothing_written(*target)
    summary = migrate(source, *target, force=True)
    assert summary.left_behind == ["backup/", "notes.txt"]
    assert "left behind (--force): backup/, notes.txt" in summary.text("en")
    files = site_files(*target)
    assert "notes.txt" not in files.list() and "specs/shops.toml" in files.list()
    files.close()


def test_a_target_holding_anything_is_refused(tmp_path, target, geojson_env):
    source = small_site(tmp_path / "a")
    migrate(source, *target)
    error = refusal(source, target)
    assert "already holds data" in error.user_message("en") and "specs" in error.user_message("en")
    assert "目标已有数据" in error.user_message("zh")
    taken = tmp_path / "u"
    (taken / "photos").mkdir(parents=True)
    (taken / "photos" / "P-1.jpg").write_bytes(b"jpeg")
    assert "photos" in refusal(source, (taken, "")).user_message("en")


def test_a_target_key_file_is_refused(tmp_path, geojson_env):
    source = small_site(tmp_path / "a")
    key_file = tmp_path / "t.secrets" / "secret_key"
    key_file.parent.mkdir()
    key_file.write_text("someone else's key")
    error = refusal(source, (tmp_path / "t", ""), target_key_file=key_file)
    assert str(key_file) in error.user_message("en")
    assert nothing_written(tmp_path / "t", "")
    assert key_file.read_text() == "someone else's key"


def test_a_layer_no_spec_declares_is_refused(tmp_path, target, geojson_env):
    source = small_site(tmp_path / "a")
    (tmp_path / "a" / "layers" / "kiosks.geojson").write_bytes(
        orjson.dumps({"type": "FeatureCollection", "features": [{"type": "Feature"}]})
    )
    error = refusal(source, target)
    assert "'kiosks'" in error.user_message("en") and "no spec declares it" in error.user_message(
        "en"
    )
    assert "“kiosks”" in error.user_message("zh")
    assert nothing_written(*target)


def test_a_database_layer_whose_spec_is_gone_is_refused(tmp_path, database, geojson_env, capsys):
    """The bug of issue #19: the county's own layer left out without a word."""
    migrate(small_site(tmp_path / "a"), tmp_path / "b", database)
    files = site_files(tmp_path / "b", database)
    assert files.delete("specs/shops.toml")
    files.close()
    source = open_store(tmp_path / "m", database)
    args = ["migrate", "--data", str(tmp_path / "m"), "--from", database, "--lang", "en"]
    assert cli([*args, "--to", "geojson", str(tmp_path / "c")]) == 1
    assert "The layer 'roadside_shops' holds 53 features or records but no spec declares it" in (
        capsys.readouterr().err
    )
    source.close()
    assert nothing_written(tmp_path / "c", "")


def test_the_cli_names_the_refusal(tmp_path, database, geojson_env, capsys):
    small_site(tmp_path / "a")
    (tmp_path / "a" / "notes.txt").write_text("x")
    args = ["migrate", "--data", str(tmp_path / "a"), "--to", "postgis", database]
    assert cli([*args, "--lang", "en"]) == 1
    assert "error: The data directory holds entries migrate does not know: notes.txt" in (
        capsys.readouterr().err
    )
    assert cli(args + ["--lang", "zh"]) == 1
    assert "数据目录中有 migrate 不认识的内容：notes.txt" in capsys.readouterr().err
    assert cli([*args, "--force", "--lang", "en"]) == 0
    assert "left behind (--force): notes.txt" in capsys.readouterr().out


@pytest.fixture
def second_database(database):
    """Another fresh schema of the test database, beside ``database``'s."""
    import os
    import uuid

    import psycopg
    from psycopg.conninfo import make_conninfo

    base = os.environ["VILLAGEWORKS_TEST_DATABASE_URL"]
    schema = f"t2_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    yield make_conninfo(base, options=f"-c search_path={schema},public", application_name=schema)
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s AND pid <> pg_backend_pid()",
            (schema,),
        )
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def test_postgis_to_postgis(tmp_path, database, second_database, geojson_env, capsys):
    source = small_site(tmp_path / "a")
    (tmp_path / "a.secrets").mkdir()
    (tmp_path / "a.secrets" / "secret_key").write_text("k" * 64)
    migrate(source, tmp_path / "b", database, source_key_file=tmp_path / "a.secrets" / "secret_key")
    args = ["migrate", "--data", str(tmp_path / "m"), "--from", database, "--lang", "en"]
    assert cli([*args, "--to", "postgis", second_database]) == 0
    assert "signing key: carried" in capsys.readouterr().out
    one, two = open_store(tmp_path / "m", database), open_store(tmp_path / "n", second_database)
    assert dumps(one) == dumps(two) and len(dumps(two)["roadside_shops"].live) == 53
    assert site_bytes(one.files) == site_bytes(two.files)
    assert two.files.read(SIGNING_KEY) == b"k" * 64
    one.close()
    two.close()


def test_a_missing_source_directory_is_named_not_made(tmp_path, database, capsys):
    missing = tmp_path / "typo"
    assert cli(["migrate", "--data", str(missing), "--to", "postgis", database]) == 2
    assert f"--data {missing}: no such data directory" in capsys.readouterr().err
    assert not missing.exists()
