"""Shared fixtures: a fresh app per test over a data directory in tmp_path.

Backends: ``--backend all`` (default, or ``$VILLAGEWORKS_TEST_BACKEND``) runs each test
that takes ``store`` on the GeoJSON store and, when ``$VILLAGEWORKS_TEST_DATABASE_URL``
names a PostGIS database, on PostGIS too; apps use GeoJSON files. ``--backend postgis``
runs everything on PostGIS: ``store`` and every app built by ``create_app`` (the fixtures'
and the tests' own, and CLI subprocesses) get a fresh schema of that database through
``VILLAGEWORKS_DATABASE_URL``. ``--backend geojson`` never touches a database. With
``CI`` set, an unreachable database fails the PostGIS tests instead of skipping them.
"""

import os
import shutil
import uuid
from pathlib import Path

import pytest

from layers.backends import open_store
from layers.users import UserStore
from webmap.app import create_app

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo"
PASSWORD = "correct-horse-9"
TEST_DATABASE_ENV = "VILLAGEWORKS_TEST_DATABASE_URL"
BACKENDS = ("geojson", "postgis")


def pytest_addoption(parser):
    parser.addoption(
        "--backend",
        choices=("all", "geojson", "postgis"),
        default=os.environ.get("VILLAGEWORKS_TEST_BACKEND", "all"),
        help="store backend(s) the tests run on (default: all; see tests/conftest.py)",
    )


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "geojson_only: checks the files of the GeoJSON store; skipped on PostGIS"
    )


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("backend")
        metafunc.parametrize("backend", BACKENDS if chosen == "all" else (chosen,))


def _unavailable(reason):
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: the PostGIS tests must run in CI", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def pg_url(request):
    """A fresh, empty schema of the test database, as a connection string.

    Every connection made with it is tagged with the schema's name, so the teardown ends
    the connections the test left open (apps are not closed by tests) and drops the schema.
    """
    if request.config.getoption("backend") == "geojson":
        pytest.skip("--backend geojson never touches a database")
    base = os.environ.get(TEST_DATABASE_ENV, "")
    if not base:
        _unavailable(f"{TEST_DATABASE_ENV} is not set")
    import psycopg
    from psycopg.conninfo import make_conninfo

    try:
        admin = psycopg.connect(base, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        _unavailable(f"cannot reach the test database: {exc}")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin.execute(f'CREATE SCHEMA "{schema}"')
    yield make_conninfo(base, options=f"-c search_path={schema},public", application_name=schema)
    admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE application_name = %s AND pid <> pg_backend_pid()",
        (schema,),
    )
    admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
    admin.close()


@pytest.fixture(autouse=True)
def _backend_environment(request, monkeypatch):
    """With ``--backend postgis``, every app and CLI run of the test uses PostGIS."""
    monkeypatch.delenv("VILLAGEWORKS_DATABASE_URL", raising=False)
    if request.config.getoption("backend") == "postgis":
        if request.node.get_closest_marker("geojson_only"):
            pytest.skip("checks the files of the GeoJSON store")
        monkeypatch.setenv("VILLAGEWORKS_DATABASE_URL", request.getfixturevalue("pg_url"))


@pytest.fixture
def store_at(request, backend):
    """Open stores of the test's backend over a data directory (closed after the test)."""
    if backend == "postgis" and request.node.get_closest_marker("geojson_only"):
        pytest.skip("checks the files of the GeoJSON store")
    url = request.getfixturevalue("pg_url") if backend == "postgis" else ""
    opened = []

    def open_at(data_dir, **kwargs):
        opened.append(open_store(data_dir, url, **kwargs))
        return opened[-1]

    yield open_at
    for store in opened:
        store.close()


@pytest.fixture
def store(store_at, tmp_path):
    """An empty store of each backend (see the module docstring)."""
    return store_at(tmp_path / "store")


@pytest.fixture
def reopen(store_at):
    """Another store over the same data as ``store`` (another process, in effect)."""
    return lambda store: store_at(store.data_dir)


def copy_demo(target: Path) -> Path:
    """The committed demo county copied into ``target`` (never modified in place)."""
    target.mkdir(parents=True, exist_ok=True)
    for sub in ("layers", "specs"):
        if (DEMO / sub).is_dir():
            shutil.copytree(DEMO / sub, target / sub, dirs_exist_ok=True)
    return target


@pytest.fixture
def empty_app(tmp_path):
    """An app over an empty data directory (no demo)."""
    return create_app(
        {
            "DATA_DIR": str(tmp_path / "data"),
            "TESTING": True,
            "SEED_DEMO": False,
            "SECRET_KEY": "test",
        }
    )


@pytest.fixture
def demo_app(tmp_path):
    """An app over a copy of the demo county."""
    data = copy_demo(tmp_path / "data")
    return create_app({"DATA_DIR": str(data), "TESTING": True, "SECRET_KEY": "test"})


@pytest.fixture
def accounts():
    """Create one account per role in an app's data directory; returns name -> token."""

    def make(app):
        users = UserStore(app.config["DATA_DIR"])
        tokens = {}
        for role in ("viewer", "field", "planner", "admin"):
            users.add(f"{role}1", role, PASSWORD)
            tokens[role] = users.new_token(f"{role}1")
        return tokens

    return make


def _tree_digest(folder: Path) -> dict[str, str]:
    import hashlib

    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    } | {str(p.relative_to(folder)) + "/": "dir" for p in folder.rglob("*") if p.is_dir()}


@pytest.fixture(scope="session", autouse=True)
def tracked_data_is_never_modified():
    """Running the app or the tests never changes the committed data/ folder."""
    folder = ROOT / "data"
    before = _tree_digest(folder)
    yield
    after = _tree_digest(folder)
    changed = sorted(set(before.items()) ^ set(after.items()))
    assert not changed, f"tests modified tracked files under data/: {changed[:10]}"
