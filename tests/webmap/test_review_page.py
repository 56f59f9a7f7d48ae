"""The review page (验收, issue #14): a field account's work waits as submitted and does
not count; a planner sees it on /review with what is needed to decide, approves it (alone
or in a selection), returns it with a comment or rejects it; only approved works count in
the ledger (its page and /ledger/export.csv); every decision is in the feature's history."""

import csv
import io
import re
from pathlib import Path

import orjson
import pytest

from layers.ledger import ledger_progress
from webmap.app import create_app, get_store

PASSWORD = "correct-horse-9"
HERE = {"type": "Point", "coordinates": [112.8161, 39.5268]}


@pytest.fixture
def app(demo_app, accounts):
    demo_app.config["DEFAULT_BASEMAP"] = "none"
    demo_app.tokens = accounts(demo_app)
    return demo_app


def csrf(html):
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def signed_in(app, name="planner1"):
    client = app.test_client()
    token = csrf(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    return client


def lights_item(store):
    """A streetlights item of the plan year /ledger shows by default (#17)."""
    from layers.ledger import default_year, item_plan_year

    year = default_year(store)
    for item in store.features("ledger"):
        props = item["properties"]
        lights = props.get("category") == "streetlights" and props.get("measure") == "count"
        if lights and item_plan_year(props) == year:
            return item["id"]
    raise AssertionError("the demo has a streetlights item")


def submit(app, n=1, **props):
    """``n`` lights captured by the field account; their ids."""
    item = lights_item(get_store(app))
    ids = []
    for i in range(n):
        geometry = {"type": "Point", "coordinates": [112.8161 + i * 0.001, 39.5268]}
        body = {
            "layer": "streetlights",
            "geometry": geometry,
            "accuracy_m": 6.0,
            "location_source": "gps",
            "properties": {
                "power_source": "solar",
                "status": "working",
                "ledger_item": item,
                **props,
            },
        }
        r = app.test_client().post(
            "/api/capture",
            data=orjson.dumps(body),
            headers={
                "Authorization": f"Bearer {app.tokens['field']}",
                "Idempotency-Key": f"review-test-{i}-{len(props)}",
            },
            content_type="application/json",
        )
        assert r.status_code == 201, r.get_data(as_text=True)
        ids.append(r.get_json()["feature"]["id"])
    return item, ids


def actual(app, item_id):
    [progress] = [p for p in ledger_progress(get_store(app)) if p.id == item_id]
    return progress


def test_a_field_capture_waits_and_counts_once_approved(app):
    before_item = lights_item(get_store(app))
    before = actual(app, before_item).actual
    item, [fid] = submit(app)
    assert get_store(app).get("streetlights", fid)["properties"]["review"] == "submitted"
    waiting = actual(app, item)
    assert waiting.actual == before and waiting.awaiting == 1
    client = signed_in(app)
    ledger = client.get("/ledger").get_data(as_text=True)
    row = re.search(rf'<tr data-item="{item}">.*?</tr>', ledger, re.S).group(0)
    assert 'class="num awaiting" data-value="1"' in row
    page = client.get("/review").get_data(as_text=True)
    card = re.search(
        rf'<li class="vw-review-card" data-layer="streetlights" data-id="{fid}">.*?</li>',
        page,
        re.S,
    )
    assert card, page[-2000:]
    assert "field1" in card.group(0) and "vw-review-nearest" in card.group(0)
    assert "约 6.0 米" in card.group(0)  # the capture's GPS accuracy
    r = client.post(
        "/review/decide",
        data={"csrf_token": csrf(page), "item": f"streetlights/{fid}", "decision": "approved"},
    )
    assert r.status_code == 302, r.get_data(as_text=True)[-800:]
    assert get_store(app).get("streetlights", fid)["properties"]["review"] == "approved"
    assert actual(app, item).actual == before + 1 and actual(app, item).awaiting == 0
    last = get_store(app).history("streetlights", fid)[-1]
    assert last["by"] == "planner1" and last["feature"]["properties"]["review"] == "approved"
    notice = client.get(r.headers["Location"]).get_data(as_text=True)
    assert 'id="vw-review-notice"' in notice and fid not in notice.split('id="vw-review-list"')[-1]


def test_return_needs_a_comment_which_the_feature_page_shows(app):
    _, [fid] = submit(app)
    client = signed_in(app)
    page = client.get("/review").get_data(as_text=True)
    token = csrf(page)
    refused = client.post(
        "/review/decide",
        data={"csrf_token": token, "decision": "returned", "item": f"streetlights/{fid}"},
    )
    assert refused.status_code == 422
    assert 'id="vw-review-error"' in refused.get_data(as_text=True)
    assert get_store(app).get("streetlights", fid)["properties"]["review"] == "submitted"
    sent_back = client.post(
        "/review/decide",
        data={
            "csrf_token": token,
            "decision": "returned",
            "item": f"streetlights/{fid}",
            "comment": "照片看不清<b>灯头</b>",
        },
    )
    assert sent_back.status_code == 302
    props = get_store(app).get("streetlights", fid)["properties"]
    assert (props["review"], props["review_comment"]) == ("returned", "照片看不清<b>灯头</b>")
    feature_page = client.get(f"/features/streetlights/{fid}").get_data(as_text=True)
    assert "照片看不清&lt;b&gt;灯头&lt;/b&gt;" in feature_page and "已退回" in feature_page
    history = re.search(r'id="vw-history">.*?</table>', feature_page, re.S).group(0)
    newest = re.search(r"<tbody>\s*<tr>.*?</tr>", history, re.S).group(0)
    assert "planner1" in newest and "review" in newest
    assert "验收状态: <del>待验收</del> → 已退回" in newest and "验收意见" in newest


def test_a_selection_is_approved_at_once_and_the_csv_counts_only_approved(app):
    item, ids = submit(app, 3)
    client = signed_in(app)
    page = client.get("/review?layer=streetlights").get_data(as_text=True)
    assert all(f'value="streetlights/{i}"' in page for i in ids)

    def done_in_csv():
        text = client.get("/ledger/export.csv").get_data().decode("utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text)))
        [row] = [r for r in rows if r["编号"] == item]
        return float(row["完成数量"]), int(float(row["待验收"] or 0))

    done, awaiting = done_in_csv()
    assert awaiting == 3
    r = client.post(
        "/review/decide",
        data={
            "csrf_token": csrf(page),
            "decision": "approved",
            "item": [f"streetlights/{i}" for i in ids[:2]],
        },
    )
    assert r.status_code == 302
    assert done_in_csv() == (done + 2, 1)
    states = [get_store(app).get("streetlights", i)["properties"]["review"] for i in ids]
    assert states == ["approved", "approved", "submitted"]


def test_rejected_works_never_count(app):
    item, [fid] = submit(app)
    before = actual(app, item).actual
    client = signed_in(app)
    page = client.get("/review").get_data(as_text=True)
    r = client.post(
        "/review/decide",
        data={
            "csrf_token": csrf(page),
            "decision": "rejected",
            "item": f"streetlights/{fid}",
            "comment": "重复",
        },
    )
    assert r.status_code == 302
    assert actual(app, item).actual == before and actual(app, item).awaiting == 0


def test_only_planners_open_the_review_page_and_decide(app):
    assert app.test_client().get("/review").status_code in (302, 401)
    field = signed_in(app, "field1")
    assert field.get("/review").status_code == 403
    _, [fid] = submit(app)
    page = field.get("/capture").get_data(as_text=True)
    r = field.post(
        "/review/decide",
        data={"csrf_token": csrf(page), "decision": "approved", "item": f"streetlights/{fid}"},
    )
    assert r.status_code == 403
    assert get_store(app).get("streetlights", fid)["properties"]["review"] == "submitted"


def test_review_page_in_english_and_empty(app):
    client = signed_in(app)
    page = client.get("/review?lang=en").get_data(as_text=True)
    assert "Review" in page and 'id="vw-review-empty"' in page


def test_the_dashboard_shows_what_awaits_review_per_township(app):
    import datetime as dt

    from layers.dashboard import build_dashboard

    assert build_dashboard(get_store(app), dt.date.today()).awaiting == 0
    submit(app, 2)
    board = build_dashboard(get_store(app), dt.date.today())
    assert board.awaiting == 2 and sum(t.awaiting for t in board.townships) == 2
    page = signed_in(app).get("/dashboard").get_data(as_text=True)
    assert re.search(r'id="dash-awaiting">[^<]*2', page)


def test_evidence_rules_flag_a_card_and_approving_it_needs_a_reason(app):
    data = Path(app.config["DATA_DIR"])
    (data / "specs" / "streetlights.toml").write_text(
        'name = "streetlights"\n\n[evidence]\nmin_photos = 1\n', encoding="utf-8"
    )
    app = create_app({"DATA_DIR": str(data), "TESTING": True, "SECRET_KEY": "test",
                      "DEFAULT_BASEMAP": "none"})  # fmt: skip
    app.tokens = {}
    from layers.users import UserStore

    app.tokens["field"] = UserStore(data).new_token("field1")
    _, [fid] = submit(app)
    client = signed_in(app)
    page = client.get("/review").get_data(as_text=True)
    card = re.search(rf'data-id="{fid}">.*?</form>', page, re.S).group(0)
    assert "vw-review-evidence" in card and 'name="override"' in card
    key = {"csrf_token": csrf(page), "item": f"streetlights/{fid}", "decision": "approved"}
    refused = client.post("/review/decide", data=key)
    assert refused.status_code == 422 and "照片" in refused.get_data(as_text=True)
    assert get_store(app).get("streetlights", fid)["properties"]["review"] == "submitted"
    done = client.post("/review/decide", data={**key, "override": "照片在纸质台账里"})
    assert done.status_code == 302
    props = get_store(app).get("streetlights", fid)["properties"]
    assert (props["review"], props["review_override"]) == ("approved", "照片在纸质台账里")
