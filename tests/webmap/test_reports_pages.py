"""The residents' pages over HTTP (issue #18): /report, /reports/<code> and /reports are
public, in Chinese and English, load nothing from the internet, carry the honeypot and
their own service worker, and never hold a resident's phone number."""

import re

import orjson
import pytest

from webmap.app import get_store

PHONE = "13912345678"
CATEGORIES = ("streetlight", "water", "road", "sanitation", "greenery", "public_facility", "other")


@pytest.fixture
def app(demo_app, accounts):
    demo_app.config["DEFAULT_BASEMAP"] = "none"
    demo_app.tokens = accounts(demo_app)
    return demo_app


def a_report(app, **extra):
    light = get_store(app).features("streetlights")[3]
    lon, lat = light["geometry"]["coordinates"][:2]
    body = {"lon": lon, "lat": lat, "category": "streetlight", "description": "灯不亮", **extra}
    r = app.test_client().post("/api/reports", json=body)
    assert r.status_code == 201, r.data
    return orjson.loads(r.data)


def patch(app, fid, props):
    headers = {"Authorization": f"Bearer {app.tokens['planner']}"}
    r = app.test_client().patch(
        f"/ogc/collections/reports/items/{fid}",
        data=orjson.dumps({"properties": props}),
        content_type="application/merge-patch+json",
        headers=headers,
    )
    assert r.status_code == 200, r.data
    return r


def page_config(html):
    found = re.search(r'<script type="application/json" id="rp-config">(.*?)</script>', html, re.S)
    assert found, "the page hands its scripts a config"
    return orjson.loads(found.group(1))


@pytest.mark.parametrize("path", ["/report", "/reports", "/reports/{code}"])
def test_the_pages_are_public_and_load_nothing_from_the_internet(app, path):
    path = path.format(code=a_report(app)["code"])
    r = app.test_client().get(path)
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert not re.search(r'(src|href)="(https?:)?//', html), "an asset from another host"
    assert "/static/css/reports.css" in html
    assert 'href="/reports"' in html  # the header's 群众反映 link
    assert "群众反映" in html


def test_the_status_page_shows_the_status_the_replies_and_the_dates_as_text(app):
    made = a_report(app, phone=PHONE, description="<b>灯</b> & ${x}")
    patch(app, made["id"], {"status": "accepted", "reply": "已受理 <script>x()</script>"})
    patch(app, made["id"], {"status": "solved", "reply": "已修好"})
    client = app.test_client()
    r = client.get(f"/reports/{made['code']}")
    assert r.status_code == 200 and "no-store" in r.headers["Cache-Control"]
    html = r.get_data(as_text=True)
    assert '<p class="rp-badge" id="rp-state" data-status="solved">已解决</p>' in html
    assert "&lt;b&gt;灯&lt;/b&gt; &amp; ${x}" in html and "<b>灯</b>" not in html
    assert "已受理 &lt;script&gt;x()&lt;/script&gt;" in html and "已修好" in html
    assert 'data-event="created"' in html and 'data-event="solved"' in html
    assert re.search(r'<form id="rp-rating-form"\s+novalidate>', html), "solved: the form is open"
    assert page_config(html)["report"]["status"] == "solved"
    assert PHONE not in html
    english = client.get(f"/reports/{made['code']}?lang=en").get_data(as_text=True)
    assert 'data-status="solved">Solved</p>' in english
    rated = client.post(f"/api/reports/{made['code']}/rating", json={"rating": 5, "comment": "好"})
    assert rated.status_code == 200
    html = client.get(f"/reports/{made['code']}?lang=zh").get_data(as_text=True)
    assert 'data-state="rated"' in html and "5 / 5 分 · 好" in html
    assert re.search(r'<form id="rp-rating-form" hidden', html), "rated: no second form"


def test_before_it_is_solved_the_status_page_offers_no_rating(app):
    made = a_report(app)
    html = app.test_client().get(f"/reports/{made['code']}").get_data(as_text=True)
    assert "待受理" in html and 'data-state="later"' in html
    assert re.search(r'<form id="rp-rating-form" hidden', html)


def test_the_list_page_shows_accepted_reports_only(app):
    accepted, waiting = a_report(app, description="已受理的灯"), a_report(app, description="新灯")
    patch(app, accepted["id"], {"status": "accepted"})
    html = app.test_client().get("/reports").get_data(as_text=True)
    assert "已受理的灯" in html and "新灯" not in html
    listed = {r["id"] for r in page_config(html)["reports"]}
    assert accepted["id"] in listed and waiting["id"] not in listed
    assert waiting["code"] not in html and accepted["code"] not in html
    html = app.test_client().get("/reports?status=solved").get_data(as_text=True)
    solved = page_config(html)["reports"]
    assert {r["status"] for r in solved} <= {"solved"} and "已受理的灯" not in html


