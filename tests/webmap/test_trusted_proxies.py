"""VILLAGEWORKS_TRUSTED_PROXIES: with 1 the last proxy's X-Forwarded-For is the client
address the login throttle and the report rate limit count; with 0 (the default) the
header is ignored, so a client cannot pose as many addresses to escape a limit."""

import re

from layers.login_throttle import FREE_PER_ADDRESS
from webmap.app import create_app


def _app(tmp_path, proxies, **extra):
    config = {
        "DATA_DIR": str(tmp_path / "data"),
        "TESTING": True,
        "SEED_DEMO": False,
        "SECRET_KEY": "t",
        "TRUSTED_PROXIES": proxies,
        **extra,
    }
    return create_app(config)


def _fail_logins(client, count, forwarded_for):
    """``count`` wrong logins (each under another name); the last answer's status."""
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    status = 0
    for n in range(count):
        headers = {"X-Forwarded-For": forwarded_for(n)}
        answer = client.post(
            "/login",
            data={"name": f"nobody{n}", "password": "wrong-password", "csrf_token": csrf},
            headers=headers,
        )
        status = answer.status_code
    return status


def test_with_one_trusted_proxy_the_forwarded_address_is_throttled(tmp_path):
    client = _app(tmp_path, 1).test_client()
    # One real client behind nginx, many names: held up once its address used its share.
    assert _fail_logins(client, FREE_PER_ADDRESS, lambda n: "203.0.113.7") == 401
    assert _fail_logins(client, 1, lambda n: "203.0.113.7") == 429
    # Another client behind the same proxy is not.
    assert _fail_logins(client, 1, lambda n: "198.51.100.2") == 401


def test_with_one_trusted_proxy_only_the_last_hop_counts(tmp_path):
    client = _app(tmp_path, 1).test_client()
    # A client prepending forged addresses: nginx appends (or replaces) the real one last.
    status = _fail_logins(client, FREE_PER_ADDRESS + 1, lambda n: f"10.9.{n}.1, 203.0.113.8")
    assert status == 429


def test_without_trusted_proxies_the_header_is_ignored(tmp_path):
    client = _app(tmp_path, 0).test_client()
    # A new forged address each time does not escape the throttle of the real one.
    status = _fail_logins(client, FREE_PER_ADDRESS + 1, lambda n: f"192.0.2.{n}")
    assert status == 429


def _report(client, point, forwarded_for):
    lon, lat = point
    body = {"lon": lon, "lat": lat, "category": "road", "description": "路面塌陷"}
    return client.post("/api/reports", json=body, headers={"X-Forwarded-For": forwarded_for})


def _demo_app(tmp_path, proxies):
    from tests.conftest import copy_demo

    data = copy_demo(tmp_path / "data")
    config = {"DATA_DIR": str(data), "TESTING": True, "SECRET_KEY": "t"}
    return create_app({**config, "TRUSTED_PROXIES": proxies, "REPORTS_PER_HOUR": 1})


def _point(app):
    from webmap.extensions import get_store

    return get_store(app).features("streetlights")[5]["geometry"]["coordinates"][:2]


def test_the_report_rate_limit_counts_the_forwarded_address(tmp_path):
    app = _demo_app(tmp_path, 1)
    client, point = app.test_client(), _point(app)
    assert _report(client, point, "203.0.113.9").status_code == 201
    assert _report(client, point, "203.0.113.9").status_code == 429
    assert _report(client, point, "198.51.100.3").status_code == 201  # another resident


def test_without_trusted_proxies_a_forged_address_does_not_escape_the_report_limit(tmp_path):
    app = _demo_app(tmp_path, 0)
    client, point = app.test_client(), _point(app)
    assert _report(client, point, "203.0.113.9").status_code == 201
    assert _report(client, point, "198.51.100.3").status_code == 429
