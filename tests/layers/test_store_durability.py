"""The store never loses an acknowledged change: crashes at every step, many writers."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from layers.check import check_layer
from layers.store import COMPACT_AT_ONCE_MAX_FEATURES, GeoJSONStore

# Crash points and layer files are the GeoJSON store's; tests/layers/test_backends.py
# runs the many-writers test on PostGIS.
pytestmark = pytest.mark.geojson_only
WRITER = Path(__file__).with_name("crash_writer.py")
ROOT = Path(__file__).resolve().parents[2]
POINTS = [
    "commit_before_append",
    "journal_torn",
    "journal_before_fsync",
    "journal_after_fsync",
    "commit_after_append",
    "file_half_written",
    "file_before_replace",
    "file_after_replace",
]


def run_writer(data_dir, count, tag, crash_at=None, layer="streetlights"):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("VILLAGEWORKS_CRASH_AT", None)
    if crash_at:
        env["VILLAGEWORKS_CRASH_AT"] = crash_at
    proc = subprocess.run(
        [sys.executable, str(WRITER), str(data_dir), layer, str(count), tag],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    acked = [line.split()[1] for line in proc.stdout.splitlines() if line.startswith("ACK")]
    return proc.returncode, acked


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("nth", [1, 3])
def test_crash_at_every_step_keeps_acknowledged_changes(tmp_path, point, nth):
    code, acked = run_writer(tmp_path, 10, "w", crash_at=f"{point}:{nth}")
    assert code == 86, "the writer should have died at the crash point"
    assert len(acked) == nth - 1
    store = GeoJSONStore(tmp_path)
    ids = {f["id"] for f in store.features("streetlights")}
    assert set(acked) <= ids
    # A crash after the journal fsync may keep the unacknowledged change; never more.
    assert len(ids) - len(acked) in (0, 1)
    assert check_layer(store, "streetlights").problems == []
    # The data directory takes new writes after the crash, and a fresh process sees all.
    code, more = run_writer(tmp_path, 3, "after")
    assert code == 0
    fresh = GeoJSONStore(tmp_path)
    final = {f["id"] for f in fresh.features("streetlights")}
    assert set(acked) | set(more) <= final
    assert len(final) == len(ids) + 3
    fresh.compact("streetlights")
    assert check_layer(fresh, "streetlights").problems == []


def test_two_processes_500_each_leave_exactly_1000(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("VILLAGEWORKS_CRASH_AT", None)
    procs = [
        subprocess.Popen(
            [sys.executable, str(WRITER), str(tmp_path), "streetlights", "500", tag],
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
    store = GeoJSONStore(tmp_path)
    features = store.features("streetlights")
    assert len(features) == 1000
    assert {f["id"] for f in features} == set(acked)
    roads = sorted(f["properties"]["road"] for f in features)
    assert roads == sorted([f"a-{i}" for i in range(500)] + [f"b-{i}" for i in range(500)])
    assert 1000 > COMPACT_AT_ONCE_MAX_FEATURES or store.pending("streetlights") == 0
    store.compact("streetlights")
    assert check_layer(store, "streetlights").problems == []
    assert len(GeoJSONStore(tmp_path).features("streetlights")) == 1000
