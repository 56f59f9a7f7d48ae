"""The durable files of a site besides its layers: one interface, two homes.

Accounts (``users.json``), county-declared layer specs (``specs/*.toml``), the upload log
with its original files (``uploads/``), photos and thumbnails (``photos/``), preview and
ledger-import staging, throttle counts and the session signing key are files named by a
relative path (``uploads/U-1/original``). :class:`SiteFiles` reads and writes them:

- :class:`DirFiles` keeps them in the data directory, as every earlier version did:
  atomic replace (temp file, fsync, rename), :class:`~layers.journal.InterProcessLock`
  files under ``locks/``.
- :class:`PgFiles` keeps them in PostgreSQL, table ``vw_files`` (path, body bytea,
  modified), so that app servers over one database share everything and their data
  directories are only caches that may be empty. A write is one autocommit statement
  (committed means durable); :meth:`SiteFiles.lock` is a PostgreSQL advisory lock, so a
  read-modify-write under it is serialised across every worker of every host. Triggers
  of the table announce every change of a ``specs/`` file (:data:`FILES_NOTIFY_DDL`).

:func:`site_files` picks one: PostgreSQL when a database URL is set. Paths are relative,
``/``-separated, without ``..``; anything else is refused.

>>> import tempfile
>>> files = site_files(tempfile.mkdtemp())
>>> files.write("uploads/U-1/meta.json", b"{}")
>>> files.read("uploads/U-1/meta.json"), files.list("uploads")
(b'{}', ['uploads/U-1/meta.json'])
>>> files.delete_tree("uploads"), files.read("uploads/U-1/meta.json")
(1, None)
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from layers.errors import VillageWorksError
from layers.journal import InterProcessLock, atomic_write

#: Bytes per chunk when a big file is streamed out of PostgreSQL.
CHUNK = 1 << 20

FILES_DDL = """CREATE TABLE IF NOT EXISTS vw_files (
    path text COLLATE "C" PRIMARY KEY,
    body bytea NOT NULL,
    modified double precision NOT NULL)"""

#: The channel on which PostgreSQL announces a change of a ``specs/`` file (the payload:
#: the schema of that ``vw_files``), whatever wrote it: :mod:`layers.spec_listen`.
SPECS_CHANNEL = "vw_specs"
#: The triggers of ``vw_files`` that send it (row triggers filtered on the path, so other
#: files cost nothing; TRUNCATE per statement).
SPECS_TRIGGERS = (
    "vw_files_specs_ins",
    "vw_files_specs_upd",
    "vw_files_specs_del",
    "vw_files_specs_t",
)
#: Creates the function and :data:`SPECS_TRIGGERS` when one is missing (a database from
#: before them included), once, under an advisory lock; a role that may not create them
#: is warned about and left with the per-request query (:mod:`layers.spec_listen`).
FILES_NOTIFY_DDL = """DO $ddl$ BEGIN
    IF (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'vw_files'::regclass AND tgname IN
        ('vw_files_specs_ins', 'vw_files_specs_upd', 'vw_files_specs_del', 'vw_files_specs_t'))
        < 4 THEN
        PERFORM pg_advisory_xact_lock(hashtext('villageworks:vw_files_specs'));
        CREATE OR REPLACE FUNCTION vw_files_specs_notify() RETURNS trigger
            LANGUAGE plpgsql AS $fn$
            BEGIN PERFORM pg_notify('vw_specs', TG_TABLE_SCHEMA); RETURN NULL; END $fn$;
        DROP TRIGGER IF EXISTS vw_files_specs_ins ON vw_files;
        DROP TRIGGER IF EXISTS vw_files_specs_upd ON vw_files;
        DROP TRIGGER IF EXISTS vw_files_specs_del ON vw_files;
        DROP TRIGGER IF EXISTS vw_files_specs_t ON vw_files;
        CREATE TRIGGER vw_files_specs_ins AFTER INSERT ON vw_files FOR EACH ROW
            WHEN (starts_with(NEW.path, 'specs/')) EXECUTE FUNCTION vw_files_specs_notify();
        CREATE TRIGGER vw_files_specs_upd AFTER UPDATE ON vw_files FOR EACH ROW
            WHEN (starts_with(NEW.path, 'specs/') OR starts_with(OLD.path, 'specs/'))
            EXECUTE FUNCTION vw_files_specs_notify();
        CREATE TRIGGER vw_files_specs_del AFTER DELETE ON vw_files FOR EACH ROW
            WHEN (starts_with(OLD.path, 'specs/')) EXECUTE FUNCTION vw_files_specs_notify();
        CREATE TRIGGER vw_files_specs_t AFTER TRUNCATE ON vw_files FOR EACH STATEMENT
            EXECUTE FUNCTION vw_files_specs_notify();
    END IF;
