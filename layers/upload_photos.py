"""Photos inside an uploaded KMZ, attached to the features its placemarks become.

Ovital (奥维互动地图) and Google Earth keep a placemark's photos in the archive
(``files/`` or ``images/``) and show them from its description
(``<img src="files/IMG_0001.jpg">``); :func:`geo.readers.kml.kmz_images` finds them. Each
is checked like a captured photo (:func:`layers.photos.check_photo`: JPEG or PNG by
content, size and pixel caps) when the upload is read, so the preview already warns about
a referenced photo that is missing from the archive or refused, naming the row and the
file. After the commit each accepted photo is stored through
:class:`layers.photos.PhotoStore` (re-encoded upright, without metadata, with its
thumbnail) and linked to the feature of its row. A photo never decides whether a row is
written: problems with photos are warnings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geo.messages import register
from geo.problems import InputError, Problem, short_value
from geo.readers.kml import kmz_images
from layers.bulk import Creates
from layers.errors import ValidationFailed
from layers.photos import (
    DEFAULT_MAX_PHOTO_PIXELS,
    MAX_PHOTOS_PER_FEATURE,
    PhotoStore,
    check_photo,
)
from layers.site_files import SiteFiles

for _code, _zh, _en in (
    (
        "kmz_photo_missing",
        "第 {row} 行：说明中引用的照片“{value}”不在 KMZ 文件里，未附加",
        "Row {row}: the photo '{value}' its description shows is not in the KMZ; not attached",
    ),
    (
        "kmz_photo_refused",
        "第 {row} 行：照片“{value}”未附加：{reason}",
        "Row {row}: photo '{value}' not attached: {reason}",
    ),
    (
        "kmz_photo_too_many",
        "第 {row} 行：照片超过 {limit} 张，“{value}”及其后的照片未附加",
        "Row {row}: more than {limit} photos; '{value}' and those after it are not attached",
    ),
):
    register(_code, _zh, _en)


@dataclass
class KmzPhotos:
    """The accepted photos of an uploaded KMZ by row: ``row -> [(file name, content)]``."""

    by_row: dict[int, list[tuple[str, bytes]]] = field(default_factory=dict)
    max_pixels: int = DEFAULT_MAX_PHOTO_PIXELS

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_row.values())


def _refused(row: int, ref: str, problem: Problem) -> Problem:
    """A photo problem (worded for the photo alone) as a warning of its row, both
    languages of the reason kept."""
    reason = {f"reason_{lang}": problem.message(lang) for lang in ("zh", "en")}
    return Problem(
        "kmz_photo_refused",
        row=row,
        field="photos",
        value=short_value(ref, 80),
        params={"reason": reason["reason_zh"], **reason},
        severity="warning",
    )


def read_kmz_photos(
    data: bytes, fmt: str, *, max_pixels: int = DEFAULT_MAX_PHOTO_PIXELS
) -> tuple[KmzPhotos | None, list[Problem]]:
    """The photos the placemarks of an uploaded KMZ show, checked, and a warning for each
    one missing or refused.

    ``(None, [])`` for any other format (``fmt`` is the reader's: ``"kmz"``). Nothing is
    stored here; :func:`attach_kmz_photos` does that after the commit.
    """
    if fmt != "kmz":
        return None, []
    try:
        images = kmz_images(data)
    except InputError:  # the reader already read it; say nothing twice
        return None, []
    photos = KmzPhotos(max_pixels=max_pixels)
    problems: list[Problem] = []
    full: set[int] = set()
    for image in images:
        ref = short_value(image.ref, 80)
        kept = photos.by_row.setdefault(image.row, [])
        if image.data is None:
            problems.append(
                Problem(
                    "kmz_photo_missing",
                    row=image.row,
                    field="photos",
                    value=ref,
                    severity="warning",
                )  # fmt: skip
            )
        elif refused := check_photo(image.data, image.ref, max_pixels):
            problems.append(_refused(image.row, image.ref, refused[0]))
        elif len(kept) < MAX_PHOTOS_PER_FEATURE:
            kept.append((posixpath_name(image.name or image.ref), image.data))
        elif image.row not in full:
            full.add(image.row)
            problems.append(
                Problem(
                    "kmz_photo_too_many",
                    row=image.row,
                    field="photos",
                    value=ref,
                    params={"limit": MAX_PHOTOS_PER_FEATURE},
                    severity="warning",
                )  # fmt: skip
            )
    photos.by_row = {row: kept for row, kept in photos.by_row.items() if kept}
    return photos, problems


def posixpath_name(name: str) -> str:
    """The last part of an archive entry's name (``files/IMG_1.jpg`` -> ``IMG_1.jpg``)."""
    return name.rsplit("/", 1)[-1] or name


def change_rows(changes: Sequence[Any]) -> list[int]:
    """The row of each feature a batch of upload changes writes, in the order of the
    commit's ids (a :class:`Creates` writes one per row)."""
    rows: list[int] = []
    for change in changes:
        if isinstance(change, Creates):
            rows.extend(int(r) for r in change.rows)
        else:
            rows.append(int(getattr(change, "row", 0) or 0))
    return rows


def attach_kmz_photos(
    data_dir: SiteFiles | Path | str,
    photos: KmzPhotos | None,
    changes: Sequence[Any],
    ids: Sequence[str],
    *,
    layer: str,
    user: str,
) -> list[Problem]:
    """Store the checked photos of each committed row and link them to its feature;
    warnings for photos the decoder refuses after all. Nothing to do without photos."""
    if not photos or not ids:
        return []
    store = PhotoStore(data_dir)
    rows = change_rows(changes)
    problems: list[Problem] = []
    for row, fid in zip(rows, ids, strict=False):
        stored = []
        for name, content in photos.by_row.get(row, []):
            try:
                stored.append(store.save(content, name, user=user, max_pixels=photos.max_pixels))
            except ValidationFailed as exc:
                problems.append(_refused(row, name, exc.problems[0]))
        if stored:
            store.link(layer, fid, [p.id for p in stored])
    return problems


__all__ = [
    "KmzPhotos",
    "attach_kmz_photos",
    "change_rows",
    "posixpath_name",
    "read_kmz_photos",
]
