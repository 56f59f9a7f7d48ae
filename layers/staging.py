"""Files between preview and commit, with an owner and an expiry.

An upload and a ledger import are both shown as a preview before anything is written;
meanwhile the file waits here under a random token (192 bits), the only handle the
browser gets. A staged file belongs to the user who staged it: anyone else, and anyone
after ``ttl_s`` seconds, gets :class:`~layers.errors.NotFound`. Expired files are removed
whenever a new one is staged.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import orjson

from geo.messages import register
from layers.errors import NotFound
from layers.site_files import DirFiles, SiteFiles, clean_path

#: Staged files older than this are removed when the next file is staged.
STAGING_TTL_S = 24 * 3600
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32}$")

register(
    "staging_not_found",
    "预览已过期或不存在，请重新上传文件",
    "The preview has expired or does not exist; please upload the file again",
)


class Staging:
    """Staged files of one kind: ``<folder>/<token>/`` (original bytes and a record) in the
    site's files (:mod:`layers.site_files`: the data directory, or PostgreSQL, where a
    preview staged through one server is committed through another).

    ``folder`` is ``uploads/staging`` for uploads, ``ledger_imports/staging`` for ledger
    imports; ``clock`` gives the time in seconds (tests pass their own).

    >>> import tempfile
    >>> staging = Staging(tempfile.mkdtemp(), "demo/staging", ttl_s=60)
    >>> token = staging.put(b"a,b", "f.csv", user="ann")
    >>> staging.data(token, user="ann")
    b'a,b'
    >>> staging.data(token, user="bob")
    Traceback (most recent call last):
    ...
    layers.errors.NotFound: ...
    """

    def __init__(
        self,
        files: SiteFiles | Path | str,
        folder: str = "uploads/staging",
        ttl_s: float = STAGING_TTL_S,
        clock: Callable[[], float] = time.time,
    ):
        self.files = files if isinstance(files, SiteFiles) else DirFiles(files)
        self.folder = clean_path(folder)
        local = self.files.root if isinstance(self.files, DirFiles) else None
        self.root = (local or Path(".")) / self.folder
        self.ttl_s = ttl_s
        self.clock = clock

    def _path(self, token: str, name: str = "") -> str:
        if not _TOKEN_RE.match(token or ""):
            raise NotFound("staging_not_found")
        return f"{self.folder}/{token}/{name}" if name else f"{self.folder}/{token}"

    def put(
        self, data: bytes, filename: str, *, user: str, options: Mapping[str, Any] | None = None
    ) -> str:
        """Keep ``data`` for a later preview or commit; returns its token."""
        self.expire()
        token = secrets.token_urlsafe(24)
        self.files.write(self._path(token, "original.bin"), data)
        meta = {
            "filename": filename,
            "user": user,
            "created": self.clock(),
            "sha256": hashlib.sha256(data).hexdigest(),
            "options": dict(options or {}),
        }
        self.files.write(self._path(token, "meta.json"), orjson.dumps(meta))
        return token

    def meta(self, token: str, *, user: str) -> dict[str, Any]:
        """The record of a staged file; NotFound when unknown, expired or someone else's."""
        raw = self.files.read(self._path(token, "meta.json"))
        try:
            meta: dict[str, Any] = orjson.loads(raw if raw is not None else b"")
        except orjson.JSONDecodeError:
            raise NotFound("staging_not_found") from None
        expired = self.clock() - float(meta.get("created", 0)) > self.ttl_s
        if meta.get("user") != user or expired:
            raise NotFound("staging_not_found")
        return meta

    def data(self, token: str, *, user: str) -> bytes:
        """The staged file's bytes."""
        self.meta(token, user=user)
        raw = self.files.read(self._path(token, "original.bin"))
        if raw is None:
            raise NotFound("staging_not_found") from None
        return raw

    def update(self, token: str, *, user: str, **changes: Any) -> dict[str, Any]:
        """Change the record (new options, or the upload id once committed)."""
        meta = self.meta(token, user=user)
        meta.update(changes)
        self.files.write(self._path(token, "meta.json"), orjson.dumps(meta))
        return meta

    def committed(self, token: str, upload_id: str | None, *, user: str) -> None:
        """Drop the staged bytes (the caller keeps what it needs), remember the result."""
        self.update(token, user=user, upload_id=upload_id)
        self.files.delete(self._path(token, "original.bin"))

    def discard(self, token: str, *, user: str) -> None:
        """Remove a staged file of ``user`` altogether."""
        self.meta(token, user=user)
        self.files.delete_tree(self._path(token))

    def expire(self, now: float | None = None) -> int:
        """Remove staged files older than the time to live; returns how many.

        The age is the record's ``created``; a folder without a readable record is as
        old as its newest file (``stat``: the modified time, in either home).
        """
        now = self.clock() if now is None else now
        tokens: dict[str, list[str]] = {}
        for path in self.files.list(self.folder):
            tokens.setdefault(path[len(self.folder) + 1 :].split("/")[0], []).append(path)
        removed = 0
        for token, paths in tokens.items():
            if now - self._created(token, paths) > self.ttl_s:
                self.files.delete_tree(f"{self.folder}/{token}")
                removed += 1
        return removed

    def _created(self, token: str, paths: list[str]) -> float:
        raw = self.files.read(f"{self.folder}/{token}/meta.json")
        try:
            return float(orjson.loads(raw or b"").get("created", 0))
        except (orjson.JSONDecodeError, ValueError, TypeError, AttributeError):
            stats = [self.files.stat(path) for path in paths]
            return max((s[1] for s in stats if s is not None), default=0.0)


__all__ = ["STAGING_TTL_S", "Staging"]
