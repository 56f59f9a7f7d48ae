"""Moving data between the GeoJSON and PostGIS stores, and PostGIS under many writers."""

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import pytest
from geometries import point

from layers.backends import migrate, open_store
from layers.errors import Conflict
from layers.postgis import PostGISStore
from layers.store import Change, GeoJSONStore
from layers.users import UserStore
from webmap.app import create_app, get_store
from webmap.cli import main as cli

ROOT = Path(__file__).resolve().parents[2]
WRITER = Path(__file__).with_name("crash_writer.py")
DEMO = ROOT / "data" / "demo"
LIGHT = {"power_source": "solar", "pole_height_m": 8, "status": "working"}


@pytest.fixture
def database(request):
    """A fresh PostGIS schema; skipped under ``--backend geojson``."""
    if request.config.getoption("backend") == "geojson":
        pytest.skip("--backend geojson")
    return request.getfixturevalue("pg_url")


def busy_county(data_dir: Path) -> GeoJSONStore:
    """The demo county plus every kind of change: edits, deletes, restores, keys, undo."""
    (data_dir / "layers").mkdir(parents=True)
    for path in (DEMO / "layers").glob("*.geojson"):
        (data_dir / "layers" / path.name).write_bytes(path.read_bytes())
    (data_dir / "specs").mkdir()
    for path in (DEMO / "specs").glob("*.toml"):
        (data_dir / "specs" / path.name).write_bytes(path.read_bytes())
    store = GeoJSONStore(data_dir)
    fid = store.create("streetlights", point(), LIGHT, user="a", idempotency_key="k1").ids[0]
    store.update("streetlights", fid, user="b", properties={"status": "faulty"})
    store.delete("streetlights", "SL-000001", user="c")
    store.delete("streetlights", "SL-000002", user="c")
    store.restore("streetlights", "SL-000002", user="d")
    store.commit(
        "streetlights",
        [Change("create", geometry=point(112.7 + i / 1000), properties=LIGHT) for i in range(3)],
        user="f",
        source="upload:U-1",
    )
    store.undo_source("streetlights", "upload:U-1", user="p")
    store.create(
        "ledger", None, {"title": "路灯", "category": "streetlights", "target": 5}, user="p"
    )
    users = UserStore(data_dir)
    users.add("planner1", "planner", "correct-horse-9")
    users.new_token("planner1", label="phone")
    return store


def dumps(store):
    return {name: store.export_layer(name) for name in store.layer_names()}


def test_round_trip_geojson_postgis_geojson_loses_nothing(tmp_path, database, monkeypatch):
    monkeypatch.delenv("VILLAGEWORKS_DATABASE_URL")  # the source's accounts are files
    source = busy_county(tmp_path / "a")
    assert cli(["migrate", "--data", str(tmp_path / "a"), "--to", "postgis", database]) == 0
    middle = PostGISStore(tmp_path / "a", database)
    back = tmp_path / "c"
    args = ["migrate", "--data", str(tmp_path / "a"), "--from", database, "--to", "geojson"]
    assert cli([*args, str(back)]) == 0
    final = GeoJSONStore(back)
    before, between, after = dumps(source), dumps(middle), dumps(final)
    assert before == between == after
    lights = before["streetlights"]
    assert len(lights.records) == 7 and "SL-000001" in lights.deleted
    assert lights.idempotency["k1"]["ids"] == [lights.records[0]["ids"][0]]
    assert len(before["villages"].live) == 133
    assert UserStore(back).export() == UserStore(tmp_path / "a").export()
    assert final.history("streetlights", "SL-000002") == source.history("streetlights", "SL-000002")
    # The copies go on where the original stopped: the next id, the idempotency key.
    assert middle.create("streetlights", point(), LIGHT, user="x").ids == ["SL-000107"]
    assert middle.create("streetlights", point(), LIGHT, user="x", idempotency_key="k1").replayed
    assert final.restore("streetlights", "SL-000001", user="x").ids == ["SL-000001"]
    middle.close()


def test_migrate_refuses_a_target_holding_data(tmp_path, database, monkeypatch):
    monkeypatch.delenv("VILLAGEWORKS_DATABASE_URL")  # the source's accounts are files
    source = busy_county(tmp_path / "a")
    migrate(source, tmp_path / "a", database)
    with pytest.raises(Exception, match="holds data"):
        migrate(source, tmp_path / "a", database)
    assert cli(["migrate", "--data", str(tmp_path / "a"), "--to", "postgis", database]) == 1


def test_two_processes_500_each_leave_exactly_1000(tmp_path, database):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, str(WRITER), str(tmp_path), "streetlights", "500", tag, database],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for tag in ("a", "b")
    ]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    acked = [line.split()[1] for out in outputs for line in out.splitlines()]
    assert len(acked) == 1000 and len(set(acked)) == 1000
    store = PostGISStore(tmp_path, database)
    features = store.features("streetlights")
    assert {f["id"] for f in features} == set(acked)
    roads = sorted(f["properties"]["road"] for f in features)
    assert roads == sorted([f"a-{i}" for i in range(500)] + [f"b-{i}" for i in range(500)])
    assert store.version("streetlights") == 1000
    assert [r["seq"] for r in store.records("streetlights")] == list(range(1, 1001))
    store.close()


