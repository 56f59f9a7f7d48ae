"""Choosing a store backend, seeding it, and moving data between backends.

``open_store(data_dir)`` is the embedded GeoJSON store; ``open_store(data_dir, url)`` with
a ``postgresql://`` URL is the PostGIS store (its site files, :mod:`layers.site_files`,
then live in the database too and ``data_dir`` is a cache). :func:`migrate` copies every
layer with its history, deleted features, next ids and idempotency keys, every site file
(specs, accounts, uploads, photos, staging, throttles) and the signing key from one store
to another, either way; a round trip gives back equal dumps and equal files.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson

from layers.errors import VillageWorksError
from layers.journal import InterProcessLock
from layers.seed import is_empty, seed_demo
from layers.site_files import DirFiles, PgFiles, SiteFiles, site_files
from layers.site_migration import (
    SITE_FILE_ROOTS,
    MigrationSummary,
    carry_signing_key,
    classify_paths,
    holds_site_files,
    target_key_taken,
)
from layers.specs import SpecRegistry
from layers.store import GeoJSONStore
from layers.store_base import BaseStore, LayerDump

#: What a data directory holds besides layer data; moved by :func:`migrate`. The signing
#: key is not among them: it is kept outside the data directory (``webmap.deploy``).
DATA_DIR_ENTRIES = SITE_FILE_ROOTS


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

    The demo's spec declarations are copied too (into ``data_dir/specs``, or the
    database's site files), since the demo's own layers are declared there.
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
        for path in sorted((demo_dir / "specs").glob("*.toml")):
            # In the database, for every server (the data directory stays empty).
            if not probe.files.exists(f"specs/{path.name}"):
                probe.files.write(f"specs/{path.name}", path.read_bytes())
    finally:
        probe.close()
    store = PostGISStore(data_dir, database_url)
    try:
        return store.seed(demo_dumps(demo_dir / "layers"))
    finally:
        store.close()


def copy_data_dir(
    source: SiteFiles | Path,
    target: SiteFiles | Path,
    *,
    force: bool = False,
) -> list[str]:
    """Copy every site file of ``source`` into ``target`` (empty); the paths copied.

    Either side is a :class:`~layers.site_files.SiteFiles` or a data directory. Nothing to
    do when both are one folder. Refuses (:class:`VillageWorksError`), before writing
    anything, a target that holds site files and, unless ``force`` (then they stay
    behind), source entries that are not site files migrate knows.
    """
    source = DirFiles(source) if isinstance(source, Path) else source
    target = DirFiles(target) if isinstance(target, Path) else target
    if isinstance(source, DirFiles) and isinstance(target, DirFiles):
        if source.root.resolve() == target.root.resolve():
            return []
    paths, unknown = classify_paths(source.list(), source.kind)
    if unknown and not force:
        raise VillageWorksError("migrate_unknown_files", value=", ".join(unknown))
    taken = holds_site_files(target)
    if taken:
        raise VillageWorksError("migrate_target_not_empty", value=", ".join(taken))
    for path in paths:
        data = source.read(path)
        if data is None:
            continue  # removed since it was listed (an expired staging file)
        target.write(path, data)
        local = target.local_path(path)
        if local is not None and path == "users.json":
            local.chmod(0o600)  # password and token hashes
    return paths


def _lines(path: Path) -> int:
    """Lines of a layer file (one feature a line) or a journal, read a piece at a time."""
    count = 0
    with open(path, "rb") as handle:
        for piece in iter(lambda: handle.read(1 << 20), b""):
            count += piece.count(b"\n")
    return max(count, 1)


def held_layers(store: BaseStore) -> dict[str, int]:
    """Every layer that holds data in ``store``, declared or not -> its rows (features,
    deleted ones and history records), so that no layer is left out unseen."""
    files = store.files
    if isinstance(files, PgFiles):
        with files.pool.connection() as conn:
            rows = conn.execute(
                "SELECT layer, count(*) FROM (SELECT layer FROM vw_features UNION ALL "
                "SELECT layer FROM vw_changes) AS t GROUP BY layer"
            ).fetchall()
        return {str(name): int(n) for name, n in rows}
    held: dict[str, int] = {}
    for path in DirFiles(store.data_dir).list():
        folder, _, name = path.partition("/")
        stem, dot, ext = name.rpartition(".")
        if (
            dot
            and "/" not in name
            and (folder, ext)
            in (
                ("layers", "geojson"),
                ("journal", "geojsons"),
            )
        ):
            held[stem] = held.get(stem, 0) + _lines(store.data_dir / path)
    return held


def _declared_by(source: SiteFiles, paths: list[str]) -> SpecRegistry:
    """The registry a target gets from the spec files about to be copied to it."""
    with tempfile.TemporaryDirectory() as tmp:
        for path in paths:
            if path.startswith("specs/") and path.count("/") == 1:
                (Path(tmp) / path.split("/")[1]).write_bytes(source.read(path) or b"")
        return SpecRegistry.load(Path(tmp))


def check_migration(
    source: BaseStore, target_files: SiteFiles, *, force: bool = False
) -> tuple[list[str], SpecRegistry]:
    """Refuse (:class:`VillageWorksError`) what migrate could not carry whole, before a
    byte is written: unknown entries (unless ``force``), a target holding files, a layer
    holding data that no spec copied to the target declares. The layers to carry, and
    the registry the target gets from the copied spec files."""
    paths, unknown = classify_paths(source.files.list(), source.files.kind)
    if unknown and not force:
        raise VillageWorksError("migrate_unknown_files", value=", ".join(unknown))
    taken = holds_site_files(target_files)
    if taken:
        raise VillageWorksError("migrate_target_not_empty", value=", ".join(taken))
    declared = _declared_by(source.files, paths)
    held = held_layers(source)
    for name, rows in sorted(held.items()):
        if name not in declared or name not in source.specs:
            raise VillageWorksError("migrate_undeclared_layer", layer=name, count=rows)
    return [name for name in source.layer_names() if name in held], declared


def _refuse_a_full_target(data_dir: Path, database_url: str, specs: SpecRegistry) -> None:
    # Given its specs, the probe reads none: a PostGIS store would otherwise adopt the
    # spec files of its data directory into the database before they are copied.
    probe = open_store(data_dir, database_url, specs)
    try:
        if not probe.is_empty():
            raise VillageWorksError("migrate_target_not_empty", value="layers")
    finally:
        probe.close()


def _carry_layers(
    source: BaseStore,
    target: BaseStore,
    names: list[str],
    summary: MigrationSummary,
    progress: Callable[[str], None],
) -> None:
    """Import each layer's dump into ``target`` and check what arrived."""
    for name in names:
        dump = source.export_layer(name)
        if dump.is_empty():
            continue
        target.import_layer(dump)
        arrived = target.count(name)
        if arrived != len(dump.live):
            raise VillageWorksError(
                "migrate_lost", value=name, expected=len(dump.live), found=arrived
            )
        summary.features[name] = len(dump.live)
        summary.deleted += len(dump.deleted)
        summary.records += len(dump.records)
        progress(f"{name}: {len(dump.live)} features, {len(dump.records)} records")


