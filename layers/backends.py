"""Choosing a store backend, seeding it, and moving data between backends.

``open_store(data_dir)`` is the embedded GeoJSON store; ``open_store(data_dir, url)`` with
a ``postgresql://`` URL is the PostGIS store (``data_dir`` then keeps specs, accounts,
uploads and photos). :func:`migrate` copies every layer with its history, deleted
features and idempotency keys, plus the files of the data directory, from one store to
another; a round trip gives back equal dumps.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson

from layers.errors import VillageWorksError
from layers.journal import InterProcessLock
from layers.seed import is_empty, seed_demo
from layers.specs import SpecRegistry
from layers.store import GeoJSONStore
from layers.store_base import BaseStore, LayerDump

#: What a data directory holds besides layer data; moved by :func:`migrate`. The signing
#: key is not among them: it is kept outside the data directory (``webmap.deploy``).
DATA_DIR_ENTRIES = ("specs", "users.json", "uploads", "photos")


def open_store(
    data_dir: Path | str, database_url: str = "", specs: SpecRegistry | None = None
) -> BaseStore:
    """The store over ``data_dir``: PostGIS when ``database_url`` is set, else GeoJSON files.

    >>> import tempfile
    >>> open_store(tempfile.mkdtemp()).backend
    'geojson'
    """
    if database_url:
        from layers.postgis import PostGISStore

        return PostGISStore(data_dir, database_url, specs)
    return GeoJSONStore(data_dir, specs)


def demo_dumps(layers_dir: Path) -> Iterator[LayerDump]:
    """The layer files of a folder (e.g. the demo county's) as dumps, without journals."""
    for path in sorted(layers_dir.glob("*.geojson")):
        doc = orjson.loads(path.read_bytes())
        yield LayerDump(
            layer=path.stem,
            seq=int(doc.get("vw:seq", 0)),
            next_id=int(doc.get("vw:next_id", 1)),
            live=list(doc.get("features", [])),
            idempotency=dict(doc.get("vw:idempotency", {})),
        )


def seed_if_empty(data_dir: Path, demo_dir: Path, database_url: str = "") -> list[str]:
    """Seed an empty store from the demo county; the layers written (none if not empty).

    The demo's spec declarations are copied into ``data_dir/specs`` either way, since the
    demo's own layers are declared there.
    """
    if not database_url:
        # Under a lock: gunicorn workers start together; the others wait until the first
        # has copied every file, and then find the directory seeded. Looking needs no
        # write: a read-only data directory that holds data is served as it is.
        lock = InterProcessLock(Path(data_dir) / "locks" / "seed.lock")
        with lock.for_reading():
            if not is_empty(data_dir):
                return []
        with lock:
            return seed_demo(data_dir, demo_dir) if is_empty(data_dir) else []
    from layers.postgis import PostGISStore

    probe = PostGISStore(data_dir, database_url)
    try:
        if not probe.is_empty():
            return []
        if (demo_dir / "specs").is_dir():
            (data_dir / "specs").mkdir(parents=True, exist_ok=True)
            for path in sorted((demo_dir / "specs").glob("*.toml")):
                if not (data_dir / "specs" / path.name).exists():
                    shutil.copyfile(path, data_dir / "specs" / path.name)
    finally:
        probe.close()
    store = PostGISStore(data_dir, database_url)
    try:
        return store.seed(demo_dumps(demo_dir / "layers"))
    finally:
        store.close()


def copy_data_dir(source: Path, target: Path) -> list[str]:
    """Copy specs, accounts, uploads and photos; returns what was copied.

    Nothing to do when both are one folder; refuses to overwrite what ``target`` has.
    """
    if source.resolve() == target.resolve():
        return []
    present = [name for name in DATA_DIR_ENTRIES if (source / name).exists()]
    clash = [name for name in present if (target / name).exists()]
    if clash:
        raise VillageWorksError("bad_request", value=f"{target / clash[0]} exists")
    target.mkdir(parents=True, exist_ok=True)
    for name in present:
        if (source / name).is_dir():
            shutil.copytree(source / name, target / name)
        else:
            shutil.copy2(source / name, target / name)
    return present


def migrate(
    source: BaseStore,
    data_dir: Path | str,
    database_url: str = "",
    *,
    progress: Callable[[str], None] = lambda _msg: None,
) -> dict[str, int]:
    """Copy everything of ``source`` into an empty store over ``data_dir``/``database_url``.

    First the data directory's files (spec declarations, accounts, uploads, photos), then
    every layer: live and deleted features, history records, next ids
    and idempotency keys. Returns live features per layer. Refuses
    (:class:`VillageWorksError`) a target holding layer data or any of those files.
    """
    data_dir = Path(data_dir)
    probe = open_store(data_dir, database_url)
    try:
        if not probe.is_empty():
            raise VillageWorksError("bad_request", value="the target store holds data")
    finally:
        probe.close()
    for name in copy_data_dir(source.data_dir, data_dir):
        progress(f"copied {name}")
    target = open_store(data_dir, database_url)
    counts: dict[str, int] = {}
    try:
        missing = [n for n in source.layer_names() if n not in target.specs]
        if missing:
            raise VillageWorksError("bad_request", value=f"target declares no {missing[0]}")
        for name in source.layer_names():
            dump = source.export_layer(name)
            if dump.is_empty():
                continue
            target.import_layer(dump)
            counts[name] = len(dump.live)
            progress(f"{name}: {len(dump.live)} features, {len(dump.records)} records")
    finally:
        target.close()
    return counts
