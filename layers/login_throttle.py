"""Failed logins, counted in one file for every worker and every server of a site.

Each login attempt is counted twice, separately: under the account name and under the
client address. A name may fail :data:`FREE_PER_ACCOUNT` times and an address
:data:`FREE_PER_ADDRESS` times (an office behind one NAT address has many users); after
that each further attempt must wait :data:`BASE_DELAY_S`, then twice as long after each
further failure, up to :data:`MAX_DELAY_S`: an exponential back-off, never a lock-out.
Failures are forgotten :data:`FORGET_S` after the last one; a right password clears its
account's count (not its address's).

An attempt is counted when it is let through, before the password is checked, under the
file's lock: two workers cannot both let the fifth and sixth guess through. The file is
the site file ``throttle/logins.json`` (keys are SHA-256 hashes, not names or addresses)
under the site lock ``login_throttle`` (:class:`~layers.counts_file.CountsFile`): in the
data directory, or with a database in ``vw_files``, so that every server over the database
counts together. Where the file cannot be written (a read-only data directory) the counts
are kept in this process only.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

from layers.counts_file import CountsFile
from layers.site_files import SiteFiles
from layers.users import files_of

FREE_PER_ACCOUNT = 5
FREE_PER_ADDRESS = 20
BASE_DELAY_S = 30.0
MAX_DELAY_S = 900.0
FORGET_S = 3600.0
MAX_KEYS = 10_000


def _key(kind: str, value: str) -> str:
    return f"{kind}:{hashlib.sha256(value.encode()).hexdigest()[:32]}"


def delay_after(failures: int, free: int) -> float:
    """How long an attempt must wait after the last of ``failures`` failures.

    >>> [delay_after(n, 5) for n in (4, 5, 6, 7)]
    [0.0, 30.0, 60.0, 120.0]
    >>> delay_after(40, 5)
    900.0
    """
    if failures < free:
        return 0.0
    return min(MAX_DELAY_S, BASE_DELAY_S * 2.0 ** min(failures - free, 32))


class LoginThrottle:
    """The shared failure counts of one site (``files``: ``store.files``; a data
    directory is taken as :func:`layers.users.files_of` it)."""

    def __init__(self, files: SiteFiles | Path | str):
        self.counts = CountsFile(
            files_of(files), "throttle/logins.json", "login_throttle", "failed logins"
        )

    def _save(self, doc: dict[str, Any], now: float) -> None:
        fresh = {key: entry for key, entry in doc.items() if now - entry["last"] < FORGET_S}
        if len(fresh) > MAX_KEYS:
            newest = sorted(fresh.items(), key=lambda item: item[1]["last"])[-MAX_KEYS:]
            fresh = dict(newest)
        self.counts.save(fresh)

    def admit(self, name: str, address: str, now: float | None = None) -> float:
        """0 if an attempt at ``name`` from ``address`` may go ahead (it is counted as a
        failure until :meth:`succeeded`), else the seconds it must wait (nothing counted)."""
        now = time.time() if now is None else now
        keys = {_key("name", name): FREE_PER_ACCOUNT, _key("addr", address): FREE_PER_ADDRESS}
        with self.counts.locked():
            doc = self.counts.load()
            wait = 0.0
            for key, free in keys.items():
                entry = doc.get(key)
                if entry and now - entry["last"] < FORGET_S:
                    until = entry["last"] + delay_after(entry["failures"], free)
                    wait = max(wait, until - now)
            if wait > 0:
                return wait
            for key in keys:
                entry = doc.get(key)
                failures = entry["failures"] if entry and now - entry["last"] < FORGET_S else 0
                doc[key] = {"failures": failures + 1, "last": now}
            self._save(doc, now)
        return 0.0

    def succeeded(self, name: str, address: str, now: float | None = None) -> None:
        """The attempt :meth:`admit` counted was right: the account starts from zero,
        and the address gets its attempt back."""
        now = time.time() if now is None else now
        with self.counts.locked():
            doc = self.counts.load()
            doc.pop(_key("name", name), None)
            entry = doc.get(_key("addr", address))
            if entry and entry["failures"] > 0:
                entry["failures"] -= 1
            self._save(doc, now)
