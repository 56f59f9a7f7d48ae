"""County-declared layer specs as site files: ``specs/*.toml`` among :mod:`layers.site_files`.

The built-in specs ship with the code (``layers/specs/*.toml``); a county declares its own
layers, or fields of built-in ones, in ``specs/*.toml``: in the data directory on the
GeoJSON store, in PostgreSQL's ``vw_files`` with a database, so every server over one
database declares the same layers. :func:`load_specs` builds the registry from them.

A store's registry is a :class:`SiteSpecs`: the same object for the store's lifetime, whose
content :meth:`SiteSpecs.refresh` replaces (whole, in one assignment) when the spec files
moved. The web app refreshes it before each request, so a layer declared through one
server (``villageworks layers add``, ``POST /admin/layers``) is served by every other at
its next request; a request already running keeps the specs it started with. What a
refresh costs while nothing moved:

- on a database, no round trip: the process's LISTEN connection is drained without
  blocking (:mod:`layers.spec_listen`; triggers of ``vw_files`` notify every change of
  ``specs/``), and this process's own spec writes are counted
  (:func:`layers.site_files.spec_writes`), so its next request sees them even before the
  notification is back. Without a listener (lost, database restarted, no triggers) each
  refresh asks the database, :func:`specs_version`'s one query, until it listens again;
- in a data directory, one ``scandir`` of ``specs/`` with a ``stat`` per declaration
  (:func:`specs_version`).

:func:`add_spec_file` checks a declaration with the registry's own checks (and against
the specs already declared) before writing it, so a bad file never reaches the site.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from geo.messages import register
from layers.errors import BadRequest
from layers.site_files import DirFiles, PgFiles, SiteFiles, spec_writes
from layers.spec_listen import SpecListener, listener_for
from layers.specs import LayerSpec, SpecError, SpecRegistry

log = logging.getLogger(__name__)
SPECS = "specs"
#: The file name of a declaration: ``specs/<name>.toml``.
FILE_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}\.toml$")
#: Largest declaration accepted (bytes).
MAX_SPEC_BYTES = 256 * 1024

for _code, _zh, _en in (
    (
        "spec_file_name",
        "图层定义文件名“{value}”不合规：应为小写字母开头、由小写字母、数字和 _ 组成的 .toml 文件名",
        "The declaration's file name '{value}' is not allowed: a .toml name of lower-case "
        "letters, digits and _, starting with a letter",
    ),
    (
        "spec_file_too_large",
        "图层定义文件 {file} 超过 {limit_kb} KB",
        "The declaration {file} is larger than {limit_kb} KB",
    ),
):
    register(_code, _zh, _en)


def spec_paths(files: SiteFiles) -> list[str]:
    """Paths of the county's declarations (``specs/*.toml``), sorted."""
    return [p for p in files.list(SPECS) if p.count("/") == 1 and p.endswith(".toml")]


