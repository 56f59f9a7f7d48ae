"""Wrong API tokens are throttled per client address, as failed logins are.

``Authorization: Bearer <token>`` and Basic with the token as the password
(``webmap/basic_auth.py``) count a wrong token under the address's own key of
``layers.login_throttle`` (``token:<address>``; one stale token sent again counts once):
past ``FREE_TOKENS_PER_ADDRESS`` failures
the address gets 429 with ``Retry-After`` and a zh/en message before any token is
checked (the right one too: no oracle), backing off and forgetting as logins do. Another
address (``VILLAGEWORKS_TRUSTED_PROXIES`` + ``X-Forwarded-For``) is not held up, nor is
anyone's password login. Time is moved with the throttle's ``now`` hooks, never slept."""

from __future__ import annotations

import base64
import re
import time

import pytest

from layers.login_throttle import (
    BASE_DELAY_S,
    FORGET_S,
    FREE_PER_ADDRESS,
    FREE_TOKENS_PER_ADDRESS,
    LoginThrottle,
)
from layers.users import UserStore
from webmap.app import create_app

PASSWORD = "correct-horse-9"
RETURNED = "/api/capture/returned"  # any route that needs an account
ITEMS = "/ogc/collections/streetlights/items?limit=1"
ME, OTHER = "203.0.113.7", "198.51.100.2"


@pytest.fixture
def app(tmp_path, accounts):
    made = create_app(
        {
            "DATA_DIR": str(tmp_path / "data"),
            "TESTING": True,
            "SEED_DEMO": False,
            "SECRET_KEY": "test",
            "TRUSTED_PROXIES": 1,
        }
    )
    made.tokens = accounts(made)
    return made


def throttle_of(app) -> LoginThrottle:
    return app.extensions["villageworks.throttle"]


def bearer(token, address=ME):
    return {"Authorization": f"Bearer {token}", "X-Forwarded-For": address}


def basic(name, password, address=ME):
    pair = base64.b64encode(f"{name}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}", "X-Forwarded-For": address}


def wrong_tokens(client, count, address=ME, path=RETURNED):
    """``count`` wrong tokens, Bearer and Basic in turn; their statuses."""
    statuses = []
    for n in range(count):
        token = f"vw_wrong-{n:04d}"
        headers = bearer(token, address) if n % 2 else basic("qgis", token, address)
        statuses.append(client.get(path, headers=headers).status_code)
    return statuses


def test_wrong_tokens_get_429_with_retry_after_once_over_the_limit(app):
    client = app.test_client()
    assert wrong_tokens(client, FREE_TOKENS_PER_ADDRESS) == [401] * FREE_TOKENS_PER_ADDRESS
    held = client.get(RETURNED, headers=bearer("vw_wrong-again"))
    assert held.status_code == 429
    assert 1 <= int(held.headers["Retry-After"]) <= BASE_DELAY_S
    assert held.json["error"]["status"] == 429
    assert "令牌错误次数过多" in held.json["error"]["message"]
    assert held.headers["Retry-After"] in held.json["error"]["message"]
    en = client.get(f"{RETURNED}?lang=en", headers=basic("", "vw_wrong-again"))
    assert en.status_code == 429 and "Too many wrong API tokens" in en.json["error"]["message"]
    # The right token waits too: an address that must wait learns nothing of its guesses.
    right = client.get(RETURNED, headers=bearer(app.tokens["field"]))
    assert right.status_code == 429
    # So does a public read sent with a token; without one it is a visitor's read.
    assert client.get(ITEMS, headers=bearer(app.tokens["viewer"])).status_code == 429
    assert client.get(ITEMS, headers={"X-Forwarded-For": ME}).status_code == 200


def test_another_address_is_not_held_up(app):
    client = app.test_client()
    wrong_tokens(client, FREE_TOKENS_PER_ADDRESS + 1)
    assert client.get(RETURNED, headers=bearer("vw_x", ME)).status_code == 429
    right = client.get(RETURNED, headers=bearer(app.tokens["field"], OTHER))
    assert right.status_code == 200 and right.json["user"] == "field1"
    as_basic = client.get(RETURNED, headers=basic("field1", app.tokens["field"], OTHER))
    assert as_basic.status_code == 200
    assert client.get(RETURNED, headers=bearer("vw_x", OTHER)).status_code == 401


def test_a_right_token_keeps_working_and_counts_nothing(app):
    client = app.test_client()
    for _ in range(FREE_TOKENS_PER_ADDRESS + 5):
        answer = client.get(RETURNED, headers=bearer(app.tokens["field"]))
        assert answer.status_code == 200
    assert throttle_of(app).counts.load() == {}, "nothing written for a right token"
    assert wrong_tokens(client, 1) == [401], "the address has its whole share"


