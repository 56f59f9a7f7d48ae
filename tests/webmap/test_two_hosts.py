"""Two hosts, one database (issue #19 §2): two gunicorn servers, each with its own new and
EMPTY data directory, over one PostgreSQL database, behave as one site.

Seeded once (the demo county and four accounts, written to the database); then, through
real HTTP only: a session made on A opens B (the signing key and the sessions are in the
database, not in either directory), an upload made on A is undone on B, a photo captured
on A is served by B byte for byte, a layer a county declares through A's admin page is
served by B, a token revoked on A is refused by B at once, and login failures on A
throttle the account on B. Neither data directory gains accounts, uploads, photos or
specs: it is only a cache.
"""

import io
import json
import re
import sys
from pathlib import Path

import pytest
import requests
from county_specs import BENCHES_TOML
from live_servers import gunicorn_server

from layers.backends import seed_if_empty
from webmap.cli import main as cli

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "data" / "demo"
PHOTO = ROOT / "tests" / "data" / "photos" / "Canon_40D.jpg"
WELLS = ROOT / "tests" / "data" / "import" / "shanyin" / "wells.geojson"
PASSWORD = "correct-horse-9"
BENCHES = BENCHES_TOML.encode()


@pytest.fixture
def database(request):
    """A fresh PostGIS schema: this test exists only where there is a database."""
    if request.config.getoption("backend") == "geojson":
        pytest.skip("two hosts share a PostgreSQL database: PostGIS only")
    return request.getfixturevalue("pg_url")


def seed(tmp_path: Path, url: str, monkeypatch, capsys) -> dict[str, str]:
    """The demo county and one account per role, into the database; role -> token."""
    monkeypatch.setenv("VILLAGEWORKS_DATABASE_URL", url)
    seeder = tmp_path / "seeder"
    assert seed_if_empty(seeder, DEMO, url)
    tokens = {}
    for role in ("viewer", "field", "planner", "admin"):
        monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
        assert cli(["users", "add", f"{role}1", "--role", role, "--data", str(seeder)]) == 0
        capsys.readouterr()
        assert cli(["users", "token", f"{role}1", "--data", str(seeder)]) == 0
        tokens[role] = capsys.readouterr().out.strip().splitlines()[-1]
    return tokens


@pytest.fixture
def hosts(tmp_path, database, monkeypatch, capsys):
    """Servers A and B (two workers each) over empty directories and one database."""
    tokens = seed(tmp_path, database, monkeypatch, capsys)
    settings = {"VILLAGEWORKS_DATABASE_URL": database, "VILLAGEWORKS_SECRET_KEY": ""}
    dirs = [tmp_path / "host-a" / "data", tmp_path / "host-b" / "data"]
    for folder in dirs:
        folder.mkdir(parents=True)
    with (
        gunicorn_server(dirs[0], tmp_path, **settings) as a,
        gunicorn_server(dirs[1], tmp_path, **settings) as b,
    ):
        yield {"a": a, "b": b, "tokens": tokens, "dirs": dirs}