EXCEPTION WHEN insufficient_privilege OR read_only_sql_transaction THEN
    RAISE WARNING 'vw_files: no spec triggers (%): every request asks for the specs', SQLERRM;
END $ddl$"""

_spec_writes = [0]
_spec_writes_guard = threading.Lock()


def spec_writes() -> int:
    """How many writes of ``specs/`` files this process made in PostgreSQL: a change
    its own requests must see at once, before the notification comes back."""
    return _spec_writes[0]


def _wrote(prefix: str) -> None:
    """Count a write of ``prefix`` (a path, or a tree's prefix) if it may touch specs/."""
    if prefix.startswith("specs/") or "specs/".startswith(prefix):
        with _spec_writes_guard:
            _spec_writes[0] += 1


def clean_path(path: str) -> str:
    """``path`` checked: relative, ``/``-separated, no ``..``, no empty parts.

    >>> clean_path("photos/thumbs/P-1.jpg")
    'photos/thumbs/P-1.jpg'
    >>> clean_path("../etc/passwd")
    Traceback (most recent call last):
    ...
    layers.errors.VillageWorksError: Bad request: bad site file path '../etc/passwd'
    """
    parts = path.split("/")
    if (
        not path
        or "\\" in path
        or "\x00" in path
        or path.startswith("/")
        or any(p in ("", ".", "..") for p in parts)
    ):
        raise VillageWorksError("bad_request", value=f"bad site file path {path!r}")
    return "/".join(parts)


def _prefix(prefix: str) -> str:
    return clean_path(prefix.rstrip("/")) + "/" if prefix.strip("/") else ""


class SiteFiles(ABC):
    """Files by relative path; see the module docstring."""

    #: ``"dir"`` or ``"postgres"``.
    kind = ""

    @abstractmethod
    def read(self, path: str) -> bytes | None:
        """The file's bytes, or None when there is none."""

    @abstractmethod
    def write(self, path: str, data: bytes) -> None:
        """Replace (or create) the file, atomically and durably."""

    @abstractmethod
    def delete(self, path: str) -> bool:
        """Remove the file; whether there was one."""

    @abstractmethod
    def delete_tree(self, prefix: str) -> int:
        """Remove every file under ``prefix/``; how many."""

    @abstractmethod
    def list(self, prefix: str = "") -> list[str]:
        """Paths of every file under ``prefix/`` (all of them for ``""``), sorted."""

    @abstractmethod
    def stat(self, path: str) -> tuple[int, float] | None:
        """``(size, modified epoch seconds)``, or None when there is no such file."""

    @abstractmethod
    def lock(self, name: str) -> AbstractContextManager[Any]:
        """An exclusive lock named ``name`` over every process (and host) of the site."""

    def exists(self, path: str) -> bool:
        return self.stat(path) is not None

    def chunks(self, path: str) -> Iterator[bytes]:
        """The file in pieces of at most :data:`CHUNK` bytes (empty when missing)."""
        data = self.read(path)
        if data:
            for start in range(0, len(data), CHUNK):
                yield data[start : start + CHUNK]

    def local_path(self, path: str) -> Path | None:
        """The file on this machine's disk, when it lives there (directory files)."""
        return None

    def close(self) -> None:
        """Release connections (nothing to do for directory files)."""
        return None


class DirFiles(SiteFiles):
    """Files in the data directory ``root``."""

    kind = "dir"

    def __init__(self, root: Path | str):
        self.root = Path(root)
        self._locks: dict[str, InterProcessLock] = {}
        self._guard = threading.Lock()

    def _path(self, path: str) -> Path:
        return self.root / clean_path(path)

    def read(self, path: str) -> bytes | None:
        try:
            return self._path(path).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None

    def write(self, path: str, data: bytes) -> None:
        target = self._path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, data)

    def delete(self, path: str) -> bool:
        try:
            self._path(path).unlink()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return False
        return True

    def delete_tree(self, prefix: str) -> int:
        folder = self.root / clean_path(prefix) if prefix.strip("/") else self.root
        if not folder.is_dir():
            return 0
        count = sum(1 for p in folder.rglob("*") if p.is_file())
        shutil.rmtree(folder, ignore_errors=True)
        return count

    def list(self, prefix: str = "") -> list[str]:
        start = _prefix(prefix)
        folder = self.root / start if start else self.root
        if not folder.is_dir():
            return []
        found = []
        for dirpath, _dirs, names in os.walk(folder):
            for name in names:
                if name.startswith(".") and name.endswith(".tmp"):
                    continue  # a writer's temp file, not a file of the site
                found.append(Path(dirpath, name).relative_to(self.root).as_posix())
        return sorted(found)

    def stat(self, path: str) -> tuple[int, float] | None:
        try:
            info = self._path(path).stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return (info.st_size, info.st_mtime) if os.path.isfile(self._path(path)) else None

    def lock(self, name: str) -> InterProcessLock:
        with self._guard:
            if name not in self._locks:
                lock_path = self.root / "locks" / f"{clean_path(name).replace('/', '.')}.lock"
                self._locks[name] = InterProcessLock(lock_path)
            lock = self._locks[name]
        lock.path.parent.mkdir(parents=True, exist_ok=True)
        return lock

    def local_path(self, path: str) -> Path | None:
        target = self._path(path)
        return target if target.is_file() else None


