"""Shared by the reliability tests: gunicorn on loopback over a data directory, accounts,
HTTP helpers and the checks every test makes of a data directory afterwards.

Every server listens on 127.0.0.1 on a free port and is killed (by its process group id)
when the test ends, whatever happened.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from layers.backends import open_store, seed_if_empty
from layers.check import check_layer
from layers.store import GeoJSONStore
from layers.users import UserStore

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "data" / "demo"
HERE = Path(__file__).resolve().parent
CLIENTS = HERE / "clients.py"
PASSWORD = "correct-horse-9"
SECRET = "reliability-tests-secret"
ROLES = ("viewer", "field", "planner", "admin")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "backend_independent: exercises pages or parsers only; skipped on --backend postgis",
    )


@pytest.fixture(autouse=True)
def _skip_backend_independent(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("backend_independent") and (
        request.config.getoption("backend") == "postgis"
    ):
        pytest.skip("does not depend on the store backend; runs on the GeoJSON run")


def database_url() -> str:
    """The database of this test (set by tests/conftest.py with --backend postgis)."""
    return os.environ.get("VILLAGEWORKS_DATABASE_URL", "")


def copy_demo(target: Path) -> Path:
    """The demo county's layers and declarations copied into ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    for sub in ("layers", "specs"):
        if (DEMO / sub).is_dir():
            shutil.copytree(DEMO / sub, target / sub, dirs_exist_ok=True)
    return target


def demo_data_dir(target: Path) -> Path:
    """A data directory holding the demo county, seeded into the test's database too."""
    copy_demo(target)
    url = database_url()
    if url:
        seed_if_empty(target, DEMO, url)
    return target


