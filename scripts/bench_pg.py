#!/usr/bin/env python3
"""PostGIS speed figures, each beside the GeoJSON store's in the same run.

    scripts/pg -- .venv/bin/python scripts/bench_pg.py            # every row
    scripts/pg -- .venv/bin/python scripts/bench_pg.py --only upload --repeat 5
    .venv/bin/python scripts/bench_pg.py --database postgresql://...

Rows (``--only``): ``upload`` (a 100k-row CSV through :func:`layers.uploads.run_upload`,
the generator of ``scripts/bench.py``'s ``import`` row; wall time and CPU time, the
database server's included) and ``first`` (per ``--sizes``: in a fresh process per
backend, the first items page, the first deep page and the county map page, the RSS after
them, then warm p50s of ``limit=100&offset=50000``, the same page by keyset
``after=<id>`` and bbox pages of 100). Upload figures are medians of ``--repeat`` runs
(with the lowest and highest). The database comes from ``--database`` or
``$VILLAGEWORKS_TEST_DATABASE_URL`` (what ``scripts/pg`` sets); every run gets a fresh
schema, dropped afterwards. ``bench_upload`` and ``bench_first`` return the figures as
dicts for other scripts (``scripts/bench.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

import benchdata  # noqa: E402

DEMO = ROOT / "data" / "demo"
ROWS = ("upload", "first")


def median(values: list[float]) -> dict[str, float]:
    """The median, lowest and highest of ``values`` (seconds), in milliseconds."""
    ms = [v * 1000 for v in values]
    return {"p50_ms": round(statistics.median(ms), 1), "min_ms": round(min(ms), 1),
            "max_ms": round(max(ms), 1)}  # fmt: skip


@contextlib.contextmanager
def fresh_schema(base_url: str) -> Iterator[str]:
    """A connection string to a new, empty schema of ``base_url``'s database."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base_url, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield make_conninfo(base_url, options=f"-c search_path={schema},public")
    finally:
        with psycopg.connect(base_url, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def demo_folder(target: Path) -> Path:
    """A copy of the demo county's layers and declarations in ``target``."""
    if target.exists():
        shutil.rmtree(target)
    for sub in ("layers", "specs"):
        shutil.copytree(DEMO / sub, target / sub)
    return target


def open_demo(folder: Path, url: str) -> Any:
    """The demo county in a store of the backend ``url`` names ("" for GeoJSON)."""
    from layers.backends import demo_dumps, open_store

    store = open_store(folder, url)
    if url:
        from layers.postgis import PostGISStore

        assert isinstance(store, PostGISStore)
        store.seed(demo_dumps(folder / "layers"))
    return store


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def server_cpu_s(url: str) -> dict[int, float]:
    """CPU seconds used so far by each of the database server's backends (on this
    machine), by process id: with the client's own CPU time, a figure that a busy
    machine inflates far less than wall time. :func:`server_cpu_used` takes the
    difference of two of these."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        pids = [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity").fetchall()]
    ticks = os.sysconf("SC_CLK_TCK")
    used: dict[int, float] = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            used[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return used


def server_cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds the backends used between two :func:`server_cpu_s` readings: a backend
    that ended in between is not counted (its time is no longer readable), one that
    started counts whole; never negative."""
    return sum(max(0.0, cpu - before.get(pid, 0.0)) for pid, cpu in after.items())


def bench_upload(url: str, work: Path, size: int = 100_000, repeat: int = 3) -> dict[str, Any]:
    """Seconds of a ``size``-row CSV upload into streetlights, per backend, alternated
    run by run (GeoJSON, then PostGIS) so that both see the same machine load."""
    from layers.uploads import UploadOptions, run_upload

    csv_path = work / f"lights-{size}.csv"
    benchdata.write_csv(csv_path, DEMO, size)
    data = csv_path.read_bytes()
    times: dict[str, list[float]] = {"geojson": [], "postgis": []}
    cpu: dict[str, list[float]] = {"geojson": [], "postgis": []}
    for i in range(repeat):
        for backend in times:
            with fresh_schema(url) if backend == "postgis" else contextlib.nullcontext("") as db:
                store = open_demo(demo_folder(work / f"upload-{backend}-{i}"), db)
                store.count("streetlights"), store.frame("boundaries")  # a running server

                def upload(store: Any = store) -> None:
                    report = run_upload(store, data, "lights.csv",
                                        UploadOptions(layer="streetlights"), user="bench",
                                        max_bytes=200 * 1024 * 1024)  # fmt: skip
                    assert report.status == "committed", str(report.as_dict("en"))[:500]

                before = server_cpu_s(url) if db else {}
                own = time.process_time()
                times[backend].append(_timed(upload))
                server = server_cpu_used(before, server_cpu_s(url)) if db else 0.0
                cpu[backend].append(time.process_time() - own + server)
                store.close()
    result: dict[str, Any] = {k: median(v) for k, v in times.items()}
    result["ratio"] = round(result["postgis"]["p50_ms"] / result["geojson"]["p50_ms"], 2)
    result["cpu"] = {k: median(v) for k, v in cpu.items()}
    result["cpu_ratio"] = round(
        result["cpu"]["postgis"]["p50_ms"] / result["cpu"]["geojson"]["p50_ms"], 2
    )
    return {"size": size, **result}


def big_county(work: Path, size: int) -> Path:
    """The demo county with ``size`` generated streetlights (and their roads), as files."""
    folder = demo_folder(work / f"county-{size}")
    benchdata.write_streetlights(folder, size)
    return folder


STAGE = """CREATE TEMP TABLE IF NOT EXISTS vw_stage_points (
    id text NOT NULL, x float8 NOT NULL, y float8 NOT NULL, feature jsonb NOT NULL)
    ON COMMIT DELETE ROWS"""
COPY_STAGE = "COPY vw_stage_points (id, x, y, feature) FROM STDIN"


def load_pg(folder: Path, url: str, big: str = "streetlights") -> None:
    """The layers of ``folder`` into the database ``url``: the small ones through the
    store's seed, ``big`` by COPY into a staging table, as seq 0."""
    import orjson

    from layers.backends import demo_dumps
    from layers.postgis import PostGISStore

    store = PostGISStore(folder, url)
    store.seed(d for d in demo_dumps(folder / "layers") if d.layer != big)
    lines = (folder / "layers" / f"{big}.geojson").read_bytes().split(b"\n")
    head = orjson.loads(lines[0].split(b',"features":[')[0] + b"}")
    with store._conn() as conn, conn.transaction():
        conn.execute(STAGE)
        with conn.cursor().copy(COPY_STAGE) as copy:
            for line in lines[1:]:
                text = line.rstrip(b",")
                if not text.startswith(b"{"):
                    continue
                x, y = orjson.loads(text)["geometry"]["coordinates"][:2]
                fid = text.split(b'"id":"', 1)[1].split(b'"', 1)[0]
                copy.write(b"%s\t%r\t%r\t%s\n" % (fid, x, y, text.replace(b"\\", b"\\\\")))
        conn.execute(
            "INSERT INTO vw_features (layer, id, seq, deleted, geom, geometry, properties) "
            "SELECT %s, id, 0, false, ST_SetSRID(ST_MakePoint(x, y), 4326), "
            "feature->'geometry', feature->'properties' FROM vw_stage_points",
            (big,),
        )
        conn.execute(
            "INSERT INTO vw_layers (name, seq, next_id) VALUES (%s, 0, %s) "
            "ON CONFLICT (name) DO UPDATE SET next_id = EXCLUDED.next_id",
            (big, int(head.get("vw:next_id", 1))),
        )
        conn.execute("ANALYZE vw_features")
    store.close()


#: What a fresh worker answers first: an items page, then the county map page.
FIRST_REQUESTS = {
    "first_items_ms": "/ogc/collections/streetlights/items?limit=100",
    "first_deep_page_ms": "/ogc/collections/streetlights/items?limit=100&offset=50000",
    "first_map_page_ms": "/?basemap=none&lang=zh",
}


def first_requests(folder: str, url: str) -> dict[str, Any]:
    """In this (fresh) process: an app over ``folder`` (PostGIS when ``url``), the
    seconds of each of :data:`FIRST_REQUESTS` and the RSS after them (MB; peak too)."""
    if url:
        os.environ["VILLAGEWORKS_DATABASE_URL"] = url
    from webmap.app import create_app

    app = create_app({"DATA_DIR": folder})
    client = app.test_client()
    out: dict[str, Any] = {}
    for name, path in FIRST_REQUESTS.items():
        start = time.perf_counter()
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code, response.data[:300])
        out[name] = round((time.perf_counter() - start) * 1000, 1)
    status = Path("/proc/self/status").read_text()
    for key, name in (("VmRSS:", "rss_mb"), ("VmHWM:", "peak_rss_mb")):
        out[name] = round(int(status.split(key)[1].split()[0]) / 1024, 1)
    out.update(steady_requests(client))
    return out


