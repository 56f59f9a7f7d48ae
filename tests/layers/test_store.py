"""The store's reads, writes, validation, history, undo, idempotency and concurrency rules."""

import orjson
import pytest
from geometries import point

from layers.errors import Conflict, NotFound, ValidationFailed
from layers.store import Change, GeoJSONStore

LIGHT = {"power_source": "solar", "pole_height_m": 8, "status": "working"}


def test_create_assigns_stable_ids_and_audit_fields(store):
    first = store.create("streetlights", point(), LIGHT, user="alice").features[0]
    second = store.create("streetlights", point(112.81), LIGHT, user="bob", source="api")
    assert first["id"] == "SL-000001"
    assert second.ids == ["SL-000002"]
    props = first["properties"]
    assert props["created_by"] == props["updated_by"] == "alice"
    assert props["source"] == "form" and props["version"] == 1
    assert props["created_at"].endswith("Z")


def test_layer_file_is_plain_rfc7946_geojson(tmp_path):
    store = GeoJSONStore(tmp_path)
    store.create("streetlights", point(112.123456789, 39.987654321), LIGHT, user="a")
    doc = orjson.loads(store.layer_path("streetlights").read_bytes())
    assert doc["type"] == "FeatureCollection"
    assert "crs" not in doc
    assert doc["features"][0]["geometry"]["coordinates"] == [112.1234568, 39.9876543]


def test_validation_refuses_the_whole_batch_and_writes_nothing(store):
    changes = [
        Change("create", geometry=point(), properties=LIGHT),
        Change("create", geometry=point(), properties={**LIGHT, "pole_height_m": "高"}),
        Change(
            "create",
            geometry={"type": "LineString", "coordinates": [[112, 39], [113, 40]]},
            properties=LIGHT,
        ),
    ]
    with pytest.raises(ValidationFailed) as info:
        store.commit("streetlights", changes, user="a", source="upload:x")
    problems = info.value.problems
    assert [(p.row, p.field, p.code) for p in problems] == [
        (2, "pole_height_m", "not_a_number"),
        (3, None, "geometry_type"),
    ]
    assert "第 2 行" in problems[0].message("zh") and "高" in problems[0].message("zh")
    assert "Row 3" in problems[1].message("en")
    assert store.count("streetlights") == 0
    assert store.records("streetlights") == [] and store.version("streetlights") == 0


def test_enum_accepts_chinese_labels_and_dates_in_chinese_formats(store):
    props = {"power_source": "太阳能", "status": "故障", "installed_date": "2021年8月5日"}
    feature = store.create("streetlights", point(), props, user="a").features[0]
    assert feature["properties"]["power_source"] == "solar"
    assert feature["properties"]["status"] == "faulty"
    assert feature["properties"]["installed_date"] == "2021-08-05"


def test_pipe_length_is_computed_from_geometry_never_typed(store):
    line = {"type": "LineString", "coordinates": [[112.8, 39.5], [112.8, 39.501]]}
    result = store.create("pipes", line, {"purpose": "irrigation", "length_m": 5}, user="a")
    length = result.features[0]["properties"]["length_m"]
    assert 110.9 < length < 111.2  # 0.001 degree of latitude at 39.5 N
    assert [w.code for w in result.warnings] == ["computed_field"]


def test_update_bumps_version_and_if_version_conflicts(store):
    fid = store.create("streetlights", point(), LIGHT, user="a").ids[0]
    updated = store.update(
        "streetlights", fid, user="b", properties={"status": "faulty"}, if_version=1
    ).features[0]
    assert updated["properties"]["version"] == 2
    assert updated["properties"]["status"] == "faulty"
    assert updated["properties"]["power_source"] == "solar"
    assert updated["properties"]["created_by"] == "a"
    assert updated["properties"]["updated_by"] == "b"
    with pytest.raises(Conflict) as info:
        store.update("streetlights", fid, user="c", properties={"status": "working"}, if_version=1)
    assert info.value.status == 412
    assert store.get("streetlights", fid)["properties"]["status"] == "faulty"


