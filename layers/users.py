"""Accounts, roles, password hashes and API tokens, kept in ``<data>/users.json``.

Passwords are hashed with scrypt (a slow, memory-hard KDF from the standard library);
API tokens are random, shown once, and stored only as SHA-256 hashes so a copy of the data
directory does not leak usable tokens. The file is replaced atomically under a lock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from geo.messages import register
from layers.errors import BadRequest, NotFound
from layers.journal import InterProcessLock, atomic_write
from layers.store import utc_now

ROLES = ("viewer", "field", "planner", "admin")
_NAME_RE = re.compile(r"^[\w.\-@\u4e00-\u9fff]{1,40}$")
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MIN_PASSWORD = 8

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
):
    register(_code, _zh, _en)


def hash_password(password: str) -> str:
    """An scrypt hash with its parameters and salt, as one string."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (constant-time comparison)."""
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


def token_hash(token: str) -> str:
    """How a token is stored: its SHA-256 hex digest."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class User:
    """An account as the app sees it."""

    name: str
    role: str
    active: bool = True

    def can(self, role: str) -> bool:
        """Whether this account has ``role`` or a stronger one."""
        return self.active and ROLES.index(self.role) >= ROLES.index(role)


class UserStore:
    """Accounts of one data directory."""

    def __init__(self, data_dir: Path | str):
        self.path = Path(data_dir) / "users.json"
        self._lock = InterProcessLock(Path(data_dir) / "locks" / "users.lock")

    def _read(self) -> dict[str, Any]:
        if not self.path.exists():
            return {"users": {}}
        data: dict[str, Any] = orjson.loads(self.path.read_bytes())
        return data

    def _write(self, doc: dict[str, Any]) -> None:
        atomic_write(self.path, orjson.dumps(doc, option=orjson.OPT_INDENT_2))
        self.path.chmod(0o600)

    def add(self, name: str, role: str, password: str) -> User:
        """Create an account; refuses bad names, unknown roles, short passwords, duplicates."""
        if not _NAME_RE.match(name or ""):
            raise BadRequest("bad_user_name", value=name)
        if role not in ROLES:
            raise BadRequest("bad_role", value=role, allowed=", ".join(ROLES))
        if len(password) < MIN_PASSWORD:
            raise BadRequest("weak_password", min=MIN_PASSWORD)
        with self._lock:
            doc = self._read()
            if name in doc["users"]:
                raise BadRequest("user_exists", value=name)
            doc["users"][name] = {
                "role": role,
                "active": True,
                "password": hash_password(password),
                "tokens": [],
                "created_at": utc_now(),
            }
            self._write(doc)
        return User(name, role)

    def get(self, name: str) -> User | None:
        """The account called ``name`` (active or not), or None."""
        entry = self._read()["users"].get(name)
        return None if entry is None else User(name, entry["role"], entry["active"])

    def list(self) -> list[User]:
        """Every account, by name."""
        users = self._read()["users"]
        return [User(n, e["role"], e["active"]) for n, e in sorted(users.items())]

    def authenticate(self, name: str, password: str) -> User | None:
        """The active account if ``password`` is right, else None (same cost either way)."""
        entry = self._read()["users"].get(name)
        stored = entry["password"] if entry else hash_password("x" * MIN_PASSWORD)
        ok = verify_password(password, stored)
        if not ok or entry is None or not entry["active"]:
            return None
        return User(name, entry["role"], True)

    def set_active(self, name: str, active: bool) -> None:
        """Disable (or re-enable) an account; a disabled account's tokens stop working."""
        with self._lock:
            doc = self._read()
            if name not in doc["users"]:
                raise NotFound(what="user", value=name)
            doc["users"][name]["active"] = active
            self._write(doc)

    def set_password(self, name: str, password: str) -> None:
        """Replace an account's password."""
        if len(password) < MIN_PASSWORD:
            raise BadRequest("weak_password", min=MIN_PASSWORD)
        with self._lock:
            doc = self._read()
            if name not in doc["users"]:
                raise NotFound(what="user", value=name)
            doc["users"][name]["password"] = hash_password(password)
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
        """Revoke every token of ``name``; returns how many were revoked."""
        with self._lock:
            doc = self._read()
            if name not in doc["users"]:
                raise NotFound(what="user", value=name)
            count = len(doc["users"][name]["tokens"])
            doc["users"][name]["tokens"] = []
            self._write(doc)
        return count

    def user_for_token(self, token: str) -> User | None:
        """The active account owning ``token``, or None."""
        wanted = token_hash(token)
        for name, entry in self._read()["users"].items():
            if not entry["active"]:
                continue
            if any(hmac.compare_digest(t["hash"], wanted) for t in entry["tokens"]):
                return User(name, entry["role"], True)
        return None

    def export(self) -> dict[str, Any]:
        """The whole account file (hashes included), for migrations between backends."""
        return self._read()
