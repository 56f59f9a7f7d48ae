"""HTTP Basic auth with the API token as the password (issue #19 section 8): the same
account and rights as ``Bearer <token>``, for QGIS before 3.32 and GDAL. Flask's test
client for the rules, then GDAL's ogrinfo against a live private instance."""

from __future__ import annotations

import base64

import pytest
from geometries import point
from live_app import need_gdal, run_gdal, serving

from webmap.app import create_app

PASSWORD = "correct-horse-9"
ITEMS = "/ogc/collections/streetlights/items"


def basic(name: str, password: str) -> dict[str, str]:
    pair = base64.b64encode(f"{name}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def light() -> dict:
    return {
        "type": "Feature",
        "geometry": point(),
        "properties": {"status": "working", "power_source": "solar"},
    }


@pytest.fixture
def private_app(tmp_path, accounts):
    app = create_app(
        {
            "DATA_DIR": str(tmp_path / "data"),
            "TESTING": True,
            "SEED_DEMO": False,
            "SECRET_KEY": "test",
            "ANONYMOUS_READ": False,
        }
    )
    app.tokens = accounts(app)
    return app


def challenges(response) -> list[str]:
    return response.headers.getlist("WWW-Authenticate")


@pytest.mark.parametrize("name", ["", "qgis", "field1"])
def test_the_token_as_basic_password_writes_as_its_account_without_csrf(private_app, name):
    client = private_app.test_client()
    response = client.post(ITEMS, json=light(), headers=basic(name, private_app.tokens["field"]))
    assert response.status_code == 201, response.json
    assert response.json["properties"]["created_by"] == "field1"
    assert response.json["properties"]["review"] == "submitted"  # a field account's write


def test_basic_has_the_rights_of_the_token_not_more(private_app):
    client = private_app.test_client()
    created = client.post(ITEMS, json=light(), headers=basic("", private_app.tokens["field"]))
    url = f"{ITEMS}/{created.json['id']}"
    patch = {"Content-Type": "application/merge-patch+json"}
    as_field = client.patch(
        url,
        data='{"properties": {"status": "faulty"}}',
        headers={**patch, **basic("", private_app.tokens["field"])},
    )
    assert as_field.status_code == 403
    as_planner = client.patch(
        url,
        data='{"properties": {"status": "faulty"}}',
        headers={**patch, **basic("x", private_app.tokens["planner"])},
    )
    assert as_planner.status_code == 200
    assert as_planner.json["properties"]["status"] == "faulty"


def test_a_name_of_another_account_is_refused_with_a_message(private_app):
    client = private_app.test_client()
    zh = client.get("/ogc/collections", headers=basic("planner1", private_app.tokens["field"]))
    assert zh.status_code == 401
    assert zh.json["error"]["code"] == "basic_other_account"
    assert "另一个账号" in zh.json["error"]["message"]
    en = client.get(
        "/ogc/collections?lang=en", headers=basic("admin1", private_app.tokens["field"])
    )
    assert en.status_code == 401
    assert "another account" in en.json["error"]["message"]


@pytest.mark.parametrize(
    "header",
    [
        basic("field1", "vw_not-a-token"),
        basic("field1", PASSWORD),  # the login password is no API token
        {"Authorization": "Basic %%%not-base64"},
        {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
    ],
)
def test_wrong_basic_credentials_get_401_with_both_challenges(private_app, header):
    response = private_app.test_client().get("/ogc/collections?lang=en", headers=header)
    assert response.status_code == 401
    assert response.json["error"]["code"] in ("basic_bad_token", "basic_malformed")
    assert challenges(response) == ['Basic realm="VillageWorks"', 'Bearer realm="VillageWorks"']


def test_anonymous_401_of_the_api_advertises_basic_and_bearer(private_app):
    client = private_app.test_client()
    for path in ("/ogc/", "/ogc/collections", "/api/capture/returned"):
        response = client.get(path)
        assert response.status_code == 401, path
        assert 'Basic realm="VillageWorks"' in challenges(response), path
        assert 'Bearer realm="VillageWorks"' in challenges(response), path
    login = client.post("/login", data={"name": "x", "password": "y"})
    assert "WWW-Authenticate" not in login.headers  # the login form is no Basic realm


def test_revoked_token_stops_working_over_basic(private_app):
    from layers.users import UserStore

    client = private_app.test_client()
    header = basic("", private_app.tokens["viewer"])
    assert client.get("/ogc/collections", headers=header).status_code == 200
    UserStore(private_app.config["DATA_DIR"]).revoke_tokens("viewer1")
    assert client.get("/ogc/collections", headers=header).status_code == 401


def test_wrong_tokens_are_throttled_as_bearer_ones_are_not_at_all(private_app):
    """Tokens are 256-bit random and no password is checked through Basic, so a wrong
    token is answered 401 every time, over Basic exactly as over Bearer (never 429)."""
    client = private_app.test_client()
    for _ in range(8):
        by_basic = client.get("/ogc/collections", headers=basic("field1", "vw_wrong"))
        by_bearer = client.get("/ogc/collections", headers={"Authorization": "Bearer vw_wrong"})
        assert (by_basic.status_code, by_bearer.status_code) == (401, 401)
    right = client.get("/ogc/collections", headers=basic("field1", private_app.tokens["field"]))
    assert right.status_code == 200


def test_basic_starts_no_session_and_a_cross_site_write_is_refused(private_app):
    client = private_app.test_client()
    assert (
        client.get("/ogc/collections", headers=basic("", private_app.tokens["admin"])).status_code
        == 200
    )
    assert client.get("/ogc/collections").status_code == 401  # no cookie was left behind
    forged = client.post(
        ITEMS,
        json=light(),
        headers={
            **basic("", private_app.tokens["field"]),
            "Origin": "https://evil.example",
        },
    )
    assert forged.status_code == 403


def test_ogrinfo_reads_a_private_instance_with_basic_auth_and_a_wrong_token_is_refused(
    private_app,
):
    need_gdal()
    token = private_app.tokens["viewer"]
    with serving(private_app) as base:
        url = f"OAPIF:{base}/ogc"
        good = run_gdal(
            "ogrinfo",
            "-ro",
            "-q",
            url,
            env={"GDAL_HTTP_AUTH": "BASIC", "GDAL_HTTP_USERPWD": f"viewer1:{token}"},
        )
        assert good.returncode == 0, good.stderr
        assert "streetlights" in good.stdout and "greenhouses" in good.stdout
        bad = run_gdal(
            "ogrinfo",
            "-ro",
            "-q",
            url,
            env={"GDAL_HTTP_AUTH": "BASIC", "GDAL_HTTP_USERPWD": "viewer1:vw_wrong"},
        )
        assert bad.returncode != 0
        assert "401" in bad.stderr
        anonymous = run_gdal("ogrinfo", "-ro", "-q", url)
        assert anonymous.returncode != 0