def _registry_of(bodies: dict[str, bytes]) -> SpecRegistry:
    """The built-ins plus ``bodies`` (file name -> TOML), as :meth:`SpecRegistry.load`
    reads a folder of them (the same checks, file by file in name order)."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, body in bodies.items():
            (Path(tmp) / name).write_bytes(body)
        try:
            return SpecRegistry.load(Path(tmp))
        except SpecError as exc:  # name the site file, not the temporary copy
            raise SpecError(str(exc).replace(f"{tmp}/", f"{SPECS}/")) from None


def load_specs(files: SiteFiles) -> SpecRegistry:
    """The registry of the site: built-in specs and every ``specs/*.toml`` of ``files``."""
    if isinstance(files, DirFiles):
        return SpecRegistry.load(files.root / SPECS)
    bodies = {p.split("/", 1)[1]: files.read(p) or b"" for p in spec_paths(files)}
    return _registry_of(bodies)


def specs_version(files: SiteFiles) -> tuple[Any, ...]:
    """What changes whenever a declaration is added, replaced or removed: one query on
    a database (count, newest change, total size); in a data directory one listing of
    ``specs/`` with each declaration's inode, size and time in nanoseconds (an atomic
    replace is a new inode, whatever the clock's grain)."""
    if isinstance(files, PgFiles):
        with files.pool.connection() as conn:
            row = conn.execute(
                "SELECT count(*), coalesce(max(modified), 0), coalesce(sum(octet_length(body)), 0) "
                "FROM vw_files WHERE starts_with(path, 'specs/') AND path LIKE '%%.toml'"
            ).fetchone()
        return tuple(row or ())
    if isinstance(files, DirFiles):
        return _listing(os.path.join(files.root, SPECS))
    return tuple((p, files.stat(p)) for p in spec_paths(files))


def _listing(folder: str) -> tuple[tuple[str, int, int, int], ...]:
    """``(name, inode, size, mtime_ns)`` of each ``*.toml`` file of ``folder``, sorted:
    one ``scandir`` and a ``stat`` per declaration (no walk)."""
    found = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if not entry.name.endswith(".toml"):
                    continue
                try:
                    info = entry.stat()
                except FileNotFoundError:
                    continue  # removed since the listing
                if stat.S_ISREG(info.st_mode):
                    found.append((entry.name, info.st_ino, info.st_size, info.st_mtime_ns))
    except (FileNotFoundError, NotADirectoryError):
        return ()
    return tuple(sorted(found))


def adopt_local_specs(files: SiteFiles, data_dir: Path) -> list[str]:
    """Copy declarations of ``data_dir/specs`` that a database does not hold yet into it
    (a deployment from before specs lived in the database); the paths copied."""
    folder = data_dir / SPECS
    if isinstance(files, DirFiles) or not folder.is_dir():
        return []
    copied = []
    with files.lock(SPECS):
        for path in sorted(folder.glob("*.toml")):
            target = f"{SPECS}/{path.name}"
            if FILE_RE.match(path.name) and not files.exists(target):
                files.write(target, path.read_bytes())
                copied.append(target)
    if copied:
        log.warning("copied spec declarations into the database: %s", ", ".join(copied))
    return copied


class SiteSpecs(SpecRegistry):
    """A store's registry over its site files (``files()`` gives them), loaded on first use
    and reloaded by :meth:`refresh` when the declarations moved."""

    def __init__(self, files: Callable[[], SiteFiles], data_dir: Path | None = None):
        self._files = files
        self._data_dir = data_dir
        self._loaded: dict[str, LayerSpec] | None = None
        self._at: tuple[Any, ...] | None = None
        self._listener: SpecListener | None = None
        self._reload = threading.Lock()
        #: Layers whose spec the last :meth:`refresh` changed (not new ones).
        self.changed: list[str] = []

    @property
    def _specs(self) -> dict[str, LayerSpec]:
        loaded = self._loaded
        if loaded is None:
            self.refresh()
            loaded = self._loaded
        assert loaded is not None
        return loaded

    @_specs.setter
    def _specs(self, value: dict[str, LayerSpec]) -> None:
        self._loaded = value

    def _state(self, files: SiteFiles) -> tuple[Any, ...]:
        """What moves with the declarations, measured before they are read. On a
        database: the listener's generation and this process's own spec writes, no
        round trip (:mod:`layers.spec_listen`); without a listener, the query of
        :func:`specs_version`. In a data directory: its listing."""
        if not isinstance(files, PgFiles):
            return ("listing", specs_version(files))
        if self._listener is None:
            self._listener = listener_for(files.pool.url)
        generation = self._listener.poll()
        if generation is None:
            return ("asked", specs_version(files), spec_writes())
        return ("listened", generation, spec_writes())

    def refresh(self) -> bool:
        """Reload when the declarations moved (or were never loaded); whether it did.
        The new registry replaces the old one in one assignment: readers see either.
        :attr:`changed` then names the layers declared anew or differently."""
        files = self._files()
        state = self._state(files)
        if self._loaded is not None and state == self._at:
            return False
        with self._reload:
            if self._loaded is not None and state == self._at:
                return False  # another thread reloaded meanwhile
            if self._data_dir is not None and self._loaded is None:
                if adopt_local_specs(files, self._data_dir):
                    state = self._state(files)
            old = self._loaded or {}
            fresh = {spec.name: spec for spec in load_specs(files)}
            self.changed = [n for n, spec in fresh.items() if n in old and old[n] != spec]
            self._loaded, self._at = fresh, state
        return True

    def listener(self) -> SpecListener | None:
        """The database listener these specs follow, once they asked it."""
        return self._listener


def site_specs(store: Any) -> SiteSpecs:
    """The registry of ``store`` (a :class:`layers.store_base.BaseStore`) over its
    ``files``: loaded now from a data directory; on a database at first use (once the
    store's connections exist)."""
    specs = SiteSpecs(lambda: store.files, store.data_dir if store.database_url else None)
    if not store.database_url:
        specs.refresh()
    return specs


def refresh_specs(store: Any) -> bool:
    """Reload ``store``'s specs if another process declared a layer; whether it did.
    What the store holds of a layer whose spec changed (its columns) is dropped."""
    specs = getattr(store, "specs", None)
    if not isinstance(specs, SiteSpecs) or not specs.refresh():
        return False
    for layer in specs.changed:
        if hasattr(store, "forget"):
            store.forget(layer)  # the GeoJSON store: loaded anew with the new columns
        for cache in ("_snapshots", "_orders"):  # the PostGIS store's read caches
            held = getattr(store, cache, None)
            if isinstance(held, dict):
                held.pop(layer, None)
    return True


def add_spec_file(files: SiteFiles, name: str, body: bytes) -> LayerSpec:
    """Declare a layer (or fields of one): ``body`` becomes ``specs/<name>``, after the
    registry with it is checked whole (:class:`SpecError` names the file and the key;
    nothing is written then). The spec it declares (or extends) is returned."""
    if not FILE_RE.match(name or ""):
        raise BadRequest("spec_file_name", value=name)
    if len(body) > MAX_SPEC_BYTES:
        raise BadRequest("spec_file_too_large", file=name, limit_kb=MAX_SPEC_BYTES // 1024)
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(f"{SPECS}/{name}: not UTF-8 text") from None
    with files.lock(SPECS):
        bodies = {p.split("/", 1)[1]: files.read(p) or b"" for p in spec_paths(files)}
        bodies[name] = body
        registry = _registry_of(bodies)
        declared = _declared_name(body)
        files.write(f"{SPECS}/{name}", body)
    return registry[declared]


def _declared_name(body: bytes) -> str:
    import tomllib

    return str(tomllib.loads(body.decode("utf-8"))["name"])
