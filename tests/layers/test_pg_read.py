"""Reads the PostGIS store answers in SQL (layers/pg_read.py) give what the GeoJSON store
gives for the same data: date ranges, pages by offset and by keyset (``after``), counts
(cached per layer seq), and the OGC items pages and their next links. The schema upgrade
puts ids in code point order. The PostGIS-only tests skip on ``--backend geojson``."""

from __future__ import annotations

import orjson
import pytest

from layers.query import Query
from layers.store import GeoJSONStore
from tests.conftest import copy_demo

NOW = "2026-11-27T08:00:00+00:00"
DATES = ["2021-03-04", "2019-12-31T08:00:00Z", "", None, "2026-06-30", "2020-01-01"]


def _clock() -> str:
    return NOW


def _fill(store, n: int = 23) -> list[str]:
    """``n`` streetlights (some without a date), one deleted, committed as one batch."""
    from layers.store_base import Change

    changes = []
    for i in range(n):
        props = {"power_source": "solar" if i % 2 else "grid", "status": "working"}
        if DATES[i % len(DATES)]:
            props["installed_date"] = DATES[i % len(DATES)]
        point = {"type": "Point", "coordinates": [112.8 + i / 1000, 39.4 + i / 2000]}
        changes.append(Change("create", geometry=point, properties=props))
    ids = store.commit("streetlights", changes, user="u", source="form").ids
    store.delete("streetlights", ids[4], user="u")
    return ids


@pytest.fixture
def pair(store, tmp_path):
    """The test's store (each backend) and a GeoJSON store, both holding the same data."""
    files = GeoJSONStore(tmp_path / "files", clock=_clock)
    store.clock = _clock
    _fill(files), _fill(store)
    return store, files


def _ids(result) -> list[str]:
    return [f["id"] for f in result.features]


QUERIES = [
    Query(limit=5),
    Query(limit=5, offset=10),
    Query(limit=100, offset=20),
    Query(limit=5, offset=400),
    Query(equals={"power_source": "solar"}, limit=3, offset=2),
    Query(bbox=(112.805, 39.40, 112.815, 39.42), limit=4),
    Query(date_from="2020-01-01", limit=50),
    Query(limit=None),
]


@pytest.mark.parametrize("query", QUERIES, ids=range(len(QUERIES)))
def test_pages_and_counts_equal_the_geojson_store(pair, query):
    store, files = pair
    got, want = store.query("streetlights", query), files.query("streetlights", query)
    assert _ids(got) == _ids(want) and got.number_matched == want.number_matched
    assert got.features == want.features
    again = store.query("streetlights", query)  # the count now comes from the cache
    assert _ids(again) == _ids(want) and again.number_matched == want.number_matched


def test_keyset_pages_visit_what_offset_pages_visit(pair):
    for store in pair:
        walked, after = [], None
        while True:
            page = store.query("streetlights", Query(limit=4, after=after))
            assert page.number_matched == 22  # every match, whatever the page
            if not page.features:
                break
            walked += _ids(page)
            after = walked[-1]
            assert len(walked) <= 22, "a page came twice"
        assert walked == _ids(store.query("streetlights", Query(limit=None)))
        solar = store.query("streetlights", Query(equals={"power_source": "solar"}, limit=None))
        tail = store.query("streetlights", Query(equals={"power_source": "solar"}, limit=2,
                                                 after=_ids(solar)[3]))  # fmt: skip
        assert _ids(tail) == _ids(solar)[4:6]


def test_date_range_and_extent_equal_the_geojson_store(pair):
    store, files = pair
    assert store.date_range("streetlights") == files.date_range("streetlights")
    assert store.date_range("streetlights") == ("2019-12-31", "2026-06-30")
    assert store.extent("streetlights") == files.extent("streetlights")
    assert store.date_range("visits") is None and files.date_range("visits") is None


def test_a_count_follows_a_commit_made_by_another_store(store, reopen):
    if store.backend != "postgis":
        pytest.skip("the count cache is PostGIS's")
    _fill(store)
    other = reopen(store)
    assert store.query("streetlights", Query(limit=2, offset=3)).number_matched == 22
    _fill(other, 5)  # another server: this store's cached count is for the old seq
    page = store.query("streetlights", Query(limit=2, offset=3))
    assert page.number_matched == 26 and page.version == store.version("streetlights")