def migrate(
    source: BaseStore,
    data_dir: Path | str,
    database_url: str = "",
    *,
    force: bool = False,
    source_key_file: Path | None = None,
    target_key_file: Path | None = None,
    progress: Callable[[str], None] = lambda _msg: None,
) -> MigrationSummary:
    """Copy everything of ``source`` into an empty store over ``data_dir``/``database_url``.

    Checks first (:func:`check_migration`; the target store must hold no layer data nor
    its key file a key), then copies the site files (spec declarations first of all, so
    that the target store, opened only then, declares the county's own layers), the
    signing key (:func:`~layers.site_migration.carry_signing_key`: ``*_key_file`` is the
    key file of a GeoJSON side, None for a database) and every layer: live and deleted
    features, history records, next ids and idempotency keys, into a target store that
    declares what the copied spec files declare. Returns what was carried.
    """
    data_dir = Path(data_dir)
    target_files = site_files(data_dir, database_url)
    try:
        names, declared = check_migration(source, target_files, force=force)
        _refuse_a_full_target(data_dir, database_url, declared)
        taken = target_key_taken(target_files, target_key_file)
        if taken:
            raise VillageWorksError("migrate_target_not_empty", value=taken)
        summary = MigrationSummary()
        paths = copy_data_dir(source.files, target_files, force=force)
        summary.count_files(target_files, paths)
        summary.left_behind = classify_paths(source.files.list(), source.files.kind)[1]
        progress(f"copied {len(paths)} files")
        summary.signing_key = carry_signing_key(
            source.files, target_files, source_key_file, target_key_file
        )
    finally:
        target_files.close()
    target = open_store(data_dir, database_url, declared)
    try:
        _carry_layers(source, target, names, summary, progress)
    finally:
        target.close()
    return summary