def test_token_failures_do_not_lock_a_password_login_nor_the_reverse(app):
    client = app.test_client()
    wrong_tokens(client, FREE_TOKENS_PER_ADDRESS + 1)
    assert client.get(RETURNED, headers=bearer("vw_x")).status_code == 429
    assert login(client, "field1", PASSWORD, ME) == 302, "a separate count"
    # And an address that failed many logins still uses its right token.
    for n in range(FREE_PER_ADDRESS):
        assert login(app.test_client(), f"nobody{n}", "wrong-password", OTHER) == 401
    assert login(app.test_client(), "field1", PASSWORD, OTHER) == 429
    assert client.get(RETURNED, headers=bearer(app.tokens["field"], OTHER)).status_code == 200


def login(client, name, password, address):
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = {"name": name, "password": password, "csrf_token": csrf}
    return client.post("/login", data=form, headers={"X-Forwarded-For": address}).status_code


def test_the_count_backs_off_and_is_forgotten_as_logins_are(app):
    """The app's own throttle, moved in time through its ``now`` hooks."""
    client, throttle = app.test_client(), throttle_of(app)
    long_ago = time.time() - FORGET_S - 60
    for n in range(FREE_TOKENS_PER_ADDRESS + 3):
        throttle.token_failed(ME, f"Bearer vw_old-{n}", now=long_ago)
    assert wrong_tokens(client, 1) == [401], "failures an hour old are forgotten"
    # Failures that used up the share a wait ago: one more guess goes ahead, then the
    # wait doubles, as for logins.
    address = "192.0.2.44"
    earlier = time.time() - BASE_DELAY_S - 5
    for n in range(FREE_TOKENS_PER_ADDRESS):
        throttle.token_failed(address, f"Bearer vw_old-{n}", now=earlier)
    assert wrong_tokens(client, 1, address) == [401]
    held = client.get(RETURNED, headers=bearer("vw_x", address))
    assert held.status_code == 429
    assert BASE_DELAY_S < int(held.headers["Retry-After"]) <= 2 * BASE_DELAY_S


def test_a_revoked_or_disabled_token_is_refused_but_no_guess(app):
    """A client left with a revoked token (QGIS fetching tiles) does not hold up its
    address: the site issued that token, so nobody guessed it. Nothing is written."""
    client, users = app.test_client(), UserStore(app.extensions["villageworks.store"].files)
    users.revoke_tokens("planner1")
    users.set_active("viewer1", False)
    for _ in range(2 * FREE_TOKENS_PER_ADDRESS):
        for headers in (
            bearer(app.tokens["planner"]),
            basic("", app.tokens["planner"]),
            bearer(app.tokens["viewer"]),
            basic("field1", app.tokens["admin"]),  # another account's name
        ):
            assert client.get(RETURNED, headers=headers).status_code == 401
    assert throttle_of(app).counts.load() == {}
    assert wrong_tokens(client, FREE_TOKENS_PER_ADDRESS)[-1] == 401, "the whole share left"


def test_one_mistyped_token_sent_again_is_counted_once(app):
    client = app.test_client()
    for _ in range(2 * FREE_TOKENS_PER_ADDRESS):
        assert client.get(RETURNED, headers=bearer("vw_mistyped")).status_code == 401
        assert client.get(RETURNED, headers=basic("", "vw_mistyped")).status_code == 401
    statuses = wrong_tokens(client, FREE_TOKENS_PER_ADDRESS)
    assert statuses[-1] == 429 and statuses.count(401) == FREE_TOKENS_PER_ADDRESS - 2, (
        "the mistyped token counted once under each scheme"
    )


def test_two_workers_share_the_token_count(app):
    """Two throttles over the site's files (two workers; on PostGIS, two servers)."""
    files = app.extensions["villageworks.store"].files
    one, other = LoginThrottle(files), LoginThrottle(files)
    now = 3_000_000.0
    for n in range(FREE_TOKENS_PER_ADDRESS):
        assert (one if n % 2 else other).token_wait("10.0.0.1", now) == 0
        (one if n % 2 else other).token_failed("10.0.0.1", f"t{n}", now)
    assert one.token_wait("10.0.0.1", now) == other.token_wait("10.0.0.1", now) == BASE_DELAY_S
    assert one.token_failed("10.0.0.1", "t-late", now) == BASE_DELAY_S, "not counted now"
    assert other.token_wait("10.0.0.1", now + BASE_DELAY_S) == 0
    later = now + BASE_DELAY_S
    assert other.token_failed("10.0.0.1", "t19", later) == 0, "a token that failed lately"
    assert other.token_failed("10.0.0.1", "t-new", later) == 2 * BASE_DELAY_S
    assert one.token_wait("10.0.0.2", now) == 0, "another address"
    assert one.admit("anyone", "10.0.0.1", now) == 0, "logins from it are not held up"
    raw = files.read("throttle/logins.json").decode()
    assert "10.0.0.1" not in raw and "token:" in raw and "t-new" not in raw  # hashes only
