"""Two servers over one site share accounts, sessions, tokens, the login throttle, the
rate limits and the signing key: on PostGIS through the database (two stores, each with
its own, empty data directory), on GeoJSON through the one data directory, where the
files are where they always were."""

import pytest

from layers.login_throttle import FREE_PER_ACCOUNT, LoginThrottle
from layers.rate_limit import RateLimit
from layers.users import UserStore
from webmap.deploy import DB_KEY, shared_signing_key

PASSWORD = "correct-horse-9"


@pytest.fixture
def two(store, store_at, tmp_path):
    """Two stores of one site: another data directory over the same database on PostGIS,
    the same data directory on GeoJSON."""
    other = store_at(tmp_path / "other") if store.backend == "postgis" else store_at(store.data_dir)
    return store, other


def test_accounts_sessions_and_tokens_are_shared(two):
    a, b = two
    users_a, users_b = UserStore(a.files), UserStore(b.files)
    users_a.add("field1", "field", PASSWORD)
    assert users_b.get("field1").role == "field"
    assert users_b.authenticate("field1", PASSWORD).name == "field1"
    sid = users_a.start_session("field1")
    assert users_b.session_user("field1", sid).name == "field1"
    users_b.end_session("field1", sid)
    assert users_a.session_user("field1", sid) is None
    token = users_b.new_token("field1", "phone")
    assert users_a.user_for_token(token).name == "field1"
    users_a.revoke_tokens("field1")
    assert users_b.user_for_token(token) is None  # refused at once on the other
    users_b.set_role("field1", "planner")
    assert users_a.get("field1").role == "planner"
    if a.backend == "postgis":
        assert not (a.data_dir / "users.json").exists()
        assert not (b.data_dir / "users.json").exists()
    else:
        assert (a.data_dir / "users.json").is_file()  # where it always was
        assert (a.data_dir / "users.json").stat().st_mode & 0o077 == 0


def test_the_login_throttle_and_rate_limits_count_across_servers(two):
    a, b = two
    throttles = [LoginThrottle(a.files), LoginThrottle(b.files)]
    now = 1_000_000.0
    for attempt in range(FREE_PER_ACCOUNT):
        assert throttles[attempt % 2].admit("admin", f"10.0.0.{attempt}", now=now) == 0
    assert throttles[0].admit("admin", "10.0.0.99", now=now) > 0
    assert throttles[1].admit("admin", "10.0.0.98", now=now) > 0
    limits = [RateLimit(s.files, "reports", 3, window_s=3600) for s in (a, b)]
    assert [limits[i % 2].admit("1.2.3.4", now=now) for i in range(3)] == [0, 0, 0]
    assert limits[0].admit("1.2.3.4", now=now) > 0 and limits[1].admit("1.2.3.4", now=now) > 0
    assert limits[1].admit("5.6.7.8", now=now) == 0
    if a.backend == "postgis":
        assert a.files.exists("throttle/logins.json") and a.files.exists("throttle/reports.json")
    else:
        assert (a.data_dir / "throttle" / "logins.json").is_file()
        assert (a.data_dir / "locks" / "login_throttle.lock").is_file()


def test_the_signing_key_is_made_once_for_every_server(two):
    a, b = two
    first = shared_signing_key(a.files)
    assert len(first) == 64
    assert shared_signing_key(b.files, seed="x" * 64) == first
    assert a.files.read(DB_KEY).decode() == first


def test_apps_over_one_database_sign_alike(store, tmp_path, monkeypatch):
    if store.backend != "postgis":
        pytest.skip("without a database each data directory keeps its own key file")
    from webmap.app import create_app

    apps = [
        create_app({"DATA_DIR": str(tmp_path / name), "SEED_DEMO": False, "SECRET_KEY": ""})
        for name in ("a", "b")
    ]
    assert apps[0].secret_key == apps[1].secret_key and len(apps[0].secret_key) == 64
    assert not (tmp_path / "a.secrets").exists() and not (tmp_path / "b.secrets").exists()
    explicit = create_app(
        {"DATA_DIR": str(tmp_path / "c"), "SEED_DEMO": False, "SECRET_KEY": "mine"}
    )
    assert explicit.secret_key == "mine"  # VILLAGEWORKS_SECRET_KEY still wins