def bearer(hosts, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {hosts['tokens'][role]}", "Accept": "application/json"}


def csrf(client: requests.Session, url: str) -> str:
    page = client.get(url, timeout=30).text
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def log_in(base: str, name: str, password: str = PASSWORD) -> tuple[requests.Session, int]:
    client = requests.Session()
    token = csrf(client, f"{base}/login")
    answer = client.post(
        f"{base}/login",
        data={"name": name, "password": password, "csrf_token": token},
        allow_redirects=False,
        timeout=30,
    )
    return client, answer.status_code


def on_other_host(client: requests.Session) -> requests.Session:
    """A new client holding only the session cookie ``client`` was given."""
    other = requests.Session()
    other.cookies.set("session", client.cookies["session"])
    return other


def session_made_on_a_opens_b(hosts):
    a_client, status = log_in(hosts["a"], "admin1")
    assert status == 302
    b_client = on_other_host(a_client)
    assert requests.get(f"{hosts['b']}/admin/users", timeout=30).status_code != 200
    page = b_client.get(f"{hosts['b']}/admin/users", timeout=30)
    assert page.status_code == 200 and "planner1" in page.text
    # A form of B's page posts on A: one session, one CSRF token.
    token = csrf(b_client, f"{hosts['b']}/admin/users")
    done = b_client.post(
        f"{hosts['a']}/admin/users/viewer1/disable",
        data={"csrf_token": token},
        allow_redirects=False,
        timeout=30,
    )
    assert done.status_code == 302
    refused = requests.get(f"{hosts['b']}/api/uploads", headers=bearer(hosts, "viewer"), timeout=30)
    assert refused.status_code == 401


def upload_on_a_is_undone_on_b(hosts):
    made = requests.post(
        f"{hosts['a']}/api/uploads",
        files={"file": ("水井.geojson", WELLS.read_bytes())},
        data={"layer": "wells"},
        headers=bearer(hosts, "field"),
        timeout=60,
    )
    assert made.status_code == 201, made.text
    upload_id, ids = made.json()["upload_id"], made.json()["ids"]
    listed = requests.get(f"{hosts['b']}/api/uploads", headers=bearer(hosts, "viewer"), timeout=30)
    assert upload_id in [u["upload_id"] for u in listed.json()["uploads"]]
    undone = requests.post(
        f"{hosts['b']}/api/uploads/{upload_id}/undo", headers=bearer(hosts, "planner"), timeout=60
    )
    assert undone.status_code == 200 and undone.json()["status"] == "undone", undone.text
    gone = requests.get(f"{hosts['a']}/ogc/collections/wells/items/{ids[0]}", timeout=30)
    assert gone.status_code == 404
    record = requests.get(
        f"{hosts['a']}/api/uploads/{upload_id}", headers=bearer(hosts, "viewer"), timeout=30
    )
    assert record.json()["status"] == "undone"


def photo_captured_on_a_is_served_by_b(hosts):
    capture = {
        "layer": "streetlights",
        "geometry": {"type": "Point", "coordinates": [112.8201, 39.5121]},
        "accuracy_m": 6.0,
        "location_source": "gps",
        "properties": {"power_source": "solar", "pole_height_m": "8"},
    }
    made = requests.post(
        f"{hosts['a']}/api/capture",
        data={"capture": json.dumps(capture)},
        files={"photos": ("照片.jpg", PHOTO.read_bytes(), "image/jpeg")},
        headers={**bearer(hosts, "field"), "Idempotency-Key": "two-hosts-photo-1"},
        timeout=60,
    )
    assert made.status_code == 201, made.text
    photo_id = made.json()["photos"][0]
    for path in (f"/photos/{photo_id}", f"/photos/{photo_id}/thumb"):
        on_a = requests.get(hosts["a"] + path, timeout=30)
        on_b = requests.get(hosts["b"] + path, timeout=30)
        assert on_a.status_code == on_b.status_code == 200
        assert on_b.headers["Content-Type"].startswith("image/")
        assert on_b.content == on_a.content and len(on_b.content) > 1000
    feature = made.json()["id"]
    linked = requests.get(f"{hosts['b']}/features/streetlights/{feature}/photos.json", timeout=30)
    assert [p["url"] for p in linked.json()["photos"]] == [f"/photos/{photo_id}"]


def layer_declared_through_a_is_served_by_b(hosts):
    admin, status = log_in(hosts["a"], "admin1")
    assert status == 302
    assert requests.get(f"{hosts['b']}/ogc/collections/benches", timeout=30).status_code == 404
    added = admin.post(
        f"{hosts['a']}/admin/layers",
        data={"csrf_token": csrf(admin, f"{hosts['a']}/admin/layers")},
        files={"file": ("benches.toml", BENCHES)},
        allow_redirects=False,
        timeout=60,
    )
    assert added.status_code in (200, 302, 303), added.text[:500]
    assert requests.get(f"{hosts['b']}/ogc/collections/benches", timeout=30).status_code == 200
    body = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [112.81, 39.51]},
        "properties": {"seats": 4},
    }
    created = requests.post(
        f"{hosts['b']}/ogc/collections/benches/items",
        data=json.dumps(body),
        headers={**bearer(hosts, "field"), "Content-Type": "application/geo+json"},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    items = requests.get(f"{hosts['a']}/ogc/collections/benches/items", timeout=30).json()
    assert items["numberMatched"] == 1 and items["features"][0]["properties"]["seats"] == 4


def token_revoked_on_a_is_refused_by_b_at_once(hosts):
    field = bearer(hosts, "field")
    assert requests.get(f"{hosts['b']}/api/uploads", headers=field, timeout=30).status_code == 200
    revoked = requests.post(
        f"{hosts['a']}/admin/users/field1/revoke",
        headers=bearer(hosts, "admin"),
        allow_redirects=False,
        timeout=30,
    )
    assert revoked.status_code == 302, revoked.text[:500]
    for host in ("b", "a", "b"):
        answer = requests.get(f"{hosts[host]}/api/uploads", headers=field, timeout=30)
        assert answer.status_code == 401


def login_throttle_counts_across_both(hosts):
    for _ in range(5):  # layers.login_throttle.FREE_PER_ACCOUNT failures go unpunished
        assert log_in(hosts["a"], "planner1", "not-the-password")[1] == 401
    client, status = log_in(hosts["b"], "planner1")  # the right password, throttled
    assert status == 429
    assert (
        "session" not in client.cookies
        or client.get(f"{hosts['b']}/admin/users", timeout=30).status_code != 200
    )


def cached_only(folder: Path) -> list[str]:
    """Files of ``folder`` that only the site's files (the database) should hold."""
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file()
        and p.relative_to(folder).parts[0]
        in ("users.json", "uploads", "photos", "specs", "throttle", "ledger_imports", "secret_key")
    )


# Two servers start per test (about ten seconds each on a busy machine): three tests.
def test_sessions_accounts_and_declared_layers_are_shared(hosts):
    session_made_on_a_opens_b(hosts)
    layer_declared_through_a_is_served_by_b(hosts)


def test_uploads_and_photos_are_shared_and_not_in_the_directories(hosts):
    upload_on_a_is_undone_on_b(hosts)
    photo_captured_on_a_is_served_by_b(hosts)
    for folder in hosts["dirs"]:
        assert cached_only(folder) == [], folder
        assert not Path(f"{folder}.secrets").exists()  # the signing key is in the database


def test_revoked_tokens_and_login_failures_count_on_both(hosts):
    token_revoked_on_a_is_refused_by_b_at_once(hosts)
    login_throttle_counts_across_both(hosts)