class PgFiles(SiteFiles):
    """Files in PostgreSQL's ``vw_files`` table, through ``pool``
    (a :class:`layers.pg_db.ConnectionPool`)."""

    kind = "postgres"

    def __init__(self, pool: Any, *, owns_pool: bool = False):
        self.pool = pool
        self._owns_pool = owns_pool
        self._held = threading.local()
        with pool.connection() as conn:
            conn.execute(FILES_DDL)
            conn.execute(FILES_NOTIFY_DDL)

    def read(self, path: str) -> bytes | None:
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT body FROM vw_files WHERE path = %s", (clean_path(path),)
            ).fetchone()
        return None if row is None else bytes(row[0])

    def write(self, path: str, data: bytes) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                "INSERT INTO vw_files (path, body, modified) VALUES (%s, %s, %s) "
                "ON CONFLICT (path) DO UPDATE SET body = EXCLUDED.body, "
                "modified = EXCLUDED.modified",
                (clean_path(path), bytes(data), time.time()),
            )
        _wrote(clean_path(path))

    def delete(self, path: str) -> bool:
        with self.pool.connection() as conn:
            cur = conn.execute("DELETE FROM vw_files WHERE path = %s", (clean_path(path),))
        _wrote(clean_path(path))
        return bool(cur.rowcount)

    def delete_tree(self, prefix: str) -> int:
        with self.pool.connection() as conn:
            cur = conn.execute(
                "DELETE FROM vw_files WHERE starts_with(path, %s)", (_prefix(prefix),)
            )
        _wrote(_prefix(prefix))
        return int(cur.rowcount)

    def list(self, prefix: str = "") -> list[str]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT path FROM vw_files WHERE starts_with(path, %s) ORDER BY path",
                (_prefix(prefix),),
            ).fetchall()
        return [str(row[0]) for row in rows]

    def stat(self, path: str) -> tuple[int, float] | None:
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT octet_length(body), modified FROM vw_files WHERE path = %s",
                (clean_path(path),),
            ).fetchone()
        return None if row is None else (int(row[0]), float(row[1]))

    def chunks(self, path: str) -> Iterator[bytes]:
        size = (self.stat(path) or (0, 0.0))[0]
        for start in range(0, size, CHUNK):
            with self.pool.connection() as conn:
                row = conn.execute(
                    "SELECT substring(body FROM %s FOR %s) FROM vw_files WHERE path = %s",
                    (start + 1, CHUNK, clean_path(path)),
                ).fetchone()
            if row is None:
                return
            yield bytes(row[0])

    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        held: dict[str, int] = self._held.__dict__.setdefault("names", {})
        if held.get(name):
            held[name] += 1  # re-entered by the thread that holds it
            try:
                yield
            finally:
                held[name] -= 1
            return
        with self.pool.connection() as conn:
            key = f"vw_files:{clean_path(name)}"
            conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (key,))
            held[name] = 1
            try:
                yield
            finally:
                held[name] = 0
                conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (key,))

    def close(self) -> None:
        if self._owns_pool:
            self.pool.close()


def site_files(data_dir: Path | str, database_url: str = "") -> SiteFiles:
    """The site's files: in PostgreSQL when ``database_url`` is set, else in ``data_dir``."""
    if database_url:
        from layers.pg_db import ConnectionPool

        return PgFiles(ConnectionPool(database_url), owns_pool=True)
    return DirFiles(data_dir)