def make_accounts(data_dir: Path) -> dict[str, str]:
    """One account per role (``<role>1``); returns role -> API token."""
    users = UserStore(data_dir)
    tokens = {}
    for role in ROLES:
        users.add(f"{role}1", role, PASSWORD)
        tokens[role] = users.new_token(f"{role}1")
    return tokens


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a server or client process of these tests."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VILLAGEWORKS_LOG_LEVEL": "WARNING"}
    env.pop("VILLAGEWORKS_CRASH_AT", None)
    env.update(extra)
    return env


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def http(
    method: str,
    url: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> tuple[int, dict[str, str], bytes]:
    """One request (redirects are not followed); HTTP errors are returned, connection
    errors raised."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


def _gunicorn_flags() -> list[str]:
    # gunicorn 25+ opens a control socket at one fixed path per user: not for many
    # servers at once.
    from gunicorn.config import KNOWN_SETTINGS

    names = {setting.name for setting in KNOWN_SETTINGS}
    return ["--no-control-socket"] if "control_socket_disable" in names else []


class Gunicorn:
    """``gunicorn -w N 'webmap.app:create_app()'`` over ``data_dir`` on 127.0.0.1."""

    def __init__(
        self,
        data_dir: Path,
        log_dir: Path,
        workers: int = 4,
        extra_args: tuple[str, ...] = (),
        **env: str,
    ):
        self.data_dir = data_dir
        self.extra_args = extra_args
        self.log_path = log_dir / f"gunicorn-{id(self)}.log"
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        settings = {
            "VILLAGEWORKS_DATA": str(data_dir),
            "VILLAGEWORKS_SECRET_KEY": SECRET,
            "VILLAGEWORKS_BASEMAP": "none",
        }
        self.env = child_env(**{**settings, **env})
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, timeout: float = 90) -> Gunicorn:
        assert self.proc is None
        command = [
            str(Path(sys.executable).with_name("gunicorn")),
            "-w",
            str(self.workers),
            "-b",
            f"127.0.0.1:{self.port}",
            "--timeout",
            "120",
            "--graceful-timeout",
            "10",
            *_gunicorn_flags(),
            *self.extra_args,
            "webmap.app:create_app()",
        ]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                command,
                cwd=self.data_dir.parent,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill -9 takes the workers too
            )
        self.starts += 1
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"gunicorn exited {self.proc.returncode}: {self.log()}")
            try:
                status, _, _ = http("GET", f"{self.url}/ogc/conformance", timeout=10)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"gunicorn did not answer within {timeout} s: {self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except FileNotFoundError:
            return ""

    def kill9(self) -> None:
        """kill -9 the master and every worker at once (no clean-up of any kind)."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)
        self.proc = None

    def stop(self) -> None:
        """A graceful stop (SIGTERM), kill -9 if it takes too long."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        self.kill9()


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[Any]:
    """Start gunicorn servers for one test; every one is killed afterwards."""
    servers: list[Gunicorn] = []

    def start(
        data_dir: Path, workers: int = 4, extra_args: tuple[str, ...] = (), **env: str
    ) -> Gunicorn:
        server = Gunicorn(data_dir, tmp_path, workers, extra_args, **env)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.kill9()


class Clients:
    """Writer processes running ``clients.py`` plans; each prints one JSON line per request."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.procs: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(
        self,
        base: str,
        token: str,
        plan: list[dict[str, Any]],
        deadline_s: float,
        stop_file: Path | None = None,
    ) -> None:
        n = len(self.procs)
        plan_path = self.tmp_path / f"plan-{n}.json"
        out_path = self.tmp_path / f"out-{n}.jsonl"
        plan_path.write_bytes(orjson.dumps(plan))
        with open(out_path, "wb") as out:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    str(CLIENTS),
                    base,
                    token,
                    str(plan_path),
                    str(time.time() + deadline_s),
                    *([str(stop_file)] if stop_file else []),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=child_env(),
                start_new_session=True,
            )
        self.procs.append((proc, out_path))

    def running(self) -> bool:
        return any(proc.poll() is None for proc, _ in self.procs)

    def wait(self, timeout: float) -> list[dict[str, Any]]:
        """Every result line of every client (they stop by themselves at their deadline)."""
        end = time.monotonic() + timeout
        for proc, _ in self.procs:
            try:
                proc.wait(timeout=max(1.0, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError("a client process overran its deadline") from None
        results = []
        for proc, out in self.procs:
            lines = out.read_text().splitlines()
            assert proc.returncode == 0, f"client failed: {lines[-20:]}"
            results.extend(json.loads(line) for line in lines if line.startswith("{"))
        return results

    def kill(self) -> None:
        for proc, _ in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=10)


@pytest.fixture
def clients(tmp_path: Path) -> Iterator[Clients]:
    running = Clients(tmp_path)
    yield running
    running.kill()


def feature_plan(
    kind: str, layer: str, key: str, points: list[tuple[float, float]], markers: list[str]
) -> dict[str, Any]:
    """One request of a client plan: ``ogc`` / ``capture`` (one feature) or ``upload``."""
    field = MARKER_FIELD[layer]
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [round(x, 7), round(y, 7)]},
            "properties": {field: marker, **REQUIRED[layer]},
        }
        for (x, y), marker in zip(points, markers, strict=True)
    ]
    return {"kind": kind, "layer": layer, "key": key, "features": features}


#: The text field each written feature carries its unique marker in.
MARKER_FIELD = {"streetlights": "road", "wells": "name"}
REQUIRED = {"streetlights": {"power_source": "solar", "status": "working"}, "wells": {}}


def grid_points(data_dir: Path, layer: str, count: int, spacing_deg: float = 0.0006) -> list:
    """``count`` points inside the county, far enough from every existing feature of
    ``layer`` and from each other not to be taken for duplicates."""
    import shapely

    store = open_store(data_dir, database_url())
    try:
        boundaries = store.frame("boundaries")
        county = boundaries[boundaries["level"] == "county"].geometry.union_all()
        existing = store.frame(layer).geometry.values
    finally:
        store.close()
    inner = county.buffer(-0.02)
    minx, miny, maxx, maxy = inner.bounds
    cx, cy = inner.representative_point().coords[0]
    taken = shapely.STRtree(existing) if len(existing) else None
    points: list[tuple[float, float]] = []
    ring = 0
    while len(points) < count and ring < 400:
        for i in range(-ring, ring + 1):
            for j in range(-ring, ring + 1):
                if max(abs(i), abs(j)) != ring:
                    continue
                x, y = cx + i * spacing_deg, cy + j * spacing_deg
                point = shapely.Point(x, y)
                if not inner.contains(point):
                    continue
                if taken is not None and len(taken.query(point.buffer(0.0008))):
                    continue
                points.append((x, y))
        ring += 1
    assert len(points) >= count, "the county is too small for the test's points"
    del minx, miny, maxx, maxy
    return points[:count]


