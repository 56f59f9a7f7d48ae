"""The review (验收) write rules and the area scopes in the change planner, on both
backends over the demo county: who leaves a work in which state, that only planners
decide, that a decision is kept in the history, and that a scoped author writes only in
its townships on every kind of change (create, update, replace, delete, restore, many
points at once)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from shapely.geometry import shape

from layers.backends import seed_if_empty
from layers.bulk import Creates
from layers.changes import Author, Change
from layers.errors import Forbidden, ValidationFailed
from layers.review import decide, review_of
from layers.scopes import OutsideAreas, belongs_to, resolve_areas, townships
from layers.specs import SYSTEM_FIELDS

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
HOME, AWAY = "薛圐圙乡", "岱岳镇"


@pytest.fixture
def store(store_at, tmp_path, backend, request):
    data = tmp_path / "data"
    for sub in ("layers", "specs"):
        shutil.copytree(DEMO / sub, data / sub)
    if backend == "postgis":
        seed_if_empty(data, DEMO, request.getfixturevalue("pg_url"))
    return store_at(data)


@pytest.fixture
def ids(store):
    known = townships(store)
    return known.resolve(HOME), known.resolve(AWAY)


def inside(store, township_id):
    polygon = shape(store.get("boundaries", township_id)["geometry"])
    point = polygon.buffer(-0.005).representative_point()
    return {"type": "Point", "coordinates": [round(point.x, 6), round(point.y, 6)]}


def light(store, author, township_id, **props):
    geometry = inside(store, township_id)
    result = store.create("streetlights", geometry, {"power_source": "solar", **props}, user=author)
    return result.ids[0]


def test_review_fields_are_system_fields():
    assert {"review", "review_comment", "review_override"} <= set(SYSTEM_FIELDS)


def test_the_state_a_write_leaves_follows_its_author(store, ids):
    home, away = ids
    field = Author("ann", "field", [home])
    planner = Author("bo", "planner")
    fid = light(store, field, home)
    assert store.get("streetlights", fid)["properties"]["review"] == "submitted"
    assert store.get("streetlights", light(store, planner, away))["properties"]["review"] == (
        "approved"
    )
    assert store.get("streetlights", light(store, "script", away))["properties"]["review"] == (
        "approved"
    )
    store.update("streetlights", fid, user=planner, properties={"status": "faulty"})
    assert store.get("streetlights", fid)["properties"]["review"] == "approved"
    store.update("streetlights", fid, user=field, properties={"status": "working"})
    assert store.get("streetlights", fid)["properties"]["review"] == "submitted"
    # Reference layers and the ledger carry no review state.
    village = store.features("facilities")[0]["id"]
    store.update("facilities", village, user=planner, properties={"name": "驿站"})
    assert "review" not in store.get("facilities", village)["properties"]


def test_data_from_before_review_counts_as_approved(store):
    first = store.features("wells")[0]
    assert review_of(first["properties"]) == "approved"


def test_many_points_at_once_take_the_state_and_the_areas(store, ids):
    home, away = ids
    a, b = inside(store, home)["coordinates"], inside(store, away)["coordinates"]
    props = {"power_source": ["solar", "solar"]}
    creates = Creates([1, 2], np.array([a[0], b[0]]), np.array([a[1], b[1]]), props)
    with pytest.raises(OutsideAreas) as refused:
        store.commit("streetlights", [creates], user=Author("ann", "field", [home]), source="t")
    assert [p.row for p in refused.value.problems] == [2]
    assert AWAY in refused.value.problems[0].message() and HOME in refused.value.user_message("zh")
    one = Creates([7], np.array([a[0]]), np.array([a[1]]), {"power_source": ["grid"]})
    done = store.commit("streetlights", [one], user=Author("ann", "field", [home]), source="t")
    assert done.features[0]["properties"]["review"] == "submitted"
    again = Creates([7], np.array([b[0]]), np.array([b[1]]), {"power_source": ["grid"]})
    done = store.commit("streetlights", [again], user=Author("bo", "planner"), source="t")
    assert done.features[0]["properties"]["review"] == "approved"


def test_only_deciders_set_the_review(store, ids):
    home, _ = ids
    field = Author("ann", "field", [home])
    with pytest.raises(Forbidden) as refused:
        light(store, field, home, review="approved")
    assert refused.value.status == 403 and refused.value.code == "review_by_planner_only"
    fid = light(store, field, home)
    for props in ({"review": "approved"}, {"review_comment": "ok"}):
        with pytest.raises(Forbidden):
            store.update("streetlights", fid, user=field, properties=props)
    with pytest.raises(Forbidden):
        decide(store, "streetlights", [fid], "approved", None, field)
    with pytest.raises(ValidationFailed) as bad:
        store.update(
            "facilities",
            store.features("facilities")[0]["id"],
            user=Author("bo", "planner"),
            properties={"review": "approved"},
        )
    assert bad.value.problems[0].code == "review_not_on_layer"


def test_decide_commits_many_at_once_and_the_history_keeps_each_decision(store, ids):
    home, _ = ids
    field = Author("ann", "field", [home])
    planner = Author("bo", "planner", [home])
    fids = [light(store, field, home) for _ in range(3)]
    with pytest.raises(ValidationFailed) as bare:
        decide(store, "streetlights", fids[:1], "rejected", "  ", planner)
    assert bare.value.problems[0].code == "review_comment_needed"
    assert "comment" in bare.value.problems[0].message("en")
    with pytest.raises(ValidationFailed):
        decide(store, "streetlights", fids[:1], "finished", None, planner)
    before = store.version("streetlights")
    result = decide(store, "streetlights", fids[:2], "returned", "请补拍照片", planner)
    assert store.version("streetlights") == before + 1  # one commit for both
    assert sorted(result.ids) == sorted(fids[:2])
    decide(store, "streetlights", fids, "approved", None, planner)
    for fid in fids[:2]:
        history = store.history("streetlights", fid)
        assert [h["feature"]["properties"].get("review") for h in history] == [
            "submitted",
            "returned",
            "approved",
        ]
        returned = history[1]
        assert returned["by"] == "bo" and returned["at"] and returned["source"] == "review"
        assert returned["feature"]["properties"]["review_comment"] == "请补拍照片"
        assert "review_comment" not in history[2]["feature"]["properties"]
        assert store.get("streetlights", fid)["properties"]["review"] == "approved"


def test_a_field_correction_keeps_the_comment_for_the_planner(store, ids):
    home, _ = ids
    field, planner = Author("ann", "field", [home]), Author("bo", "planner", [home])
    fid = light(store, field, home)
    decide(store, "streetlights", [fid], "returned", "位置不对", planner)
    store.update("streetlights", fid, user=field, properties={"status": "working"})
    props = store.get("streetlights", fid)["properties"]
    assert (props["review"], props["review_comment"]) == ("submitted", "位置不对")


def test_a_scoped_planner_decides_only_inside_its_areas(store, ids):
    home, away = ids
    fid = light(store, Author("ann", "field"), home)
    outsider = Author("cy", "planner", [away])
    with pytest.raises(OutsideAreas) as refused:
        decide(store, "streetlights", [fid], "approved", None, outsider)
    message = refused.value.user_message("zh")
    assert AWAY in message and HOME in message and "按位置" in message
    assert refused.value.status == 403
    assert store.get("streetlights", fid)["properties"]["review"] == "submitted"


def test_every_kind_of_change_is_scoped(store, ids):
    home, away = ids
    planner = Author("bo", "planner", [home])
    mine, theirs = light(store, "t", home), light(store, "t", away)
    changes = [
        Change("update", id=theirs, properties={"status": "faulty"}),
        Change(
            "replace", id=theirs, geometry=inside(store, away), properties={"power_source": "grid"}
        ),
        Change("delete", id=theirs),
        Change("update", id=mine, geometry=inside(store, away)),
    ]
    for change in changes:
        with pytest.raises(OutsideAreas):
            store.commit("streetlights", [change], user=planner, source="t")
    store.delete("streetlights", theirs, user="t")
    with pytest.raises(OutsideAreas):
        store.restore("streetlights", theirs, user=planner)
    store.delete("streetlights", mine, user=planner)
    store.restore("streetlights", mine, user=planner)
    assert store.get("streetlights", mine) is not None
    with pytest.raises(OutsideAreas) as refused:
        store.update("boundaries", home, user=planner, properties={"name": "扩大的乡"})
    assert "全县" in refused.value.user_message("zh")


def test_features_without_a_geometry_go_by_their_township_or_reference(store, ids):
    home, away = ids
    planner = Author("bo", "planner", [home])
    items = {f["properties"].get("township"): f["id"] for f in store.features("ledger")}
    with pytest.raises(OutsideAreas) as refused:
        store.update("ledger", items[AWAY], user=planner, properties={"notes": "x"})
    assert "乡镇”字段" in refused.value.user_message("zh")
    store.update("ledger", items[HOME], user=planner, properties={"notes": "x"})
    with pytest.raises(OutsideAreas):
        store.create("ledger_progress", None, {"item_id": items[AWAY], "date": "2026-11-01",
                                               "quantity": 1}, user=planner)  # fmt: skip
    store.create(
        "ledger_progress", None, {"item_id": items[HOME], "date": "2026-11-01", "quantity": 1},
        user=planner,
    )  # fmt: skip
    county_wide = next(f["id"] for f in store.features("ledger") if not f["properties"].get(
        "township"))  # fmt: skip
    with pytest.raises(OutsideAreas) as refused:
        store.update("ledger", county_wide, user=planner, properties={"notes": "x"})
    assert "任何乡镇之外" in refused.value.user_message("zh")


def test_a_checked_plan_serves_only_the_same_author(store, ids):
    home, _ = ids
    change = Change("create", geometry=inside(store, home), properties={"power_source": "solar"})
    checked = store.commit("streetlights", [change], user=Author("ann", "planner"), source="t",
                           dry_run=True)  # fmt: skip
    done = store.commit(
        "streetlights", [change], user=Author("ann", "field"), source="t", plan=checked.plan
    )
    assert done.features[0]["properties"]["review"] == "submitted"


def test_townships_resolve_by_name_or_id(store, ids):
    home, away = ids
    assert resolve_areas(store, [HOME, away, home], "field") == (home, away)
    assert resolve_areas(store, [], "admin") == ()
    with pytest.raises(Exception) as unknown:
        resolve_areas(store, ["无此乡"], "field")
    assert unknown.value.status == 400 and HOME in unknown.value.user_message("zh")
    with pytest.raises(Exception) as wide:
        resolve_areas(store, [HOME], "admin")
    assert wide.value.status == 400
    spec = store.spec("streetlights")
    (found,) = belongs_to(store, spec, [inside(store, home)], [{"township": AWAY}])
    assert found == [(home, "location"), (away, "field")]


def test_an_account_is_an_author_with_its_role_and_areas(store, ids, tmp_path):
    from layers.users import UserStore

    home, away = ids
    users = UserStore(tmp_path / "accounts")
    users.add("cy", "planner", "correct-horse-9", areas=[away])
    account = users.get("cy")
    fid = light(store, Author("ann", "field"), home)
    with pytest.raises(OutsideAreas):
        decide(store, "streetlights", [fid], "approved", None, account)
    with pytest.raises(OutsideAreas):
        store.update("streetlights", fid, user=account, properties={"status": "faulty"})
    users.set_areas("cy", [home])
    decide(store, "streetlights", [fid], "approved", None, users.get("cy"))
    (last,) = store.history("streetlights", fid)[-1:]
    assert last["by"] == "cy" and last["feature"]["properties"]["updated_by"] == "cy"
