"""Many writers at once under gunicorn: every acknowledged feature is kept exactly once.

16 client processes each make 50 single-feature writes (OGC API and capture API, every
one with an Idempotency-Key) while 4 batch imports (POST /api/uploads) run, all into the
same two layers of one data directory served by ``gunicorn -w 4``. Afterwards a fresh
store must hold every acknowledged feature once, with its own values, nothing else new,
and every layer file must be valid. The same holds for a server started on an empty data
directory: four workers seed the demo county once and share one session key.
"""

from __future__ import annotations

import re
import shutil

import pytest

from layers.backends import open_store

pytestmark = pytest.mark.slow

WRITERS = 16
WRITES_EACH = 50
IMPORTS = 4
IMPORT_SIZE = 50
LAYERS = ("streetlights", "wells")


def test_16_writers_and_4_imports_keep_every_acknowledged_feature_once(
    tmp_path, rel, gunicorn, clients
):
    data = rel.demo_data_dir(tmp_path / "data")
    tokens = rel.make_accounts(data)
    store = open_store(data, rel.database_url())
    before = {layer: {f["id"] for f in store.features(layer)} for layer in LAYERS}
    store.close()
    per_layer = WRITERS * WRITES_EACH // 2 + IMPORTS // 2 * IMPORT_SIZE
    points = {layer: iter(rel.grid_points(data, layer, per_layer)) for layer in LAYERS}

    server = gunicorn(data, workers=4)
    plans = []
    for w in range(WRITERS):
        plan = []
        for i in range(WRITES_EACH):
            layer = LAYERS[(w + i) % 2]
            kind = "ogc" if i % 2 else "capture"
            key = f"w{w:02d}-{i:03d}-{kind}"
            plan.append(rel.feature_plan(kind, layer, key, [next(points[layer])], [key]))
        plans.append(plan)
    for b in range(IMPORTS):
        layer = LAYERS[b % 2]
        key = f"batch-{b:02d}-upload"
        markers = [f"{key}-{j:03d}" for j in range(IMPORT_SIZE)]
        pts = [next(points[layer]) for _ in range(IMPORT_SIZE)]
        plans.insert(b * 4, [rel.feature_plan("upload", layer, key, pts, markers)])
    for plan in plans:
        token = tokens["planner"] if plan[0]["kind"] == "upload" else tokens["field"]
        clients.start(server.url, token, plan, deadline_s=150)
    results = clients.wait(timeout=180)
    server.stop()

    attempted = WRITERS * WRITES_EACH + IMPORTS * IMPORT_SIZE
    assert len(results) == WRITERS * WRITES_EACH + IMPORTS
    refused = [(r["key"], r["status"], r["error"]) for r in results if r["status"] != 201]
    assert not refused, f"writes not acknowledged: {refused[:3]}"
    retried = [(r["key"], r["failures"]) for r in results if r["failures"]]
    assert not retried, f"server errors or dropped connections: {retried[:3]}"
    acknowledged, kept = rel.verify_acknowledged(data, results, before)
    assert acknowledged == kept == attempted
    counts = rel.assert_layers_sound(data)
    for layer in LAYERS:
        assert counts[layer] == len(before[layer]) + per_layer
    rel.record_figures(
        "concurrency",
        {
            "writers": WRITERS,
            "single_writes": WRITERS * WRITES_EACH,
            "batch_imports": IMPORTS,
            "features_attempted": attempted,
            "features_acknowledged": acknowledged,
            "features_kept": kept,
        },
    )


def test_four_workers_on_an_empty_data_dir_seed_once_and_share_one_session_key(
    tmp_path, rel, gunicorn
):
    """First start of ``gunicorn -w 4`` on a fresh data directory (the README's recipe):
    every worker boots, the demo county is seeded once, and a session opened on one
    worker is valid on all (the generated secret key is the same everywhere)."""
    data = tmp_path / "fresh"
    data.mkdir()
    server = gunicorn(data, workers=4, VILLAGEWORKS_SECRET_KEY="")
    rel.make_accounts(data)
    status, headers, body = rel.http("GET", f"{server.url}/login")
    cookie = headers["Set-Cookie"].split(";")[0]
    csrf = re.search(rb'name="csrf_token" value="([^"]+)"', body).group(1).decode()
    form = f"name=field1&password={rel.PASSWORD}&csrf_token={csrf}".encode()
    status, headers, _ = rel.http(
        "POST",
        f"{server.url}/login",
        form,
        {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 302, "the login was refused: the workers do not share one key"
    cookie = headers["Set-Cookie"].split(";")[0]
    for _ in range(24):  # sync workers take requests in turn: every worker sees the cookie
        status, _, _ = rel.http("GET", f"{server.url}/uploads/new", headers={"Cookie": cookie})
        assert status == 200, "a worker did not know the session"
    server.stop()
    demo = rel.DEMO / "layers"
    counts = rel.assert_layers_sound(data)
    for path in demo.glob("*.geojson"):
        expected = len(__import__("orjson").loads(path.read_bytes())["features"])
        assert counts[path.stem] == expected, path.stem
    if not rel.database_url():
        for path in demo.glob("*.geojson"):
            assert (data / "layers" / path.name).read_bytes() == path.read_bytes()
    shutil.rmtree(data)