def data_fingerprint(data_dir: Path) -> dict[str, bytes]:
    """Every file of a data directory with its bytes (lock files left out: taking a lock
    may create its empty file, which changes nothing)."""
    files = {}
    for path in sorted(data_dir.rglob("*")):
        if path.is_file() and path.parent.name != "locks":
            files[str(path.relative_to(data_dir))] = path.read_bytes()
    return files


def assert_layers_sound(data_dir: Path, layers: list[str] | None = None) -> dict[str, int]:
    """Every layer file parses and passes ``check_layer``; returns live counts."""
    store = open_store(data_dir, database_url())
    try:
        counts = {}
        for name in layers or store.layer_names():
            if isinstance(store, GeoJSONStore) and store.layer_path(name).exists():
                doc = orjson.loads(store.layer_path(name).read_bytes())
                assert doc["type"] == "FeatureCollection", name
            result = check_layer(store, name)
            errors = [p for p in result.problems if p.severity == "error"]
            assert errors == [], f"{name}: {[p.message('en') for p in errors]}"
            counts[name] = store.count(name)
        return counts
    finally:
        store.close()


def record_figures(name: str, figures: dict[str, Any]) -> None:
    """Keep a test's figures in test-artifacts/reliability/<name>.json (for the notes)."""
    folder = ROOT / "test-artifacts" / "reliability"
    folder.mkdir(parents=True, exist_ok=True)
    backend = "postgis" if database_url() else "geojson"
    (folder / f"{name}-{backend}.json").write_bytes(
        orjson.dumps(figures, option=orjson.OPT_INDENT_2)
    )
    print(f"{name} ({backend}): {figures}")


@pytest.fixture
def rel() -> Any:
    """This module, for its helpers (test modules cannot import a conftest)."""
    return sys.modules[__name__]


def verify_acknowledged(
    data: Path, results: list[dict[str, Any]], before: dict[str, set[str]]
) -> tuple[int, int]:
    """Every acknowledged feature present exactly once with its marker; nothing else new.

    Returns (features acknowledged, features found new)."""
    acked: dict[str, dict[str, str]] = {layer: {} for layer in MARKER_FIELD}  # marker -> id
    for result in results:
        if not 200 <= result["status"] < 300:
            continue
        field = MARKER_FIELD[result["layer"]]
        markers = [props[field] for props in result["markers"]]
        assert len(result["ids"]) == len(markers), (
            f"{result['key']}: {result['status']} with {len(result['ids'])} id(s) for "
            f"{len(markers)} feature(s): {result.get('error')}"
        )
        for marker, fid in zip(markers, result["ids"], strict=True):
            acked[result["layer"]][marker] = fid
    store = open_store(data, database_url())
    try:
        kept = 0
        for layer in MARKER_FIELD:
            field = MARKER_FIELD[layer]
            new = [f for f in store.features(layer) if f["id"] not in before[layer]]
            markers = Counter(f["properties"].get(field) for f in new)
            twice = [m for m, n in markers.items() if n > 1]
            assert not twice, f"{layer}: features stored more than once: {twice[:5]}"
            by_id = {f["id"]: f for f in new}
            for marker, fid in acked[layer].items():
                assert fid in by_id, f"{layer}: acknowledged {fid} ({marker}) is missing"
                assert by_id[fid]["properties"][field] == marker
            unacked = set(markers) - set(acked[layer])
            assert not unacked, f"{layer}: features nobody was told about: {sorted(unacked)[:5]}"
            kept += len(new)
    finally:
        store.close()
    return sum(len(a) for a in acked.values()), kept
