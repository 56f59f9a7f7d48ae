"""Accounts, roles, password hashes, API tokens and login sessions, in ``users.json``.

- Passwords are hashed with Argon2id at OWASP's parameters (19 MiB, 2 passes, 1 lane);
  hashes of older installs (scrypt) still verify and are replaced by Argon2id on the
  account's next successful login. An unknown name is checked against a dummy hash of the
  same parameters, so a login costs the same whether the name exists or not.
- API tokens are random, shown once, and stored only as SHA-256 hashes, so a copy of the
  file holds no usable token. A revoked token's hash is kept (the latest
  :data:`REVOKED_TOKENS_KEPT` per account, ``revoked_tokens``): it opens nothing, but a
  client still sending it is known as no guesser (:meth:`UserStore.issued_token`).
- An account may be scoped to townships (``areas``: boundary ids of ``level=township``
  features, for field and planner accounts; none: the whole county). The change planner
  gets them with the account's role through :meth:`User.author` and refuses writes and
  review decisions outside them (:mod:`layers.scopes`); reading is not scoped. A change
  of areas takes effect at the account's next request.
- The last active admin cannot be disabled or given another role.
- Each browser login is a server-side session: its id is in the signed cookie and its
  SHA-256 hash here. Logging out ends that session; a password change, disabling or
  enabling the account, a role change or "log out everywhere" ends all of them. Every
  request reads this file (every gunicorn worker sees a change at once).

``users.json`` is one of the site's files (:mod:`layers.site_files`): in the data
directory on the GeoJSON store, in PostgreSQL's ``vw_files`` with a database, so every
server over one database shares accounts, tokens and sessions (a token revoked on one is
refused by all at the next request). It is replaced atomically under the site lock
``users``: one read per request, a read-modify-write under the lock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from geo.messages import register
from layers.changes import Author
from layers.errors import BadRequest, NotFound
from layers.site_files import DirFiles, SiteFiles, site_files
from layers.store import utc_now

ROLES = ("viewer", "field", "planner", "admin")
_NAME_RE = re.compile(r"^[\w.\-@\u4e00-\u9fff]{1,40}$")
MIN_PASSWORD = 8
#: OWASP's Argon2id parameters (Password Storage Cheat Sheet): m=19456 KiB, t=2, p=1.
ARGON2_MEMORY_KIB, ARGON2_TIME, ARGON2_LANES = 19456, 2, 1
#: A browser session ends this long after login at the latest (Flask's permanent default).
SESSION_MAX_AGE_S = 31 * 24 * 3600
#: Sessions kept per account; a new login beyond this ends the oldest.
MAX_SESSIONS = 20
#: Hashes of revoked tokens an account keeps, to know a client still sending one.
REVOKED_TOKENS_KEPT = 20
_HASHER = PasswordHasher(
    time_cost=ARGON2_TIME,
    memory_cost=ARGON2_MEMORY_KIB,
    parallelism=ARGON2_LANES,
    hash_len=32,
    salt_len=16,
    type=Type.ID,
)
_DUMMY: list[str] = []

for _code, _zh, _en in (
    (
        "bad_user_name",
        "用户名“{value}”不合规（1–40 个字母、数字、汉字或 . - _ @）",
        "User name '{value}' is not allowed (1-40 letters, digits, Chinese characters or . - _ @)",
    ),
    (
        "bad_role",
        "角色“{value}”不存在，可选：{allowed}",
        "Role '{value}' does not exist; choose {allowed}",
    ),
    ("user_exists", "用户“{value}”已存在", "User '{value}' already exists"),
    ("weak_password", "密码至少需要 {min} 个字符", "The password needs at least {min} characters"),
    (
        "last_admin",
        "“{value}”是最后一个启用的管理员账号，不能停用或改为其他角色",
        "'{value}' is the last active admin account: it cannot be disabled or given another role",
    ),
    (
        "areas_need_scoped_role",
        "只有外业（field）和规划（planner）账号可以限定乡镇",
        "Only field and planner accounts can be limited to townships",
    ),
):
    register(_code, _zh, _en)


def hash_password(password: str) -> str:
    """An Argon2id hash in PHC form (``$argon2id$v=19$m=19456,t=2,p=1$salt$hash``)."""
    return _HASHER.hash(password)


def _verify_scrypt(password: str, stored: str) -> bool:
    """A hash of older installs: ``scrypt$N$r$p$salt$digest``."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        actual = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, base64.b64decode(digest))


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (Argon2id, or scrypt of older installs)."""
    if stored.startswith("scrypt$"):
        return _verify_scrypt(password, stored)
    try:
        return bool(_HASHER.verify(stored, password))
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether ``stored`` is not an Argon2id hash of the current parameters."""
    if not stored.startswith("$argon2id$"):
        return True
    try:
        return bool(_HASHER.check_needs_rehash(stored))
    except InvalidHashError:
        return True


