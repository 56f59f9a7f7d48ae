"""kill -9 at random moments: the server during writes, and CLI imports during their commit.

After every kill nothing is corrupt; after the restart every acknowledged change is there
exactly once and nothing is half-applied (a batch import is all there or not at all, and
its upload record agrees with the features). Clients retry with their Idempotency-Key,
so a change that landed just before a kill is acknowledged on the retry, not written twice.

The random moments come from ``VILLAGEWORKS_CRASH_SEED`` (printed, so a failure can be
replayed), else from the clock.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import pytest

from layers.backends import open_store
from layers.journal import read_records
from layers.site_files import site_files
from layers.uploads import UploadLog

pytestmark = pytest.mark.slow

SERVER_KILLS = 20
CLI_KILLS = 20
LAYERS = ("streetlights", "wells")


def seed_of(name: str) -> random.Random:
    seed = int(os.environ.get("VILLAGEWORKS_CRASH_SEED") or time.time_ns() % 1_000_000)
    print(f"{name}: VILLAGEWORKS_CRASH_SEED={seed}")
    return random.Random(seed)


def assert_files_parse(rel, data: Path) -> bool:
    """Every layer file is a whole FeatureCollection (GeoJSON store) right after a kill.

    Returns whether the kill interrupted a write: a torn journal record, a temp file, or
    an upload record still pending."""
    pending = any(
        b'"pending"' in meta.read_bytes() for meta in (data / "uploads").glob("U-*/meta.json")
    )
    if rel.database_url():
        return pending
    for path in (data / "layers").glob("*.geojson"):
        doc = orjson.loads(path.read_bytes())
        assert doc["type"] == "FeatureCollection", path.name
    torn = any(
        read_records(path)[1] != path.stat().st_size
        for path in (data / "journal").glob("*.geojsons")
    )
    return pending or torn or any((data / "layers").glob(".*.tmp"))


def assert_uploads_settled(rel, data: Path) -> int:
    """No upload record is left pending; each committed one names exactly the live features
    it created, and every feature an upload created has its record. Returns the records."""
    log = UploadLog(site_files(data, rel.database_url()))
    metas = {m["upload_id"]: m for m in log.list()}
    store = open_store(data, rel.database_url())
    try:
        by_source: dict[str, set[str]] = {}
        for layer in LAYERS:
            for feature in store.features(layer):
                source = feature["properties"].get("source", "")
                if source.startswith("upload:"):
                    by_source.setdefault(source[7:], set()).add(feature["id"])
    finally:
        store.close()
    pending = [m["upload_id"] for m in metas.values() if m.get("status") == "pending"]
    assert not pending, f"upload records left pending: {pending}"
    for upload_id, ids in by_source.items():
        assert upload_id in metas, f"features of {upload_id} have no upload record"
        assert set(metas[upload_id]["ids"]) == ids, upload_id
    for upload_id, meta in metas.items():
        assert meta["status"] == "committed", (upload_id, meta["status"])
        assert upload_id in by_source, f"record {upload_id} names features that do not exist"
    return len(metas)


def test_kill9_of_the_server_at_random_moments_loses_no_acknowledged_change(
    tmp_path, rel, gunicorn, clients
):
    rng = seed_of("server")
    data = rel.demo_data_dir(tmp_path / "data")
    tokens = rel.make_accounts(data)
    store = open_store(data, rel.database_url())
    before = {layer: {f["id"] for f in store.features(layer)} for layer in LAYERS}
    store.close()
    writers, items = 4, 400
    points = {layer: iter(rel.grid_points(data, layer, writers * items)) for layer in LAYERS}
    stop = tmp_path / "stop"

    server = gunicorn(data, workers=2)
    for w in range(writers):
        plan = []
        for i in range(items):
            layer = LAYERS[(w + i) % 2]
            key = f"key{w}-{i:04d}"
            if i % 10 == 9:  # every tenth request a small batch import
                markers = [f"{key}-b{j}" for j in range(5)]
                pts = [next(points[layer]) for _ in markers]
                plan.append(rel.feature_plan("upload", layer, key, pts, markers))
            else:
                kind = ("ogc", "capture")[i % 2]
                plan.append(rel.feature_plan(kind, layer, key, [next(points[layer])], [key]))
        for item in plan:
            item["pause"] = 0.1  # a steady stream of writes through all the kills
        clients.start(server.url, tokens["planner"], plan, deadline_s=240, stop_file=stop)

    kills = mid_write = 0
    for _ in range(SERVER_KILLS):
        time.sleep(rng.uniform(0.2, 1.2))
        assert clients.running(), "the clients ran out of work before the last kill"
        server.kill9()
        kills += 1
        mid_write += assert_files_parse(rel, data)
        server.start()
    stop.touch()
    results = clients.wait(timeout=240)
    # The next write after the restarts: one more batch import.
    final = rel.feature_plan("upload", "wells", "final-upload", [next(points["wells"])], ["fin"])
    clients.start(server.url, tokens["planner"], [final], deadline_s=60)
    results = clients.wait(timeout=90)
    server.stop()

    not_acked = [
        (r["key"], r["status"], r["error"]) for r in results if r["status"] not in (200, 201)
    ]
    assert not not_acked, f"writes never acknowledged: {not_acked[:3]}"
    acknowledged, kept = rel.verify_acknowledged(data, results, before)
    assert acknowledged == kept
    rel.assert_layers_sound(data)
    records = assert_uploads_settled(rel, data)
    rel.record_figures(
        "crash-server",
        {
            "kills": kills,
            "kills_leaving_an_interrupted_write": mid_write,
            "requests": len(results),
            "retried_after_a_kill": sum(bool(r["failures"]) for r in results),
            "features_acknowledged": acknowledged,
            "features_kept": kept,
            "upload_records": records,
        },
    )
    assert kills >= 20


def _cli(data: Path, path: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    env.update(PYTHONUNBUFFERED="1", VILLAGEWORKS_LANG="en")
    env.pop("VILLAGEWORKS_CRASH_AT", None)
    command = [sys.executable, "-m", "webmap.cli", "import", str(path), "--layer"]
    command += ["streetlights", "--crs", "wgs84", "--data", str(data), "--user", "cli"]
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )


class Import:
    """One CLI import, killed (-9) a random time after it says its checks are done, that
    is, while it keeps the original file, commits and writes its record."""

    def __init__(self, data: Path, path: Path, delay: float | None):
        self.proc = _cli(data, path)
        self.delay = delay
        self.killed = False
        self.checked_at: float | None = None
        self.committed_at: float | None = None
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            if line.startswith("committed "):
                self.committed_at = time.monotonic()
            if line.startswith("checked:"):
                self.checked_at = time.monotonic()
                if self.delay is not None:
                    time.sleep(self.delay)
                    if self.proc.poll() is None:
                        os.killpg(self.proc.pid, signal.SIGKILL)
                        self.killed = True
                    return

    def wait(self) -> tuple[int, str]:
        self.proc.wait(timeout=120)
        self.thread.join(timeout=10)
        assert self.proc.stdout is not None
        out = self.proc.stdout.read()
        return self.proc.returncode, out


def test_kill9_of_cli_imports_at_random_moments_is_all_or_nothing(tmp_path, rel):
    rng = seed_of("cli")
    data = rel.demo_data_dir(tmp_path / "data")
    size, rounds = 150, 40
    points = iter(rel.grid_points(data, "streetlights", size * (2 * rounds + 2)))

    def import_file(name: str) -> Path:
        path = tmp_path / f"{name}.geojson"
        features = [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": list(next(points))},
                "properties": {"road": f"{name}-{j:03d}", "power_source": "grid"},
            }
            for j in range(size)
        ]
        path.write_bytes(orjson.dumps({"type": "FeatureCollection", "features": features}))
        return path

    # One undisturbed import: how long its commit takes.
    calibration = Import(data, import_file("calibrate"), None)
    code, out = calibration.wait()
    assert code == 0 and "added 150" in out, out
    assert calibration.committed_at and calibration.checked_at
    window = max(0.01, calibration.committed_at - calibration.checked_at)

    acked: list[str] = ["calibrate"]
    tried: list[str] = ["calibrate"]
    kills = mid_write = 0
    for n in range(rounds):
        if kills >= CLI_KILLS:
            break
        names = [f"cli{n:02d}a", f"cli{n:02d}b"]
        runs = [Import(data, import_file(m), rng.uniform(0, window)) for m in names]
        for name, run in zip(names, runs, strict=True):
            code, out = run.wait()
            tried.append(name)
            kills += run.killed
            if not run.killed:
                assert code == 0, out
            if code == 0 and "added 150" in out:
                acked.append(name)
        mid_write += assert_files_parse(rel, data)
    # The next import after the crashes settles what they left and must work.
    code, out = Import(data, import_file("after"), None).wait()
    assert code == 0, out
    acked.append("after")
    tried.append("after")

    store = open_store(data, rel.database_url())
    try:
        counts: dict[str, int] = {}
        for feature in store.features("streetlights"):
            road = str(feature["properties"].get("road", ""))
            counts[road.rsplit("-", 1)[0]] = counts.get(road.rsplit("-", 1)[0], 0) + 1
    finally:
        store.close()
    half = {name: counts[name] for name in tried if counts.get(name, 0) not in (0, size)}
    assert not half, f"imports half applied: {half}"
    lost = [name for name in acked if counts.get(name) != size]
    assert not lost, f"acknowledged imports missing: {lost}"
    rel.assert_layers_sound(data)
    records = assert_uploads_settled(rel, data)
    landed = sum(counts.get(name) == size for name in tried)
    rel.record_figures(
        "crash-cli",
        {
            "imports": len(tried),
            "kills": kills,
            "rounds_leaving_an_interrupted_write": mid_write,
            "imports_acknowledged": len(acked),
            "imports_landed_whole": landed,
            "imports_absent": len(tried) - landed,
            "features_kept": landed * size,
            "upload_records": records,
            "commit_window_s": round(window, 3),
        },
    )
    assert kills >= CLI_KILLS
