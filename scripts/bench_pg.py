#!/usr/bin/env python3
"""PostGIS speed figures, each beside the GeoJSON store's in the same run.

    scripts/pg -- .venv/bin/python scripts/bench_pg.py            # every row
    scripts/pg -- .venv/bin/python scripts/bench_pg.py --only upload --repeat 5
    .venv/bin/python scripts/bench_pg.py --database postgresql://...

Rows (``--only``): ``upload`` (a 100k-row CSV through :func:`layers.uploads.run_upload`,
the generator of ``scripts/bench.py``'s ``import`` row), ``first`` (the first
``collection_meta`` + items page of a fresh store, and its RSS, at 100k and 1M points, in
a fresh process), ``paging`` (``limit=100&offset=50000`` and its keyset equivalent) and
``items`` (a bbox page of 100, p50). Figures are medians of ``--repeat`` runs (with the
lowest and highest). The database comes from ``--database`` or
``$VILLAGEWORKS_TEST_DATABASE_URL`` (what ``scripts/pg`` sets); every run gets a fresh
schema, dropped afterwards. The functions ``bench_upload``, ``bench_first``,
``bench_paging`` and ``bench_items`` return the figures as dicts for other scripts.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
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
ROWS = ("upload", "first", "paging", "items")


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


def bench_upload(url: str, work: Path, size: int = 100_000, repeat: int = 3) -> dict[str, Any]:
    """Seconds of a ``size``-row CSV upload into streetlights, per backend, alternated
    run by run (GeoJSON, then PostGIS) so that both see the same machine load."""
    from layers.uploads import UploadOptions, run_upload

    csv_path = work / f"lights-{size}.csv"
    benchdata.write_csv(csv_path, DEMO, size)
    data = csv_path.read_bytes()
    times: dict[str, list[float]] = {"geojson": [], "postgis": []}
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

                times[backend].append(_timed(upload))
                store.close()
    result: dict[str, Any] = {k: median(v) for k, v in times.items()}
    result["ratio"] = round(result["postgis"]["p50_ms"] / result["geojson"]["p50_ms"], 2)
    return {"size": size, **result}


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
}

if __name__ == "__main__":
    main()
