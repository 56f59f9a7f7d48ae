"""The PostGIS store's COPY path for a block of new points (an upload) leaves exactly what
its per-feature path leaves for the same creates: the features, their ids, geometries,
history records and idempotency rows. Runs on PostGIS only (``--backend postgis``)."""

from __future__ import annotations

import uuid

import numpy as np
import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from layers.bulk import Creates, LazyFeatures, fits_block
from layers.errors import ValidationFailed
from layers.postgis import PostGISStore

NOW = "2026-11-27T08:00:00+00:00"
#: Road names COPY text must carry through: its escapes, JSON's, NUL-free control text.
ROADS = ["back\\slash", "tab\there", "new\nline", "\\N", "quote \" '", "路 ${x} `b`", ""]


def _clock() -> str:
    return NOW


@pytest.fixture
def two_stores(request, backend, tmp_path, pg_url):
    """Two PostGIS stores over two fresh schemas of the test database (same clock)."""
    if backend != "postgis":
        pytest.skip("the COPY path is PostGIS's")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    base = make_conninfo(pg_url, options="")
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    # The same application name: the pg_url fixture ends these connections too.
    other = make_conninfo(pg_url, options=f"-c search_path={schema},public")
    urls = {"a": pg_url, "b": other}
    stores = [PostGISStore(tmp_path / n, url, clock=_clock) for n, url in urls.items()]
    for store in stores:
        store.create("ledger", None, {"title": "路灯", "category": "lighting", "year": 2026,
                                      "planned_qty": 10}, user="seed")  # fmt: skip
    yield stores
    for store in stores:
        store.close()
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _creates(n: int) -> Creates:
    power = ["太阳能", "grid", "Solar", " 市电 ", "solar", "grid"]
    height = ["8", "8.0", None, "１２", "", "6"]
    date = ["2026-05-01", "2026/5/2", None, "", "2025-12-31", "2026-01-01"]
    return Creates(
        rows=list(range(2, 2 + n)),
        x=np.linspace(112.8, 112.9, n) + 1e-9,
        y=np.linspace(39.4, 39.5, n) - 3e-9,
        properties={
            "power_source": [power[i % 6] for i in range(n)],
            "pole_height_m": [height[i % 6] for i in range(n)],
            "status": ["working"] * n,
            "road": [ROADS[i % len(ROADS)] for i in range(n)],
            "installed_date": [date[i % 6] for i in range(n)],
            "ledger_item": ["LG-000001" if i % 3 else None for i in range(n)],
        },
    )


def _state(store: PostGISStore, layer: str) -> dict:
    """Everything the database holds of ``layer``, the commits' random txn aside."""
    dump = store.export_layer(layer)
    records = [{k: v for k, v in r.items() if k != "txn"} for r in dump.records]
    with store._conn() as conn:
        rows = conn.execute(
            "SELECT id, seq, deleted, ST_AsEWKB(geom), geometry, properties "
            'FROM vw_features WHERE layer = %s ORDER BY id COLLATE "C"',
            (layer,),
        ).fetchall()
        changes = conn.execute(
            "SELECT seq, changed_at, changed_by, source, ids FROM vw_changes "
            "WHERE layer = %s ORDER BY seq",
            (layer,),
        ).fetchall()
    return {"dump": (dump.seq, dump.next_id, dump.live, dump.deleted, dump.idempotency),
            "records": records, "rows": [tuple(map(_plain, r)) for r in rows],
            "changes": changes}  # fmt: skip


def _plain(value):
    return bytes(value) if isinstance(value, memoryview) else value


