"""Photo thumbnails (issue #16): made when a photo is stored, upright by its EXIF
orientation like the photo, and made lazily for photos stored before thumbnails."""

from __future__ import annotations

import io
import shutil

import orjson
import pytest
from PIL import Image

from layers.photos import THUMB_PX, PhotoStore, photo_id_for

BLUE = (20, 20, 200)
RED = (200, 30, 30)


def oriented_jpeg(orientation: int, size: tuple[int, int] = (800, 400)) -> bytes:
    """A JPEG of ``size`` pixels as the sensor saw it: red, with a blue top-left quadrant,
    and the EXIF orientation a phone writes when it was held otherwise."""
    width, height = size
    image = Image.new("RGB", size, RED)
    image.paste(BLUE, (0, 0, width // 2, height // 2))
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), quality=95)
    return out.getvalue()


def colour_at(image: Image.Image, fx: float, fy: float) -> tuple[int, ...]:
    """The colour at a fraction of the image's width and height."""
    rgb = image.convert("RGB")
    return rgb.getpixel((int(rgb.width * fx), int(rgb.height * fy)))


def is_blue(colour: tuple[int, ...]) -> bool:
    return colour[2] > 150 and colour[0] < 80


# Where the sensor's blue top-left quadrant is once the photo is upright, and the size.
UPRIGHT = {
    # 6: "turn 90 degrees clockwise to view": the top-left goes to the top-right.
    6: ((0.75, 0.25), (400, 800)),
    # 3: "turn 180 degrees": the top-left goes to the bottom-right.
    3: ((0.75, 0.75), (800, 400)),
    1: ((0.25, 0.25), (800, 400)),
}


@pytest.mark.parametrize("orientation", [6, 3, 1])
def test_stored_photo_and_thumbnail_are_upright(tmp_path, orientation):
    photos = PhotoStore(tmp_path)
    stored = photos.save(oriented_jpeg(orientation), "IMG.jpg", user="field1")
    (fx, fy), size = UPRIGHT[orientation]
    path = photos.path(stored.id)
    assert path is not None
    with Image.open(path) as photo:
        assert photo.size == size
        assert is_blue(colour_at(photo, fx, fy)), colour_at(photo, fx, fy)
        assert not is_blue(colour_at(photo, 1 - fx, 1 - fy))
        assert photo.getexif().get(0x0112) is None  # re-encoded without EXIF
    thumb = photos.thumb_path(stored.id, make=False)
    assert thumb is not None and thumb.parent == tmp_path / "photos" / "thumbs"
    with Image.open(thumb) as small:
        assert small.format == "JPEG"
        assert max(small.size) == THUMB_PX == 320
        assert small.size == (size[0] * 320 // max(size), size[1] * 320 // max(size))
        assert is_blue(colour_at(small, fx, fy))
        assert not is_blue(colour_at(small, 1 - fx, 1 - fy))
    assert stored.exif.orientation == orientation


def test_a_small_photo_keeps_its_size_in_the_thumbnail(tmp_path):
    photos = PhotoStore(tmp_path)
    stored = photos.save(oriented_jpeg(1, (120, 90)), "small.jpg", user="field1")
    with Image.open(photos.thumb_path(stored.id)) as small:
        assert small.size == (120, 90)


def old_photo(tmp_path, data: bytes) -> str:
    """A photo as stored before thumbnails: the file and its index record, no thumbnail
    (and, older still, the file as the phone sent it, with its EXIF orientation)."""
    root = tmp_path / "photos"
    root.mkdir(parents=True, exist_ok=True)
    photo_id = photo_id_for(data)
    (root / f"{photo_id}.jpg").write_bytes(data)
    record = {"kind": "jpeg", "sha256": "", "size": len(data), "filename": "old.jpg"}
    index = {"features": {"streetlights/SL-000001": [photo_id]}, "photos": {photo_id: record}}
    (root / "index.json").write_bytes(orjson.dumps(index))
    return photo_id


def test_a_photo_without_thumbnail_gets_one_on_first_request(tmp_path):
    photo_id = old_photo(tmp_path, oriented_jpeg(6))
    photos = PhotoStore(tmp_path)
    assert photos.missing_thumbs() == [photo_id]
    assert photos.thumb_path(photo_id, make=False) is None
    made = photos.thumb_path(photo_id)
    assert made == tmp_path / "photos" / "thumbs" / f"{photo_id}.jpg" and made.is_file()
    with Image.open(made) as small:
        assert small.size == (160, 320)  # upright: the phone's orientation 6 applied
        assert is_blue(colour_at(small, 0.75, 0.25))
    assert photos.missing_thumbs() == []
    again = made.stat().st_mtime_ns
    assert photos.thumb_path(photo_id) == made and made.stat().st_mtime_ns == again


def test_repair_makes_every_missing_thumbnail(tmp_path):
    first = old_photo(tmp_path, oriented_jpeg(3))
    photos = PhotoStore(tmp_path)
    second = photos.save(oriented_jpeg(1), "new.jpg", user="field1").id
    shutil.rmtree(tmp_path / "photos" / "thumbs")
    assert set(photos.missing_thumbs()) == {first, second}
    assert photos.make_missing_thumbs() == 2
    assert photos.missing_thumbs() == []
    assert photos.make_missing_thumbs() == 0


def test_a_photo_that_no_longer_decodes_has_no_thumbnail(tmp_path):
    photo_id = old_photo(tmp_path, oriented_jpeg(1))
    path = tmp_path / "photos" / f"{photo_id}.jpg"
    path.write_bytes(path.read_bytes()[:200])  # truncated on disk
    photos = PhotoStore(tmp_path)
    assert photos.thumb_path(photo_id) is None
    assert not (tmp_path / "photos" / "thumbs" / f"{photo_id}.jpg").exists()
    assert photos.thumb_path("P-nope") is None and photos.thumb_path("../x") is None
