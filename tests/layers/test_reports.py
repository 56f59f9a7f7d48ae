"""The reports layer (issue #18): codes, status rules through the store's commit, private
fields, the statistics, linking to a work, and the ledger counting solved reports."""

import datetime as dt
import shutil
from pathlib import Path

import pytest

from layers.changes import Author, Change
from layers.errors import ValidationFailed
from layers.private_fields import hidden_names, private_names, public_spec
from layers.reports import (
    CODE_ALPHABET,
    ReportInput,
    find_by_code,
    new_code,
    public_report,
    submit_report,
)
from layers.resident_stats import report_stats
from layers.store import GeoJSONStore

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
PLANNER = Author("pat", "planner")


@pytest.fixture
def demo(tmp_path):
    for sub in ("layers", "specs"):
        shutil.copytree(DEMO / sub, tmp_path / sub)
    return GeoJSONStore(tmp_path)


def light_point(store, fid="SL-000009"):
    return store.get("streetlights", fid)["geometry"]["coordinates"][:2]


def report(store, today=dt.date(2026, 5, 4)):
    lon, lat = light_point(store)
    sent = ReportInput(lon=lon, lat=lat, category="road", description="路灯不亮",
                       phone="13900001111")  # fmt: skip
    return submit_report(store, sent, places=None, today=today)


def test_codes_are_long_random_and_unambiguous():
    codes = {new_code() for _ in range(500)}
    assert len(codes) == 500
    assert all(len(c) >= 8 and set(c) <= set(CODE_ALPHABET) for c in codes)
    assert not set(CODE_ALPHABET) & set("01OIL")


def test_the_phone_and_code_are_private_fields(demo):
    spec = demo.spec("reports")
    assert private_names(spec) == {"phone", "code"}
    assert "phone" not in public_spec(spec).field_names and hidden_names(spec) == set()
    assert private_names(demo.spec("streetlights")) == set()
    assert public_spec(demo.spec("streetlights")) is demo.spec("streetlights")


def test_a_report_is_found_by_its_code_and_shows_no_phone(demo):
    made = report(demo)
    found = find_by_code(demo, made["code"].lower())
    assert found["id"] == made["id"] and found["properties"]["phone"] == "13900001111"
    shown = public_report(demo, found)
    assert "13900001111" not in str(shown) and made["code"] not in str(shown)
    assert shown["status"] == "new" and shown["created"] == "2026-05-04"


def update(store, fid, **props):
    return store.commit("reports", [Change("update", id=fid, properties=props)],
                        user=PLANNER, source="form")  # fmt: skip


def test_the_status_moves_only_along_its_rules(demo):
    fid = report(demo)["id"]
    with pytest.raises(ValidationFailed) as caught:
        update(demo, fid, status="solved")
    assert caught.value.problems[0].code == "resident_bad_transition"
    assert "已解决" in caught.value.problems[0].message("zh")
    update(demo, fid, status="accepted")
    update(demo, fid, status="solved")
    assert demo.get("reports", fid)["properties"]["solved_date"] == dt.date.today().isoformat()
    update(demo, fid, status="in_progress")
    assert "solved_date" not in demo.get("reports", fid)["properties"]


def test_accepting_a_report_on_a_well_marks_it_faulty_and_rejecting_restores(demo):
    well = demo.features("wells")[0]
    assert well["properties"]["status"] != "faulty"
    fid = report(demo)["id"]
    update(demo, fid, feature=f"wells/{well['id']}", status="accepted")
    assert demo.get("wells", well["id"])["properties"]["status"] == "faulty"
    update(demo, fid, status="rejected", reject_reason="不属实")
    assert demo.get("wells", well["id"])["properties"]["status"] == well["properties"]["status"]


def test_statistics_per_township_and_department(demo):
    first, second, third = (report(demo, dt.date(2024, 5, 4))["id"] for _ in range(3))
    for fid, department in ((first, "县住建局"), (second, "县水利局")):
        update(demo, fid, status="accepted", department=department)
        update(demo, fid, status="solved", solved_date="2024-05-10")
    update(demo, first, rating=5)
    update(demo, second, rating=2)
    stats = report_stats(demo, year=2024)
    assert (stats.total.received, stats.total.solved, stats.total.rated) == (3, 2, 2)
    assert stats.total.median_days == 6.0 and stats.total.satisfaction_rate == 0.5
    by_department = {row.name: row for row in stats.departments}
    assert by_department["县住建局"].satisfaction_rate == 1.0
    assert by_department[""].received == 1  # the third has no department yet
    assert report_stats(demo, year=2023).total.received == 0
    assert report_stats(demo, year=2024, township="没有这个乡").total.received == 0
    assert stats.as_dict()["total"]["solved_rate"] == round(2 / 3, 4)
    assert third


def test_a_solved_report_counts_towards_its_ledger_item(demo):
    from layers.ledger import ledger_progress

    item = demo.features("ledger")[0]["id"]
    before = {p.id: p.actual for p in ledger_progress(demo)}[item]
    fid = report(demo)["id"]
    update(demo, fid, status="accepted", ledger_item=item)
    assert {p.id: p.actual for p in ledger_progress(demo)}[item] == before
    update(demo, fid, status="solved")
    assert {p.id: p.actual for p in ledger_progress(demo)}[item] == before + 1


def test_the_demo_has_reports_in_every_state(demo):
    from collections import Counter

    reports = [f["properties"] for f in demo.features("reports")]
    assert 50 <= len(reports) <= 70
    assert set(Counter(p["status"] for p in reports)) == {
        "new", "accepted", "in_progress", "solved", "closed", "rejected"
    }  # fmt: skip
    assert all(p["reported_date"].startswith("2026") and p["demo"] for p in reports)
    assert all(p.get("reject_reason") for p in reports if p["status"] == "rejected")
    assert any(p.get("rating") for p in reports) and any(p.get("reply") for p in reports)
    assert any(p.get("reopened") for p in reports) and any(p.get("phone") for p in reports)
    stats = report_stats(demo, year=2026)
    assert stats.total.received == len(reports) and 0 < stats.total.satisfaction_rate < 1
