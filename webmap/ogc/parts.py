"""One collection per geometry kind beside a mixed layer (issue #19 section 8).

QGIS and GDAL make one layer of one geometry type per collection: ``greenhouses`` (points
and polygons) loads as a polygon layer and its points are not drawn. So every layer whose
spec allows more than one kind of geometry is also offered as ``<layer>-points``,
``<layer>-lines`` and ``<layer>-polygons`` (each kind its spec allows; ``Multi*`` go with
their simple kind): the same store layer, filtered by geometry type, with exact counts and
extents, listed in ``/ogc/collections`` after the mixed one and linked both ways
(``rel="related"``). The spec decides, not the data: the change planner refuses any other
geometry type, so a layer holds only what its spec allows.

This module builds the documents and selects the features; ``part_routes`` serves them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from shapely.geometry import shape

from layers.query import Query
from layers.specs import LayerSpec
from layers.store_base import BaseStore
from webmap.i18n import current_lang, translate
from webmap.ogc import crs as ogc_crs
from webmap.ogc import documents as docs

#: Geometry types of each part, by the suffix of its collection id.
PARTS: dict[str, tuple[str, ...]] = {
    "points": ("Point", "MultiPoint"),
    "lines": ("LineString", "MultiLineString"),
    "polygons": ("Polygon", "MultiPolygon"),
}
KIND_OF = {gtype: part for part, gtypes in PARTS.items() for gtype in gtypes}
_LOCK = threading.Lock()
_CACHE = "villageworks.ogc_parts"


@dataclass(frozen=True)
class Part:
    """One geometry kind of a mixed layer, as a collection."""

    layer: str
    kind: str

    @property
    def id(self) -> str:
        """The collection id: ``greenhouses-points``."""
        return f"{self.layer}-{self.kind}"

    @property
    def types(self) -> tuple[str, ...]:
        """The GeoJSON geometry types it holds."""
        return PARTS[self.kind]


def kinds_of(spec: LayerSpec) -> list[str]:
    """The parts of a layer, in PARTS order: none unless its spec allows several kinds.

    >>> from layers.specs import spec_from_mapping
    >>> mixed = spec_from_mapping({"name": "gh", "geometry": ["Polygon", "MultiPoint", "Point"]})
    >>> kinds_of(mixed), kinds_of(spec_from_mapping({"name": "l", "geometry": ["Point"]}))
    (['points', 'polygons'], [])
    """
    declared = {KIND_OF[g] for g in spec.geometry if g in KIND_OF}
    return [kind for kind in PARTS if kind in declared] if len(declared) > 1 else []


def parts_of(spec: LayerSpec) -> list[Part]:
    """The part collections of ``spec`` (empty for a layer of one kind)."""
    return [Part(spec.name, kind) for kind in kinds_of(spec)]


def find_part(store: BaseStore, collection_id: str) -> Part | None:
    """The part a collection id names, or None (a layer's own id, or unknown)."""
    layer, _, kind = collection_id.rpartition("-")
    if kind not in PARTS or layer not in store.specs or collection_id in store.specs:
        return None
    return Part(layer, kind) if kind in kinds_of(store.spec(layer)) else None


def of_part(part: Part, features: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The features whose geometry is of the part's kind."""
    return [f for f in features if (f.get("geometry") or {}).get("type") in part.types]


def selected(store: BaseStore, part: Part, filters: Query) -> list[dict[str, Any]]:
    """Every feature of the part matching ``filters``, in the store's id order."""
    return of_part(part, store.query(part.layer, filters.page(limit=None)).features)


@dataclass(frozen=True)
class PartMeta:
    """Exact count, extent and time span of one part."""

    count: int
    bbox: tuple[float, float, float, float] | None
    interval: tuple[str | None, str | None] | None


def _meta_of(spec: LayerSpec, features: list[dict[str, Any]]) -> PartMeta:
    bounds = [shape(f["geometry"]).bounds for f in features]
    bbox = None
    if bounds:
        bbox = (
            min(b[0] for b in bounds),
            min(b[1] for b in bounds),
            max(b[2] for b in bounds),
            max(b[3] for b in bounds),
        )
    interval: tuple[str | None, str | None] | None = None
    if spec.date_field:
        days = sorted(
            str(v)[:10] for f in features if (v := (f.get("properties") or {}).get(spec.date_field))
        )
        interval = (f"{days[0]}T00:00:00Z", f"{days[-1]}T23:59:59Z") if days else (None, None)
    return PartMeta(len(features), bbox, interval)


def part_meta(store: BaseStore, spec: LayerSpec, part: Part) -> PartMeta:
    """The part's count, extent and time span (cached per layer version)."""
    from flask import current_app

    cache: dict[tuple[str, int], PartMeta] = current_app.extensions.setdefault(_CACHE, {})
    key = (part.id, store.version(part.layer))
    meta = cache.get(key)
    if meta is None:
        meta = _meta_of(spec, selected(store, part, Query()))
        with _LOCK:
            for old in [k for k in cache if k[0] == part.id]:
                cache.pop(old, None)
            cache[key] = meta
    return meta


def part_title(spec: LayerSpec, part: Part, lang: str) -> str:
    """``温室大棚（点）`` / ``Greenhouses (points)``."""
    return translate(f"qgis.part_title.{part.kind}", lang, label=spec.label_in(lang))


def _moved(href: str, layer: str, cid: str) -> str:
    for tail in ("/", "?"):
        href = href.replace(f"/collections/{layer}{tail}", f"/collections/{cid}{tail}")
    return href[: -len(layer)] + cid if href.endswith(f"/collections/{layer}") else href


def part_collection(store: BaseStore, spec: LayerSpec, part: Part) -> dict[str, Any]:
    """The collection document of a part: the layer's, with its own id, title, extent,
    count (``numberMatched``, as some clients read it) and links."""
    lang = current_lang()
    doc = docs.collection(store, spec)
    meta = part_meta(store, spec, part)
    links = [
        {**link, "href": _moved(link["href"], spec.name, part.id)}
        for link in doc["links"]
        # The downloads and the vector tiles (mixed, as MVT allows) are of the whole layer.
        if link["rel"] not in ("enclosure", docs.TILESETS_VECTOR)
    ]
    links.append(
        docs.link(
            docs.ogc_url("collection", collection_id=spec.name),
            "related",
            docs.JSON,
            translate("qgis.whole_layer", lang, label=spec.label_in(lang)),
        )
    )
    extent: dict[str, Any] = {}
    if meta.bbox is not None:
        extent["spatial"] = {"bbox": [list(meta.bbox)], "crs": ogc_crs.CRS84}
    if meta.interval is not None:
        extent["temporal"] = {"interval": [list(meta.interval)], "trs": docs.GREGORIAN}
    doc.pop("extent", None)
    doc.update(id=part.id, title=part_title(spec, part, lang), links=links)
    doc["description"] = translate("qgis.part_description", lang, label=spec.label_in(lang))
    doc["vw:layer"], doc["vw:geometryTypes"] = spec.name, list(part.types)
    doc["vw:numberMatched"] = meta.count
    if extent:
        doc["extent"] = extent
    return doc


def linked(spec: LayerSpec, doc: dict[str, Any]) -> dict[str, Any]:
    """A layer's collection document with a ``related`` link to each of its parts."""
    lang = current_lang()
    for part in parts_of(spec):
        href = docs.ogc_url("collection", collection_id=part.id)
        doc["links"].append(docs.link(href, "related", docs.JSON, part_title(spec, part, lang)))
    return doc


def collections(store: BaseStore) -> dict[str, Any]:
    """The collections document, each mixed layer followed by its parts."""
    doc = docs.collections(store)
    listed: list[dict[str, Any]] = []
    for entry in doc["collections"]:
        spec = store.spec(entry["id"])
        listed.append(linked(spec, entry))
        listed += [part_collection(store, spec, part) for part in parts_of(spec)]
    doc["collections"] = listed
    return doc
