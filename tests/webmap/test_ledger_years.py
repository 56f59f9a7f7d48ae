"""The ledger by plan year (计划年度): ?year= on the list, item pages, exports and the
dashboard; bad years said in the user's language; carry-over into the next year."""

import csv
import io
import re

import openpyxl
import pytest

from webmap.app import get_store

PASSWORD = "correct-horse-9"
G208 = "薛圐圙乡国道208沿线太阳能路灯"


@pytest.fixture
def app(demo_app, accounts):
    accounts(demo_app)
    return demo_app


def csrf(html):
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def signed_in(app, name="planner1"):
    client = app.test_client()
    token = csrf(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    client.csrf = csrf(client.get("/ledger/import").get_data(as_text=True))
    return client


def titles(response):
    text = response.get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text)))
    return {r["事项"] for r in rows}


def test_csv_export_of_2021_has_the_g208_lights_and_2026_does_not(app):
    client = app.test_client()
    old = client.get("/ledger/export.csv?year=2021")
    new = client.get("/ledger/export.csv?year=2026")
    assert old.status_code == new.status_code == 200
    assert G208 in titles(old) and G208 not in titles(new)
    assert titles(new) and not titles(old) & titles(new)
    assert 'filename="ledger-2021-' in old.headers["Content-Disposition"]


def test_xlsx_export_takes_the_year_in_rows_and_title(app):
    response = app.test_client().get("/ledger/export.xlsx?year=2021")
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    assert "2021年" in str(sheet["A1"].value)
    cells = {str(c.value) for row in sheet.iter_rows() for c in row}
    assert G208 in cells
    other = openpyxl.load_workbook(
        io.BytesIO(app.test_client().get("/ledger/export.xlsx?year=2026").data)
    ).active
    assert G208 not in {str(c.value) for row in other.iter_rows() for c in row}


def test_the_list_shows_one_year_with_a_selector_keeping_other_parameters(app):
    client = app.test_client()
    old = client.get("/ledger?year=2021&as_of=2026-11-30").get_data(as_text=True)
    assert G208 in old and 'data-year="2021"' in old
    assert '<option value="2021" selected>' in old and '<option value="2026">' in old
    assert '<input type="hidden" name="as_of" value="2026-11-30">' in old
    new = client.get("/ledger?year=2026").get_data(as_text=True)
    assert G208 not in new and "县城文化路路灯改造" in new
    assert "year=2026" in new  # the export links carry the year


def test_the_default_year_is_the_current_one_or_the_latest_with_items(app):
    from layers.ledger import default_year, plan_years

    store = get_store(app)
    years = plan_years(store)
    expected = default_year(store)
    assert expected in years
    page = app.test_client().get("/ledger").get_data(as_text=True)
    assert f'data-year="{expected}"' in page


@pytest.mark.parametrize("bad", ["abc", "1800", "20261"])
def test_a_bad_year_is_said_on_the_page_and_refused_by_exports(app, bad):
    client = app.test_client()
    zh = client.get(f"/ledger?year={bad}&lang=zh")
    assert zh.status_code == 422
    assert f"年度“{bad}”无效" in zh.get_data(as_text=True)
    en = app.test_client().get(f"/ledger?year={bad}&lang=en")
    assert f"The year &#39;{bad}&#39; is not valid" in en.get_data(as_text=True)
    item = app.test_client().get(f"/ledger/LG-000002?year={bad}&lang=zh")
    assert item.status_code == 422 and "无效" in item.get_data(as_text=True)
    for fmt in ("csv", "xlsx"):
        refused = app.test_client().get(
            f"/ledger/export.{fmt}?year={bad}", headers={"Accept": "application/json"}
        )
        assert refused.status_code == 422
        assert refused.get_json()["error"]["code"] == "bad_year"


def test_item_pages_show_their_year_and_lead_back_to_its_list(app):
    page = app.test_client().get("/ledger/LG-000001").get_data(as_text=True)
    assert 'id="item-year" data-year="2021"' in page
    assert 'href="/ledger?year=2021"' in page
    assert '<option value="2021" selected>' in page


def unfinished_item(app):
    store = get_store(app)
    from layers.ledger import ledger_progress

    return next(
        p
        for p in ledger_progress(store, year=2026)
        if not p.finished and not p.carried_to and p.target
    )


def test_carry_over_creates_next_years_item_and_keeps_the_old_ones_history(app):
    store = get_store(app)
    item = unfinished_item(app)
    linked_before = item.linked
    client = signed_in(app)
    page = client.get(f"/ledger/{item.id}").get_data(as_text=True)
    assert "结转到下一年度" in page
    response = client.post(f"/ledger/{item.id}/carry-over", data={"csrf_token": client.csrf})
    assert response.status_code == 302
    new_id = response.headers["Location"].rsplit("/", 1)[1]
    new = store.get("ledger", new_id)["properties"]
    old = store.get("ledger", item.id)["properties"]
    assert new["plan_year"] == 2027 and new["carried_from"] == item.id
    assert new["target"] == pytest.approx(item.target - item.actual)
    assert old["carried_to"] == new_id and old["title"] == item.title
    from layers.ledger import ledger_progress

    [again] = [p for p in ledger_progress(store) if p.id == item.id]
    assert again.linked == linked_before and again.actual == item.actual
    assert [h["by"] for h in store.history("ledger", item.id)][-1] == "planner1"
    new_page = client.get(f"/ledger/{new_id}").get_data(as_text=True)
    assert f'href="/ledger/{item.id}"' in new_page and 'id="carried-from"' in new_page
    old_page = client.get(f"/ledger/{item.id}").get_data(as_text=True)
    assert f'href="/ledger/{new_id}"' in old_page and 'id="carry-over"' not in old_page
    twice = client.post(f"/ledger/{item.id}/carry-over", data={"csrf_token": client.csrf})
    assert twice.status_code == 409 and "已结转" in twice.get_data(as_text=True)
    next_year = client.get("/ledger/export.csv?year=2027")
    assert item.title in titles(next_year)


