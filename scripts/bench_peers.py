"""The PostGIS peers of ``scripts/bench.py``'s ``peers`` row: tipg and pygeoapi's PostgreSQL
provider, each in its own virtual environment under ``bench-out/`` (installed from PyPI on
first use), serving the same streetlights as our PostGIS store, in the same database.

- :class:`PgCluster`: the run's PostgreSQL server: ``VILLAGEWORKS_TEST_DATABASE_URL`` (or
  ``--database-url``) when set, else a throwaway one from ``scripts/pg`` (unix socket only).
- :func:`fresh_database`: an empty database with PostGIS on that server.
- :func:`peer_table`: ``bench_lights``, a real table over our ``vw_features`` rows (one
  column per property, a text primary key, a GIST index), which both peers serve.
- :class:`Tipg` and :class:`PygeoapiPg`: install, configure and describe how to start each
  (:class:`Launch`), and where its routes are (:class:`Api`).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
TABLE = "bench_lights"


@dataclass
class Api:
    """Where a server's routes for the streetlights are; ``{z}/{x}/{y}`` in ``tile``."""

    name: str
    items: str
    item: str
    tile: str
    query: str = ""  # appended to every items/item query (pygeoapi's f=json)
    ready: str = "/"

    def page(self, params: str) -> str:
        return f"{self.items}?{params}{self.query}"

    def one(self, feature_id: str) -> str:
        sep = "&" if "?" in self.item else "?"
        path = self.item.format(id=feature_id)
        return f"{path}{sep}{self.query.lstrip('&')}" if self.query else path

    def tile_path(self, z: int, x: int, y: int) -> str:
        return self.tile.format(z=z, x=x, y=y)