def steady_requests(client: Any, count: int = 30) -> dict[str, float]:
    """p50 (ms) of a deep page by offset, the same page by keyset, and bbox pages of 100
    (different boxes over the county), once the worker is warm."""
    import orjson

    base = "/ogc/collections/streetlights/items?limit=100"
    one = client.get("/ogc/collections/streetlights/items?limit=1&offset=49999")
    ids = orjson.loads(one.data)["features"]
    paths = {
        "deep_offset_p50_ms": [f"{base}&offset=50000"] * count,
        "deep_keyset_p50_ms": [f"{base}&offset=50000&after={ids[0]['id']}"] * count,
        "bbox_p50_ms": [
            f"{base}&bbox={x:.3f},39.40,{x + 0.02:.3f},39.42"
            for x in (112.5 + 0.015 * i for i in range(count))
        ],  # fmt: skip
    }
    out = {}
    for name, urls in paths.items():
        times = []
        for url in urls:
            start = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - start)
            assert response.status_code == 200, (url, response.data[:300])
        out[name] = round(statistics.median(times) * 1000, 2)
    return out


CHILD = """import json, sys
sys.path.insert(0, {scripts!r})
import bench_pg
print(json.dumps(bench_pg.first_requests(sys.argv[1], sys.argv[2])))
"""


