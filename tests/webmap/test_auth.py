"""Logins, roles, tokens, CSRF and throttling."""

import re

import pytest
from flask import Blueprint

from layers.users import UserStore, hash_password, verify_password
from webmap.auth import require_role, user_name

PASSWORD = "correct-horse-9"


@pytest.fixture
def app(empty_app, accounts):
    bp = Blueprint("probe", __name__)

    @bp.post("/probe/field")
    @require_role("field")
    def field_only():
        return {"user": user_name()}

    empty_app.register_blueprint(bp)
    empty_app.tokens = accounts(empty_app)
    return empty_app


def login(client, name, password=PASSWORD):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post("/login", data={"name": name, "password": password, "csrf_token": token})


def csrf_of(client):
    page = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_passwords_are_hashed_with_argon2id_and_verify():
    stored = hash_password("secret-123")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert "secret-123" not in stored
    assert verify_password("secret-123", stored)
    assert not verify_password("secret-124", stored)


def test_users_file_holds_no_password_or_token_in_clear(app):
    content = app.extensions["villageworks.users"].files.read("users.json").decode()
    assert PASSWORD not in content
    assert app.tokens["field"] not in content


def test_anonymous_gets_401_and_viewer_403(app):
    client = app.test_client()
    assert client.post("/probe/field").status_code in (400, 401)
    assert client.post("/probe/field", headers={"X-CSRF-Token": "x"}).status_code in (400, 401)
    viewer = {"Authorization": f"Bearer {app.tokens['viewer']}"}
    response = client.post("/probe/field", headers={**viewer, "Accept": "application/json"})
    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"


def test_bearer_token_of_field_user_works_without_csrf(app):
    client = app.test_client()
    response = client.post(
        "/probe/field", headers={"Authorization": f"Bearer {app.tokens['field']}"}
    )
    assert response.status_code == 200
    assert response.json == {"user": "field1"}


def test_session_login_needs_csrf_on_posts(app):
    client = app.test_client()
    assert login(client, "field1").status_code == 302
    assert client.post("/probe/field").status_code == 400
    token = csrf_of(client)
    assert client.post("/probe/field", headers={"X-CSRF-Token": token}).status_code == 200


def test_login_without_csrf_token_is_refused(app):
    client = app.test_client()
    response = client.post("/login", data={"name": "field1", "password": PASSWORD})
    assert response.status_code == 400


def test_session_cookie_is_httponly_and_samesite(app):
    client = app.test_client()
    response = login(client, "field1")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_wrong_password_then_throttled(app):
    client = app.test_client()
    for _ in range(5):
        assert login(client, "field1", "wrong-password").status_code == 401
    response = login(client, "field1")
    assert response.status_code == 429
    wait = response.headers["Retry-After"]
    assert 1 <= int(wait) <= 30 and wait in response.get_data(as_text=True)


def test_revoked_and_disabled_tokens_stop_working(app):
    users = UserStore(app.config["DATA_DIR"])
    client = app.test_client()
    headers = {"Authorization": f"Bearer {app.tokens['field']}"}
    assert client.post("/probe/field", headers=headers).status_code == 200
    users.revoke_tokens("field1")
    assert client.post("/probe/field", headers=headers).status_code == 401
    token = users.new_token("planner1")
    users.set_active("planner1", False)
    response = client.post("/probe/field", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_login_redirect_stays_on_site(app):
    client = app.test_client()
    token = csrf_of(client)
    response = client.post(
        "/login?next=//evil.example/x",
        data={"name": "field1", "password": PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_anonymous_read_can_be_turned_off(tmp_path):
    from webmap.app import create_app

    app = create_app(
        {
            "DATA_DIR": str(tmp_path / "d"),
            "SEED_DEMO": False,
            "ANONYMOUS_READ": False,
            "SECRET_KEY": "t",
        }
    )
    client = app.test_client()
    assert client.get("/layers").status_code == 401
    assert client.get("/login").status_code == 200
