"""Failed logins, counted in one file for every worker and every server of a site.

Each login attempt is counted twice, separately: under the account name and under the
client address. A name may fail :data:`FREE_PER_ACCOUNT` times and an address
:data:`FREE_PER_ADDRESS` times (an office behind one NAT address has many users); after
that each further attempt must wait :data:`BASE_DELAY_S`, then twice as long after each
further failure, up to :data:`MAX_DELAY_S`: an exponential back-off, never a lock-out.
Failures are forgotten :data:`FORGET_S` after the last one; a right password clears its
account's count (not its address's).

Wrong API tokens (``Authorization: Bearer``, or Basic with the token as the password) are
counted the same way under a third key, ``token:<address>``, with
:data:`FREE_TOKENS_PER_ADDRESS` free failures and the same back-off and forgetting, so
token guesses hold up neither an account's nor an address's password login (nor the
other way round). Unlike a login, a token is counted only once it failed
(:meth:`LoginThrottle.token_failed`): every API request carries one, and a right token
then writes nothing; before a token is checked, :meth:`LoginThrottle.token_wait` reads
the counts, so an address that must wait learns nothing about its token. What is
counted is distinct wrong tokens: the same stale token sent again guesses nothing new
(and the web layer does not count a token the site issued, revoked or of a disabled
account, at all: :meth:`layers.users.UserStore.issued_token`). A right token
leaves the count as it is (an address holding one valid token of its own cannot wipe its
count between guesses), just as a right password only gives its address back the
attempt that was counted for it.

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

from geo.messages import register
from layers.counts_file import CountsFile
from layers.site_files import SiteFiles
from layers.users import files_of

FREE_PER_ACCOUNT = 5
FREE_PER_ADDRESS = 20
BASE_DELAY_S = 30.0
MAX_DELAY_S = 900.0
FORGET_S = 3600.0
MAX_KEYS = 10_000
#: Wrong tokens one address may send before it must wait (an office shares one address).
FREE_TOKENS_PER_ADDRESS = 20
#: How many of an address's latest wrong tokens are recognised when sent again.
TOKENS_REMEMBERED = 8

register(
    "token_too_many",
    "API 令牌错误次数过多，请 {seconds} 秒后再试",
    "Too many wrong API tokens from this address; try again in {seconds} seconds",
)


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

    @staticmethod
    def _wait(doc: dict[str, Any], keys: dict[str, int], now: float) -> float:
        """The longest wait any of ``keys`` (key -> free failures) imposes at ``now``."""
        wait = 0.0
        for key, free in keys.items():
            entry = doc.get(key)
            if entry and now - entry["last"] < FORGET_S:
                until = entry["last"] + delay_after(entry["failures"], free)
                wait = max(wait, until - now)
        return wait

    @staticmethod
    def _count(doc: dict[str, Any], keys: dict[str, int], now: float) -> None:
        """One more failure under each of ``keys`` (an old count starts again)."""
        for key in keys:
            entry = doc.get(key)
            failures = entry["failures"] if entry and now - entry["last"] < FORGET_S else 0
            doc[key] = {"failures": failures + 1, "last": now}

    def admit(self, name: str, address: str, now: float | None = None) -> float:
        """0 if an attempt at ``name`` from ``address`` may go ahead (it is counted as a
        failure until :meth:`succeeded`), else the seconds it must wait (nothing counted)."""
        now = time.time() if now is None else now
        keys = {_key("name", name): FREE_PER_ACCOUNT, _key("addr", address): FREE_PER_ADDRESS}
        with self.counts.locked():
            doc = self.counts.load()
            wait = self._wait(doc, keys, now)
            if wait > 0:
                return wait
            self._count(doc, keys, now)
            self._save(doc, now)
        return 0.0

    def token_wait(self, address: str, now: float | None = None) -> float:
        """0 if a token sent from ``address`` may be checked, else the seconds it must
        wait. Only reads the counts (each file is replaced whole): no lock, no write."""
        now = time.time() if now is None else now
        keys = {_key("token", address): FREE_TOKENS_PER_ADDRESS}
        return self._wait(self.counts.load(), keys, now)

    def token_failed(self, address: str, token: str, now: float | None = None) -> float:
        """Count one wrong ``token`` from ``address``; the seconds the next must wait.

        Only a token the address has not failed with lately counts: a client that keeps
        sending one stale (revoked, mistyped) token guesses nothing new, so it is
        counted once, not once per request (QGIS sends dozens a map view). Each of the
        address's last :data:`TOKENS_REMEMBERED` wrong tokens is kept as a hash (of the
        address and the token). One that another worker let through at the same moment,
        after which the address already waits, is not counted either (no attempt is
        counted during a wait)."""
        now = time.time() if now is None else now
        key = _key("token", address)
        keys = {key: FREE_TOKENS_PER_ADDRESS}
        mark = hashlib.sha256(f"{address}\0{token}".encode()).hexdigest()[:16]
        with self.counts.locked():
            doc = self.counts.load()
            wait = self._wait(doc, keys, now)
            entry = doc.get(key)
            seen = list(entry.get("seen", [])) if entry and now - entry["last"] < FORGET_S else []
            if wait > 0 or mark in seen:
                return wait
            self._count(doc, keys, now)
            doc[key]["seen"] = [*seen, mark][-TOKENS_REMEMBERED:]
            self._save(doc, now)
            return self._wait(doc, keys, now)

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