def bench_first(url: str, work: Path, size: int, repeat: int = 1) -> dict[str, Any]:
    """:func:`first_requests` in fresh processes, per backend, over ``size`` streetlights."""
    folder = big_county(work, size)
    result: dict[str, Any] = {"size": size}
    with fresh_schema(url) as db:
        load_pg(folder, db)
        for backend, target in (("geojson", ""), ("postgis", db)):
            runs = []
            for _ in range(repeat):
                code = CHILD.format(scripts=str(ROOT / "scripts"))
                done = subprocess.run([sys.executable, "-c", code, str(folder), target],
                                      capture_output=True, text=True)  # fmt: skip
                if done.returncode:
                    raise RuntimeError(f"{backend}: {done.stderr[-2000:]}")
                runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
            result[backend] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    shutil.rmtree(folder, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=os.environ.get("VILLAGEWORKS_TEST_DATABASE_URL"))
    parser.add_argument("--only", default=",".join(ROWS))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", default="100000,1000000", help="for the first row")
    args = parser.parse_args()
    if not args.database:
        parser.error("no database: pass --database or run under scripts/pg")
    with tempfile.TemporaryDirectory(prefix="bench-pg-") as tmp:
        work = Path(tmp)
        for row in args.only.split(","):
            figures = ROW_FUNCTIONS[row](args, work)
            print(json.dumps({"row": row, **figures}, ensure_ascii=False), flush=True)


ROW_FUNCTIONS: dict[str, Callable[[argparse.Namespace, Path], dict[str, Any]]] = {
    "upload": lambda a, w: bench_upload(a.database, w, repeat=a.repeat),
    "first": lambda a, w: {
        "sizes": [bench_first(a.database, w, int(n)) for n in a.sizes.split(",")]
    },
}

if __name__ == "__main__":
    main()
