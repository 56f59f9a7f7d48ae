"""Ledger items belong to a plan year (计划年度): given, or derived from their dates."""

import datetime as dt

from geometries import nth_point

from layers.ledger import current_year, item_plan_year, ledger_progress, plan_years
from layers.store import Change

TODAY = dt.date(2026, 6, 1)


def item(store, **props):
    base = {"title": "路灯", "category": "streetlights", "target": 10, "measure": "count"}
    return store.create("ledger", None, {**base, **props}, user="p").ids[0]


def lights(store, item_id, day, n=1):
    store.commit(
        "streetlights",
        [
            Change(
                "create",
                geometry=nth_point(i),
                properties={
                    "power_source": "solar",
                    "status": "working",
                    "ledger_item": item_id,
                    "installed_date": day,
                },
            )
            for i in range(n)
        ],
        user="f",
        source="test",
    )


def test_year_keeps_only_that_plan_year_and_none_keeps_all(store):
    old = item(store, title="G208", plan_year=2021, start_date="2021-04-01")
    new = item(store, title="文化路", plan_year=2026)
    derived = item(store, title="无年度", start_date="2025-03-01", deadline="2026-06-30")
    lights(store, old, "2021-05-01", 3)
    lights(store, new, "2026-05-01", 2)
    assert [p.id for p in ledger_progress(store, today=TODAY, year=2021)] == [old]
    assert [p.id for p in ledger_progress(store, today=TODAY, year=2026)] == [new]
    assert [p.id for p in ledger_progress(store, today=TODAY, year=2025)] == [derived]
    assert ledger_progress(store, today=TODAY, year=2019) == []
    every = {p.id: p for p in ledger_progress(store, today=TODAY)}
    assert set(every) == {old, new, derived}
    assert (every[old].actual, every[new].actual) == (3.0, 2.0)
    assert every[old].plan_year == 2021 and every[derived].as_dict()["plan_year"] == 2025
    assert plan_years(store) == [2021, 2025, 2026]


def test_works_dated_before_the_year_count_toward_their_item(store):
    item_id = item(store, plan_year=2026, start_date="2026-01-01")
    lights(store, item_id, "2025-11-20", 2)
    lights(store, item_id, "2026-03-01", 1)
    [progress] = ledger_progress(store, today=TODAY, year=2026)
    assert progress.actual == 3.0
    assert progress.by_month == {"2025-11": 2.0, "2026-03": 1.0}


def test_derivation_rules_and_current_year():
    assert item_plan_year({"plan_year": "2024", "start_date": "2020-01-01"}) == 2024
    assert item_plan_year({"start_date": "", "deadline": "2023-09-30"}) == 2023
    assert item_plan_year({"start_date": "bad", "deadline": None}) is None
    assert current_year(dt.date(2021, 12, 31)) == 2021


def test_the_dashboard_of_a_year_carries_earlier_work_in_at_its_start(store):
    from layers.dashboard import build_dashboard

    item_id = item(store, plan_year=2026, start_date="2026-01-01", deadline="2026-12-31")
    item(store, title="G208", plan_year=2021, start_date="2021-04-01", target=84)
    lights(store, item_id, "2025-11-20", 2)
    lights(store, item_id, "2026-03-01", 1)
    board = build_dashboard(store, TODAY, year=2026)
    assert board.year == 2026 and [i.id for i in board.items] == [item_id]
    [kpi] = board.kpis
    assert (kpi.actual, kpi.target, kpi.carried_in) == (3.0, 10.0, 2.0)
    assert kpi.trend == (
        ("2026-01", 2.0),
        ("2026-02", 2.0),
        ("2026-03", 3.0),
        ("2026-04", 3.0),
        ("2026-05", 3.0),
        ("2026-06", 3.0),
    )
    every = build_dashboard(store, TODAY)
    assert sum(k.items for k in every.kpis) == 2 and every.kpis[0].trend[0][0] == "2025-11"


def test_an_item_carried_over_is_no_longer_late_nor_a_gap(store):
    """Once carried into the next year, the old item hands its remainder on: not overdue,
    stalled or behind in its own year, and only its successor is a target gap."""
    from layers.analyses import run_gaps
    from layers.ledger_carry import carry_over

    old = item(store, title="大棚", category="greenhouses", plan_year=2025, deadline="2025-12-31")
    [before] = ledger_progress(store, today=TODAY, year=2025)
    assert before.overdue and before.behind and before.stalled
    late_before = set(run_gaps(store, "targets", as_of=TODAY)["feature_id"])
    assert old in late_before
    new_id = carry_over(store, old, user="p", today=TODAY)
    [after] = ledger_progress(store, today=TODAY, year=2025)
    assert after.carried_to == new_id and after.shortfall == 10.0
    assert not (after.overdue or after.stalled or after.behind)
    late = set(run_gaps(store, "targets", as_of=TODAY)["feature_id"])
    assert old not in late
