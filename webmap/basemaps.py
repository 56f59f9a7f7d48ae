"""The tile sources of the map pages: OpenStreetMap, Tianditu (with a key), Amap, none.

Every page that draws tiles (the county map, area and feature pages, the dashboard's gap
map, the small maps of forms) takes them from here, and the Content-Security-Policy
allows exactly their hosts.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import folium

MAX_ZOOM = 19


@dataclass(frozen=True)
class Basemap:
    """A tile source: URL template, subdomains, attribution (our own HTML), zoom limit."""

    url: str
    attribution: str
    subdomains: str = "abc"
    max_zoom: int = 18


def basemap_tiles(basemap: str, lang: str, tianditu_key: str = "") -> list[Basemap]:
    """The tile layers of a basemap (Tianditu has a separate label layer); none for "none"."""
    if basemap == "osm":
        return [
            Basemap(
                "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a>',
                "",
                19,
            )
        ]
    if basemap == "amap":
        return [
            Basemap(
                "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1"
                "&style=8&x={x}&y={y}&z={z}",
                "&copy; 高德地图 AutoNavi",
                "1234",
            )
        ]
    if basemap == "tianditu" and tianditu_key:
        key = quote(tianditu_key, safe="")
        labels = "cva" if lang == "zh" else "eva"

        def wmts(layer: str) -> str:
            return (
                f"https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
                f"&VERSION=1.0.0&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
                f"&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={key}"
            )

        attribution = "&copy; 天地图 Tianditu"
        return [
            Basemap(wmts("vec"), attribution, "01234567"),
            Basemap(wmts(labels), "", "01234567"),
        ]
    return []


def add_basemap_tiles(m: folium.Map, basemap: str, lang: str, tianditu_key: str = "") -> None:
    """The chosen basemap's tile layers (none for ``none``), shared by every map page."""
    for i, tiles in enumerate(basemap_tiles(basemap, lang, tianditu_key)):
        folium.TileLayer(
            tiles=tiles.url,
            attr=tiles.attribution or " ",
            name=f"basemap-{i}",
            subdomains=tiles.subdomains or "abc",
            max_zoom=MAX_ZOOM,
            max_native_zoom=tiles.max_zoom,
            overlay=i > 0,
            control=False,
        ).add_to(m)
