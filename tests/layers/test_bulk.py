"""Big creates as columns (``layers.bulk``), checked by the one change planner.

A :class:`Creates` is written from per-value fragments (a :class:`Block`), single changes
from one dict per feature: two stores committing each, with the same clock, must write
the same journal record (but its random txn), features and layer file, byte for byte.
The checks themselves are one path (:mod:`layers.planner`), tested here directly.
"""

from __future__ import annotations

import math
import re

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from layers.bulk import Creates, LazyFeatures, expand, fits_block, round_like_python
from layers.errors import ValidationFailed
from layers.journal import iter_all_records
from layers.specs import SpecRegistry, check_columns, validate_properties
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
    """The journal's bytes, with each record's random txn and so its checksum blanked."""
    text = store.journal(layer).path.read_bytes()
    text = re.sub(rb'"crc":"[0-9a-f]{8}"}\n', b'"crc":""}\n', text)
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
def test_problems_come_row_by_row_in_check_order(tmp_path):
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
    first_rows = [(p["row"], p["field"], p["code"]) for p in got if p["row"] in (2, 3, 5)]
    assert first_rows == [
        (2, "colour", "unknown_field"),
        (2, "power_source", "not_allowed"),
        (2, "pole_height_m", "not_a_number"),
        (2, "ledger_item", "ref_missing"),
        (3, "colour", "unknown_field"),
        (3, "power_source", "required"),
        (3, "pole_height_m", "above_max"),
        (5, "colour", "unknown_field"),
        (5, None, "not_finite"),
    ]
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


def test_each_distinct_value_of_a_column_is_converted_once(monkeypatch):
    import layers.specs as specs

    calls = []
    real = specs.coerce_value

    def counting(fspec, value, row):
        calls.append((fspec.name, value))
        return real(fspec, value, row)

    monkeypatch.setattr(specs, "coerce_value", counting)
    spec = SpecRegistry.load()["streetlights"]
    columns = {"power_source": ["太阳能", "grid", "太阳能", "x"] * 250, "status": [None] * 1000}
    checked, problems = check_columns(spec, columns, list(range(2, 1002)))
    assert sorted(calls) == [
        ("power_source", "grid"),
        ("power_source", "x"),
        ("power_source", "太阳能"),
    ]
    assert checked["power_source"].values()[:3].tolist() == ["solar", "grid", "solar"]
    assert [(p.row, p.field, p.code) for p in problems[:2]] == [
        (5, "power_source", "not_allowed"),
        (9, "power_source", "not_allowed"),
    ]


def test_a_form_edit_is_a_batch_of_one():
    spec = SpecRegistry.load()["streetlights"]
    clean, problems = validate_properties(spec, {"power_source": "市电", "colour": "red"}, 4)
    assert clean["power_source"] == "grid"
    assert [(p.row, p.field, p.code, p.severity) for p in problems] == [
        (4, "colour", "unknown_field", "warning")
    ]
    partial, problems = validate_properties(
        spec, {"road": "", "status": "working"}, 1, partial=True
    )
    assert partial == {"road": None, "status": "working"}  # blank removes, absent keeps
    assert problems == []
    _, problems = validate_properties(spec, {"status": "", "road": "x"}, 1, partial=True)
    assert [(p.row, p.field, p.code) for p in problems] == [(1, "status", "required")]


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
