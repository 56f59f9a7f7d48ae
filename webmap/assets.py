"""Serve folium's JavaScript and CSS from the app instead of public CDNs.

folium elements list their assets as ``(name, url)`` pairs in ``default_js`` and
``default_css``; the URLs point at jsdelivr, cdnjs, unpkg and others, which county
intranets cannot reach. ``localise`` rewrites them, on the instances of one figure only,
to the copies under ``webmap/static/vendor`` (made by ``scripts/vendor_assets.py``).

Every local URL carries the copy's content hash (``?v=<sha256[:12]>``), so the app can
serve it as immutable (:mod:`webmap.http_cache`) and a new copy is fetched at once.

An asset with no vendored copy, or whose upstream URL changed (a folium upgrade moved
to another version), raises ``UnvendoredAssetError`` instead of letting the page reach
the internet.

Examples
--------
>>> import folium
>>> m = folium.Map(tiles=None)
>>> localise(m)
>>> "/static/vendor/leaflet@1.9.3/dist/leaflet.js" in m.get_root().render()
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType

from branca.element import Element, Figure, Link
from folium.elements import JSCSSMixin

VENDOR_DIR = Path(__file__).resolve().parent / "static" / "vendor"
DEFAULT_STATIC_URL = "/static/vendor"


class UnvendoredAssetError(LookupError):
    """A map asks for a JavaScript or CSS file that is not served by the app."""

    def __init__(self, name: str, url: str, reason: str) -> None:
        super().__init__(
            f"asset {name!r} ({url}) {reason}; vendor it with scripts/vendor_assets.py "
            "and add it to webmap.assets.ASSET_URLS"
        )
        self.name = name
        self.url = url


@dataclass(frozen=True)
class VendoredAsset:
    """The CDN URL folium uses for an asset and the path of our copy in VENDOR_DIR."""

    upstream_url: str
    path: str


_asset = VendoredAsset  # short name for the table below


_JSDELIVR = "https://cdn.jsdelivr.net"
_CDNJS = "https://cdnjs.cloudflare.com/ajax/libs"
_JQUERY = "jquery@3.7.1/dist/jquery.min.js"

# Keyed by the names folium 0.20.0 gives its assets (folium.py and plugins/*.py).
ASSET_URLS: Mapping[str, VendoredAsset] = MappingProxyType(
    {
        # folium.Map
        "leaflet": _asset(
            f"{_JSDELIVR}/npm/leaflet@1.9.3/dist/leaflet.js", "leaflet@1.9.3/dist/leaflet.js"
        ),
        "leaflet_css": _asset(
            f"{_JSDELIVR}/npm/leaflet@1.9.3/dist/leaflet.css", "leaflet@1.9.3/dist/leaflet.css"
        ),
        "jquery": _asset("https://code.jquery.com/jquery-3.7.1.min.js", _JQUERY),
        "bootstrap": _asset(
            f"{_JSDELIVR}/npm/bootstrap@5.2.2/dist/js/bootstrap.bundle.min.js",
            "bootstrap@5.2.2/dist/js/bootstrap.bundle.min.js",
        ),
        "bootstrap_css": _asset(
            f"{_JSDELIVR}/npm/bootstrap@5.2.2/dist/css/bootstrap.min.css",
            "bootstrap@5.2.2/dist/css/bootstrap.min.css",
        ),
        "glyphicons_css": _asset(
            "https://netdna.bootstrapcdn.com/bootstrap/3.0.0/css/bootstrap-glyphicons.css",
            "bootstrap@3.4.1/dist/css/bootstrap-glyphicons.css",
        ),
        "awesome_markers": _asset(
            f"{_CDNJS}/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.js",
            "drmonty-leaflet-awesome-markers@2.0.2/js/leaflet.awesome-markers.js",
        ),
        "awesome_markers_css": _asset(
            f"{_CDNJS}/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.css",
            "drmonty-leaflet-awesome-markers@2.0.2/css/leaflet.awesome-markers.css",
        ),
        # Only the icons our pages use (the locate control's), with their font inline:
        # 3 KB instead of 250 KB; scripts/subset_icons.py writes it from all.min.css.
        "awesome_markers_font_css": _asset(
            f"{_JSDELIVR}/npm/@fortawesome/fontawesome-free@6.2.0/css/all.min.css",
            "@fortawesome/fontawesome-free@6.2.0/css/vw-icons.css",
        ),
        "awesome_rotate_css": _asset(
            f"{_JSDELIVR}/gh/python-visualization/folium/folium/templates/"
            "leaflet.awesome.rotate.min.css",
            "folium@0.20.0/leaflet.awesome.rotate.css",
        ),
        # plugins.MarkerCluster and plugins.FastMarkerCluster
        "markerclusterjs": _asset(
            f"{_CDNJS}/leaflet.markercluster/1.1.0/leaflet.markercluster.js",
            "leaflet.markercluster@1.1.0/dist/leaflet.markercluster.js",
        ),
        "markerclustercss": _asset(
            f"{_CDNJS}/leaflet.markercluster/1.1.0/MarkerCluster.css",
            "leaflet.markercluster@1.1.0/dist/MarkerCluster.css",
        ),
        "markerclusterdefaultcss": _asset(
            f"{_CDNJS}/leaflet.markercluster/1.1.0/MarkerCluster.Default.css",
            "leaflet.markercluster@1.1.0/dist/MarkerCluster.Default.css",
        ),
        # plugins.FeatureGroupSubGroup
        "featuregroupsubgroupjs": _asset(
            "https://unpkg.com/leaflet.featuregroup.subgroup@1.0.2/dist/"
            "leaflet.featuregroup.subgroup.js",
            "leaflet.featuregroup.subgroup@1.0.2/dist/leaflet.featuregroup.subgroup.js",
        ),
        # plugins.Fullscreen
        "Control.Fullscreen.js": _asset(
            f"{_JSDELIVR}/npm/leaflet.fullscreen@3.0.0/Control.FullScreen.min.js",
            "leaflet.fullscreen@3.0.0/Control.FullScreen.js",
        ),
        "Control.FullScreen.css": _asset(
            f"{_JSDELIVR}/npm/leaflet.fullscreen@3.0.0/Control.FullScreen.css",
            "leaflet.fullscreen@3.0.0/Control.FullScreen.css",
        ),
        # plugins.MeasureControl
        "leaflet_measure_js": _asset(
            f"{_JSDELIVR}/gh/ljagis/leaflet-measure@2.1.7/dist/leaflet-measure.min.js",
            "leaflet-measure@2.1.7/dist/leaflet-measure.min.js",
        ),
        "leaflet_measure_css": _asset(
            f"{_JSDELIVR}/gh/ljagis/leaflet-measure@2.1.7/dist/leaflet-measure.min.css",
            "leaflet-measure@2.1.7/dist/leaflet-measure.css",
        ),
        # plugins.LocateControl
        "Control_locate_min_js": _asset(
            f"{_CDNJS}/leaflet-locatecontrol/0.66.2/L.Control.Locate.min.js",
            "leaflet.locatecontrol@0.66.2/dist/L.Control.Locate.min.js",
        ),
        "Control_locate_min_css": _asset(
            f"{_CDNJS}/leaflet-locatecontrol/0.66.2/L.Control.Locate.min.css",
            "leaflet.locatecontrol@0.66.2/dist/L.Control.Locate.min.css",
        ),
        # plugins.Search
        "Leaflet.Search.js": _asset(
            f"{_JSDELIVR}/npm/leaflet-search@2.9.7/dist/leaflet-search.min.js",
            "leaflet-search@2.9.7/dist/leaflet-search.min.js",
        ),
        "Leaflet.Search.css": _asset(
            f"{_JSDELIVR}/npm/leaflet-search@2.9.7/dist/leaflet-search.min.css",
            "leaflet-search@2.9.7/dist/leaflet-search.min.css",
        ),
        # plugins.GroupedLayerControl
        "leaflet.groupedlayercontrol.min.js": _asset(
            f"{_CDNJS}/leaflet-groupedlayercontrol/0.6.1/leaflet.groupedlayercontrol.min.js",
            "leaflet-groupedlayercontrol@0.6.1/dist/leaflet.groupedlayercontrol.min.js",
        ),
        "leaflet.groupedlayercontrol.min.css": _asset(
            f"{_CDNJS}/leaflet-groupedlayercontrol/0.6.1/leaflet.groupedlayercontrol.min.css",
            "leaflet-groupedlayercontrol@0.6.1/dist/leaflet.groupedlayercontrol.min.css",
        ),
        # plugins.MiniMap
        "Control_MiniMap_js": _asset(
            f"{_CDNJS}/leaflet-minimap/3.6.1/Control.MiniMap.js",
            "leaflet-minimap@3.6.1/dist/Control.MiniMap.min.js",
        ),
        "Control_MiniMap_css": _asset(
            f"{_CDNJS}/leaflet-minimap/3.6.1/Control.MiniMap.css",
            "leaflet-minimap@3.6.1/dist/Control.MiniMap.min.css",
        ),
        # plugins.TimestampedGeoJson
        "jquery3.7.1": _asset(f"{_CDNJS}/jquery/3.7.1/jquery.min.js", _JQUERY),
        "jqueryui1.10.2": _asset(
            f"{_CDNJS}/jqueryui/1.10.2/jquery-ui.min.js",
            "jquery-ui-dist@1.13.3/jquery-ui.min.js",
        ),
        "iso8601": _asset(
            f"{_JSDELIVR}/npm/iso8601-js-period@0.2.1/iso8601.min.js",
            "iso8601-js-period@0.2.1/iso8601.js",
        ),
        "leaflet.timedimension": _asset(
            f"{_JSDELIVR}/npm/leaflet-timedimension@1.1.1/dist/leaflet.timedimension.min.js",
            "leaflet-timedimension@1.1.1/dist/leaflet.timedimension.min.js",
        ),
        "leaflet.timedimension_css": _asset(
            f"{_JSDELIVR}/npm/leaflet-timedimension@1.1.1/dist/leaflet.timedimension.control.css",
            "leaflet-timedimension@1.1.1/dist/leaflet.timedimension.control.css",
        ),
        "moment": _asset(
            f"{_CDNJS}/moment.js/2.18.1/moment.min.js", "moment@2.18.1/min/moment.min.js"
        ),
        "highlight.js_css": _asset(
            f"{_CDNJS}/highlight.js/8.4/styles/default.min.css",
            "highlight.js@8.4.0/styles/default.css",
        ),
        # plugins.Draw
        "leaflet_draw_js": _asset(
            f"{_CDNJS}/leaflet.draw/1.0.2/leaflet.draw.js",
            "leaflet-draw@1.0.2/dist/leaflet.draw.js",
        ),
        "leaflet_draw_css": _asset(
            f"{_CDNJS}/leaflet.draw/1.0.2/leaflet.draw.css",
            "leaflet-draw@1.0.2/dist/leaflet.draw.css",
        ),
        # Not a folium asset: for our own chart pages (and add_js_link("chart.js", ...)).
        "chart.js": _asset(
            f"{_JSDELIVR}/npm/chart.js@4.6.1/dist/chart.umd.min.js",
            "chart.js@4.6.1/dist/chart.umd.min.js",
        ),
    }
)

_BY_UPSTREAM_URL = {asset.upstream_url: name for name, asset in ASSET_URLS.items()}


def is_external(url: str) -> bool:
    """True for a URL that leaves the app: absolute http(s) or protocol-relative."""
    return url.lower().startswith(("http://", "https://", "//"))


@cache
def vendored_version(path: str) -> str:
    """The short content hash (sha256, 12 hex digits) of a file under ``VENDOR_DIR``."""
    return hashlib.sha256((VENDOR_DIR / path).read_bytes()).hexdigest()[:12]


def local_url(name: str, url: str, static_url: str = DEFAULT_STATIC_URL) -> str:
    """Return the app's URL for folium asset ``name``, which folium loads from ``url``,
    pinned to the vendored copy's content (``?v=``).

    A URL that is already local is returned unchanged.

    Raises
    ------
    UnvendoredAssetError
        If ``name`` has no vendored copy, or ``url`` is not the URL that copy was made from.
    """
    if not is_external(url):
        return url
    asset = ASSET_URLS.get(name)
    if asset is None:
        raise UnvendoredAssetError(name, url, "has no vendored copy")
    if asset.upstream_url != url:
        raise UnvendoredAssetError(
            name, url, f"differs from the vendored copy of {asset.upstream_url}"
        )
    return f"{static_url.rstrip('/')}/{asset.path}?v={vendored_version(asset.path)}"


def chart_js_url(static_url: str = DEFAULT_STATIC_URL) -> str:
    """URL of the vendored Chart.js UMD build (defines ``window.Chart``)."""
    return local_url("chart.js", ASSET_URLS["chart.js"].upstream_url, static_url)


def _walk(root: Element) -> Iterator[Element]:
    stack = [root]
    while stack:
        element = stack.pop()
        yield element
        stack.extend(element._children.values())
        if isinstance(element, Figure):
            # A figure's header, html and script parts are attributes, not children.
            stack.extend((element.header, element.html, element.script))


def localise(element: Element, static_url: str = DEFAULT_STATIC_URL) -> None:
    """Point every JavaScript and CSS link of ``element``'s figure at the vendored copies.

    Call it on a map (or its figure) after the last element is added and before
    rendering. The whole figure is walked from ``element.get_root()``; lists are replaced
    on the instances, never mutated, so folium's class-level defaults and other maps stay
    untouched.

    Parameters
    ----------
    element
        A ``folium.Map``, a ``branca.element.Figure`` or any element inside one.
    static_url
        URL under which ``VENDOR_DIR`` is served.

    Raises
    ------
    UnvendoredAssetError
        Naming the first asset that would be fetched from another host.
    """
    for child in _walk(element.get_root()):
        if isinstance(child, JSCSSMixin):
            for attr in ("default_js", "default_css"):
                links = getattr(child, attr)
                setattr(child, attr, [(n, local_url(n, u, static_url)) for n, u in links])
        elif isinstance(child, Link) and is_external(child.url):
            # A link added straight to the header: only its URL says what it is.
            name = _BY_UPSTREAM_URL.get(child.url, child.get_name())
            child.url = local_url(name, child.url, static_url)
