"""#15 item 9: a full disk, a data directory that cannot be written, and read-only mode.

- ``VILLAGEWORKS_READ_ONLY``: every read page and API answers, every write answers 503
  with a zh/en message, pages show a banner instead of their write forms, the CLI's
  write commands refuse.
- A data directory this process cannot write (``chmod -R a-w``; the tests run as root
  here, which ignores permissions, so the server runs under ``setpriv`` without the
  capabilities that let root write anyway): reads work, writes answer 503, not a dropped
  connection.
- A write on a full disk (a file-size limit: every write past it fails with EFBIG)
  answers 507 in the user's language and leaves nothing half-written.
- Routing first: a method a route lacks is 405 (with ``Allow``), even for a visitor who
  is not logged in (it was 401).
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from webmap.app import create_app
from webmap.errors import NO_SPACE, READ_ONLY, READ_ONLY_MODE

pytestmark = pytest.mark.backend_independent

VILLAGEWORKS = str(Path(sys.executable).with_name("villageworks"))
SECRET = "reliability-tests-secret"
#: Without these capabilities root obeys file permissions like any other user.
SETPRIV = [
    "setpriv",
    "--inh-caps=-all",
    "--bounding-set=-dac_override,-dac_read_search,-fowner,-linux_immutable",
    "--",
]
READ_PAGES = ("/", "/dashboard", "/ledger", "/layers", "/uploads", "/ogc/collections")
READ_API = (
    "/ogc/collections/wells/items?limit=5",
    "/ogc/collections/wells",
    "/api/layers/wells/features",
    "/ogc/api",
    "/export/wells.geojson",  # anonymous: counted against the export limit
)


def _well(rel: Any, data_dir: Path) -> bytes:
    (x, y) = rel.grid_points(data_dir, "wells", 1)[0]
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [round(x, 7), round(y, 7)]},
        "properties": {"name": "只读测试井", **rel.REQUIRED["wells"]},
    }
    return orjson.dumps(feature)


def _any_well_id(data_dir: Path) -> str:
    doc = orjson.loads((data_dir / "layers" / "wells.geojson").read_bytes())
    return str(doc["features"][0]["id"])


def _writes(rel: Any, data_dir: Path) -> list[tuple[str, str, dict[str, Any]]]:
    """One of each kind of write: (method, path, request arguments)."""
    fid = _any_well_id(data_dir)
    item = f"/ogc/collections/wells/items/{fid}"
    geojson = {"Content-Type": "application/geo+json"}
    patch = orjson.dumps({"properties": {"name": "改名"}})
    return [
        (
            "POST",
            "/ogc/collections/wells/items",
            {"data": _well(rel, data_dir), "headers": geojson},
        ),
        ("PUT", item, {"data": _well(rel, data_dir), "headers": geojson}),
        ("PATCH", item, {"data": patch, "headers": {"Content-Type": "application/json"}}),
        ("DELETE", item, {}),
        ("POST", "/api/capture", {"data": {"layer": "wells", "lon": "112.8", "lat": "39.5"}}),
        ("POST", "/api/uploads", {"data": {"layer": "wells"}}),
        ("POST", "/ledger/new", {"data": {"title": "x"}}),
        ("POST", "/login", {"data": {"name": "admin1", "password": "x"}}),
        ("POST", "/logout", {}),
    ]


# --------------------------------------------------------------------- routing first
def test_a_method_the_route_lacks_is_405_with_allow_even_when_not_logged_in(
    tmp_path: Path, rel: Any
) -> None:
    app = create_app({"DATA_DIR": str(rel.copy_demo(tmp_path / "data")), "SECRET_KEY": SECRET})
    client = app.test_client()
    for method in ("PUT", "POST", "DELETE"):
        response = client.open("/ogc/collections", method=method)
        assert response.status_code == 405, (method, response.status_code)
        assert "GET" in response.headers["Allow"]
        assert response.get_json()["error"]["status"] == 405
    assert client.post("/no/such/page").status_code == 404
    # A route that takes the method still wants an account.
    assert client.post("/ogc/collections/wells/items", json={}).status_code == 401


# ------------------------------------------------------------------ read-only mode
@pytest.fixture
def read_only_app(tmp_path: Path, rel: Any) -> Iterator[tuple[Any, Path, dict[str, str]]]:
    data_dir = rel.copy_demo(tmp_path / "data")
    tokens = rel.make_accounts(data_dir)
    create_app({"DATA_DIR": str(data_dir), "SECRET_KEY": SECRET})  # loads every layer once
    app = create_app({"DATA_DIR": str(data_dir), "SECRET_KEY": SECRET, "READ_ONLY": True})
    yield app, data_dir, tokens


def test_read_only_mode_refuses_every_write_with_a_message(read_only_app: Any, rel: Any) -> None:
    app, data_dir, tokens = read_only_app
    before = rel.data_fingerprint(data_dir)
    client = app.test_client()
    bearer = {"Authorization": f"Bearer {tokens['admin']}"}
    for lang in ("zh", "en"):
        for method, path, kwargs in _writes(rel, data_dir):
            headers = {**bearer, **kwargs.pop("headers", {})} if path != "/login" else {}
            response = client.open(f"{path}?lang={lang}", method=method, headers=headers, **kwargs)
            assert response.status_code == 503, (method, path, response.status_code)
            if response.is_json:
                assert response.get_json()["error"]["message"] == READ_ONLY_MODE[lang]
            else:  # a form's page
                text = response.get_data(as_text=True)
                assert READ_ONLY_MODE[lang] in text, (method, path, text[:300])
    anonymous = client.post("/ogc/collections/wells/items?lang=en", data=_well(rel, data_dir))
    assert anonymous.status_code == 503  # nobody can write: said before "log in"
    assert rel.data_fingerprint(data_dir) == before


def test_read_only_mode_serves_every_read_with_a_banner(read_only_app: Any, rel: Any) -> None:
    app, data_dir, tokens = read_only_app
    before = rel.data_fingerprint(data_dir)
    client = app.test_client()
    for path in READ_PAGES:
        response = client.get(path, headers={"Authorization": f"Bearer {tokens['admin']}"})
        page = response.get_data(as_text=True)
        assert response.status_code == 200, path
        if path.startswith("/ogc/"):
            continue  # JSON by default
        assert 'id="vw-read-only"' in page and "vw-read-only" in page.split("<body")[1][:200]
        assert "只读模式" in page
        # The write forms are hidden and the capture link is gone.
        assert 'form[method="post" i]' in page and "display: none" in page
        assert "/capture" not in page.split("</header>")[0]
    english = client.get("/ledger?lang=en").get_data(as_text=True)
    assert "This site is in read-only mode" in english
    assert 'href="/login' not in english  # logging in is a write
    for path in READ_API:
        assert client.get(path).status_code == 200, path
    assert rel.data_fingerprint(data_dir) == before


def test_the_cli_refuses_its_write_commands_in_read_only_mode(tmp_path: Path, rel: Any) -> None:
    data_dir = rel.copy_demo(tmp_path / "data")
    before = rel.data_fingerprint(data_dir)
    env = rel.child_env(VILLAGEWORKS_READ_ONLY="1")
    for command in (["compact"], ["users", "add", "x", "--role", "viewer"]):
        out = subprocess.run(
            [VILLAGEWORKS, *command, "--data", str(data_dir), "--lang", "en"],
            capture_output=True, text=True, env=env, input="pw-123456789\n", timeout=120,
        )  # fmt: skip
        assert out.returncode == 1, out
        assert "VILLAGEWORKS_READ_ONLY is set" in out.stderr, out.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    listed = subprocess.run(
        [VILLAGEWORKS, "layers", "--data", str(empty)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert not (empty / "layers").exists() or not list((empty / "layers").iterdir())
    assert rel.data_fingerprint(data_dir) == before


# --------------------------------------------- a server that cannot write, or is full
class Server:
    """gunicorn over ``data_dir``, started by ``prefix`` (e.g. setpriv) or ``preexec``."""

    def __init__(
        self, rel: Any, data_dir: Path, prefix: list[str], preexec: Callable[[], None] | None
    ):
        self.rel = rel
        self.url = f"http://127.0.0.1:{rel.free_port()}"
        command = [
            *prefix,
            str(Path(sys.executable).with_name("gunicorn")),
            "-w", "2", "-b", self.url.removeprefix("http://"), *rel._gunicorn_flags(),
            "webmap.app:create_app()",
        ]  # fmt: skip
        env = rel.child_env(
            VILLAGEWORKS_DATA=str(data_dir),
            VILLAGEWORKS_SECRET_KEY=SECRET,
            VILLAGEWORKS_BASEMAP="none",
        )
        # Its output goes nowhere: a log file would count against the file-size limit.
        self.proc = subprocess.Popen(
            command,
            cwd=data_dir.parent,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=preexec,
            start_new_session=True,
        )
        self.wait_ready()

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"gunicorn exited {self.proc.returncode} (worker boot)")
            try:
                if self.rel.http("GET", f"{self.url}/ogc/conformance", timeout=10)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError("gunicorn did not answer")

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)


@pytest.fixture
def servers(rel: Any) -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def start(data_dir: Path, prefix: list[str], preexec: Callable[[], None] | None = None):
        started.append(Server(rel, data_dir, prefix, preexec))
        return started[-1]

    yield start
    for server in started:
        server.kill()


def _unprivileged() -> list[str]:
    """How to start a process that obeys file permissions: as it is for a user, under
    setpriv without root's override capabilities for root."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: permissions cannot be made to hold")
    return SETPRIV


