"""The column path of big creates (``layers.bulk``) gives what one change per row gives.

Two stores start equal; one commits a :class:`Creates`, the other its single changes
(:meth:`Creates.changes`), with the same clock. Everything must come out the same: the
problems, the ids, the journal record (but its random txn), the features and the layer
file, byte for byte.
"""

from __future__ import annotations

import math
import re

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layers.bulk import Creates, LazyFeatures, expand, fits_block, round_like_python
from layers.errors import ValidationFailed
from layers.journal import iter_all_records
from layers.specs import PropertyChecker, SpecRegistry, check_columns
from layers.store import GeoJSONStore
from layers.store_base import Change

NOW = "2026-11-27T08:00:00+00:00"


def _clock() -> str:
    return NOW


def _stores(tmp_path):
    a = GeoJSONStore(tmp_path / "a", clock=_clock)
    b = GeoJSONStore(tmp_path / "b", clock=_clock)
    for store in (a, b):
        store.create(
            "ledger",
            None,
            {"title": "路灯", "category": "lighting", "year": 2026, "planned_qty": 10},
            user="seed",
        )
    return a, b


def _creates(n: int = 6) -> Creates:
    power = ["太阳能", "grid", "Solar", " 市电 ", "solar", "grid"]
    height = ["8", "8.0", None, "１２", "", "6"]
    status = [None, "正常", "faulty", "", "installed", "working"]
    date = ["2026-05-01", "2026/5/2", None, "", "2025-12-31", "2026-01-01"]
    ledger = ["LG-000001", None, "", "LG-000001", None, None]
    rows = list(range(2, 2 + n))
    return Creates(
        rows=rows,
        x=np.linspace(112.8, 112.9, n) + 1e-9,
        y=np.linspace(39.4, 39.5, n) - 3e-9,
        properties={
            "power_source": [power[i % 6] for i in range(n)],
            "pole_height_m": [height[i % 6] for i in range(n)],
            "status": [status[i % 6] for i in range(n)],
            "installed_date": [date[i % 6] for i in range(n)],
            "ledger_item": [ledger[i % 6] for i in range(n)],
        },
    )


def _journal_text(store: GeoJSONStore, layer: str) -> bytes:
    """The journal's bytes, with each record's random txn blanked."""
    text = store.journal(layer).path.read_bytes()
    return re.sub(rb'"txn":"[0-9a-f]{32}"', b'"txn":""', text)


def _records(store: GeoJSONStore, layer: str) -> list[dict]:
    out = []
    for record in iter_all_records(store.journal(layer).path):
        record = dict(record)
        record.pop("txn")
        out.append(record)
    return out


@pytest.mark.geojson_only
def test_a_creates_commit_equals_its_single_changes_byte_for_byte(tmp_path):
    a, b = _stores(tmp_path)
    creates = _creates(40)
    assert fits_block(a.spec("streetlights"), [creates])
    got = a.commit("streetlights", [creates], user="u", source="upload:U-1", idempotency_key="k")
    want = b.commit(
        "streetlights", creates.changes(), user="u", source="upload:U-1", idempotency_key="k"
    )
    assert isinstance(got.features, LazyFeatures)
    assert got.ids == want.ids and len(got.ids) == 40
    assert list(got.features) == want.features
    assert got.features[3:5] == want.features[3:5]
    assert _records(a, "streetlights") == _records(b, "streetlights")
    assert _journal_text(a, "streetlights") == _journal_text(b, "streetlights")
    assert a.features("streetlights") == b.features("streetlights")
    assert a.layer_path("streetlights").read_bytes() == b.layer_path("streetlights").read_bytes()
    # The table rebuilds the features from its columns: a fresh store reads the same.
    assert GeoJSONStore(tmp_path / "a").features("streetlights") == want.features
    # And the next create continues the numbering.
    after = a.create(
        "streetlights",
        {"type": "Point", "coordinates": [112.8, 39.4]},
        {"power_source": "solar"},
        user="u",
    )
    assert after.ids == [f"SL-{41:06d}"]


@pytest.mark.geojson_only
def test_the_dry_run_plan_is_reused_and_matches(tmp_path):
    a, b = _stores(tmp_path)
    creates = _creates(150)
    preview = a.commit("streetlights", [creates], user="u", source="s", dry_run=True)
    assert a.count("streetlights") == 0 and len(preview.features) == 150
    got = a.commit("streetlights", [creates], user="u", source="s")
    want = b.commit("streetlights", creates.changes(), user="u", source="s")
    assert got.ids == want.ids
    assert _records(a, "streetlights") == _records(b, "streetlights")


def _problems(store, changes):
    with pytest.raises(ValidationFailed) as caught:
        store.commit("streetlights", changes, user="u", source="s")
    return [p.as_dict("en") for p in caught.value.problems]


@pytest.mark.geojson_only
def test_problems_are_the_same_in_the_same_order(tmp_path):
    a, b = _stores(tmp_path)
    creates = _creates(12)
    props = dict(creates.properties)
    props["power_source"] = ["wind", None, *props["power_source"][2:]]  # bad, missing
    props["pole_height_m"] = ["x", "99", *props["pole_height_m"][2:]]  # not a number, > max
    props["ledger_item"] = ["LG-000404", *props["ledger_item"][1:]]  # no such ledger item
    props["colour"] = ["red"] * 12  # not a field: a warning on every row
    x = creates.x.copy()
    x[3] = math.nan
    bad = Creates(creates.rows, x, creates.y, props)
    got = _problems(a, [bad])
    assert got == _problems(b, bad.changes())
    codes = {p["code"] for p in got}
    assert {"not_allowed", "required", "not_a_number", "above_max", "ref_missing"} <= codes
    assert {"unknown_field"} <= codes
    assert (
        a.count("streetlights") == 0
        and not a.journal("streetlights").path.exists()
        or (a.journal("streetlights").size() == 0)
    )