def dummy_hash() -> str:
    """A hash of a random password with the current parameters (made once per process):
    what an unknown name's password is checked against."""
    if not _DUMMY:
        _DUMMY.append(hash_password(secrets.token_urlsafe(16)))
    return _DUMMY[0]


def token_hash(token: str) -> str:
    """How a token is stored: its SHA-256 hex digest."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class User:
    """An account as the app sees it."""

    name: str
    role: str
    active: bool = True
    #: Township ids the account may write in (field and planner); empty: the county.
    areas: tuple[str, ...] = ()

    def can(self, role: str) -> bool:
        """Whether this account has ``role`` or a stronger one."""
        return self.active and ROLES.index(self.role) >= ROLES.index(role)

    def author(self) -> Author:
        """The account as the change planner sees a writer: name, role and areas."""
        return Author(self.name, self.role, self.areas)


#: Roles that can be limited to townships.
SCOPED_ROLES = ("field", "planner")


def _user(name: str, entry: dict[str, Any], active: bool | None = None) -> User:
    """The :class:`User` of one entry of the file."""
    areas = tuple(entry.get("areas") or ()) if entry["role"] in SCOPED_ROLES else ()
    return User(name, entry["role"], entry["active"] if active is None else active, areas)


def _check_areas(role: str, areas: tuple[str, ...]) -> None:
    if areas and role not in SCOPED_ROLES:
        raise BadRequest("areas_need_scoped_role")


#: The accounts' file among the site's files, and the lock of its read-modify-writes.
USERS_FILE, USERS_LOCK = "users.json", "users"


def files_of(where: SiteFiles | Path | str) -> SiteFiles:
    """``where`` as the site's files: itself, or for a data directory (scripts and tests
    that name one) the files of the site there, in the database of
    ``$VILLAGEWORKS_DATABASE_URL`` when that is set, as the app started there has them."""
    if isinstance(where, SiteFiles):
        return where
    return site_files(where, os.environ.get("VILLAGEWORKS_DATABASE_URL", ""))


class UserStore:
    """Accounts of one site: ``files`` is the site's :class:`~layers.site_files.SiteFiles`
    (``store.files``; a data directory is taken as :func:`files_of` it)."""

    def __init__(self, files: SiteFiles | Path | str):
        self.files = files_of(files)

    @property
    def _lock(self) -> Any:
        """The site lock of ``users.json`` (a fresh context manager each time: a
        database's advisory lock is one; both are re-entrant in one thread)."""
        return self.files.lock(USERS_LOCK)

    @property
    def path(self) -> Path:
        """Where ``users.json`` is on this machine (directory files only)."""
        if isinstance(self.files, DirFiles):
            return self.files.root / USERS_FILE
        raise AttributeError("the accounts live in the database, not in a file")

    def _read(self) -> dict[str, Any]:
        body = self.files.read(USERS_FILE)
        if body is None:
            return {"users": {}}
        data: dict[str, Any] = orjson.loads(body)
        return data

    def _write(self, doc: dict[str, Any]) -> None:
        self.files.write(USERS_FILE, orjson.dumps(doc, option=orjson.OPT_INDENT_2))
        if isinstance(self.files, DirFiles):
            self.path.chmod(0o600)

    def add(self, name: str, role: str, password: str, areas: Sequence[str] = ()) -> User:
        """Create an account; refuses bad names, unknown roles, short passwords, duplicates,
        and areas for a role that is always county-wide. ``areas`` are township ids
        (resolved by the caller, :func:`layers.scopes.resolve_areas`)."""
        if not _NAME_RE.match(name or ""):
            raise BadRequest("bad_user_name", value=name)
        if role not in ROLES:
            raise BadRequest("bad_role", value=role, allowed=", ".join(ROLES))
        if len(password) < MIN_PASSWORD:
            raise BadRequest("weak_password", min=MIN_PASSWORD)
        _check_areas(role, tuple(areas))
        with self._lock:
            doc = self._read()
            if name in doc["users"]:
                raise BadRequest("user_exists", value=name)
            doc["users"][name] = {
                "role": role,
                "active": True,
                "password": hash_password(password),
                "tokens": [],
                "sessions": {},
                "created_at": utc_now(),
                "areas": list(areas),
            }
            self._write(doc)
        return User(name, role, True, tuple(areas))

    def get(self, name: str) -> User | None:
        """The account called ``name`` (active or not), or None."""
        entry = self._read()["users"].get(name)
        return None if entry is None else _user(name, entry)

    def list(self) -> list[User]:
        """Every account, by name."""
        users = self._read()["users"]
        return [_user(n, e) for n, e in sorted(users.items())]

    def authenticate(self, name: str, password: str) -> User | None:
        """The active account if ``password`` is right, else None.

        The same work either way: one verification of an Argon2id hash of the current
        parameters (a dummy one for an unknown name). A right password under an older
        hash is re-hashed with Argon2id."""
        entry = self._read()["users"].get(name)
        stored = entry["password"] if entry else dummy_hash()
        ok = verify_password(password, stored)
        if not ok or entry is None or not entry["active"]:
            return None
        if needs_rehash(stored):
            self._rehash(name, stored, password)
        return _user(name, entry, True)

    def _rehash(self, name: str, stored: str, password: str) -> None:
        with self._lock:
            doc = self._read()
            entry = doc["users"].get(name)
            if entry is not None and entry["password"] == stored:
                entry["password"] = hash_password(password)
                self._write(doc)

    def _change(self, name: str, field: str, value: Any) -> None:
        """Set one field of an account and end all its sessions."""
        with self._lock:
            doc = self._read()
            if name not in doc["users"]:
                raise NotFound(what="user", value=name)
            doc["users"][name][field] = value
            doc["users"][name]["sessions"] = {}
            self._write(doc)

    def _keep_an_admin(self, doc: dict[str, Any], name: str) -> None:
        """Refuse to leave the file without an active admin (``name`` losing it)."""
        admins = [n for n, e in doc["users"].items() if e["role"] == "admin" and e["active"]]
        if admins == [name]:
            raise BadRequest("last_admin", value=name)

    def set_active(self, name: str, active: bool) -> None:
        """Disable (or re-enable) an account; a disabled account's tokens stop working.
        Either way every session of the account ends. The last active admin stays."""
        if not active:
            with self._lock:
                self._keep_an_admin(self._read(), name)
                self._change(name, "active", active)
            return
        self._change(name, "active", active)

    def set_role(self, name: str, role: str) -> None:
        """Give an account another role; its sessions end. A role that is always
        county-wide (viewer, admin) drops the account's areas; the last active admin
        keeps its role."""
        if role not in ROLES:
            raise BadRequest("bad_role", value=role, allowed=", ".join(ROLES))
        with self._lock:
            doc = self._read()
            if role != "admin":
                self._keep_an_admin(doc, name)
            self._change(name, "role", role)
            if role not in SCOPED_ROLES:
                self.set_areas(name, ())

    def set_areas(self, name: str, areas: Sequence[str]) -> None:
        """Limit a field or planner account to townships (ids; none: the whole county).
        Effective at the account's next request; its sessions go on."""
        with self._lock:
            doc = self._read()
            entry = doc["users"].get(name)
            if entry is None:
                raise NotFound(what="user", value=name)
            _check_areas(entry["role"], tuple(areas))
            entry["areas"] = list(dict.fromkeys(areas))
            self._write(doc)

    def reset_password(self, name: str) -> str:
        """A new random password for ``name``, returned once (to show to the admin); every
        session of the account ends."""
        password = secrets.token_urlsafe(12)
        self.set_password(name, password)
        return password

    def set_password(self, name: str, password: str) -> None:
        """Replace an account's password; every session of the account ends."""
        if len(password) < MIN_PASSWORD:
            raise BadRequest("weak_password", min=MIN_PASSWORD)
        self._change(name, "password", hash_password(password))

    def start_session(self, name: str, now: float | None = None) -> str:
        """A new session of ``name``: its id (for the signed cookie); only its hash is kept.
        Expired sessions are dropped, and the oldest beyond :data:`MAX_SESSIONS`."""
        now = time.time() if now is None else now
        sid = secrets.token_urlsafe(32)
        with self._lock:
            doc = self._read()
            if name not in doc["users"]:
                raise NotFound(what="user", value=name)
            live = {
                key: started
                for key, started in doc["users"][name].get("sessions", {}).items()
                if now - started < SESSION_MAX_AGE_S
            }
            newest = sorted(live.items(), key=lambda item: item[1])[-(MAX_SESSIONS - 1) :]
            doc["users"][name]["sessions"] = {**dict(newest), token_hash(sid): now}
            self._write(doc)
        return sid

    def session_user(self, name: str, sid: str, now: float | None = None) -> User | None:
        """The active account whose live session ``sid`` is, or None."""
        now = time.time() if now is None else now
        entry = self._read()["users"].get(name)
        if entry is None or not entry["active"] or not sid:
            return None
        started = entry.get("sessions", {}).get(token_hash(sid))
        if started is None or now - started >= SESSION_MAX_AGE_S:
            return None
        return _user(name, entry, True)

    def end_session(self, name: str, sid: str) -> None:
        """End one session (logging out); nothing if it has already ended."""
        with self._lock:
            doc = self._read()
            entry = doc["users"].get(name)
            if entry is not None and entry.get("sessions", {}).pop(token_hash(sid), None):
                self._write(doc)

    def end_sessions(self, name: str) -> None:
        """End every session of ``name`` (log out everywhere)."""
        with self._lock:
            doc = self._read()
            if name not in doc["users"]:
                raise NotFound(what="user", value=name)
            doc["users"][name]["sessions"] = {}
            self._write(doc)

    def new_token(self, name: str, label: str = "") -> str:
        """A new API token for ``name``; returned once, stored hashed."""
        token = "vw_" + secrets.token_urlsafe(32)
        with self._lock:
            doc = self._read()
            if name not in doc["users"]:
                raise NotFound(what="user", value=name)
            doc["users"][name]["tokens"].append(
                {"hash": token_hash(token), "label": label, "created_at": utc_now()}
            )
            self._write(doc)
        return token

    def revoke_tokens(self, name: str) -> int:
        """Revoke every token of ``name``; returns how many were revoked. Their hashes
        move to ``revoked_tokens`` (the latest :data:`REVOKED_TOKENS_KEPT`)."""
        with self._lock:
            doc = self._read()
            if name not in doc["users"]:
                raise NotFound(what="user", value=name)
            entry = doc["users"][name]
            count = len(entry["tokens"])
            revoked = [*entry.get("revoked_tokens", []), *(t["hash"] for t in entry["tokens"])]
            entry["tokens"] = []
            entry["revoked_tokens"] = revoked[-REVOKED_TOKENS_KEPT:]
            self._write(doc)
        return count

    def issued_token(self, token: str) -> bool:
        """Whether ``token`` is or was a token of an account here: live, of a disabled
        account, or revoked. Such a token opens nothing once it is not live, but whoever
        sends it guesses nothing (the token throttle does not count it)."""
        wanted = token_hash(token)
        for entry in self._read()["users"].values():
            hashes = [t["hash"] for t in entry["tokens"]] + list(entry.get("revoked_tokens", []))
            if any(hmac.compare_digest(h, wanted) for h in hashes):
                return True
        return False

    def user_for_token(self, token: str) -> User | None:
        """The active account owning ``token``, or None."""
        wanted = token_hash(token)
        for name, entry in self._read()["users"].items():
            if not entry["active"]:
                continue
            if any(hmac.compare_digest(t["hash"], wanted) for t in entry["tokens"]):
                return _user(name, entry, True)
        return None

    def export(self) -> dict[str, Any]:
        """The whole account file (hashes included), for migrations between backends."""
        return self._read()
