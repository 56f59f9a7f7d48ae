"""A small JSON document of counts shared by every worker of a site.

The login throttle and the rate limits keep their counts in one of these: one of the
site's files (:mod:`layers.site_files`, e.g. ``throttle/logins.json``), read and rewritten
atomically under the site lock of its name. In a data directory that is a file with an
:class:`~layers.journal.InterProcessLock` under ``locks/`` (every worker of the machine);
with a database, a row of ``vw_files`` under a PostgreSQL advisory lock (every worker of
every server on it). When a data directory cannot be used (read-only), the counts are kept
in this process instead and a warning says so.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import orjson

from layers.site_files import SiteFiles

log = logging.getLogger(__name__)


class CountsFile:
    """``path`` among ``files`` under the site lock ``lock_name``; ``what`` names the counts
    in log messages."""

    def __init__(
        self, files: SiteFiles, path: str, lock_name: str, what: str, *, shared: bool = True
    ):
        self.files = files
        self.path = path
        self.lock_name = lock_name
        self.what = what
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
        body = self.files.read(self.path)
        if body is None:
            return {}
        try:
            doc = orjson.loads(body)
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
            self.files.write(self.path, orjson.dumps(fresh))
        except OSError as exc:
            self.per_process(exc)
            self._memory = fresh

    def locked(self) -> Any:
        """The lock to hold while reading and saving: the site's, or this process's."""
        if self._memory is not None:
            return self._local
        try:
            return self.files.lock(self.lock_name)
        except OSError as exc:
            self.per_process(exc)
            return self._local
