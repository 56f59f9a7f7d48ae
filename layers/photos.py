"""Photos taken with features: checked, stored under generated ids, linked in a sidecar.

Design: layer specs stay untouched. A photo is not a property of the feature; the link
between a feature and its photos lives in a sidecar index, ``<data>/photos/index.json``::

    {"features": {"streetlights/SL-000123": ["P-3f2a...", ...]},
     "photos":   {"P-3f2a...": {"kind": "jpeg", "sha256": ..., "size": ...,
                                 "filename": "我的照片.jpg", "by": ..., "at": ...,
                                 "exif": {"lon": ..., "lat": ..., "taken_at": ...}}}}

- Photo files are ``<data>/photos/<id>.jpg`` or ``.png``; the id is generated from the
  content's SHA-256, so storing the same photo twice (a phone retrying a capture) keeps one
  file and links it once. The user's file name is metadata only.
- Photos are written before the feature is committed and linked after: a crash in between
  leaves an unlinked file (harmless), never a link to a missing file.
- Only real JPEG and PNG files are accepted (by content), each at most
  :data:`MAX_PHOTO_BYTES`.

Map popups read the links through :func:`photos_for`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from geo.exif import PhotoExif, image_kind, read_exif
from geo.messages import register
from geo.problems import Problem, short_value
from layers.journal import InterProcessLock, atomic_write
from layers.store import utc_now

MAX_PHOTO_BYTES = 15 * 1024 * 1024
MAX_PHOTOS_PER_FEATURE = 12
PHOTO_ID_RE = re.compile(r"^P-[0-9a-f]{24}$")
_SUFFIX = {"jpeg": ".jpg", "png": ".png"}
MIME_TYPES = {"jpeg": "image/jpeg", "png": "image/png"}

for _code, _zh, _en in (
    (
        "photo_not_image",
        "照片“{value}”不是 JPEG 或 PNG 图片，未保存",
        "Photo '{value}' is not a JPEG or PNG image; not saved",
    ),
    (
        "photo_too_large",
        "照片“{value}”太大（上限 {limit_mb} MB）",
        "Photo '{value}' is too large (limit {limit_mb} MB)",
    ),
    (
        "photo_too_many",
        "照片太多（每个要素最多 {limit} 张）",
        "Too many photos (at most {limit} per feature)",
    ),
):
    register(_code, _zh, _en)


@dataclass(frozen=True)
class StoredPhoto:
    """A photo kept in the data directory."""

    id: str
    kind: str
    sha256: str
    size: int
    filename: str
    exif: PhotoExif

    @property
    def mime_type(self) -> str:
        """``image/jpeg`` or ``image/png``."""
        return MIME_TYPES[self.kind]


def check_photo(data: bytes, filename: str) -> list[Problem]:
    """Problems that keep ``data`` from being stored as a photo (empty when it is fine)."""
    name = short_value(filename or "?", 60)
    if len(data) > MAX_PHOTO_BYTES:
        return [
            Problem(
                "photo_too_large",
                field="photos",
                value=name,
                params={"limit_mb": MAX_PHOTO_BYTES // (1024 * 1024)},
            )
        ]
    if image_kind(data) is None:
        return [Problem("photo_not_image", field="photos", value=name)]
    return []


def photo_id_for(data: bytes) -> str:
    """The id a photo with this content is stored under."""
    return "P-" + hashlib.sha256(data).hexdigest()[:24]


class PhotoStore:
    """Photo files and the feature -> photos index of one data directory."""

    def __init__(self, data_dir: Path | str):
        self.root = Path(data_dir) / "photos"
        self.index_path = self.root / "index.json"
        self._lock = InterProcessLock(Path(data_dir) / "locks" / "photos.lock")

    # ------------------------------------------------------------------------ reads
    def _index(self) -> dict[str, Any]:
        if not self.index_path.exists():
            return {"features": {}, "photos": {}}
        doc: dict[str, Any] = orjson.loads(self.index_path.read_bytes())
        doc.setdefault("features", {})
        doc.setdefault("photos", {})
        return doc

    def path(self, photo_id: str) -> Path | None:
        """The file of ``photo_id``, or None when the id is malformed or unknown."""
        if not PHOTO_ID_RE.match(photo_id or ""):
            return None
        for suffix in _SUFFIX.values():
            candidate = self.root / f"{photo_id}{suffix}"
            if candidate.is_file():
                return candidate
        return None

    def meta(self, photo_id: str) -> dict[str, Any] | None:
        """The record of one photo (kind, size, file name, EXIF...), or None."""
        if not PHOTO_ID_RE.match(photo_id or ""):
            return None
        found = self._index()["photos"].get(photo_id)
        return dict(found, id=photo_id) if found else None

    def for_feature(self, layer: str, fid: str) -> list[dict[str, Any]]:
        """Records of the photos linked to one feature, in the order they were added."""
        doc = self._index()
        ids = doc["features"].get(f"{layer}/{fid}", [])
        return [dict(doc["photos"].get(pid, {}), id=pid) for pid in ids]

    # ----------------------------------------------------------------------- writes
    def save(self, data: bytes, filename: str, *, user: str) -> StoredPhoto:
        """Keep one photo (checked with :func:`check_photo` first); returns its record.

        Saving the same content again returns the same id and writes nothing new.
        """
        kind = image_kind(data)
        if kind is None or len(data) > MAX_PHOTO_BYTES:
            raise ValueError("check_photo() first")
        photo = StoredPhoto(
            id=photo_id_for(data),
            kind=kind,
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
            filename=filename,
            exif=read_exif(data),
        )
        with self._lock:
            self.root.mkdir(parents=True, exist_ok=True)
            target = self.root / f"{photo.id}{_SUFFIX[kind]}"
            if not target.exists():
                atomic_write(target, data)
            doc = self._index()
            if photo.id not in doc["photos"]:
                doc["photos"][photo.id] = {
                    "kind": kind,
                    "sha256": photo.sha256,
                    "size": photo.size,
                    "filename": filename,
                    "by": user,
                    "at": utc_now(),
                    "exif": photo.exif.as_dict(),
                }
                self._write(doc)
        return photo

    def link(self, layer: str, fid: str, photo_ids: Iterable[str]) -> list[str]:
        """Link photos to a feature (each at most once); returns the feature's photo ids."""
        with self._lock:
            doc = self._index()
            key = f"{layer}/{fid}"
            linked = list(doc["features"].get(key, []))
            added = [p for p in photo_ids if p in doc["photos"] and p not in linked]
            if added:
                linked.extend(added)
                doc["features"][key] = linked
                self._write(doc)
            return linked

    def _write(self, doc: dict[str, Any]) -> None:
        atomic_write(self.index_path, orjson.dumps(doc, option=orjson.OPT_INDENT_2))


def photos_for(store_dir: Path | str, layer: str, fid: str) -> list[dict[str, Any]]:
    """Photos of one feature, for popups: ``[{"id", "kind", "filename", "exif", ...}]``.

    The web layer serves each at ``/photos/<id>``. Empty when the feature has none.
    """
    return PhotoStore(store_dir).for_feature(layer, fid)


__all__ = [
    "MAX_PHOTO_BYTES",
    "PhotoStore",
    "StoredPhoto",
    "check_photo",
    "photo_id_for",
    "photos_for",
]
