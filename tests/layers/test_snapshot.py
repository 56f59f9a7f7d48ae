"""The binary snapshot of a big layer's table (``layers.snapshot``): a cache that loads
exactly what the GeoJSON file holds, and is ignored whenever it might not."""

from __future__ import annotations

import os

import numpy as np
import orjson
import pytest
from geometries import point

import layers.layer_file as layer_file_module
import layers.store as store_module
from layers.memtable import FeatureTable
from layers.snapshot import (
    decode_column,
    encode_column,
    read_snapshot,
    snapshot_path,
    write_snapshot,
)
from layers.store import GeoJSONStore

pytestmark = pytest.mark.geojson_only

COLUMNS = ["name", "n", "f", "flag", "tags", "meta", "version"]


def _features() -> list[dict]:
    out = []
    for i in range(40):
        props = {
            "name": ["白坊村", "", 'a"b\\c', "x"][i % 4],
            "n": [1, 2, 10**12, -3][i % 4],
            "f": [1.0, -0.0, 0.1, 8.5][i % 4],
            "flag": [True, False, None, True][i % 4],
            "tags": [["a", 1], [], None, ["b"]][i % 4],
            "meta": [{"k": 1}, {}, None, {"z": [1.5]}][i % 4],
            "version": 1,
        }
        if i % 5 == 0:
            del props["name"]  # absent, not null
        if i % 7 == 0:
            props["n"] = True  # True is not 1
        geometry = point(112.5 + i / 1000, 39.5)
        if i % 6 == 1:
            geometry = {
                "type": "LineString",
                "coordinates": [[112.5, 39.5, 1.5], [112.6, 39.6, 2.0]],
            }
        if i % 9 == 2:
            geometry = None
        feature = {"type": "Feature", "id": f"F-{i:03d}", "geometry": geometry, "properties": props}
        if i % 8 == 3:
            feature["bbox"] = [112.5, 39.5, 112.5, 39.5]  # a member the table cannot rebuild
        out.append(feature)
    return out


def _table() -> FeatureTable:
    table = FeatureTable(COLUMNS)
    feats = _features()
    table.put_many(feats, [orjson.dumps(f) for f in feats])
    table.delete("F-004")  # a tombstone: not in the snapshot
    return table


def test_a_table_comes_back_exactly(tmp_path):
    table = _table()
    back = FeatureTable(COLUMNS).from_arrays(
        {k: np.asarray(v) for k, v in table.to_arrays().items()}
    )
    assert list(back) == list(table) and len(back) == 39
    assert back.values_list() == table.values_list()
    assert list(back.raws()) == list(table.raws())  # byte for byte, types and all
    first = back["F-007"]["properties"]
    assert first["n"] is True and type(back["F-001"]["properties"]["f"]) is float
    assert "name" not in back["F-005"]["properties"]


def test_columns_keep_types_apart_and_absent_from_null():
    one, true, f = 1, True, 1.0
    values = np.empty(6, dtype=object)
    values[:] = [one, true, f, None, float("nan"), "1"]
    codes, uniques = encode_column(values)
    back, _ = decode_column(codes, uniques)
    assert [type(v) for v in back[:4]] == [int, bool, float, type(None)]
    assert back[4] != back[4] and back[5] == "1"


def _big_store(tmp_path, monkeypatch, n=300):
    monkeypatch.setattr(store_module, "SNAPSHOT_MIN_FEATURES", 100)
    monkeypatch.setattr(layer_file_module, "SNAPSHOT_MIN_FEATURES", 100)
    store = GeoJSONStore(tmp_path / "data")
    changes = [
        store_module.Change(
            "create",
            geometry=point(112.5 + i / 10_000, 39.5),
            properties={"power_source": "solar", "pole_height_m": i % 12, "road": f"路{i}"},
        )
        for i in range(n)
    ]
    store.commit("streetlights", changes, user="u", source="s")
    store.compact("streetlights")
    return store


