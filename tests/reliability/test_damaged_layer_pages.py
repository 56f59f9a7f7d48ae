"""#15 item 11: one damaged layer must not take the overview pages down with it.

A garbage layer file, or a journal with a flipped byte in the middle, made ``/``,
``/dashboard``, ``/ledger`` and ``/ogc/collections`` answer 500 (or 503). They answer
200 now, with a banner (zh/en) naming the damaged layer and saying an administrator
should run ``villageworks repair``, and every other layer as it was; the damaged layer's
own API answers 503 with its message. Real files on the GeoJSON store, Flask's test client.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from layers.store import GeoJSONStore
from layers.store_base import Change
from webmap.app import create_app

pytestmark = pytest.mark.backend_independent

SECRET = "damaged-layer-tests"
PAGES = ("/", "/dashboard", "/ledger", "/layers")
BANNER = {
    "zh": "的数据已损坏，本页暂未显示该图层；其他图层正常。请管理员运行 villageworks repair",
    "en": "is damaged and is left out of this page; every other layer is shown. An "
    "administrator should run villageworks repair",
}


def _garbage_layer_file(data_dir: Path, layer: str) -> None:
    (data_dir / "layers" / f"{layer}.geojson").write_bytes(b"garbage")


def _flipped_journal(data_dir: Path, layer: str) -> None:
    """Three records in ``layer``'s journal, a byte of the middle one flipped. The layer
    file is left as it was before them (its rewrites failed, as on a full disk), so the
    records are read at load."""
    store = GeoJSONStore(data_dir)
    layer_file = store.layer_path(layer)
    before = layer_file.read_bytes()
    first = store.features(layer)[0]
    text = {"wells": "name", "ledger": "notes"}[layer]
    for n in range(3):
        change = Change("update", id=first["id"], properties={text: f"改名{n}"})
        store.commit(layer, [change], user="t", source="t")
    journal = store.journal(layer).path
    data = bytearray(journal.read_bytes())
    starts = [i for i, byte in enumerate(data) if byte == 0x1E]
    middle = (starts[1] + starts[2]) // 2
    data[middle] ^= 0x20 if data[middle] not in (0x1E, 0x0A) else 0x41
    journal.write_bytes(bytes(data))
    layer_file.write_bytes(before)


DAMAGE = {"garbage layer file": _garbage_layer_file, "flipped journal byte": _flipped_journal}


@pytest.fixture
def demo(tmp_path: Path, rel: Any) -> Path:
    return rel.copy_demo(tmp_path / "data")


def _app(data_dir: Path) -> Any:
    return create_app({"DATA_DIR": str(data_dir), "SECRET_KEY": SECRET, "BASEMAP": "none"})


def _banners(page: str) -> list[str]:
    return re.findall(r'data-damaged-layer="([^"]+)"', page)


def _layer_counts(page: str) -> dict[str, str]:
    """layer name -> the count shown on /layers."""
    rows = re.findall(r"<code>([a-z_]+)</code>.*?<td[^>]*>([\d,]+)</td>", page, flags=re.S)
    return dict(rows)


@pytest.mark.parametrize("how", sorted(DAMAGE))
@pytest.mark.parametrize("layer", ["wells", "ledger"])
def test_overview_pages_name_the_damaged_layer_and_show_the_rest(
    demo: Path, layer: str, how: str
) -> None:
    healthy = _app(demo).test_client()
    counts = healthy.get("/ogc/collections").get_json()
    wanted = {c["id"]: c.get("extent") for c in counts["collections"] if c["id"] != layer}
    roads = healthy.get("/api/layers/roads/features").get_json()
    DAMAGE[how](demo, layer)
    client = _app(demo).test_client()  # a fresh process: it must load the files
    for lang in ("zh", "en"):
        for path in PAGES:
            response = client.get(f"{path}?lang={lang}")
            page = response.get_data(as_text=True)
            assert response.status_code == 200, (path, response.status_code, page[:300])
            assert _banners(page) == [layer], (path, _banners(page))  # each reads both
            assert BANNER[lang] in page, path
    # Every other layer is what it was; the damaged one answers 503 with its message.
    collections = client.get("/ogc/collections?lang=en")
    assert collections.status_code == 200
    doc = collections.get_json()
    assert {c["id"]: c.get("extent") for c in doc["collections"] if c["id"] != layer} == wanted
    assert [d["layer"] for d in doc["vw:damaged"]] == [layer]
    assert "damaged" in doc["vw:damaged"][0]["message"]
    html = client.get("/ogc/collections?f=html").get_data(as_text=True)
    assert _banners(html) == [layer]
    assert client.get("/api/layers/roads/features").get_json() == roads
    items = client.get(f"/ogc/collections/{layer}/items?lang=en")
    assert items.status_code == 503
    error = items.get_json()["error"]
    assert "damaged" in error["message"] and layer in error["message"], error
    chinese = client.get(f"/ogc/collections/{layer}/items?lang=zh")
    assert chinese.status_code == 503 and "损坏" in chinese.get_json()["error"]["message"]


def test_the_layer_list_still_counts_every_other_layer(demo: Path) -> None:
    before = _layer_counts(_app(demo).test_client().get("/layers?lang=en").get_data(as_text=True))
    _garbage_layer_file(demo, "wells")
    after = _layer_counts(_app(demo).test_client().get("/layers?lang=en").get_data(as_text=True))
    assert after.pop("wells", "0") == "0" and before.pop("wells") != "0"
    assert after == before and len(after) > 5


def test_a_damaged_layer_stops_being_named_once_it_is_sound_again(demo: Path) -> None:
    original = (demo / "layers" / "wells.geojson").read_bytes()
    _garbage_layer_file(demo, "wells")
    client = _app(demo).test_client()
    assert _banners(client.get("/layers").get_data(as_text=True)) == ["wells"]
    (demo / "layers" / "wells.geojson").write_bytes(original)  # what repair gives back
    page = client.get("/layers").get_data(as_text=True)
    assert _banners(page) == []
    assert orjson.loads(original)["features"]