def test_the_copy_path_leaves_what_the_per_feature_path_leaves(two_stores):
    a, b = two_stores
    creates = _creates(70)
    assert fits_block(a.spec("streetlights"), [creates])
    got = a.commit("streetlights", [creates], user="u", source="upload:U-1", idempotency_key="k")
    want = b.commit(
        "streetlights", creates.changes(), user="u", source="upload:U-1", idempotency_key="k"
    )
    assert isinstance(got.features, LazyFeatures)  # a block, written by COPY
    assert not isinstance(want.features, LazyFeatures)
    assert got.ids == want.ids and len(got.ids) == 70 and got.seq == want.seq
    assert list(got.features) == want.features
    assert _state(a, "streetlights") == _state(b, "streetlights")
    assert a.features("streetlights") == b.features("streetlights") == want.features
    roads = {f["properties"].get("road") for f in a.features("streetlights")} - {None}
    assert roads == {r for r in ROADS if r}  # every escape arrived as it was sent
    assert a.history("streetlights", got.ids[5]) == b.history("streetlights", got.ids[5])
    # The next create continues the numbering; a replay of the key writes nothing.
    again = a.commit("streetlights", [creates], user="u", source="upload:U-1", idempotency_key="k")
    assert again.replayed and again.ids == got.ids and a.count("streetlights") == 70
    point = {"type": "Point", "coordinates": [112.8, 39.4]}
    after = a.create("streetlights", point, {"power_source": "solar", "status": "working"},
                     user="u")  # fmt: skip
    assert after.ids == [f"SL-{71:06d}"]


def test_a_dry_run_plan_and_an_id_held_by_a_deleted_row_end_alike(two_stores):
    """A deleted feature's row at a new id (a layer's next id set back by hand) is
    overwritten by both paths; a dry run writes nothing and its plan is committed."""
    a, b = two_stores
    point = {"type": "Point", "coordinates": [112.8, 39.4]}
    for store in two_stores:
        fid = store.create("streetlights", point, {"power_source": "solar", "status": "working"},
                           user="u").ids[0]  # fmt: skip
        store.delete("streetlights", fid, user="u")
        with store._conn() as conn:
            conn.execute("UPDATE vw_layers SET next_id = 1 WHERE name = 'streetlights'")
    creates = _creates(12)
    dry = a.commit("streetlights", [creates], user="u", source="upload:U-2", dry_run=True)
    assert a.count("streetlights") == 0 and len(dry.ids) == 12
    a.commit("streetlights", [creates], user="u", source="upload:U-2", plan=dry.plan)
    b.commit("streetlights", creates.changes(), user="u", source="upload:U-2")
    assert _state(a, "streetlights") == _state(b, "streetlights")
    assert a.count("streetlights") == 12 and a.get("streetlights", "SL-000001") is not None


def test_a_bad_row_writes_nothing_on_the_copy_path(two_stores):
    a, _ = two_stores
    creates = _creates(5)
    creates.properties["status"][3] = "no-such-status"
    with pytest.raises(Exception) as failed:
        a.commit("streetlights", [creates], user="u", source="upload:U-3")
    assert "status" in str(getattr(failed.value, "problems", failed.value))
    assert a.count("streetlights") == 0 and a.version("streetlights") == 0
    assert a.records("streetlights") == []


@pytest.mark.parametrize(
    ("first", "live", "row"), [(1, "SL-000003", 4), (999_998, "SL-1000001", 5)]
)
def test_a_live_feature_at_a_new_id_is_refused_by_row(two_stores, first, live, row):
    """A layer's next id set back by hand below a live feature: the block's clash check
    names that row (ids of one width, and across widths: SL-999999 then SL-1000000) and
    writes nothing; a longer id between the new ones (SL-0000025) is no clash."""
    a, b = two_stores
    point = {"type": "Point", "coordinates": [112.8, 39.4]}
    for store in two_stores:
        store.create("streetlights", point, {"power_source": "solar", "status": "working"},
                     user="u")  # fmt: skip
        with store._conn() as conn:
            conn.execute("UPDATE vw_features SET id = %s WHERE layer = 'streetlights'", (live,))
            conn.execute(
                "INSERT INTO vw_features (layer, id, seq, deleted, geom, geometry, properties) "
                "SELECT layer, 'SL-0000025', seq, deleted, geom, geometry, properties "
                "FROM vw_features WHERE layer = 'streetlights'"
            )
            conn.execute("UPDATE vw_layers SET next_id = %s WHERE name = 'streetlights'", (first,))
    creates = _creates(5)
    with pytest.raises(ValidationFailed) as failed:
        a.commit("streetlights", [creates], user="u", source="upload:U-4")
    clashes = [(p.row, p.value) for p in failed.value.problems if p.code == "id_taken"]
    assert clashes == [(row, live)]
    assert a.count("streetlights") == 2 and a.version("streetlights") == 1
    with pytest.raises(ValidationFailed) as per_feature:
        b.commit("streetlights", creates.changes(), user="u", source="upload:U-4")
    assert [p.row for p in per_feature.value.problems if p.code == "id_taken"] == [row]