def _no_parsing(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the layer file was parsed")

    monkeypatch.setattr(layer_file_module, "_read_feature_lines", refuse)


def test_a_compacted_big_layer_loads_from_its_snapshot(tmp_path, monkeypatch):
    store = _big_store(tmp_path, monkeypatch)
    assert snapshot_path(store.layer_path("streetlights")).exists()
    want = store.features("streetlights")
    with monkeypatch.context() as patch:
        _no_parsing(patch)
        again = GeoJSONStore(tmp_path / "data")
        assert again.features("streetlights") == want
        # It goes on from there: the numbering, the journal, queries.
        created = again.create(
            "streetlights",
            point(112.6, 39.6),
            {"power_source": "grid"},
            user="u",
        )
        assert created.ids == ["SL-000301"]
        hits = again.query("streetlights", bbox=(112.5, 39.49, 112.5005, 39.51), limit=10)
        assert [f["id"] for f in hits.features] == [f"SL-{i:06d}" for i in range(1, 7)]


def test_a_stale_or_broken_snapshot_is_ignored(tmp_path, monkeypatch):
    store = _big_store(tmp_path, monkeypatch)
    path = store.layer_path("streetlights")
    want = store.features("streetlights")
    snap = snapshot_path(path)
    kept = snap.read_bytes()
    # The layer file edited by hand (same size, another time): the snapshot no longer fits.
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    assert read_snapshot(path, store.version("streetlights"), FeatureTable([])) is None
    assert GeoJSONStore(tmp_path / "data").features("streetlights") == want
    # Cut short, or garbage: read the GeoJSON instead.
    for broken in (kept[: len(kept) // 2], b"not a zip at all"):
        snap.write_bytes(broken)
        assert GeoJSONStore(tmp_path / "data").features("streetlights") == want


def test_a_snapshot_of_other_columns_is_ignored(tmp_path, monkeypatch):
    store = _big_store(tmp_path, monkeypatch)
    path = store.layer_path("streetlights")
    table = store._state("streetlights").features
    assert read_snapshot(path, store.version("streetlights"), FeatureTable(table.columns))
    assert read_snapshot(path, store.version("streetlights"), FeatureTable(["other"])) is None
    assert (
        read_snapshot(path, store.version("streetlights") + 1, FeatureTable(table.columns)) is None
    )


def test_a_small_layer_has_no_snapshot(tmp_path, monkeypatch):
    store = _big_store(tmp_path, monkeypatch)
    path = store.layer_path("streetlights")
    monkeypatch.setattr(store_module, "SNAPSHOT_MIN_FEATURES", 10_000)
    monkeypatch.setattr(layer_file_module, "SNAPSHOT_MIN_FEATURES", 10_000)
    store.create(
        "streetlights",
        point(112.6, 39.6),
        {"power_source": "grid"},
        user="u",
    )
    store.compact("streetlights")
    assert not snapshot_path(path).exists()


def test_write_snapshot_refuses_what_it_cannot_keep(tmp_path):
    table = FeatureTable(["n"])
    table.put({"type": "Feature", "id": "a", "geometry": None, "properties": {"n": 10**30}})
    path = tmp_path / "layer.geojson"
    path.write_bytes(b"{}")
    assert write_snapshot(path, 1, table) is False
    assert not snapshot_path(path).exists()


def test_a_big_layer_file_from_elsewhere_gets_its_snapshot_on_first_load(tmp_path, monkeypatch):
    """A layer file written by another tool (a migration, the demo generator) is parsed on
    the first start only."""
    store = _big_store(tmp_path, monkeypatch)
    path = store.layer_path("streetlights")
    want = store.features("streetlights")
    snapshot_path(path).unlink()
    assert GeoJSONStore(tmp_path / "data").features("streetlights") == want
    assert snapshot_path(path).exists()
    _no_parsing(monkeypatch)
    assert GeoJSONStore(tmp_path / "data").features("streetlights") == want