def test_delete_is_soft_and_restore_brings_it_back_with_history(store):
    fid = store.create("streetlights", point(), LIGHT, user="a").ids[0]
    store.delete("streetlights", fid, user="b")
    assert store.get("streetlights", fid) is None
    with pytest.raises(NotFound):
        store.delete("streetlights", fid, user="b")
    store.restore("streetlights", fid, user="c")
    assert store.get("streetlights", fid)["properties"]["power_source"] == "solar"
    ops = [(h["op"], h["by"]) for h in store.history("streetlights", fid)]
    assert ops == [("create", "a"), ("delete", "b"), ("restore", "c")]


def test_undo_source_removes_exactly_that_upload(store):
    store.create("streetlights", point(), LIGHT, user="a")
    store.commit(
        "streetlights",
        [Change("create", geometry=point(112.7 + i / 1000), properties=LIGHT) for i in range(5)],
        user="f",
        source="upload:U1",
    )
    assert store.count("streetlights") == 6
    result = store.undo_source("streetlights", "upload:U1", user="planner")
    assert len(result.ids) == 5
    assert store.count("streetlights") == 1
    assert store.undo_source("streetlights", "upload:U1", user="planner") is None
    history = store.history("streetlights", result.ids[0])
    assert [h["op"] for h in history] == ["create", "delete"]
    assert history[-1]["source"] == "undo:upload:U1"


def test_idempotency_key_lands_once_however_often_retried(store, reopen):
    for _ in range(3):
        result = store.create(
            "streetlights", point(), LIGHT, user="f", idempotency_key="phone-42-capture-7"
        )
    assert store.count("streetlights") == 1
    assert result.replayed
    # Also across processes/restarts (the key is kept in the layer file or the database).
    again = reopen(store).create(
        "streetlights", point(), LIGHT, user="f", idempotency_key="phone-42-capture-7"
    )
    assert again.replayed and again.ids == result.ids


def test_dry_run_validates_but_writes_nothing(store):
    result = store.commit(
        "streetlights",
        [Change("create", geometry=point(), properties=LIGHT)],
        user="a",
        source="x",
        dry_run=True,
    )
    assert len(result.features) == 1
    assert store.count("streetlights") == 0


def test_refs_must_point_to_existing_features(store):
    with pytest.raises(ValidationFailed) as info:
        store.create("streetlights", point(), {**LIGHT, "village_id": "VL-999999"}, user="a")
    assert info.value.problems[0].code == "ref_missing"
    village = store.create(
        "villages", point(), {"name": "白坊村", "township": "岱岳镇"}, user="a"
    ).ids[0]
    store.create("streetlights", point(), {**LIGHT, "village_id": village}, user="a")


def test_bbox_query_uses_the_index_and_filters(store):
    store.commit(
        "streetlights",
        [
            Change(
                "create",
                geometry=point(112.0 + i * 0.01, 39.5),
                properties={
                    **LIGHT,
                    "status": "faulty" if i % 2 else "working",
                    "installed_date": f"2021-0{1 + i % 9}-01",
                },
            )
            for i in range(100)
        ],
        user="a",
        source="t",
    )
    result = store.query("streetlights", bbox=(112.095, 39.4, 112.205, 39.6))
    assert result.number_matched == 11
    faulty = store.query(
        "streetlights", bbox=(112.095, 39.4, 112.205, 39.6), equals={"status": "faulty"}
    )
    assert faulty.number_matched == 5
    dated = store.query("streetlights", date_from="2021-03-01", date_to="2021-03-31")
    assert dated.number_matched == 11
    page = store.query("streetlights", limit=10, offset=95)
    assert len(page.features) == 5 and page.number_matched == 100


def test_query_frame_is_the_query_as_a_frame(store):
    store.commit(
        "streetlights",
        [
            Change(
                "create",
                geometry=point(112.0 + i * 0.01, 39.5),
                properties={**LIGHT, "status": "faulty" if i % 2 else "working"},
            )
            for i in range(20)
        ],
        user="a",
        source="t",
    )
    frame = store.query_frame(
        "streetlights", bbox=(112.045, 39.4, 112.155, 39.6), equals={"status": "faulty"}
    )
    assert sorted(frame["id"]) == [f"SL-{n:06d}" for n in (6, 8, 10, 12, 14, 16)]
    assert list(frame.columns) == list(store.frame("streetlights").columns)
    assert frame.crs.to_epsg() == 4326 and frame.geometry.x.between(112.05, 112.15).all()
    assert len(store.query_frame("streetlights", equals={"status": "removed"})) == 0


