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
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import orjson

from geo.messages import register
from layers.errors import NotFound
from layers.journal import atomic_write

#: Staged files older than this are removed when the next file is staged.
STAGING_TTL_S = 24 * 3600
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32}$")

register(
    "staging_not_found",
    "预览已过期或不存在，请重新上传文件",
    "The preview has expired or does not exist; please upload the file again",
)


class Staging:
    """Staged files of one kind: ``<data>/<folder>/<token>/`` (original bytes and a record).

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
        data_dir: Path | str,
        folder: str = "uploads/staging",
        ttl_s: float = STAGING_TTL_S,
        clock: Callable[[], float] = time.time,
    ):
        self.root = Path(data_dir) / folder
        self.ttl_s = ttl_s
        self.clock = clock

    def _dir(self, token: str) -> Path:
        if not _TOKEN_RE.match(token or ""):
            raise NotFound("staging_not_found")
        return self.root / token

    def put(
        self, data: bytes, filename: str, *, user: str, options: Mapping[str, Any] | None = None
    ) -> str:
        """Keep ``data`` for a later preview or commit; returns its token."""
        self.expire()
        token = secrets.token_urlsafe(24)
        folder = self._dir(token)
        folder.mkdir(parents=True)
        atomic_write(folder / "original.bin", data)
        meta = {
            "filename": filename,
            "user": user,
            "created": self.clock(),
            "sha256": hashlib.sha256(data).hexdigest(),
            "options": dict(options or {}),
        }
        atomic_write(folder / "meta.json", orjson.dumps(meta))
        return token

    def meta(self, token: str, *, user: str) -> dict[str, Any]:
        """The record of a staged file; NotFound when unknown, expired or someone else's."""
        path = self._dir(token) / "meta.json"
        try:
            meta: dict[str, Any] = orjson.loads(path.read_bytes())
        except (FileNotFoundError, orjson.JSONDecodeError):
            raise NotFound("staging_not_found") from None
        expired = self.clock() - float(meta.get("created", 0)) > self.ttl_s
        if meta.get("user") != user or expired:
            raise NotFound("staging_not_found")
        return meta

    def data(self, token: str, *, user: str) -> bytes:
        """The staged file's bytes."""
        self.meta(token, user=user)
        try:
            return (self._dir(token) / "original.bin").read_bytes()
        except FileNotFoundError:
            raise NotFound("staging_not_found") from None

    def update(self, token: str, *, user: str, **changes: Any) -> dict[str, Any]:
        """Change the record (new options, or the upload id once committed)."""
        meta = self.meta(token, user=user)
        meta.update(changes)
        atomic_write(self._dir(token) / "meta.json", orjson.dumps(meta))
        return meta

    def committed(self, token: str, upload_id: str | None, *, user: str) -> None:
        """Drop the staged bytes (the caller keeps what it needs), remember the result."""
        self.update(token, user=user, upload_id=upload_id)
        (self._dir(token) / "original.bin").unlink(missing_ok=True)

    def discard(self, token: str, *, user: str) -> None:
        """Remove a staged file of ``user`` altogether."""
        self.meta(token, user=user)
        shutil.rmtree(self._dir(token), ignore_errors=True)

    def expire(self, now: float | None = None) -> int:
        """Remove staged files older than the time to live; returns how many."""
        if not self.root.is_dir():
            return 0
        now = self.clock() if now is None else now
        removed = 0
        for folder in self.root.iterdir():
            meta_path = folder / "meta.json"
            try:
                created = float(orjson.loads(meta_path.read_bytes()).get("created", 0))
            except (FileNotFoundError, NotADirectoryError, orjson.JSONDecodeError, ValueError):
                created = folder.stat().st_mtime
            if now - created > self.ttl_s:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        return removed


__all__ = ["STAGING_TTL_S", "Staging"]