def test_if_version_lets_one_of_two_servers_win(tmp_path, database):
    first, second = PostGISStore(tmp_path, database), PostGISStore(tmp_path, database)
    fid = first.create("streetlights", point(), LIGHT, user="a").ids[0]
    results = []

    def edit(store, status):
        try:
            store.update(
                "streetlights", fid, user=status, properties={"status": status}, if_version=1
            )
            results.append(status)
        except Conflict:
            results.append("conflict")

    threads = [
        threading.Thread(target=edit, args=a) for a in ((first, "faulty"), (second, "removed"))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results)[0] == "conflict" and len(set(results)) == 2
    winner = next(r for r in results if r != "conflict")
    assert second.get("streetlights", fid)["properties"]["status"] == winner
    assert first.get("streetlights", fid)["properties"]["version"] == 2
    first.close()
    second.close()


def test_two_app_servers_share_one_database(tmp_path, database):
    config = {
        "DATA_DIR": str(tmp_path),
        "SEED_DEMO": False,
        "TESTING": True,
        "SECRET_KEY": "t",
        "DATABASE_URL": database,
    }
    one, two = create_app(config), create_app(config)
    token = UserStore(tmp_path).add("field1", "field", "correct-horse-9") and UserStore(
        tmp_path
    ).new_token("field1")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/geo+json"}
    errors = []

    def writes(app, tag):
        client = app.test_client()
        for i in range(20):
            body = {
                "type": "Feature",
                "geometry": point(112.8 + i / 1000),
                "properties": {**LIGHT, "road": f"{tag}-{i}"},
            }
            response = client.post(
                "/ogc/collections/streetlights/items", data=orjson.dumps(body), headers=headers
            )
            if response.status_code != 201:
                errors.append(response.get_data(as_text=True))

    threads = [
        threading.Thread(target=writes, args=(app, tag)) for app, tag in ((one, "a"), (two, "b"))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for app in (one, two):
        items = app.test_client().get("/ogc/collections/streetlights/items?limit=100").json
        assert items["numberMatched"] == 40
    assert get_store(one).frame("streetlights")["road"].str[0].value_counts().to_dict() == {
        "a": 20,
        "b": 20,
    }
    for app in (one, two):
        get_store(app).close()


def test_bbox_is_answered_by_the_gist_index(tmp_path, database):
    store = PostGISStore(tmp_path, database)
    store.commit(
        "streetlights",
        [
            Change("create", geometry=point(112 + i / 100, 39.5), properties=LIGHT)
            for i in range(300)
        ],
        user="a",
        source="t",
    )
    with store._conn() as conn:
        conn.execute("ANALYZE vw_features")
        conn.execute("SET enable_seqscan = off")
        plan = conn.execute(
            "EXPLAIN SELECT id FROM vw_features WHERE layer = 'streetlights' AND NOT deleted "
            "AND geom && ST_MakeEnvelope(112.1, 39, 112.2, 40, 4326)"
        ).fetchall()
        conn.execute("RESET enable_seqscan")
    assert "vw_features_geom" in " ".join(r[0] for r in plan)
    assert len(store.bbox_ids("streetlights", (112.095, 39.4, 112.205, 39.6))) == 11
    store.close()


def test_commit_latency_figures(tmp_path, database, capsys):
    """Prints a single commit's median latency on each backend (the gate is scripts/bench.py)."""
    figures = {}
    for name, store in (
        ("geojson", GeoJSONStore(tmp_path / "g")),
        ("postgis", PostGISStore(tmp_path / "p", database)),
    ):
        times = []
        for i in range(50):
            start = time.perf_counter()
            store.create("streetlights", point(112 + i / 1000), LIGHT, user="a")
            times.append(time.perf_counter() - start)
        figures[name] = sorted(times)[len(times) // 2] * 1000
        assert store.count("streetlights") == 50
        store.close()
    with capsys.disabled():
        print(" ".join(f"{k}: {v:.1f} ms" for k, v in figures.items()), end=" ")


def test_open_store_chooses_by_url(tmp_path, database):
    assert open_store(tmp_path).backend == "geojson"
    store = open_store(tmp_path, database)
    assert store.backend == "postgis" and store.database_url == database
    store.close()


def test_cli_seeds_lists_and_checks_the_database(tmp_path, database, monkeypatch, capsys):
    monkeypatch.setenv("VILLAGEWORKS_DATABASE_URL", database)
    assert cli(["layers", "--data", str(tmp_path), "--lang", "en"]) == 0
    listed = capsys.readouterr()
    assert "seeded the database" in listed.err
    assert re.search(r"^streetlights +102 ", listed.out, re.M)
    assert cli(["check", "--data", str(tmp_path)]) == 0
    assert "villages: 133 features, 0 journal records" in capsys.readouterr().out
    store = PostGISStore(tmp_path, database)
    assert store.count("roadside_shops") == 53  # declared by the demo's own spec file
    assert not (tmp_path / "layers").exists()  # the layers are in the database only
    store.close()