@dataclass
class Launch:
    """How to start a server: argv and environment, run in ``cwd``; answers on ``port``."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path
    name: str
    port: int


OURS_API = Api(
    "ours",
    "/ogc/collections/streetlights/items",
    "/ogc/collections/streetlights/items/{id}",
    "/ogc/collections/streetlights/tiles/WebMercatorQuad/{z}/{x}/{y}",
    ready="/ogc/",
)


# --------------------------------------------------------------------------- database


def log(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


class PgCluster:
    """The run's PostgreSQL server: a given URL, or ``scripts/pg`` started for the run."""

    def __init__(self, url: str = "") -> None:
        self.url = url or os.environ.get("VILLAGEWORKS_TEST_DATABASE_URL", "")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, work: Path) -> str:
        if self.url:
            return self.url
        log("starting a throwaway PostgreSQL + PostGIS server (scripts/pg)")
        log_path = work / "pg.log"
        self.proc = subprocess.Popen(
            [str(ROOT / "scripts" / "pg")],
            stdout=subprocess.DEVNULL,
            stderr=open(log_path, "wb"),  # noqa: SIM115
            start_new_session=True,
        )
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            found = re.search(r"PostGIS test server: (\S+)", log_path.read_text(errors="replace"))
            if found:
                self.url = found.group(1)
                return self.url
            if self.proc.poll() is not None:
                raise RuntimeError(f"scripts/pg exited: {log_path.read_text()[-2000:]}")
            time.sleep(0.2)
        raise RuntimeError("scripts/pg did not start a server")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(60)
        self.proc = None


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` instead."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def fresh_database(url: str, name: str = "vw_bench") -> str:
    """Drop and create database ``name`` (with PostGIS) on ``url``'s server; its URL."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    target = with_database(url, name)
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    return target


def socket_parts(url: str) -> dict[str, Any]:
    """libpq-style parts of ``url``: host (a socket folder or a name), port, user, dbname."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or "127.0.0.1"])[0]
    return {
        "host": host,
        "port": int(query.get("port", [parts.port or 5432])[0]),
        "user": parts.username or "postgres",
        "password": parts.password or "",
        "dbname": parts.path.lstrip("/"),
    }


def asyncpg_url(url: str) -> str:
    """``url`` with a unix-socket folder as a percent-encoded host, as asyncpg and
    pydantic's ``PostgresDsn`` (tipg's setting) both accept it."""
    p = socket_parts(url)
    auth = quote(p["user"]) + (f":{quote(p['password'])}" if p["password"] else "")
    return f"postgresql://{auth}@{quote(p['host'], safe='')}:{p['port']}/{p['dbname']}"


def peer_table(url: str, layer: str = "streetlights") -> int:
    """Create :data:`TABLE` from our store's live rows of ``layer``: one typed column per
    property, the id as text primary key, a GIST index on a Point geometry. Its row count."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        kinds = conn.execute(
            "SELECT k, max(jsonb_typeof(properties->k)) FROM vw_features, "
            "jsonb_object_keys(properties) AS k WHERE layer = %s AND NOT deleted GROUP BY k",
            (layer,),
        ).fetchall()
        columns = []
        for key, kind in sorted(kinds):
            name = re.sub(r"[^a-z0-9_]", "_", key.lower())
            cast = "double precision" if kind == "number" else "text"
            columns.append(f"(properties->>'{key}')::{cast} AS \"{name}\"")
        conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
        conn.execute(
            f"CREATE TABLE {TABLE} AS SELECT id, {', '.join(columns)}, "
            "geom::geometry(Point, 4326) AS geom FROM vw_features "
            "WHERE layer = %s AND NOT deleted",
            (layer,),
        )
        conn.execute(f"ALTER TABLE {TABLE} ADD PRIMARY KEY (id)")
        conn.execute(f"CREATE INDEX {TABLE}_geom ON {TABLE} USING gist (geom)")
        conn.execute(f"VACUUM ANALYZE {TABLE}")
        row = conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()
        return int(row[0]) if row else 0


# --------------------------------------------------------------------------- peers


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class VenvPeer:
    """A peer in its own virtual environment ``work/<folder>``, installed on first use."""

    folder = ""
    packages: tuple[str, ...] = ()
    module = ""

    def __init__(self, work: Path) -> None:
        self.venv = work / self.folder
        self.version = ""

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    def install(self) -> bool:
        """Install on first use; False (with a log line) when that fails."""
        if not (self.bin / "python").exists():
            log(f"installing {', '.join(self.packages)} into {self.venv}")
            subprocess.run([sys.executable, "-m", "venv", str(self.venv)], check=True)
            pip = [str(self.bin / "python"), "-m", "pip", "install", "--quiet"]
            if subprocess.run([*pip, *self.packages]).returncode != 0:
                log(f"could not install {self.packages}")
                return False
        out = subprocess.run(
            [
                str(self.bin / "python"),
                "-c",
                f"import importlib.metadata as m; print(m.version({self.module!r}))",
            ],
            capture_output=True,
            text=True,
        )
        self.version = out.stdout.strip() if out.returncode == 0 else ""
        return bool(self.version)


class Tipg(VenvPeer):
    """tipg under uvicorn with 2 workers, serving every table of the database's ``public``
    schema (here only :data:`TABLE`)."""

    folder = "tipg-venv"
    packages = ("tipg", "uvicorn")
    module = "tipg"

    @property
    def api(self) -> Api:
        c = f"/collections/public.{TABLE}"
        return Api(
            f"tipg {self.version}",
            f"{c}/items",
            f"{c}/items/{{id}}",
            f"{c}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}",
            ready=f"{c}/items?limit=1",
        )

    def launch(self, url: str, folder: Path) -> Launch:
        port = free_port()
        argv = [str(self.bin / "uvicorn"), "tipg.main:app", "--host", "127.0.0.1"]
        argv += ["--port", str(port), "--workers", "2", "--log-level", "warning"]
        env = {
            "DATABASE_URL": asyncpg_url(url),
            "TIPG_DB_SCHEMAS": '["public"]',
            "TIPG_DB_TABLES": f'["public.{TABLE}"]',
            "TIPG_MAX_FEATURES_PER_QUERY": "10000",
            "TIPG_DEBUG": "false",
        }
        return Launch(argv, env, folder, "tipg", port)


class PygeoapiPg(VenvPeer):
    """pygeoapi under gunicorn with 2 workers: its PostgreSQL feature provider and its
    MVT-postgresql tile provider on :data:`TABLE`."""

    folder = "pygeoapi-pg-venv"
    packages = ("pygeoapi", "psycopg2-binary", "sqlalchemy", "geoalchemy2", "gunicorn")
    module = "pygeoapi"

    @property
    def api(self) -> Api:
        c = "/collections/streetlights"
        # pygeoapi's tile route is {tileMatrix}/{tileRow}/{tileCol}: z/y/x.
        return Api(
            f"pygeoapi-pg {self.version}",
            f"{c}/items",
            f"{c}/items/{{id}}",
            f"{c}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}?f=mvt",
            query="&f=json",
            ready="/conformance?f=json",
        )

    def launch(self, url: str, folder: Path, bbox: list[float]) -> Launch:
        port = free_port()
        config, openapi = folder / "pygeoapi-pg.yml", folder / "openapi-pg.yml"
        config.write_text(json.dumps(self.config(url, port, bbox), indent=1))
        env = {"PYGEOAPI_CONFIG": str(config), "PYGEOAPI_OPENAPI": str(openapi)}
        subprocess.run(
            [str(self.bin / "pygeoapi"), "openapi", "generate", str(config)]
            + ["--output-file", str(openapi)],
            check=True,
            env={**os.environ, **env},
            capture_output=True,
        )
        argv = [str(self.bin / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2"]
        # A worker still busy after 70 s (a tile the bench gave up on) is restarted.
        argv += ["--timeout", "70", "pygeoapi.flask_app:APP"]
        return Launch(argv, env, folder, "pygeoapi-pg", port)

    def config(self, url: str, port: int, bbox: list[float]) -> dict[str, Any]:
        p = socket_parts(url)
        data = {k: p[k] for k in ("host", "port", "dbname", "user", "password")}
        data["search_path"] = ["public"]
        contact = dict.fromkeys(("name", "position", "city", "country", "email", "url"), "bench")
        text = {"title": "bench", "description": "bench", "keywords": ["bench"]}
        return {
            "server": {
                "bind": {"host": "127.0.0.1", "port": port},
                "url": f"http://127.0.0.1:{port}",
                "mimetype": "application/json; charset=UTF-8",
                "encoding": "utf-8",
                "language": "en-US",
                "cors": False,
                "pretty_print": False,
                "limits": {"default_items": 10, "max_items": 10000},
                "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                        "attribution": "-"},
            },
            "logging": {"level": "ERROR"},
            "metadata": {
                "identification": {**text, "keywords_type": "theme",
                                   "terms_of_service": "https://example.org",
                                   "url": "https://example.org"},
                "license": {"name": "CC-BY 4.0", "url": "https://example.org"},
                "provider": {"name": "bench", "url": "https://example.org"},
                "contact": {**contact, "role": "pointOfContact"},
            },
            "resources": {
                "streetlights": {
                    "type": "collection",
                    **text,
                    "links": [],
                    "extents": {"spatial": {"bbox": bbox, "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
                    "providers": [
                        {"type": "feature", "name": "PostgreSQL", "data": data,
                         "id_field": "id", "table": TABLE, "geom_field": "geom"},
                        {"type": "tile", "name": "MVT-postgresql", "data": data,
                         "id_field": "id", "table": TABLE, "geom_field": "geom",
                         "options": {"zoom": {"min": 0, "max": 16}},
                         "format": {"name": "pbf",
                                    "mimetype": "application/vnd.mapbox-vector-tile"}},
                    ],
                }
            },
        }  # fmt: skip


# --------------------------------------------------------------------------- profiling


class Profiler:
    """py-spy (in ``work/profile-venv``, installed on first use) on a server and its
    workers while the bench loads it; :func:`summary` says where the time went."""

    def __init__(self, work: Path) -> None:
        self.venv = work / "profile-venv"
        self.exe = self.venv / "bin" / "py-spy"

    def available(self) -> bool:
        if not self.exe.exists():
            log(f"installing py-spy into {self.venv}")
            subprocess.run([sys.executable, "-m", "venv", str(self.venv)], check=True)
            pip = [str(self.venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
            subprocess.run([*pip, "py-spy"], check=False)
        return self.exe.exists()

    def record(self, pid: int, seconds: int, out: Path) -> subprocess.Popen[bytes]:
        """Start sampling ``pid`` and its children (idle threads too: a wait on
        PostgreSQL is time spent) for ``seconds``, raw collapsed stacks into ``out``."""
        argv = [str(self.exe), "record", "--pid", str(pid), "--subprocesses", "--idle"]
        argv += ["--nolineno", "--rate", "200", "--format", "raw", "--duration", str(seconds)]
        argv += ["--output", str(out), "--nonblocking"]
        return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


FRAME = re.compile(r"^(?P<name>.*?) \((?P<file>[^()]*)\)$")
OUR_CODE = ("webmap/", "layers/", "geo/")  # py-spy names them relative to sys.path


def summary(raw: Path, top: int = 5) -> str:
    """Where request threads spent their samples: the share waiting on PostgreSQL, the
    heaviest frames of our code (inclusive) and the heaviest leaves (self)."""
    inclusive: dict[str, int] = {}
    leaves: dict[str, int] = {}
    total = db = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit() or "full_dispatch_request" not in stack:
            continue
        count = int(count_text)
        frames = [FRAME.match(f.strip()) for f in stack.split(";")]
        named = [(m["name"], m["file"]) for m in frames if m]
        if not named:
            continue
        total += count
        leaf_name, leaf_file = named[-1]
        if "psycopg" in leaf_file or any("psycopg" in f for _, f in named[-3:]):
            db += count
        leaf = f"{leaf_name} ({Path(leaf_file).name})"
        leaves[leaf] = leaves.get(leaf, 0) + count
        seen = set()
        for name, file in named:
            key = f"{name} ({file.split('/main/')[-1]})"
            if file.startswith(OUR_CODE) and key not in seen:
                seen.add(key)
                inclusive[key] = inclusive.get(key, 0) + count
    if not total:
        return "no request samples"

    def pct(n: int) -> str:
        return f"{100 * n / total:.0f}%"

    ours = sorted(inclusive.items(), key=lambda kv: -kv[1])
    ours = [kv for kv in ours if kv[1] < total * 0.95][:top]  # not the route's own frame
    heavy = sorted(leaves.items(), key=lambda kv: -kv[1])[:top]
    return (
        f"{total:,} samples in request threads; {pct(db)} inside psycopg (waiting on "
        f"PostgreSQL); heaviest of our frames: {', '.join(f'{k} {pct(v)}' for k, v in ours)}; "
        f"heaviest leaves: {', '.join(f'{k} {pct(v)}' for k, v in heavy)}"
    )