@pytest.mark.geojson_only
def test_ids_already_taken_are_reported_like_single_creates(tmp_path):
    a, b = _stores(tmp_path)
    for store in (a, b):
        store.create(
            "streetlights",
            {"type": "Point", "coordinates": [112.8, 39.4]},
            {"power_source": "solar"},
            user="u",
        )
        store._state("streetlights").next_id = 1  # as after a hand-edited layer file
    creates = _creates(3)
    assert _problems(a, [creates]) == _problems(b, creates.changes())


def test_other_layers_and_mixed_changes_take_the_single_path(store):
    creates = _creates(3)
    assert not fits_block(store.spec("pipes"), [creates])  # length computed from lines
    assert not fits_block(store.spec("streetlights"), [creates, Change("delete", id="SL-1")])
    assert [c.op for c in expand([creates, Change("delete", id="x")])] == [
        "create",
        "create",
        "create",
        "delete",
    ]


def test_every_backend_commits_creates(store):
    """PostGIS has no column path: it commits the single changes."""
    store.create(
        "ledger",
        None,
        {"title": "路灯", "category": "lighting", "year": 2026, "planned_qty": 10},
        user="seed",
    )
    result = store.commit("streetlights", [_creates(8)], user="u", source="upload:U-2")
    assert len(result.ids) == 8 and store.count("streetlights") == 8
    first = store.get("streetlights", result.ids[0])["properties"]
    assert first["power_source"] == "solar" and first["pole_height_m"] == 8
    assert first["status"] == "working" and first["ledger_item"] == "LG-000001"


def test_without_drops_rows():
    creates = _creates(6)
    kept = creates.without({3, 5})
    assert list(kept.rows) == [2, 4, 6, 7]
    assert kept.properties["power_source"] == ["太阳能", "Solar", "solar", "grid"]
    assert kept.x.tolist() == creates.x[[0, 2, 4, 5]].tolist()


def test_lazy_features_decode_on_demand():
    texts = [orjson.dumps({"id": str(i)}) for i in range(3)]
    lazy = LazyFeatures(["0", "1", "2"], texts)
    assert len(lazy) == 3 and lazy[1] == {"id": "1"} and lazy[:2] == [{"id": "0"}, {"id": "1"}]


_cells = st.one_of(
    st.none(),
    st.sampled_from(["", " ", "solar", "太阳能", "grid", "8", "8.0", "-1", "x", "2026-1-2"]),
    st.integers(-5, 50),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=4),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_cells, _cells, _cells, _cells, _cells), min_size=1, max_size=12))
def test_check_columns_equals_the_row_by_row_check(table):
    spec = SpecRegistry.load()["streetlights"]
    names = ["power_source", "pole_height_m", "status", "installed_date", "unknown"]
    rows = list(range(1, len(table) + 1))
    columns = {name: [r[j] for r in table] for j, name in enumerate(names)}
    checked, problems = check_columns(PropertyChecker(spec), columns, rows)
    want_problems = []
    for i, row in enumerate(rows):
        clean, found = PropertyChecker(spec)({k: v[i] for k, v in columns.items()}, row)
        want_problems.extend(found)
        got = {k: c.values()[i] for k, c in checked.items() if c.values()[i] is not None}
        if not any(p.severity == "error" for p in found):
            assert got == clean and [type(v) for v in got.values()] == [
                type(v) for v in clean.values()
            ]
    assert [p.as_dict("en") for p in problems] == [p.as_dict("en") for p in want_problems]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(-180, 180, allow_nan=False),
            st.integers(-1_800_000_000, 1_800_000_000).map(lambda n: n / 1e7 + 0.5e-7),
            st.integers(-18_000_000, 18_000_000).map(lambda n: n / 1e5),
        ),
        max_size=50,
    )
)
def test_vectorised_rounding_equals_python_round(values):
    got = round_like_python(np.array(values, dtype=np.float64), 7).tolist()
    want = [round(v, 7) for v in values]
    assert [orjson.dumps(v) for v in got] == [orjson.dumps(v) for v in want]


@pytest.mark.geojson_only
def test_a_change_after_the_append_is_what_the_layer_file_keeps(tmp_path):
    """The texts kept for the compaction after a big append go stale on the next change."""
    store, _ = _stores(tmp_path)
    n = 2500  # over the size a layer is compacted at after every commit
    result = store.commit("streetlights", [_creates(n)], user="u", source="s")
    assert store.pending("streetlights") == 1
    fid = result.ids[1]
    store.update("streetlights", fid, properties={"status": "faulty"}, user="u")
    store.delete("streetlights", result.ids[2], user="u")
    store.compact("streetlights")
    fresh = GeoJSONStore(tmp_path / "a")
    assert fresh.get("streetlights", fid)["properties"]["status"] == "faulty"
    assert fresh.get("streetlights", result.ids[2]) is None
    assert fresh.features("streetlights") == store.features("streetlights")
    assert fresh.count("streetlights") == n - 1
