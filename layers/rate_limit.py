"""Requests per minute, counted in one file for every worker and server of a site.

:class:`RateLimit` keeps, per client key, the times of its requests within the last
:data:`WINDOW_S` seconds (a sliding window) in the site file ``throttle/<name>.json`` (keys
are SHA-256 hashes, not addresses) under the site lock ``<name>``
(:class:`~layers.counts_file.CountsFile`), so four gunicorn workers, and with a database
every server over it, share one count. Where the file cannot be written (a read-only data
directory) the counts are kept in this process only. Used for anonymous whole-layer
exports (``VILLAGEWORKS_ANONYMOUS_EXPORTS_PER_MINUTE``), and with a window of an hour
(``window_s``) for residents' reports (``VILLAGEWORKS_REPORTS_PER_HOUR``).
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from pathlib import Path
from typing import Any

from layers.counts_file import CountsFile
from layers.site_files import SiteFiles
from layers.users import files_of

WINDOW_S = 60.0
MAX_KEYS = 10_000
_NAME_RE = re.compile(r"^[a-z_]{1,40}$")


def _key(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def wait_s(times: list[float], limit: int, now: float, window: float = WINDOW_S) -> float:
    """Seconds until one more request fits, given the times of the earlier ones.

    >>> wait_s([0.0, 10.0], 2, 30.0)
    30.0
    >>> wait_s([0.0, 10.0], 3, 30.0)
    0.0
    >>> wait_s([], 0, 5.0)
    60.0
    """
    recent = sorted(t for t in times if now - t < window)
    if len(recent) < limit:
        return 0.0
    if limit <= 0:
        return window
    return max(0.0, recent[len(recent) - limit] + window - now)


class RateLimit:
    """At most ``per_minute`` requests per key and sliding window (a minute, or
    ``window_s`` seconds), shared by processes (``files``: ``store.files``)."""

    def __init__(
        self,
        files: SiteFiles | Path | str,
        name: str,
        per_minute: int,
        *,
        shared: bool = True,
        window_s: float = WINDOW_S,
    ):
        if not _NAME_RE.match(name):
            raise ValueError(f"bad rate limit name {name!r}")
        self.per_minute = int(per_minute)
        self.window_s = float(window_s)
        self.counts = CountsFile(
            files_of(files), f"throttle/{name}.json", name, "requests", shared=shared
        )

    def _save(self, doc: dict[str, Any], now: float) -> None:
        fresh = {
            key: [t for t in times if now - t < self.window_s]
            for key, times in doc.items()
            if isinstance(times, list)
        }
        fresh = {key: times for key, times in fresh.items() if times}
        if len(fresh) > MAX_KEYS:
            fresh = dict(sorted(fresh.items(), key=lambda item: max(item[1]))[-MAX_KEYS:])
        self.counts.save(fresh)

    def admit(self, client: str, now: float | None = None) -> int:
        """0 if a request of ``client`` may go ahead (it is counted), else the whole
        seconds it must wait (nothing counted)."""
        now = time.time() if now is None else now
        try:
            return self._admit(_key(client), now)
        except OSError as exc:  # the lock file cannot be opened: count in this process
            self.counts.per_process(exc)
            return self._admit(_key(client), now)

    def _admit(self, key: str, now: float) -> int:
        with self.counts.locked():
            doc = self.counts.load()
            times = [t for t in doc.get(key, []) if isinstance(t, int | float)]
            wait = wait_s(times, self.per_minute, now, self.window_s)
            if wait > 0:
                return max(1, math.ceil(wait))
            doc[key] = [*times, now]
            self._save(doc, now)
        return 0


__all__ = ["RateLimit", "WINDOW_S", "wait_s"]
