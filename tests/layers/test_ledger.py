"""Ledger progress comes from linked features and entries, never typed; undo lowers it."""

import datetime as dt

from geometries import nth_point

from layers.ledger import cumulative_by_month, ledger_progress, totals_by
from layers.store import Change

TODAY = dt.date(2026, 6, 1)


def item(store, **props):
    base = {"title": "路灯", "category": "streetlights", "target": 10, "measure": "count"}
    return store.create("ledger", None, {**base, **props}, user="p").ids[0]


def test_count_progress_ignores_planned_and_is_lowered_by_undo(store):
    lights = item(store, deadline="2026-12-31")
    store.commit(
        "streetlights",
        [
            Change(
                "create",
                geometry=nth_point(i),
                properties={
                    "power_source": "solar",
                    "status": "planned" if i < 2 else "working",
                    "ledger_item": lights,
                    "installed_date": "2026-05-10",
                },
            )
            for i in range(6)
        ],
        user="f",
        source="upload:U-20260101-aaaaaa",
    )
    [progress] = ledger_progress(store, today=TODAY)
    assert (progress.actual, progress.target, progress.pct) == (4.0, 10.0, 40.0)
    assert progress.linked == 6 and not progress.overdue
    store.undo_source("streetlights", "upload:U-20260101-aaaaaa", user="p")
    [progress] = ledger_progress(store, today=TODAY)
    assert progress.actual == 0.0


def test_trees_by_species_and_pipe_metres(store):
    pines = item(
        store,
        title="樟子松",
        category="plantings",
        measure="trees",
        species="mongolian_pine",
        target=3010,
    )
    pipes = item(store, title="管道", category="pipes", measure="length_m", target=600)
    store.commit(
        "plantings",
        [
            Change(
                "create",
                geometry=nth_point(1),
                properties={"species": "樟子松", "count": 1000, "ledger_item": pines},
            ),
            Change(
                "create",
                geometry=nth_point(2),
                properties={"species": "云杉", "count": 287, "ledger_item": pines},
            ),
        ],
        user="f",
        source="t",
    )
    line = {"type": "LineString", "coordinates": [[112.8, 39.5], [112.8, 39.5018]]}
    store.create("pipes", line, {"purpose": "irrigation", "ledger_item": pipes}, user="f")
    by_id = {p.id: p for p in ledger_progress(store, today=TODAY)}
    assert by_id[pines].actual == 1000.0
    assert by_id[pines].shortfall == 2010.0
    assert 199.0 < by_id[pipes].actual < 201.0


def test_entries_for_items_without_a_layer_keep_who_and_when(store):
    training = item(
        store,
        title="技能培训",
        category="other",
        measure="entries",
        target=5,
        deadline="2026-03-31",
    )
    store.create(
        "ledger_progress",
        None,
        {"item_id": training, "date": "2026-02-01", "quantity": 2},
        user="clerk",
    )
    [progress] = ledger_progress(store, today=TODAY)
    assert progress.actual == 2.0
    assert progress.overdue  # deadline passed, 2 of 5
    assert progress.stalled  # nothing since February
    entry = store.features("ledger_progress")[0]["properties"]
    assert entry["created_by"] == "clerk" and entry["created_at"]
    assert cumulative_by_month(progress) == [("2026-02", 2.0)]


def test_totals_by_township(store):
    item(store, township="薛圐圙乡", target=84)
    item(store, township="薛圐圙乡", target=16, status="done")
    totals = totals_by(ledger_progress(store, today=TODAY), "township")
    assert totals["薛圐圙乡"]["items"] == 2
    assert totals["薛圐圙乡"]["target"] == 100.0


def test_replay_as_of_counts_only_work_dated_by_then(store):
    lights = item(store, start_date="2026-01-01", deadline="2026-12-31")
    store.commit(
        "streetlights",
        [
            Change(
                "create",
                geometry=nth_point(i),
                properties={
                    "power_source": "solar",
                    "status": "working",
                    "ledger_item": lights,
                    "installed_date": day,
                },
            )
            for i, day in enumerate(["2026-03-01", "2026-05-01", "2026-07-01"])
        ],
        user="f",
        source="t",
    )
    store.create(
        "streetlights",
        nth_point(9),
        {"power_source": "solar", "status": "working", "ledger_item": lights},
        user="f",
    )  # undated: counted from the day it was recorded (today), never in the past
    day = dt.date(2026, 6, 1)
    [then] = ledger_progress(store, today=day, as_of=day)
    assert (then.actual, list(then.by_month)) == (2.0, ["2026-03", "2026-05"])
    [now] = ledger_progress(store, today=day)
    assert now.actual == 4.0


def test_linear_plan_and_behind_flag():
    from layers.ledger import plan_pct

    assert plan_pct("2026-01-01", "2026-12-31", dt.date(2026, 7, 2)) == 50.0
    assert plan_pct("2026-01-01", "2026-12-31", dt.date(2025, 7, 2)) == 0.0
    assert plan_pct("2026-01-01", "2026-12-31", dt.date(2027, 1, 2)) == 100.0


def test_items_behind_plan_are_flagged(store):
    on_plan = item(store, target=10, start_date="2026-01-01", deadline="2026-12-31")
    behind = item(store, target=10, start_date="2026-01-01", deadline="2026-12-31")
    for i in range(5):
        store.create(
            "streetlights",
            nth_point(i),
            {
                "power_source": "solar",
                "status": "working",
                "ledger_item": on_plan,
                "installed_date": "2026-05-01",
            },
            user="f",
        )
    store.create(
        "streetlights",
        nth_point(7),
        {
            "power_source": "solar",
            "status": "working",
            "ledger_item": behind,
            "installed_date": "2026-05-01",
        },
        user="f",
    )
    by_id = {p.id: p for p in ledger_progress(store, today=dt.date(2026, 7, 2))}
    assert by_id[on_plan].plan_pct == 50.0 and not by_id[on_plan].behind  # 50 % of 50 %
    assert by_id[behind].pct == 10.0 and by_id[behind].behind
    assert by_id[behind].as_dict()["behind"] is True
