"""The accounts page: admins only, CSRF on every form, tokens shown once."""

import re

import pytest

from layers.users import UserStore

PASSWORD = "correct-horse-9"


@pytest.fixture
def app(empty_app, accounts):
    empty_app.tokens = accounts(empty_app)
    return empty_app


def login(client, name):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": token})


def admin_client(app):
    client = app.test_client()
    login(client, "admin1")
    page = client.get("/admin/users").get_data(as_text=True)
    return client, re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_only_admins_see_the_page(app):
    planner = app.test_client()
    login(planner, "planner1")
    assert planner.get("/admin/users").status_code == 403
    client, _ = admin_client(app)
    page = client.get("/admin/users").get_data(as_text=True)
    assert all(f'data-user="{role}1"' in page for role in ("viewer", "field", "planner"))


def test_add_account_and_refuse_bad_ones(app):
    client, csrf = admin_client(app)
    assert (
        client.post(
            "/admin/users", data={"name": "王五", "role": "field", "password": PASSWORD}
        ).status_code
        == 400
    )
    ok = client.post(
        "/admin/users",
        data={"csrf_token": csrf, "name": "王五", "role": "field", "password": PASSWORD},
    )
    assert ok.status_code == 302
    assert UserStore(app.config["DATA_DIR"]).get("王五").role == "field"
    weak = client.post(
        "/admin/users",
        data={"csrf_token": csrf, "name": "赵六", "role": "field", "password": "short"},
    )
    assert weak.status_code == 400 and "8" in weak.get_data(as_text=True)
    hostile = client.post(
        "/admin/users",
        data={
            "csrf_token": csrf,
            "role": "field",
            "name": "<script>x</script>",
            "password": PASSWORD,
        },
    )
    assert hostile.status_code == 400 and "<script>x" not in hostile.get_data(as_text=True)


def test_new_token_is_shown_once_and_works(app):
    client, csrf = admin_client(app)
    page = client.post(
        "/admin/users/field1/token", data={"csrf_token": csrf, "label": "张三的手机"}
    )
    text = page.get_data(as_text=True)
    token = re.search(r"(vw_[A-Za-z0-9_-]{20,})", text).group(1)
    assert token not in client.get("/admin/users").get_data(as_text=True)
    assert UserStore(app.config["DATA_DIR"]).user_for_token(token).name == "field1"


def test_disable_revokes_and_self_lockout_is_refused(app):
    client, csrf = admin_client(app)
    token = app.tokens["field"]
    assert client.post("/admin/users/field1/disable", data={"csrf_token": csrf}).status_code == 302
    users = UserStore(app.config["DATA_DIR"])
    assert not users.get("field1").active and users.user_for_token(token) is None
    assert client.post("/admin/users/field1/enable", data={"csrf_token": csrf}).status_code == 302
    assert users.get("field1").active
    own = client.post("/admin/users/admin1/disable", data={"csrf_token": csrf})
    assert own.status_code == 400 and users.get("admin1").active
