"""A small JSON document of counts shared by every worker of one data directory.

The login throttle and the export rate limit keep their counts in one of these: read and
rewritten atomically under an :class:`~layers.journal.InterProcessLock`. When the file
cannot be used (a read-only directory), the counts are kept in this process instead and
a warning says so.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import orjson

from layers.journal import InterProcessLock, atomic_write

log = logging.getLogger(__name__)


class CountsFile:
    """``path`` under ``lock_path``; ``what`` names the counts in log messages."""

    def __init__(self, path: Path, lock_path: Path, what: str, *, shared: bool = True):
        self.path = path
        self.what = what
        self._lock = InterProcessLock(lock_path)
        self._local = threading.Lock()
        # Set when the file cannot (or must not: a read-only app) be used.
        self._memory: dict[str, Any] | None = None if shared else {}

    def per_process(self, reason: object) -> None:
        """Count in this process from now on (the file or its lock cannot be used)."""
        log.warning("cannot use %s (%s); counting %s per process", self.path, reason, self.what)
        self._memory = {}

    def load(self) -> dict[str, Any]:
        """The counts (empty if the file is missing or damaged)."""
        if self._memory is not None:
            return self._memory
        try:
            doc = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {}
        except orjson.JSONDecodeError:
            log.warning("%s is damaged; %s start again from zero", self.path, self.what)
            return {}
        return doc if isinstance(doc, dict) else {}

    def save(self, fresh: dict[str, Any]) -> None:
        """Replace the counts with ``fresh`` (the caller holds :meth:`locked`)."""
        if self._memory is not None:
            self._memory = fresh
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self.path, orjson.dumps(fresh))
        except OSError as exc:
            self.per_process(exc)
            self._memory = fresh

    def locked(self) -> Any:
        """The lock to hold while reading and saving: the file's, or this process's."""
        if self._memory is not None:
            return self._local
        try:
            self._lock.path.parent.mkdir(parents=True, exist_ok=True)
            return self._lock
        except OSError as exc:
            self.per_process(exc)
            return self._local
