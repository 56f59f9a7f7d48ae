"""Photos taken with features: checked, stored under generated ids, linked in a sidecar.

Design: layer specs stay untouched. A photo is not a property of the feature; the link
between a feature and its photos lives in a sidecar index, ``photos/index.json`` (a site
file, :mod:`layers.site_files`: in the data directory, or in PostgreSQL's ``vw_files``)::

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
  :data:`MAX_PHOTO_BYTES` and at most ``max_pixels`` pixels (the setting
  ``VILLAGEWORKS_MAX_PHOTO_PIXELS``), read from the header before any pixel is decoded.
- Accepted photos are re-encoded with Pillow (:func:`reencode`): turned upright by their
  EXIF orientation, every metadata block dropped (EXIF, XMP, comments, text chunks). What
  the app keeps of the EXIF (position, time, orientation) is read from the original first
  and kept in the index. ``sha256`` is the original's (the id is derived from it, so a
  retry maps to the same photo); ``size``, ``width`` and ``height`` are the stored file's.

- Each photo has a thumbnail, ``<data>/photos/thumbs/<id>.jpg``: a JPEG of at most
  :data:`THUMB_PX` pixels, upright like the photo, written with it; a photo stored before
  thumbnails gets its thumbnail on first request (:meth:`PhotoStore.thumb_path`), or all
  at once by :meth:`PhotoStore.make_missing_thumbs`.

Map popups, feature pages and the review page read the links through
:meth:`PhotoStore.for_feature` (:func:`photos_for`) and show the thumbnails.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from PIL import Image, ImageOps

from geo.exif import PhotoExif, image_kind, image_size, read_exif
from geo.messages import register
from geo.problems import Problem, short_value
from layers.changes import utc_now
from layers.errors import ValidationFailed
from layers.site_files import DirFiles, SiteFiles

MAX_PHOTO_BYTES = 15 * 1024 * 1024
#: Default of the setting ``VILLAGEWORKS_MAX_PHOTO_PIXELS`` (width x height).
DEFAULT_MAX_PHOTO_PIXELS = 40_000_000
JPEG_QUALITY = 88
#: Longest side of the thumbnail kept beside each photo (``photos/thumbs/<id>.jpg``).
THUMB_PX = 320
THUMB_QUALITY = 80
MAX_PHOTOS_PER_FEATURE = 12
PHOTO_ID_RE = re.compile(r"^P-[0-9a-f]{24}$")
_SUFFIX = {"jpeg": ".jpg", "png": ".png"}
#: The site file of the feature -> photos index.
INDEX = "photos/index.json"
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
        "photo_too_many_pixels",
        "照片“{value}”像素太多：{width}×{height}（{megapixels} 百万像素），"
        "上限 {limit_mp} 百万像素，未保存；请缩小后再传",
        "Photo '{value}' has too many pixels: {width}×{height} ({megapixels} megapixels), "
        "the limit is {limit_mp} megapixels; not saved. Make it smaller and send it again",
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


def check_photo(
    data: bytes, filename: str, max_pixels: int = DEFAULT_MAX_PHOTO_PIXELS
) -> list[Problem]:
    """Problems that keep ``data`` from being stored as a photo (empty when it is fine).

    Only the header is read (no pixel is decoded): the kind, and the width and height
    against ``max_pixels``.
    """
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
    size = image_size(data) if image_kind(data) is not None else None
    if size is None:
        return [Problem("photo_not_image", field="photos", value=name)]
    if size[0] * size[1] > max_pixels:
        return [_too_many_pixels(name, size, max_pixels)]
    return []


def _too_many_pixels(name: str, size: tuple[int, int], max_pixels: int) -> Problem:
    params = {
        "width": size[0],
        "height": size[1],
        "megapixels": round(size[0] * size[1] / 1e6, 1),
        "limit_mp": round(max_pixels / 1e6, 1),
    }
    return Problem("photo_too_many_pixels", field="photos", value=name, params=params)


@dataclass(frozen=True)
class Encoded:
    """A photo as it is stored: re-encoded, upright, without metadata."""

    kind: str
    data: bytes
    width: int
    height: int
    thumb: bytes


def reencode(data: bytes, filename: str, max_pixels: int = DEFAULT_MAX_PHOTO_PIXELS) -> Encoded:
    """Decode ``data`` (checked with :func:`check_photo`), turn it upright by its EXIF
    orientation and encode it again, in the same format, with no metadata but its colour
    profile.

    Raises :class:`ValidationFailed` (``photo_not_image`` or ``photo_too_many_pixels``)
    when it cannot be decoded or is larger than its header said.
    """
    name = short_value(filename or "?", 60)
    problems = check_photo(data, filename, max_pixels)
    if problems:
        raise ValidationFailed(problems)
    Image.MAX_IMAGE_PIXELS = max_pixels  # Pillow's own guard, for any other path
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=["JPEG", "PNG"]) as opened:
                if opened.width * opened.height > max_pixels:
                    raise ValidationFailed([_too_many_pixels(name, opened.size, max_pixels)])
                icc = opened.info.get("icc_profile")
                upright = ImageOps.exif_transpose(opened)
                return _encode(upright, opened.format or "", icc)
    except (
        OSError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ):
        raise ValidationFailed([Problem("photo_not_image", field="photos", value=name)]) from None


def thumbnail(image: Image.Image) -> bytes:
    """A JPEG of ``image`` (already upright) whose longest side is at most
    :data:`THUMB_PX` pixels; a smaller image keeps its size."""
    small = image.copy()
    small.thumbnail((THUMB_PX, THUMB_PX))
    if small.mode not in ("RGB", "L"):
        small = small.convert("RGB")
    thumb = io.BytesIO()
    small.save(thumb, "JPEG", quality=THUMB_QUALITY)
    return thumb.getvalue()


def thumbnail_of(data: bytes, max_pixels: int = DEFAULT_MAX_PHOTO_PIXELS) -> bytes:
    """The thumbnail of a photo file (turned upright by its EXIF orientation, if it has
    one), for photos stored before thumbnails were made.

    Raises :class:`ValidationFailed` when ``data`` is not a photo :func:`check_photo`
    accepts or cannot be decoded.
    """
    problems = check_photo(data, "photo", max_pixels)
    if problems:
        raise ValidationFailed(problems)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=["JPEG", "PNG"]) as opened:
                return thumbnail(ImageOps.exif_transpose(opened))
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Warning):
        raise ValidationFailed([Problem("photo_not_image", field="photos")]) from None


def _encode(image: Image.Image, fmt: str, icc: bytes | None) -> Encoded:
    thumb = thumbnail(image)
    out = io.BytesIO()
    extra: dict[str, Any] = {"icc_profile": icc} if icc else {}
    if fmt == "PNG":
        image.save(out, "PNG", optimize=False, **extra)
        kind = "png"
    else:
        if image.mode not in ("RGB", "L", "CMYK"):
            image = image.convert("RGB")
        image.save(out, "JPEG", quality=JPEG_QUALITY, **extra)
        kind = "jpeg"
    return Encoded(kind, out.getvalue(), image.width, image.height, thumb)


def photo_id_for(data: bytes) -> str:
    """The id a photo with this content is stored under."""
    return "P-" + hashlib.sha256(data).hexdigest()[:24]


class PhotoStore:
    """Photo files and the feature -> photos index of one site, in its files
    (:mod:`layers.site_files`: ``photos/`` of the data directory, or PostgreSQL's
    ``vw_files``, where every server sees what any of them stored)."""

    def __init__(self, files: SiteFiles | Path | str):
        self.files = files if isinstance(files, SiteFiles) else DirFiles(files)
        local = self.files.root if isinstance(self.files, DirFiles) else None
        self.root = (local or Path(".")) / "photos"
        self.index_path = self.root / "index.json"
        self.thumbs = self.root / "thumbs"

    def _lock(self) -> AbstractContextManager[Any]:
        return self.files.lock("photos")

    # ------------------------------------------------------------------------ reads
    def _index(self) -> dict[str, Any]:
        raw = self.files.read(INDEX)
        if raw is None:
            return {"features": {}, "photos": {}}
        doc: dict[str, Any] = orjson.loads(raw)
        doc.setdefault("features", {})
        doc.setdefault("photos", {})
        return doc

    def name(self, photo_id: str) -> str | None:
        """The site file (``photos/<id>.jpg`` or ``.png``) of ``photo_id``, or None when
        the id is malformed or unknown."""
        if not PHOTO_ID_RE.match(photo_id or ""):
            return None
        for suffix in _SUFFIX.values():
            candidate = f"photos/{photo_id}{suffix}"
            if self.files.exists(candidate):
                return candidate
        return None

    def path(self, photo_id: str) -> Path | None:
        """The file of ``photo_id`` on this machine's disk (photos in a data directory),
        or None when the id is malformed, unknown, or the photo lives in the database."""
        name = self.name(photo_id)
        return None if name is None else self.files.local_path(name)

    def thumb_name(self, photo_id: str, *, make: bool = True) -> str | None:
        """The site file of the thumbnail (JPEG) of ``photo_id``; None when malformed or
        unknown.

        A photo stored before thumbnails were made gets its thumbnail now (``make``),
        stored beside the others for every server; None when that cannot be done (a
        read-only data directory, a file that no longer decodes): then the photo itself
        is the answer.
        """
        if not PHOTO_ID_RE.match(photo_id or ""):
            return None
        candidate = f"photos/thumbs/{photo_id}.jpg"
        if self.files.exists(candidate):
            return candidate
        return self._make_thumb(photo_id) if make else None

    def thumb_path(self, photo_id: str, *, make: bool = True) -> Path | None:
        """:meth:`thumb_name` as a file on this machine's disk (None in the database)."""
        name = self.thumb_name(photo_id, make=make)
        return None if name is None else self.files.local_path(name)

    def read(self, name: str) -> bytes | None:
        """The bytes of a photo or thumbnail file named by :meth:`name` / :meth:`thumb_name`."""
        return self.files.read(name)

    def make_thumb(self, photo_id: str) -> Path | str | None:
        """Write the missing thumbnail of a stored photo; its local path (its site file
        name in the database), or None when the photo is unknown, does not decode, or
        the folder cannot be written."""
        name = self._make_thumb(photo_id)
        return None if name is None else (self.files.local_path(name) or name)

    def _make_thumb(self, photo_id: str) -> str | None:
        source = self.name(photo_id)
        if source is None:
            return None
        target = f"photos/thumbs/{photo_id}.jpg"
        try:
            data = thumbnail_of(self.files.read(source) or b"")
            with self._lock():
                if not self.files.exists(target):
                    self.files.write(target, data)
        except (ValidationFailed, OSError):
            return None
        return target

    def missing_thumbs(self) -> list[str]:
        """Ids of stored photos that have no thumbnail yet."""
        return [
            pid
            for pid in sorted(self._index()["photos"])
            if self.thumb_name(pid, make=False) is None and self.name(pid) is not None
        ]

    def make_missing_thumbs(self) -> int:
        """Write every missing thumbnail (what ``villageworks repair`` does for photos
        stored before thumbnails); how many were written."""
        return sum(self.make_thumb(pid) is not None for pid in self.missing_thumbs())

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
    def save(
        self,
        data: bytes,
        filename: str,
        *,
        user: str,
        max_pixels: int = DEFAULT_MAX_PHOTO_PIXELS,
    ) -> StoredPhoto:
        """Keep one photo, re-encoded (:func:`reencode`); returns its record.

        Raises :class:`ValidationFailed` for a photo :func:`check_photo` or the decoder
        refuses. Saving the same content again returns the same id and writes nothing new.
        """
        photo_id = photo_id_for(data)
        exif = read_exif(data)  # from the original: the stored file has no EXIF
        known = self.meta(photo_id)
        if known is not None and self.name(photo_id) is not None:
            return StoredPhoto(
                photo_id, known["kind"], known["sha256"], known["size"], filename, exif
            )
        encoded = reencode(data, filename, max_pixels)
        photo = StoredPhoto(
            id=photo_id,
            kind=encoded.kind,
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(encoded.data),
            filename=filename,
            exif=exif,
        )
        with self._lock():
            target = f"photos/{photo.id}{_SUFFIX[photo.kind]}"
            if not self.files.exists(target):
                self.files.write(target, encoded.data)
            thumb = f"photos/thumbs/{photo.id}.jpg"
            if not self.files.exists(thumb):
                self.files.write(thumb, encoded.thumb)
            doc = self._index()
            if photo.id not in doc["photos"]:
                doc["photos"][photo.id] = {
                    "kind": photo.kind,
                    "sha256": photo.sha256,
                    "size": photo.size,
                    "width": encoded.width,
                    "height": encoded.height,
                    "filename": filename,
                    "by": user,
                    "at": utc_now(),
                    "exif": photo.exif.as_dict(),
                }
                self._write(doc)
        return photo

    def link(self, layer: str, fid: str, photo_ids: Iterable[str]) -> list[str]:
        """Link photos to a feature (each at most once); returns the feature's photo ids."""
        with self._lock():
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
        self.files.write(INDEX, orjson.dumps(doc, option=orjson.OPT_INDENT_2))


def photos_for(store_dir: SiteFiles | Path | str, layer: str, fid: str) -> list[dict[str, Any]]:
    """Photos of one feature, for popups: ``[{"id", "kind", "filename", "exif", ...}]``.

    The web layer serves each at ``/photos/<id>``, its thumbnail at
    ``/photos/<id>/thumb``. Empty when the feature has none.
    """
    return PhotoStore(store_dir).for_feature(layer, fid)


__all__ = [
    "DEFAULT_MAX_PHOTO_PIXELS",
    "Encoded",
    "MAX_PHOTO_BYTES",
    "PhotoStore",
    "StoredPhoto",
    "check_photo",
    "photo_id_for",
    "photos_for",
    "reencode",
    "thumbnail",
    "thumbnail_of",
]
