"""Hardening of accounts and sessions (issue #15): the login redirect, server-side
sessions, Argon2id, the same work for unknown names, the signing key outside the data
directory, a login throttle shared by every worker, and deployments behind a proxy.

Everything runs against the real app: gunicorn on loopback over a real data directory
(``tests/reliability/conftest.py``), or Flask's test client over one.
"""

from __future__ import annotations

import re
import shutil
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest
from argon2 import PasswordHasher, extract_parameters
from flask import Flask

import layers.users as users_module
from layers.users import UserStore, files_of, hash_password, verify_password
from webmap.app import create_app

pytestmark = pytest.mark.slow

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
NONCE_RE = re.compile(r'nonce="[^"]*"')


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Browser:
    """An HTTP client of one server keeping its cookies (Secure ones too: the tests speak
    plain http to what a proxy would reach over https); redirects are not followed."""

    def __init__(self, base: str, headers: dict[str, str] | None = None):
        self.base = base
        self.cookies: dict[str, str] = {}
        self.headers = headers or {}
        self.opener = urllib.request.build_opener(_NoRedirect)

    def _keep(self, set_cookies: list[str]) -> None:
        for line in set_cookies:
            name, _, rest = line.partition("=")
            value = rest.split(";")[0]
            if value and "Expires=Thu, 01 Jan 1970" not in line:
                self.cookies[name.strip()] = value
            else:
                self.cookies.pop(name.strip(), None)

    def request(
        self, method: str, path: str, form: dict[str, str] | None = None, **headers: str
    ) -> tuple[int, dict[str, str], str]:
        body = urllib.parse.urlencode(form).encode() if form is not None else None
        all_headers = {**self.headers, **headers}
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if form is not None:
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
        req = urllib.request.Request(
            self.base + path, data=body, method=method, headers=all_headers
        )
        try:
            with self.opener.open(req, timeout=60) as response:
                self._keep(response.headers.get_all("Set-Cookie") or [])
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as error:
            with error:
                self._keep(error.headers.get_all("Set-Cookie") or [])
                return error.code, dict(error.headers), error.read().decode(errors="replace")

    def csrf(self) -> str:
        _, _, page = self.request("GET", "/login")
        match = CSRF_RE.search(page)
        assert match, page[:300]
        return match.group(1)

    def login(self, name: str, password: str, next_url: str = "") -> tuple[int, dict, str]:
        form = {"name": name, "password": password, "csrf_token": self.csrf()}
        return self.request("POST", "/login" + next_url, form)

    def session_cookie(self) -> str:
        return self.cookies["session"]


def with_cookie(base: str, cookie: str, path: str = "/admin/users") -> int:
    """The status of ``path`` asked with nothing but a (copied) session cookie."""
    status, _, _ = Browser(base, {"Cookie": f"session={cookie}"}).request("GET", path)
    return status


@pytest.fixture
def site(tmp_path: Path, rel: Any, gunicorn: Any) -> Any:
    """The demo county under gunicorn (2 workers) with one account per role."""
    data = rel.demo_data_dir(tmp_path / "data")
    tokens = rel.make_accounts(data)
    server = gunicorn(data, workers=2)
    server.tokens = tokens
    return server


# --- 3: the redirect after login stays on this site -----------------------------------

HOSTILE_NEXT = [
    "/%09/evil.example",
    "/%0a/evil.example",
    "/%0d/evil.example",
    "/%0d%0aSet-Cookie:%20x=1",
    "//evil.example",
    "%2F%2Fevil.example",
    "/%5Cevil.example",
    "/\\evil.example",
    "https://evil.example/",
    "http:evil.example",
    "javascript:alert(1)",
    "/%00/evil.example",
]


def test_login_redirects_only_to_paths_of_this_site(site: Any, rel: Any) -> None:
    browser = Browser(site.url)
    for hostile in HOSTILE_NEXT:
        query = "?next=" + urllib.parse.quote(hostile, safe="%/:")
        status, headers, body = browser.login("viewer1", rel.PASSWORD, query)
        assert status == 302, (hostile, status, body[:300])
        assert headers["Location"] == "/", (hostile, headers["Location"])
    status, headers, _ = browser.login("viewer1", rel.PASSWORD, "?next=/dashboard%3Flang%3Den")
    assert status == 302 and headers["Location"] == "/dashboard?lang=en"


# --- 5: sessions end on the server -----------------------------------------------------