def test_deep_pages_walk_the_id_order_index(store):
    if store.backend != "postgis":
        pytest.skip("an index of the PostGIS schema")
    _fill(store)
    with store._conn() as conn:
        # Small tables: only an order the index cannot serve would still show a Sort.
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
            conn.execute(f"SET {setting} = off")
        plan = conn.execute(
            "EXPLAIN SELECT id FROM vw_features WHERE layer = 'streetlights' AND NOT deleted "
            'ORDER BY id COLLATE "C" LIMIT 100 OFFSET 50000'
        ).fetchall()
        conn.execute("RESET ALL")
    text = "\n".join(r[0] for r in plan)
    assert "vw_features_pkey" in text and "Sort" not in text


def test_an_older_schema_is_upgraded_in_place(store, reopen):
    if store.backend != "postgis":
        pytest.skip("the PostGIS schema")
    _fill(store)
    with store._conn() as conn:
        # Version 1: ids in the database's collation.
        conn.execute('ALTER TABLE vw_features ALTER COLUMN id TYPE text COLLATE "default"')
        conn.execute("UPDATE vw_meta SET value = '1' WHERE key = 'schema'")
    upgraded = reopen(store)
    with upgraded._conn() as conn:
        found = conn.execute(
            "SELECT c.collname FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation "
            "WHERE a.attrelid = 'vw_features'::regclass AND a.attname = 'id'"
        ).fetchone()
        schema = conn.execute("SELECT value FROM vw_meta WHERE key = 'schema'").fetchone()
    assert found == ("C",) and schema == ("2",)
    assert upgraded.count("streetlights") == 22  # the data stayed


def test_items_next_links_carry_a_keyset_and_walk_every_feature(tmp_path, backend):
    from webmap.app import create_app

    data = copy_demo(tmp_path / "data")
    app = create_app({"DATA_DIR": str(data), "TESTING": True})
    client = app.test_client()
    url = "/ogc/collections/streetlights/items?limit=7&status=working"
    seen, offsets = [], []
    while url:
        doc = orjson.loads(client.get(url).data)
        seen += [f["id"] for f in doc["features"]]
        assert len(seen) == len(set(seen)), "a page came twice"
        nxt = [link["href"] for link in doc["links"] if link["rel"] == "next"]
        url = nxt[0] if nxt else ""
        if url:
            assert f"after={seen[-1]}" in url and "status=working" in url
            offsets.append(int(url.split("offset=")[1].split("&")[0]))
    assert offsets == list(range(7, 7 * (len(offsets) + 1), 7))
    whole = orjson.loads(client.get(url or "/ogc/collections/streetlights/items?limit=1000"
                                           "&status=working").data)  # fmt: skip
    assert seen == [f["id"] for f in whole["features"]] and len(seen) == whole["numberMatched"]
    # The offset of a next link still works alone, as clients that page by offset use it.
    by_offset = orjson.loads(client.get("/ogc/collections/streetlights/items?limit=7"
                                        "&status=working&offset=7").data)  # fmt: skip
    assert [f["id"] for f in by_offset["features"]] == seen[7:14]
    assert client.get("/ogc/collections/streetlights/items?after=%00").status_code == 400


def test_the_read_cache_fills_chunk_by_chunk_and_follows_deletes(store, reopen, monkeypatch):
    """A first load streams the layer in chunks (3 rows here) into the table, in id
    order, without the rows deleted before it; a later refresh applies the changes."""
    if store.backend != "postgis":
        pytest.skip("the PostGIS read cache")
    import layers.pg_cache

    monkeypatch.setattr(layers.pg_cache, "CHUNK_ROWS", 3)
    ids = _fill(store)
    fresh = reopen(store)
    live = [f["id"] for f in fresh.features("streetlights")]
    assert live == [i for i in ids if i != ids[4]] and len(live) == 22
    assert fresh.frame("streetlights")["id"].tolist() == live
    store.delete("streetlights", ids[7], user="u")
    store.restore("streetlights", ids[4], user="u")
    again = [f["id"] for f in fresh.features("streetlights")]
    assert again == [i for i in ids if i != ids[7]]
    assert fresh.features("streetlights") == store.features("streetlights")