def _chmod_tree(root: Path, writable: bool) -> None:
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode
        bits = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
        path.chmod((mode | stat.S_IWUSR) if writable else (mode & ~bits))


def test_reads_work_on_a_data_directory_that_cannot_be_written(
    tmp_path: Path, rel: Any, servers: Callable[..., Server]
) -> None:
    data_dir = rel.copy_demo(tmp_path / "data")
    tokens = rel.make_accounts(data_dir)
    well = _well(rel, data_dir)  # before the chmod: finding a free spot opens a store
    before = rel.data_fingerprint(data_dir)
    prefix = _unprivileged()
    probe = subprocess.run([*prefix, "touch", str(data_dir / "probe")], capture_output=True)
    assert probe.returncode == 0  # writable before the chmod (the check below means it)
    (data_dir / "probe").unlink()
    _chmod_tree(data_dir, writable=False)
    try:
        denied = subprocess.run([*prefix, "touch", str(data_dir / "probe")], capture_output=True)
        assert denied.returncode != 0, "the server could still write the data directory"
        server = servers(data_dir, prefix)
        viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
        for path in (*READ_PAGES, *READ_API):
            status, _, body = rel.http("GET", server.url + path, headers=viewer)
            assert status == 200, (path, status, body[:300])
        auth = {"Authorization": f"Bearer {tokens['field']}", "Content-Type": "application/json"}
        for lang in ("zh", "en"):
            status, _, body = rel.http(
                "POST", f"{server.url}/ogc/collections/wells/items?lang={lang}",
                well, auth,
            )  # fmt: skip
            assert status == 503, (status, body[:300])
            assert orjson.loads(body)["error"]["message"] == READ_ONLY[lang]
    finally:
        _chmod_tree(data_dir, writable=True)
    assert rel.data_fingerprint(data_dir) == before


