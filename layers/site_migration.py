"""What ``villageworks migrate`` carries besides layers: the site's files and signing key.

A site's files (:mod:`layers.site_files`) are named by relative paths whose first part
says what they are (:data:`SITE_FILE_ROOTS`). A data directory also holds the GeoJSON
store's own entries (:data:`STORE_ENTRIES`: layers travel as dumps, locks are not data)
and, in old installs, the signing key. Anything else is unknown: migrate refuses it
unless told to leave it behind, so nothing is dropped silently.

The session signing key lives outside a data directory (``<data>.secrets/secret_key``,
``webmap.deploy``) and in a database at :data:`SIGNING_KEY`; :func:`carry_signing_key`
moves it between the two homes.

>>> classify_paths(["users.json", "layers/a.geojson", "notes.txt", "photos/P-1.jpg"], "dir")
(['users.json', 'photos/P-1.jpg'], ['notes.txt'])
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from geo.messages import register, render
from layers.journal import atomic_write
from layers.site_files import DirFiles, SiteFiles

#: Top-level entries of the site's files that migrate knows and carries.
SITE_FILE_ROOTS = (
    "specs",
    "users.json",
    "uploads",
    "photos",
    "ledger_imports",
    "throttle",
)
#: A data directory's entries of the GeoJSON store itself (layers are carried as dumps).
STORE_ENTRIES = ("layers", "journal", "locks")
#: The signing key's path among a database's site files.
SIGNING_KEY = "secrets/signing_key"
#: Where older installs kept the key: inside the data directory.
OLD_KEY = "secret_key"

for _code, _zh, _en in (
    (
        "migrate_target_not_empty",
        "目标已有数据（{value}），未迁移任何内容；请换一个空的目标",
        "The target already holds data ({value}); nothing was migrated: choose an empty target",
    ),
    (
        "migrate_unknown_files",
        "数据目录中有 migrate 不认识的内容：{value}；未迁移任何内容。"
        "确认不需要后加 --force，它们将被留在原处",
        "The data directory holds entries migrate does not know: {value}; nothing was "
        "migrated. If they are not needed, add --force and they are left behind",
    ),
    (
        "migrate_undeclared_layer",
        "图层“{layer}”有 {count} 个要素或记录，但没有规格声明它（specs/ 中没有它的 .toml），"
        "未迁移任何内容",
        "The layer '{layer}' holds {count} features or records but no spec declares it (no "
        ".toml for it in specs/); nothing was migrated",
    ),
    (
        "migrate_lost",
        "迁移后核对不符：{value}，应为 {expected}，实为 {found}；目标不完整，请清空后重试",
        "The check after migrating failed: {value} should be {expected}, is {found}; the "
        "target is incomplete: empty it and try again",
    ),
    (
        "migrate_summary",
        "已迁移 {layers} 个图层的 {features} 个要素（另有已删除 {deleted} 个）、"
        "{records} 条历史记录、{accounts} 个账号、{uploads} 次上传、{photos} 张照片、"
        "共 {files} 个文件；签名密钥：{key}",
        "migrated {features} features ({deleted} deleted) in {layers} layers, {records} history "
        "records, {accounts} accounts, {uploads} uploads, {photos} photos, {files} files in "
        "all; signing key: {key}",
    ),
    ("migrate_key_carried", "已迁移", "carried"),
    ("migrate_key_none", "源端没有（登录需重新进行）", "none at the source (users log in again)"),
    ("migrate_left_behind", "留在原处（--force）：{value}", "left behind (--force): {value}"),
):
    register(_code, _zh, _en)


def classify_paths(paths: Iterable[str], kind: str) -> tuple[list[str], list[str]]:
    """Split site file paths into those migrate carries and unknown top-level entries.

    ``kind`` is the files' :attr:`~layers.site_files.SiteFiles.kind`: in a data
    directory (``"dir"``) the store's own entries and the old key file are skipped; the
    key is carried by :func:`carry_signing_key` either way.
    """
    carry: list[str] = []
    unknown: set[str] = set()
    for path in paths:
        top = path.split("/", 1)[0]
        if kind == "dir" and top in (*STORE_ENTRIES, OLD_KEY):
            continue
        if path == SIGNING_KEY:
            continue
        if top in SITE_FILE_ROOTS:
            carry.append(path)
        else:
            unknown.add(top + ("/" if "/" in path else ""))
    return carry, sorted(unknown)


def holds_site_files(files: SiteFiles) -> list[str]:
    """The top-level entries ``files`` already holds (locks aside): a target must have none."""
    found = set()
    for path in files.list():
        top = path.split("/", 1)[0]
        if not (files.kind == "dir" and top == "locks"):
            found.add(top)
    return sorted(found)


@dataclass
class MigrationSummary:
    """What one migration carried; :meth:`text` is the final line of the CLI."""

    features: dict[str, int] = field(default_factory=dict)
    deleted: int = 0
    records: int = 0
    accounts: int = 0
    uploads: int = 0
    photos: int = 0
    files: int = 0
    signing_key: bool = False
    left_behind: list[str] = field(default_factory=list)

    def count_files(self, files: SiteFiles, paths: list[str]) -> None:
        """Count the accounts, uploads and photos among the carried ``paths``."""
        self.files = len(paths)
        self.uploads = sum(
            1
            for p in paths
            if p.startswith("uploads/") and p.endswith("/meta.json") and p.count("/") == 2
        )
        self.photos = sum(1 for p in paths if p.startswith("photos/P-") and p.count("/") == 1)
        if "users.json" in paths:
            doc = orjson.loads(files.read("users.json") or b"{}")
            self.accounts = len(doc.get("users", {}))

    def text(self, lang: str = "zh") -> str:
        """The summary in ``lang``."""
        key = "migrate_key_carried" if self.signing_key else "migrate_key_none"
        line = render(
            "migrate_summary",
            lang,
            layers=len(self.features),
            features=sum(self.features.values()),
            deleted=self.deleted,
            records=self.records,
            accounts=self.accounts,
            uploads=self.uploads,
            photos=self.photos,
            files=self.files,
            key=render(key, lang),
        )
        if self.left_behind:
            line += "\n" + render("migrate_left_behind", lang, value=", ".join(self.left_behind))
        return line


def read_signing_key(files: SiteFiles, key_file: Path | None) -> bytes | None:
    """The source's key: in ``key_file`` (a data-directory install; else the old
    ``<data>/secret_key``), or among a database's ``files``; None when there is none."""
    if key_file is None:
        return files.read(SIGNING_KEY)
    candidates = [key_file]
    if isinstance(files, DirFiles):
        candidates.append(files.root / OLD_KEY)
    for path in candidates:
        if path.is_file() and path.read_bytes().strip():
            return path.read_bytes().strip()
    return None


def target_key_taken(files: SiteFiles, key_file: Path | None) -> str | None:
    """Where the target already keeps a signing key, if it does."""
    if key_file is None:
        return SIGNING_KEY if files.exists(SIGNING_KEY) else None
    return str(key_file) if key_file.exists() else None


def write_signing_key(files: SiteFiles, key_file: Path | None, key: bytes) -> None:
    """Store ``key`` in ``key_file`` (folder 0700, file 0600) or among ``files``."""
    if key_file is None:
        files.write(SIGNING_KEY, key)
        return
    key_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    atomic_write(key_file, key)
    os.chmod(key_file, 0o600)


def carry_signing_key(
    source: SiteFiles,
    target: SiteFiles,
    source_key_file: Path | None = None,
    target_key_file: Path | None = None,
) -> bool:
    """Copy the session signing key; whether there was one.

    A ``*_key_file`` is the key file of a data-directory install (``webmap.deploy``'s
    ``<data>.secrets/secret_key``); None means a database, whose key is ``SIGNING_KEY``
    among its files. Sessions signed before the migration stay valid after it.
    """
    key = read_signing_key(source, source_key_file)
    if key is None:
        return False
    write_signing_key(target, target_key_file, key)
    return True