def test_carry_over_is_for_planners_only_and_refuses_finished_items(app):
    item = unfinished_item(app)
    store = get_store(app)
    version = store.version("ledger")
    anonymous = app.test_client().post(f"/ledger/{item.id}/carry-over")
    assert anonymous.status_code in (302, 401, 403)
    field = signed_in(app, "field1")
    refused = field.post(f"/ledger/{item.id}/carry-over", data={"csrf_token": field.csrf})
    assert refused.status_code == 403
    assert store.version("ledger") == version
    planner = signed_in(app)
    done = planner.post("/ledger/LG-000001/carry-over", data={"csrf_token": planner.csrf})
    assert done.status_code == 409 and "不需要结转" in done.get_data(as_text=True)
    assert store.version("ledger") == version


def test_a_planner_of_another_township_cannot_carry_over(app):
    from layers.scopes import townships
    from layers.users import UserStore

    store = get_store(app)
    item = unfinished_item(app)
    known = townships(store)
    home = known.resolve(item.township)
    elsewhere = next(t for t in known.names if t != home)
    UserStore(app.config["DATA_DIR"]).add("planner_away", "planner", PASSWORD, areas=[elsewhere])
    version = store.version("ledger")
    client = signed_in(app, "planner_away")
    refused = client.post(f"/ledger/{item.id}/carry-over", data={"csrf_token": client.csrf})
    assert refused.status_code == 403
    assert store.version("ledger") == version and not store.get("ledger", item.id)[
        "properties"
    ].get("carried_to")


def chart_data(html):
    import json

    block = re.search(r'<script type="application/json" id="dash-data">(.*?)</script>', html, re.S)
    return json.loads(block.group(1))


def test_the_dashboard_counts_one_plan_year_and_replays_its_months(app):
    client = app.test_client()
    html = client.get("/dashboard?as_of=2026-10-31").get_data(as_text=True)
    assert 'id="dash-year" data-year="2026"' in html
    assert '<option value="2021">' in html and '<option value="2026" selected>' in html
    for trend in chart_data(html)["trends"]:
        assert trend["labels"][0] == "2026-01" and trend["labels"][-1] == "2026-10"
    old = client.get("/dashboard?year=2021")
    assert old.status_code == 200
    html = old.get_data(as_text=True)
    assert 'data-year="2021"' in html and 'data-as-of="2021-12-31"' in html
    lights = re.search(r'data-category="streetlights" data-unit="盏">(.*?)</article>', html, re.S)
    assert 'data-value="84.0"' in lights.group(1)
    trends = chart_data(html)["trends"]
    assert all(t["labels"] == [f"2021-{m:02d}" for m in range(1, 13)] for t in trends)
    assert max(t["values"][-1] for t in trends) == 800.0  # the 2021 training, done
    assert 'href="/ledger?as_of=2021-12-31&amp;year=2021"' in html


def test_a_bad_year_on_the_dashboard_is_said_in_both_languages(app):
    zh = app.test_client().get("/dashboard?year=abc&as_of=2026-10-31&lang=zh")
    assert zh.status_code == 422 and "年度“abc”无效" in zh.get_data(as_text=True)
    en = app.test_client().get("/dashboard?year=1800&as_of=2026-10-31&lang=en")
    assert en.status_code == 422
    assert "The year &#39;1800&#39; is not valid" in en.get_data(as_text=True)


def map_config(html):
    years = re.search(r'"years": ?(\[[^\]]*\])', html).group(1)
    year = re.search(r'"year": ?(null|\d+)', html).group(1)
    return years, year


def test_the_county_map_replays_plan_years_and_takes_the_year(app):
    client = app.test_client()
    html = client.get("/?layers=wells").get_data(as_text=True)
    years, _ = map_config(html)
    assert years.replace(" ", "") == "[2021,2025,2026]"  # not 1998: old wells' drilling dates
    assert 'id="year-select"' in html and 'name="layers" value="wells"' in html
    chosen = client.get("/?layers=wells&year=2021").get_data(as_text=True)
    assert map_config(chosen)[1] == "2021"
    assert '<option value="2021" selected>' in chosen
    bad = app.test_client().get("/?year=abc&lang=en")
    assert bad.status_code == 400
    assert "The year &#39;abc&#39; is not valid" in bad.get_data(as_text=True)