def _file_size_limit(limit: int) -> Callable[[], None]:
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of death
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_write_on_a_full_disk_answers_507_and_writes_nothing(
    tmp_path: Path, rel: Any, servers: Callable[..., Server]
) -> None:
    data_dir = rel.copy_demo(tmp_path / "data")
    tokens = rel.make_accounts(data_dir)
    # A county at work before the disk fills: layers loaded, lock files and a journal made.
    client = create_app({"DATA_DIR": str(data_dir), "SECRET_KEY": SECRET}).test_client()
    auth = {"Authorization": f"Bearer {tokens['field']}", "Content-Type": "application/json"}
    assert client.get("/layers").status_code == 200
    first = client.post("/ogc/collections/wells/items", data=_well(rel, data_dir), headers=auth)
    assert first.status_code == 201, first.get_data(as_text=True)
    before = rel.data_fingerprint(data_dir)
    server = servers(data_dir, [], _file_size_limit(64))  # no room for a journal record
    for lang in ("zh", "en"):
        status, _, body = rel.http(
            "POST",
            f"{server.url}/ogc/collections/wells/items?lang={lang}",
            _well(rel, data_dir),
            auth,
        )
        assert status == 507, (status, body[:300])
        error = orjson.loads(body)["error"]
        assert error["code"] == "insufficient_storage"
        assert error["message"] == NO_SPACE[lang]
    assert rel.http("GET", f"{server.url}/ogc/collections/wells/items?limit=1")[0] == 200
    assert rel.data_fingerprint(data_dir) == before, "a write on a full disk left bytes behind"
    assert not list(data_dir.rglob("*.tmp"))
