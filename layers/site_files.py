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
  read-modify-write under it is serialised across every worker of every host.

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

    def delete(self, path: str) -> bool:
        with self.pool.connection() as conn:
            cur = conn.execute("DELETE FROM vw_files WHERE path = %s", (clean_path(path),))
        return bool(cur.rowcount)

    def delete_tree(self, prefix: str) -> int:
        with self.pool.connection() as conn:
            cur = conn.execute(
                "DELETE FROM vw_files WHERE starts_with(path, %s)", (_prefix(prefix),)
            )
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
