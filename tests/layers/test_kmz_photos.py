"""Photos inside a KMZ (issue #16): Ovital and Google Earth keep a placemark's photos in
the archive and show them from its description; an upload attaches them to the features
it creates, checked and re-encoded like captured photos, and warns in zh and en about one
that is missing or refused."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from geo.readers.kml import description_images, kmz_images
from layers.photos import PhotoStore
from layers.store import GeoJSONStore
from layers.uploads import UploadOptions, run_upload

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path):
    data = tmp_path / "data"
    for sub in ("layers", "specs"):
        shutil.copytree(ROOT / "data" / "demo" / sub, data / sub)
    return GeoJSONStore(data)


def jpeg(colour=(200, 30, 30), size=(400, 200), orientation=None) -> bytes:
    image = Image.new("RGB", size, colour)
    image.paste((20, 20, 200), (0, 0, size[0] // 2, size[1] // 2))
    out = io.BytesIO()
    if orientation:
        exif = Image.Exif()
        exif[0x0112] = orientation
        image.save(out, "JPEG", exif=exif.tobytes(), quality=92)
    else:
        image.save(out, "JPEG", quality=92)
    return out.getvalue()


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (60, 40), (0, 160, 0)).save(out, "PNG")
    return out.getvalue()


def placemark(name: str, lon: float, lat: float, description: str) -> str:
    return (
        f"<Placemark><name>{name}</name><description><![CDATA[{description}]]></description>"
        '<ExtendedData><Data name="power_source"><value>solar</value></Data></ExtendedData>'
        f"<Point><coordinates>{lon},{lat},1046</coordinates></Point></Placemark>"
    )


def kmz(placemarks: list[str], files: dict[str, bytes], kml_name: str = "doc.kml") -> bytes:
    doc = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2">'
        "<Document><name>奥维互动地图</name><Folder><name>路灯</name>"
        + "".join(placemarks)
        + "</Folder></Document></kml>"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(kml_name, doc.encode("utf-8"))
        for name, content in files.items():
            archive.writestr(name, content)
    return buf.getvalue()


def ovital_kmz() -> bytes:
    return kmz(
        [
            placemark(
                "路灯1",
                112.8112,
                39.5101,
                '<p>太阳能路灯</p><img src="files/lamp1.jpg" width="320"><br>'
                "<img src='images/lamp1-night.png'>",
            ),
            placemark("路灯2", 112.8119, 39.5106, '<img src="files/gone.jpg">'),
            placemark("路灯3", 112.8126, 39.5111, '<img src="files/not-a-photo.jpg">村口'),
            placemark("路灯4", 112.8133, 39.5116, "<IMG SRC=images/four.jpg>"),
            placemark("路灯5", 112.8140, 39.5121, "no photo"),
        ],
        {
            "files/lamp1.jpg": jpeg(orientation=6),
            "images/lamp1-night.png": png(),
            "images/four.jpg": jpeg((10, 200, 10)),
            "files/not-a-photo.jpg": b"<svg onload=alert(1)>",
            "files/icon_1.png": png(),  # a style's icon: not a photo of any placemark
        },
    )


def upload(store, data, **options):
    return run_upload(
        store, data, "奥维.kmz", UploadOptions(layer="streetlights", **options), user="field1"
    )


def test_the_kml_reader_exposes_each_placemarks_images():
    images = kmz_images(ovital_kmz())
    assert [(i.row, i.ref, i.name, i.data is not None) for i in images] == [
        (1, "files/lamp1.jpg", "files/lamp1.jpg", True),
        (1, "images/lamp1-night.png", "images/lamp1-night.png", True),
        (2, "files/gone.jpg", "files/gone.jpg", False),
        (3, "files/not-a-photo.jpg", "files/not-a-photo.jpg", True),
        (4, "images/four.jpg", "images/four.jpg", True),
    ]
    assert (
        description_images('<img src="http://x/y.jpg"><img src="data:image/png;base64,AA">') == []
    )


def test_photos_of_a_kml_in_a_folder_resolve_against_it_and_never_leave_the_archive():
    data = kmz(
        [
            placemark("a", 112.81, 39.51, '<img src="files/%E7%85%A7%E7%89%87.jpg">'),
            placemark("b", 112.82, 39.52, '<img src="../../etc/passwd"><img src="/abs.jpg">'),
        ],
        {"export/files/照片.jpg": jpeg()},
        kml_name="export/doc.kml",
    )
    images = kmz_images(data)
    assert [(i.row, i.name, i.data is not None) for i in images] == [
        (1, "export/files/照片.jpg", True),
        (2, None, False),
        (2, None, False),
    ]


def test_an_upload_attaches_the_photos_and_warns_about_missing_and_refused(store):
    preview = upload(store, ovital_kmz(), dry_run=True)
    warnings = {(p.code, p.row, p.value) for p in preview.problems}
    assert ("kmz_photo_missing", 2, "files/gone.jpg") in warnings
    assert ("kmz_photo_refused", 3, "files/not-a-photo.jpg") in warnings
    assert preview.accepted == 5 and preview.rejected == 0
    assert not store.files.list("photos")  # a preview keeps no photo

    report = upload(store, ovital_kmz())
    assert report.status == "committed" and len(report.ids) == 5
    photos = PhotoStore(store.files)
    first = photos.for_feature("streetlights", report.ids[0])
    assert [p["filename"] for p in first] == ["lamp1.jpg", "lamp1-night.png"]
    assert [p["kind"] for p in first] == ["jpeg", "png"]
    with Image.open(io.BytesIO(photos.read(photos.name(first[0]["id"]) or ""))) as stored:
        assert stored.size == (200, 400)  # upright: orientation 6 applied
        assert not stored.getexif()  # re-encoded without metadata
    assert photos.thumb_name(first[0]["id"], make=False) is not None
    # Each row's photos go to the feature made from that row.
    assert [p["filename"] for p in photos.for_feature("streetlights", report.ids[3])] == [
        "four.jpg"
    ]
    for fid in (report.ids[1], report.ids[2], report.ids[4]):
        assert photos.for_feature("streetlights", fid) == []
    codes = [p.code for p in report.problems if p.code.startswith("kmz_photo")]
    assert sorted(codes) == ["kmz_photo_missing", "kmz_photo_refused"]


def test_the_warnings_name_row_and_file_in_both_languages(store):
    report = upload(store, ovital_kmz(), dry_run=True)
    missing = next(p for p in report.problems if p.code == "kmz_photo_missing")
    refused = next(p for p in report.problems if p.code == "kmz_photo_refused")
    assert missing.severity == refused.severity == "warning"
    assert missing.message("zh").startswith("第 2 行") and "files/gone.jpg" in missing.message("zh")
    assert missing.message("en").startswith("Row 2:") and "not in the KMZ" in missing.message("en")
    assert "JPEG" in refused.message("en") and "Row 3" in refused.message("en")
    assert "第 3 行" in refused.message("zh") and "不是 JPEG 或 PNG" in refused.message("zh")


def test_a_retried_upload_links_each_photo_once(store):
    first = upload(store, ovital_kmz(), idempotency_key="kmz-photos-0001")
    again = upload(store, ovital_kmz(), idempotency_key="kmz-photos-0001")
    assert again.ids == first.ids
    assert len(PhotoStore(store.files).for_feature("streetlights", first.ids[0])) == 2


def test_a_kmz_without_photos_and_other_formats_are_unchanged(store):
    data = (ROOT / "tests" / "data" / "import" / "shanyin" / "lights_ovital.kmz").read_bytes()
    report = upload(store, data, defaults={"power_source": "solar"})
    assert report.status == "committed"
    assert not [p for p in report.problems if p.code.startswith("kmz_photo")]
    assert all(PhotoStore(store.files).for_feature("streetlights", i) == [] for i in report.ids)