def test_a_copied_session_cookie_dies_with_logout_password_change_and_disabling(
    site: Any, rel: Any
) -> None:
    users = UserStore(site.data_dir)
    browser = Browser(site.url)
    assert browser.login("admin1", rel.PASSWORD)[0] == 302
    copied = browser.session_cookie()
    assert all(with_cookie(site.url, copied) == 200 for _ in range(4))  # both workers
    status, _, _ = browser.request("POST", "/logout", {"csrf_token": browser.csrf()})
    assert status == 302
    assert [with_cookie(site.url, copied) for _ in range(4)] == [401] * 4, "logout"

    assert browser.login("admin1", rel.PASSWORD)[0] == 302
    copied = browser.session_cookie()
    assert with_cookie(site.url, copied) == 200
    users.set_password("admin1", "another-horse-7")  # villageworks users passwd
    assert [with_cookie(site.url, copied) for _ in range(4)] == [401] * 4, "password"

    assert browser.login("admin1", "another-horse-7")[0] == 302
    copied = browser.session_cookie()
    assert with_cookie(site.url, copied) == 200
    users.add("spare-admin", "admin", rel.PASSWORD)  # the last admin cannot be disabled
    users.set_active("admin1", False)
    users.set_active("admin1", True)
    assert [with_cookie(site.url, copied) for _ in range(4)] == [401] * 4, "disable+enable"

    assert browser.login("admin1", "another-horse-7")[0] == 302
    copied = browser.session_cookie()
    other = Browser(site.url)
    assert other.login("admin1", "another-horse-7")[0] == 302
    status, _, _ = other.request("POST", "/logout", {"csrf_token": other.csrf(), "everywhere": "1"})
    assert status == 302
    assert [with_cookie(site.url, copied) for _ in range(4)] == [401] * 4, "everywhere"


def test_tokens_of_revoked_or_disabled_accounts_stop_in_every_worker(site: Any, rel: Any) -> None:
    users = UserStore(site.data_dir)

    def by_token(token: str) -> list[int]:
        headers = {"Authorization": f"Bearer {token}"}
        return [Browser(site.url, headers).request("GET", "/admin/users")[0] for _ in range(4)]

    token = users.new_token("admin1")
    assert by_token(token) == [200] * 4
    users.revoke_tokens("admin1")
    assert by_token(token) == [401] * 4
    token = users.new_token("admin1")
    assert by_token(token) == [200] * 4
    users.add("spare-admin", "admin", rel.PASSWORD)  # the last admin cannot be disabled
    users.set_active("admin1", False)
    assert by_token(token) == [401] * 4


def test_the_admin_page_ends_every_session_of_an_account(site: Any, rel: Any) -> None:
    victim = Browser(site.url)
    assert victim.login("viewer1", rel.PASSWORD)[0] == 302
    copied = victim.session_cookie()
    assert with_cookie(site.url, copied, "/uploads") == 200
    admin = Browser(site.url)
    assert admin.login("admin1", rel.PASSWORD)[0] == 302
    _, _, page = admin.request("GET", "/admin/users")
    csrf = CSRF_RE.search(page).group(1)  # type: ignore[union-attr]
    status, _, _ = admin.request("POST", "/admin/users/viewer1/sessions", {"csrf_token": csrf})
    assert status == 302
    assert with_cookie(site.url, copied, "/uploads") == 401
    assert with_cookie(site.url, admin.session_cookie()) == 200  # the admin's own goes on


# --- 19: Argon2id, and scrypt hashes upgraded at the next login ------------------------


def _old_scrypt_hash(password: str) -> str:
    """A hash as older installs made them (scrypt N=2^14, r=8, p=1)."""
    import base64
    import hashlib
    import secrets

    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    b64 = base64.b64encode
    return f"scrypt$16384$8$1${b64(salt).decode()}${b64(digest).decode()}"


