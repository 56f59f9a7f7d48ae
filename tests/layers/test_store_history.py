"""Feature history read through the per-process index gives what a full journal scan gives:
the same entries in the same order, after more appends, compaction and a restart."""

import numpy as np
import pytest
from geometries import point

import layers.history
from layers.bulk import Creates
from layers.store import Change, GeoJSONStore
from layers.store_base import history_of

LIGHT = {"power_source": "solar", "pole_height_m": 8, "status": "working"}


def full_scan(store, layer, fid):
    """The history as every record says it (what the index must agree with)."""
    return history_of(store.records(layer), fid, store.get(layer, fid))


def bulk(store, n, status="working"):
    creates = Creates(
        rows=list(range(2, n + 2)),
        x=np.linspace(112.6, 112.9, n),
        y=np.full(n, 39.5),
        properties={"power_source": ["solar"] * n, "status": [status] * n},
    )
    return store.commit("streetlights", [creates], user="bulk", source="upload:U1").ids


@pytest.fixture(params=[1, 1 << 30], ids=["records-read-by-parts", "records-parsed-whole"])
def big_at(request, monkeypatch):
    """Every record counts as big (read by its parts), or none does."""
    monkeypatch.setattr(layers.history, "BIG_RECORD_BYTES", request.param)
    return request.param


def test_history_of_a_bulk_created_feature_then_edited_and_deleted(store, big_at):
    ids = bulk(store, 50)
    fid = ids[20]
    store.update("streetlights", fid, properties={"status": "faulty"}, user="bob")
    other = store.create("streetlights", point(), LIGHT, user="carol").ids[0]
    store.delete("streetlights", fid, user="dave")
    history = store.history("streetlights", fid)
    assert [(h["op"], h["by"]) for h in history] == [
        ("create", "bulk"),
        ("update", "bob"),
        ("delete", "dave"),
    ]
    assert history == full_scan(store, "streetlights", fid)
    assert history[1]["feature"]["properties"]["status"] == "faulty"
    assert [h["op"] for h in store.history("streetlights", other)] == ["create"]
    store.restore("streetlights", fid, user="erin")
    assert store.get("streetlights", fid)["properties"]["status"] == "faulty"
    assert [h["op"] for h in store.history("streetlights", fid)][-1] == "restore"


def test_history_follows_appends_compaction_and_restart(tmp_path, big_at):
    store = GeoJSONStore(tmp_path)
    ids = bulk(store, 30)
    first = store.history("streetlights", ids[0])  # builds the index
    assert [h["op"] for h in first] == ["create"]
    for n in range(3):
        store.update("streetlights", ids[0], properties={"pole_height_m": 5 + n}, user="u")
    store.commit(
        "streetlights",
        [Change("update", id=fid, properties={"status": "faulty"}) for fid in ids[:5]],
        user="batch",
        source="api",
    )
    expected = full_scan(store, "streetlights", ids[0])
    assert [h["op"] for h in expected] == ["create", "update", "update", "update", "update"]
    assert store.history("streetlights", ids[0]) == expected
    store.compact("streetlights")
    assert store.history("streetlights", ids[0]) == expected
    restarted = GeoJSONStore(tmp_path)
    assert restarted.history("streetlights", ids[0]) == expected
    assert restarted.history("streetlights", ids[4]) == full_scan(restarted, "streetlights", ids[4])
    # Another process appends: this one's index picks the record up.
    store.update("streetlights", ids[4], properties={"status": "working"}, user="other")
    assert [h["by"] for h in restarted.history("streetlights", ids[4])] == [
        "bulk",
        "batch",
        "other",
    ]


def test_history_of_a_feature_that_came_with_the_data_and_of_an_unknown_id(tmp_path):
    store = GeoJSONStore(tmp_path)
    assert store.history("streetlights", "SL-999999") == []
    fid = store.create("streetlights", point(), LIGHT, user="a").ids[0]
    assert store.history("streetlights", fid[:-1]) == []  # a prefix of an id is not it


def test_a_replaced_journal_is_indexed_again(tmp_path):
    store = GeoJSONStore(tmp_path)
    fid = store.create("streetlights", point(), LIGHT, user="a").ids[0]
    assert len(store.history("streetlights", fid)) == 1
    journal = store.journal("streetlights").path
    journal.write_bytes(b"")  # what a replaced data directory looks like to the index
    index = store._history_index("streetlights")
    assert index.changes(fid) == []


def test_a_torn_tail_is_not_indexed_until_it_is_whole(tmp_path):
    store = GeoJSONStore(tmp_path)
    fid = store.create("streetlights", point(), LIGHT, user="a").ids[0]
    path = store.journal("streetlights").path
    whole = path.read_bytes()
    with open(path, "ab") as fh:
        fh.write(whole[: len(whole) // 2])  # a writer half-way through its append
    assert [h["op"] for h in store.history("streetlights", fid)] == ["create"]


def test_the_postgis_table_cache_stays_in_id_order_and_follows_commits(store):
    if store.backend != "postgis":
        pytest.skip("the GeoJSON table keeps file order")
    ids = [store.create("streetlights", point(), LIGHT, user="a").ids[0] for _ in range(3)]
    assert [f["id"] for f in store.features("streetlights")] == ids
    store.delete("streetlights", ids[0], user="a")
    later = store.create("streetlights", point(), LIGHT, user="a").ids[0]
    assert [f["id"] for f in store.features("streetlights")] == [*ids[1:], later]
    store.restore("streetlights", ids[0], user="a")
    store.update("streetlights", ids[1], properties={"status": "faulty"}, user="b")
    assert [f["id"] for f in store.features("streetlights")] == [*ids, later]
    frame = store.frame("streetlights")
    assert list(frame["id"]) == [*ids, later]
    assert frame.set_index("id").loc[ids[1], "status"] == "faulty"
