"""Who is writing an upload right now: claims that die with their process.

:class:`layers.upload_log.UploadLog` claims a record from :meth:`~UploadLog.begin` until
:meth:`~UploadLog.release`. A pending record whose claim is free belongs to a writer that
is gone, and is settled. Two homes, as for :mod:`layers.site_files`:

- :class:`DirClaims`: ``uploads/<id>/writing.lock``, held with ``flock`` (the kernel drops
  it when the process dies).
- :class:`PgClaims`: a PostgreSQL session advisory lock on a connection held for the
  upload (the server drops it when the session ends), so a server can tell a live upload
  of another server from one whose process died.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Iterator
from typing import Any

from layers.site_files import DirFiles, PgFiles, SiteFiles

#: Held (flock) by the process writing an upload, in the upload's folder.
WRITING_LOCK = "writing.lock"
_META_RE = re.compile(r"^uploads/U-\d{8}-[0-9a-f]{6}/meta\.json$")


class DirClaims:
    """Claims as ``flock``-ed files in the upload folders of a data directory."""

    def __init__(self, files: DirFiles):
        self.folder = files.root / "uploads"
        self._held: dict[str, int] = {}

    def claim(self, upload_id: str) -> None:
        folder = self.folder / upload_id
        folder.mkdir(parents=True, exist_ok=False)
        try:
            fd = os.open(folder / WRITING_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        except BaseException:
            folder.rmdir()
            raise
        fcntl.flock(fd, fcntl.LOCK_EX)
        self._held[upload_id] = fd

    def release(self, upload_id: str) -> None:
        fd = self._held.pop(upload_id, None)
        if fd is not None:
            with contextlib.suppress(FileNotFoundError):
                (self.folder / upload_id / WRITING_LOCK).unlink()
            os.close(fd)  # drops the lock

    @contextlib.contextmanager
    def abandoned(self, upload_id: str) -> Iterator[bool]:
        """Whether no live process is writing ``upload_id`` (its claim is held while
        inside the block, so that no two processes settle one record)."""
        try:
            fd = os.open(self.folder / upload_id / WRITING_LOCK, os.O_RDONLY)
        except FileNotFoundError:
            yield True  # released: the writer finished or failed
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)


def _key(upload_id: str) -> str:
    return f"vw_uploads:writing:{upload_id}"


class PgClaims:
    """Claims as PostgreSQL session advisory locks (``pg_advisory_lock``), each on a
    connection of its own kept out of the pool until released."""

    def __init__(self, files: PgFiles):
        self.pool = files.pool
        self._held: dict[str, tuple[Any, Any]] = {}

    def claim(self, upload_id: str) -> None:
        block = self.pool.connection()
        conn = block.__enter__()
        try:
            conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (_key(upload_id),))
        except BaseException as exc:
            block.__exit__(type(exc), exc, exc.__traceback__)
            raise
        self._held[upload_id] = (block, conn)

    def release(self, upload_id: str) -> None:
        held = self._held.pop(upload_id, None)
        if held is None:
            return
        block, conn = held
        try:
            conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (_key(upload_id),))
        finally:
            block.__exit__(None, None, None)

    @contextlib.contextmanager
    def abandoned(self, upload_id: str) -> Iterator[bool]:
        """Whether no live session holds the claim (held by us inside the block)."""
        with self.pool.connection() as conn:
            key = (_key(upload_id),)
            row = conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", key)
            got = bool(row.fetchone()[0])
            try:
                yield got
            finally:
                if got:
                    conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", key)


def claims_for(files: SiteFiles) -> DirClaims | PgClaims:
    """The claims that go with ``files``."""
    if isinstance(files, PgFiles):
        return PgClaims(files)
    if isinstance(files, DirFiles):
        return DirClaims(files)
    raise TypeError(f"no upload claims for {type(files).__name__}")


def read_metas(files: SiteFiles) -> list[bytes]:
    """The bytes of every ``uploads/<id>/meta.json``: one query on PostgreSQL."""
    if isinstance(files, PgFiles):
        with files.pool.connection() as conn:
            rows = conn.execute(
                "SELECT path, body FROM vw_files WHERE starts_with(path, 'uploads/U-') "
                "AND path LIKE '%%/meta.json'"
            ).fetchall()
        return [bytes(body) for path, body in rows if _META_RE.match(str(path))]
    found = (files.read(path) for path in files.list("uploads") if _META_RE.match(path))
    return [raw for raw in found if raw is not None]


__all__ = ["DirClaims", "PgClaims", "WRITING_LOCK", "claims_for", "read_metas"]