def test_passwords_are_argon2id_and_scrypt_hashes_are_upgraded_at_login(
    site: Any, rel: Any
) -> None:
    files = files_of(site.data_dir)  # the data directory's file, or the database's
    doc = orjson.loads(files.read("users.json"))
    for name, entry in doc["users"].items():
        params = extract_parameters(entry["password"])
        assert entry["password"].startswith("$argon2id$"), name
        assert params.memory_cost >= 19456 and params.time_cost >= 2, name
        assert params.parallelism >= 1, name
    doc["users"]["field1"]["password"] = _old_scrypt_hash(rel.PASSWORD)
    files.write("users.json", orjson.dumps(doc))
    browser = Browser(site.url)
    assert browser.login("field1", "wrong-password-1")[0] == 401
    stored = orjson.loads(files.read("users.json"))["users"]["field1"]["password"]
    assert stored.startswith("scrypt$"), "a wrong password changes nothing"
    assert browser.login("field1", rel.PASSWORD)[0] == 302
    stored = orjson.loads(files.read("users.json"))["users"]["field1"]["password"]
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert verify_password(rel.PASSWORD, stored)
    assert Browser(site.url).login("field1", rel.PASSWORD)[0] == 302


# --- 8: an unknown name costs the same as a known one ----------------------------------