def test_the_form_has_every_category_the_honeypot_and_its_own_service_worker(app):
    client = app.test_client()
    html = client.get("/report").get_data(as_text=True)
    for category in CATEGORIES:
        assert f'<option value="{category}">' in html
    assert 'name="website"' in html and 'name="phone"' in html and 'name="photos"' in html
    assert "/static/vendor/leaflet@1.9.3/dist/leaflet.js" in html
    config = page_config(html)
    assert config["sw"] == "/report-sw.js" and config["scope"] == "/report"
    assert config["api"] == "/api/reports" and config["similar"] == "/api/reports/similar"
    assert config["text"]["similar_same"] == "是同一个问题吗？+1"
    assert config["text"]["queued"] == "待发送"
    sw = client.get("/report-sw.js")
    assert sw.status_code == 200 and sw.mimetype == "text/javascript"
    assert sw.headers["Cache-Control"] == "no-cache"
    assert b'"/report"' in sw.data and b"/static/js/report.js" in sw.data


def test_english_on_request(app):
    html = app.test_client().get("/report?lang=en").get_data(as_text=True)
    assert "Report a problem" in html and "Streetlight" in html
    assert page_config(html)["text"]["similar_same"] == "The same problem? +1"
    html = app.test_client().get("/reports?lang=en").get_data(as_text=True)
    assert "Residents' reports" in html or "Residents&#39; reports" in html


def test_an_unknown_or_malformed_code_is_not_found(app):
    assert app.test_client().get("/reports/ABCDEFGHJK").status_code == 404
    assert app.test_client().get("/reports/<script>").status_code == 404
    assert app.test_client().get("/reports/" + "A" * 41).status_code == 404


def test_the_list_offers_the_public_statuses_and_the_townships(app):
    html = app.test_client().get("/reports").get_data(as_text=True)
    for status in ("accepted", "in_progress", "solved", "closed"):
        assert f'<option value="{status}"' in html
    assert '<option value="new"' not in html and '<option value="rejected"' not in html
    towns = {f["properties"].get("name") for f in get_store(app).features("boundaries")
             if f["properties"].get("level") == "township"}  # fmt: skip
    assert towns and all(f'<option value="{t}"' in html for t in towns if t)


def test_only_planners_see_the_reports_awaiting_acceptance_and_the_editor_links(app):
    made = a_report(app, phone=PHONE)
    config = page_config(app.test_client().get("/reports").get_data(as_text=True))
    assert config["planner"] is False and config["awaiting"] == []
    assert "X-VW-Personal" not in app.test_client().get("/report").headers
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    client.post(
        "/login", data={"name": "planner1", "password": "correct-horse-9", "csrf_token": token}
    )
    assert client.get("/report").headers["X-VW-Personal"] == "1"  # not kept offline
    html = client.get("/reports").get_data(as_text=True)
    config = page_config(html)
    assert config["planner"] is True and config["editor"] == "/features/reports/{id}"
    mine = [r for r in config["awaiting"] if r["id"] == made["id"]]
    assert [r["description"] for r in mine] == ["灯不亮"]
    assert PHONE not in html and made["code"] not in html
    status_page = client.get(f"/reports/{made['code']}").get_data(as_text=True)
    assert f'href="/features/reports/{made["id"]}"' in status_page
    patch(app, made["id"], {"status": "accepted"})
    awaiting = page_config(client.get("/reports").get_data(as_text=True))["awaiting"]
    assert made["id"] not in {r["id"] for r in awaiting}


def test_the_phone_never_reaches_a_public_page_or_its_data(app):
    made = a_report(app, phone=PHONE)
    patch(app, made["id"], {"status": "accepted", "reply": "已派人查看"})
    client = app.test_client()
    for path in (
        "/report",
        "/reports",
        f"/reports/{made['code']}",
        f"/api/reports/{made['code']}",
        "/api/reports",
        "/api/reports?status=accepted",
    ):
        r = client.get(path)
        assert r.status_code == 200, path
        assert PHONE not in r.get_data(as_text=True), path
    listed = orjson.loads(client.get("/api/reports").data)["reports"]
    assert made["id"] in {row["id"] for row in listed}, "the check above saw the report"


def test_a_rejected_report_tells_its_resident_why(app):
    made = a_report(app)
    patch(app, made["id"], {"status": "rejected", "reject_reason": "不属于本县 <i>管辖</i>"})
    html = app.test_client().get(f"/reports/{made['code']}").get_data(as_text=True)
    assert "不予受理" in html and "不属于本县 &lt;i&gt;管辖&lt;/i&gt;" in html
    assert "rp-editor-link" not in html  # the editor link is for planners
    assert made["id"] not in app.test_client().get("/reports").get_data(as_text=True)