def test_other_process_writes_are_seen_without_reparsing(store, reopen):
    other = reopen(store)
    assert store.count("streetlights") == 0
    other.create("streetlights", point(), LIGHT, user="b")
    assert store.count("streetlights") == 1
    assert store.version("streetlights") == other.version("streetlights") == 1


def test_frame_is_cached_per_version(store):
    store.create("streetlights", point(), LIGHT, user="a")
    first = store.frame("streetlights")
    assert store.frame("streetlights") is first
    store.create("streetlights", point(112.9), LIGHT, user="a")
    second = store.frame("streetlights")
    assert second is not first and len(second) == 2
    assert second.crs.to_epsg() == 4326


def test_large_layer_is_compacted_later_but_never_lost(tmp_path, monkeypatch):
    import layers.store as module

    monkeypatch.setattr(module, "COMPACT_AT_ONCE_MAX_FEATURES", 3)
    monkeypatch.setattr(module, "COMPACT_PENDING_RECORDS", 5)
    store = GeoJSONStore(tmp_path)
    for i in range(6):
        store.create("streetlights", point(112 + i / 100), LIGHT, user="a")
    assert store.pending("streetlights") == 3
    assert GeoJSONStore(tmp_path).count("streetlights") == 6
    store.create("streetlights", point(113), LIGHT, user="a")
    store.create("streetlights", point(113.1), LIGHT, user="a")
    assert store.pending("streetlights") == 0


def test_county_declares_an_extra_layer_and_field_without_code(tmp_path, store_at):
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "toilets.toml").write_text(
        'name = "toilets"\nkind = "work"\ngeometry = ["Point"]\n'
        'label = { zh = "卫生厕所", en = "Sanitary toilets" }\n'
        '[[fields]]\nname = "households"\ntype = "integer"\nrequired = true\n'
        'label = { zh = "户数", en = "Households" }\n',
        encoding="utf-8",
    )
    (specs / "streetlights.toml").write_text(
        'name = "streetlights"\n[[fields]]\nname = "contractor"\ntype = "string"\n'
        'label = { zh = "施工单位", en = "Contractor" }\n',
        encoding="utf-8",
    )
    store = store_at(tmp_path)
    assert "toilets" in store.layer_names()
    result = store.create("toilets", point(), {"households": "12"}, user="a")
    assert result.features[0]["properties"]["households"] == 12
    light = store.create("streetlights", point(), {**LIGHT, "contractor": "县路灯所"}, user="a")
    assert light.features[0]["properties"]["contractor"] == "县路灯所"
    with pytest.raises(ValidationFailed):
        store.create("toilets", point(), {}, user="a")


def test_unknown_layer_is_not_found(store):
    with pytest.raises(NotFound) as info:
        store.count("nope")
    assert "nope" in info.value.user_message("en")


def test_layer_file_copied_without_its_journal_loses_no_later_write(tmp_path):
    source = GeoJSONStore(tmp_path / "a")
    for i in range(3):
        source.create("streetlights", point(112 + i / 100), LIGHT, user="a")
    target = tmp_path / "b"
    (target / "layers").mkdir(parents=True)
    (target / "layers" / "streetlights.geojson").write_bytes(
        source.layer_path("streetlights").read_bytes()
    )
    first, second = GeoJSONStore(target), GeoJSONStore(target)
    assert first.count("streetlights") == 3
    second.create("streetlights", point(113), LIGHT, user="b")
    first.create("streetlights", point(113.1), LIGHT, user="c")
    assert second.count("streetlights") == 5
    assert GeoJSONStore(target).count("streetlights") == 5
    ids = [f["id"] for f in GeoJSONStore(target).features("streetlights")]
    assert len(set(ids)) == 5