class CountingHasher(PasswordHasher):
    """argon2-cffi's hasher doing its real work, recording each hash it verifies."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.verified: list[str] = []

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:  # noqa: A002
        self.verified.append(hash if isinstance(hash, str) else hash.decode())
        return super().verify(hash, password)


def test_unknown_and_known_names_do_the_same_verification(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = users_module._HASHER
    counting = CountingHasher(
        time_cost=real.time_cost,
        memory_cost=real.memory_cost,
        parallelism=real.parallelism,
        hash_len=real.hash_len,
        salt_len=real.salt_len,
        type=real.type,
    )
    monkeypatch.setattr(users_module, "_HASHER", counting)
    users = UserStore(tmp_path)
    users.add("known", "viewer", "correct-horse-9")
    users.add("off", "viewer", "correct-horse-9")
    users.set_active("off", False)
    known_params = extract_parameters(hash_password("x" * 8))
    for name, password in (
        ("known", "wrong-password"),
        ("nobody", "wrong-password"),
        ("nobody", "correct-horse-9"),
        ("off", "correct-horse-9"),
        ("known", "correct-horse-9"),
    ):
        counting.verified.clear()
        result = users.authenticate(name, password)
        assert (result is not None) == (name == "known" and password == "correct-horse-9")
        assert len(counting.verified) == 1, (name, counting.verified)
        assert extract_parameters(counting.verified[0]) == known_params, name


def test_login_page_answers_unknown_and_known_names_alike(site: Any, rel: Any) -> None:
    known = Browser(site.url).login("viewer1", "wrong-password-1")
    unknown = Browser(site.url).login("nobody-here", "wrong-password-1")
    assert known[0] == unknown[0] == 401
    # The CSRF token and the script nonce are fresh per response; nothing else may differ.
    same = [NONCE_RE.sub("", CSRF_RE.sub("", page[2])) for page in (known, unknown)]
    assert same[0] == same[1]


# --- 6: a copy of the data directory holds no signing key and no usable token ----------


def _forged_cookie(key: str, payload: dict[str, str]) -> str:
    """A session cookie signed with ``key`` the way Flask signs them."""
    forger = Flask("forger")
    forger.secret_key = key
    serializer = forger.session_interface.get_signing_serializer(forger)  # type: ignore[attr-defined]
    assert serializer is not None
    return str(serializer.dumps(payload))


@pytest.mark.geojson_only  # with a database the key is there (tests/layers/test_users_shared.py)
def test_a_copy_of_the_data_directory_cannot_forge_a_session(
    tmp_path: Path, rel: Any, gunicorn: Any
) -> None:
    data = rel.demo_data_dir(tmp_path / "data")
    tokens = rel.make_accounts(data)
    server = gunicorn(data, workers=2, VILLAGEWORKS_SECRET_KEY="")
    key_file = tmp_path / "data.secrets" / "secret_key"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert oct(key_file.parent.stat().st_mode & 0o777) == "0o700"
    key = key_file.read_text().strip()
    assert len(key) >= 32
    browser = Browser(server.url)
    assert browser.login("admin1", rel.PASSWORD)[0] == 302  # the key signs real sessions
    assert all(with_cookie(server.url, browser.session_cookie()) == 200 for _ in range(4))

    copy = tmp_path / "stolen"
    shutil.copytree(data, copy)
    files = [p for p in copy.rglob("*") if p.is_file()]
    assert not any(key.encode() in p.read_bytes() for p in files), "the key is in the copy"
    small = [p.read_text(errors="replace").strip() for p in files if p.stat().st_size < 200]
    candidates = [text for text in small if text]
    for candidate in candidates:
        for payload in ({"user": "admin1"}, {"user": "admin1", "sid": "x", "csrf": "x"}):
            cookie = _forged_cookie(candidate, payload)
            assert with_cookie(server.url, cookie) == 401, payload
    text = (copy / "users.json").read_text()
    assert not any(token in text for token in tokens.values())
    for entry in orjson.loads(text)["users"].values():
        assert all(re.fullmatch(r"[0-9a-f]{64}", t["hash"]) for t in entry["tokens"])


@pytest.mark.geojson_only  # with a database the key is there (tests/layers/test_users_shared.py)
def test_an_old_key_in_the_data_directory_is_moved_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "secret_key").write_text("k" * 64)
    config = {"DATA_DIR": str(data), "SEED_DEMO": False, "SECRET_KEY": ""}
    with caplog.at_level("WARNING"):
        app = create_app(config)
    assert app.secret_key == "k" * 64, "sessions signed with the old key stay valid"
    assert not (data / "secret_key").exists()
    moved = tmp_path / "data.secrets" / "secret_key"
    assert moved.read_text() == "k" * 64 and oct(moved.stat().st_mode & 0o777) == "0o600"
    assert "moved the signing key out of the data directory" in caplog.text
    assert create_app(config).secret_key == "k" * 64  # and it stays

    elsewhere = tmp_path / "etc" / "vw-key"
    app = create_app(
        {**config, "DATA_DIR": str(tmp_path / "d2"), "SECRET_KEY_FILE": str(elsewhere)}
    )
    assert app.secret_key == elsewhere.read_text() and len(app.secret_key) == 64
    assert oct(elsewhere.stat().st_mode & 0o777) == "0o600"
    assert not (tmp_path / "d2.secrets").exists() and not (tmp_path / "d2" / "secret_key").exists()


# --- 7: one throttle for every worker, per account and per address, backing off ---------


def _burst(base: str, name: str, count: int, headers: dict[str, str] | None = None) -> list:
    """``count`` wrong-password logins at ``name``, four at a time (both workers busy):
    the (status, Retry-After) of each."""
    from concurrent.futures import ThreadPoolExecutor

    def attempt(_: int) -> tuple[int, str]:
        status, answer, _body = Browser(base, headers).login(name, "wrong-password-1")
        return status, answer.get("Retry-After", "")

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(attempt, range(count)))


def test_two_workers_let_five_guesses_through_then_back_off(site: Any, rel: Any) -> None:
    results = _burst(site.url, "admin1", 16)
    assert sorted(status for status, _ in results) == [401] * 5 + [429] * 11, results
    waits = [int(wait) for status, wait in results if status == 429]
    assert all(1 <= wait <= 30 for wait in waits), waits
    status, headers, body = Browser(site.url).login("admin1", rel.PASSWORD)
    assert status == 429, "the right password waits too"
    assert headers["Retry-After"] in body
    assert Browser(site.url).login("planner1", rel.PASSWORD)[0] == 302  # another account
    counts = files_of(site.data_dir).read("throttle/logins.json").decode()
    assert "admin1" not in counts and "127.0.0.1" not in counts  # hashed keys only


def test_the_back_off_grows_and_a_right_password_clears_the_account(tmp_path: Path) -> None:
    from layers.login_throttle import LoginThrottle

    one, other = LoginThrottle(tmp_path), LoginThrottle(tmp_path)  # two workers
    now = 1_000_000.0
    for i in range(5):
        assert (one if i % 2 else other).admit("ann", "10.0.0.1", now) == 0
    assert one.admit("ann", "10.0.0.2", now) == 30, "the account waits, from any address"
    waits = []
    for _ in range(4):
        now += waits[-1] if waits else 30
        assert other.admit("ann", "10.0.0.3", now) == 0  # one more guess, after the wait
        waits.append(one.admit("ann", "10.0.0.3", now))
    assert waits == [60, 120, 240, 480]
    assert other.admit("bob", "10.0.0.3", now) == 0, "another account is not held up"
    one.succeeded("bob", "10.0.0.3", now)
    now += 480
    assert one.admit("ann", "10.0.0.4", now) == 0
    one.succeeded("ann", "10.0.0.4", now)
    assert other.admit("ann", "10.0.0.4", now) == 0, "a right password starts it afresh"


def test_one_address_guessing_many_names_backs_off(tmp_path: Path) -> None:
    from layers.login_throttle import FREE_PER_ADDRESS, LoginThrottle

    throttle = LoginThrottle(tmp_path)
    now = 2_000_000.0
    for i in range(FREE_PER_ADDRESS):
        assert throttle.admit(f"name{i}", "10.0.0.9", now) == 0
    assert throttle.admit("someone-else", "10.0.0.9", now) == 30
    assert throttle.admit("someone-else", "10.0.0.8", now) == 0, "other addresses go on"


# --- 13: behind a proxy: trusted proxies, server names, HTTPS --------------------------


def test_behind_a_proxy_hosts_are_checked_links_are_https_and_clients_told_apart(
    tmp_path: Path, rel: Any, gunicorn: Any
) -> None:
    from layers.login_throttle import FREE_PER_ADDRESS

    data = rel.demo_data_dir(tmp_path / "data")
    rel.make_accounts(data)
    server = gunicorn(
        data,
        workers=2,
        VILLAGEWORKS_TRUSTED_PROXIES="1",
        VILLAGEWORKS_SERVER_NAMES="works.example,127.0.0.1",
        VILLAGEWORKS_HTTPS="true",
    )
    for headers in (
        {"Host": "evil.example"},
        {"Host": "works.example", "X-Forwarded-Host": "evil.example"},
        {"Host": "works.example.evil.example"},
    ):
        status, _, body = Browser(server.url, headers).request("GET", "/ogc/")
        assert status == 400, headers
        assert "host" in body and "主机名" in body
    site = Browser(server.url, {"Host": "works.example"})
    status, _, body = site.request("GET", "/ogc/", Accept="application/json")
    assert status == 200
    hrefs = [link["href"] for link in orjson.loads(body)["links"]]
    assert hrefs and all(h.startswith("https://works.example/") for h in hrefs), hrefs
    status, headers, _ = site.request("GET", "/ogc")  # a redirect Flask makes itself
    assert status == 308 and headers["Location"].startswith("https://works.example/")
    status, headers, _ = site.login("viewer1", rel.PASSWORD, "?next=/dashboard")
    assert status == 302 and headers["Location"] == "/dashboard"
    cookie = headers["Set-Cookie"]
    assert all(flag in cookie for flag in ("Secure", "HttpOnly", "SameSite=Lax")), cookie
    assert headers["Strict-Transport-Security"].startswith("max-age=")

    # Every client has its own address again: one guessing many names is held up alone.
    guesser = Browser(server.url, {"Host": "works.example", "X-Forwarded-For": "10.1.1.1"})
    for i in range(FREE_PER_ADDRESS):
        assert guesser.login(f"guess{i}", "wrong-password-1")[0] == 401
    assert guesser.login("viewer1", rel.PASSWORD)[0] == 429
    other = Browser(server.url, {"Host": "works.example", "X-Forwarded-For": "10.2.2.2"})
    assert other.login("viewer1", rel.PASSWORD)[0] == 302


def test_without_trusted_proxies_forwarded_headers_are_ignored(site: Any, rel: Any) -> None:
    from layers.login_throttle import FREE_PER_ADDRESS

    for i in range(FREE_PER_ADDRESS):
        forged = Browser(site.url, {"X-Forwarded-For": f"10.9.9.{i}"})
        assert forged.login(f"guess{i}", "wrong-password-1")[0] == 401
    forged = Browser(site.url, {"X-Forwarded-For": "10.8.8.8"})
    assert forged.login("viewer1", rel.PASSWORD)[0] == 429, "a forged address is no escape"
    status, _, body = Browser(site.url, {"Host": "evil.example"}).request(
        "GET", "/ogc/", Accept="application/json"
    )
    assert status == 200, "no server names set: any host"
    assert "evil.example" in body


def test_a_login_form_opened_before_the_session_ended_still_logs_in(site: Any, rel: Any) -> None:
    browser = Browser(site.url)
    assert browser.login("viewer1", rel.PASSWORD)[0] == 302
    csrf = browser.csrf()  # the login page, open while the session is live
    UserStore(site.data_dir).end_sessions("viewer1")
    form = {"name": "viewer1", "password": rel.PASSWORD, "csrf_token": csrf}
    assert browser.request("POST", "/login", form)[0] == 302
    assert with_cookie(site.url, browser.session_cookie(), "/uploads") == 200
