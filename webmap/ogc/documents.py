"""The JSON documents of the OGC API: landing page, conformance, collections, items.

Builders take the store and a layer spec and return plain dicts; routes serialise them
with orjson or hand them to a template. Links are absolute (``url_for(_external=True)``).
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from typing import Any

from flask import current_app, request, url_for

from layers.private_fields import hidden_names
from layers.specs import SYSTEM_FIELDS, LayerSpec
from layers.store_base import BaseStore
from webmap.i18n import current_lang, translate
from webmap.ogc import crs as ogc_crs

GEOJSON = "application/geo+json"
JSON = "application/json"
HTML = "text/html"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
SCHEMA = "application/schema+json"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"

#: OGC API - Tiles Part 1 classes of the vector tiles (webmap/ogc/tiles.py).
REL_OGC = "http://www.opengis.net/def/rel/ogc/1.0"
TILESETS_VECTOR = f"{REL_OGC}/tilesets-vector"
TILES_CLASSES = ("core", "tileset", "tilesets-list", "geodata-tilesets", "mvt", "oas30")
CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/features",
    *(f"http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/{c}" for c in TILES_CLASSES),
    "http://www.opengis.net/spec/tms/2.0/conf/tilematrixset",
    "http://www.opengis.net/spec/tms/2.0/conf/json-tilematrixset",
)


@dataclass(frozen=True)
class CollectionMeta:
    """What a collection document says about a layer, computed once per layer version."""

    bbox: tuple[float, float, float, float] | None
    interval: tuple[str | None, str | None] | None
    crs: tuple[str, ...]


_META_LOCK = threading.Lock()


def _interval(store: BaseStore, spec: LayerSpec) -> tuple[str | None, str | None] | None:
    if not spec.date_field:
        return None
    days = store.date_range(spec.name)
    if days is None:
        return (None, None)
    return (f"{days[0]}T00:00:00Z", f"{days[1]}T23:59:59Z")


def _centre_lon(store: BaseStore, spec: LayerSpec) -> float | None:
    for name in (spec.name, "boundaries"):
        if name in store.specs:
            extent = store.extent(name)
            if extent is not None:
                return (extent[0] + extent[2]) / 2
    return None


def collection_meta(
    store: BaseStore, spec: LayerSpec, version: int | None = None, *, latest: bool = False
) -> CollectionMeta:
    """Extent, temporal interval and offered CRSs of a layer (cached per version).

    ``version``: the layer's version when the caller has read it already (no lookup);
    ``latest``: the layer's meta as last computed, whatever its version (no lookup; a
    caller checks it against the version its own read saw)."""
    cache: dict[tuple[str, int], CollectionMeta] = current_app.extensions.setdefault(
        "villageworks.ogc_meta", {}
    )
    if latest:
        known = [m for k, m in list(cache.items()) if k[0] == spec.name]
        if known:
            return known[-1]
    key = (spec.name, store.version(spec.name) if version is None else version)
    meta = cache.get(key)
    if meta is None:
        meta = CollectionMeta(
            store.extent(spec.name),
            _interval(store, spec),
            tuple(ogc_crs.supported_crs(_centre_lon(store, spec))),
        )
        with _META_LOCK:
            for old in [k for k in cache if k[0] == spec.name]:
                cache.pop(old, None)
            cache[key] = meta
    return meta


def link(href: str, rel: str, media_type: str, title: str = "") -> dict[str, str]:
    """One link object."""
    result = {"href": href, "rel": rel, "type": media_type}
    if title:
        result["title"] = title
    return result


def ogc_url(endpoint: str, **params: Any) -> str:
    """Absolute URL of an OGC API endpoint."""
    return url_for(f"ogc.{endpoint}", _external=True, **params)


def _self_links(endpoint: str, json_type: str, **params: Any) -> list[dict[str, str]]:
    fmt = request.args.get("f", "").lower()
    as_html = fmt == "html"
    return [
        link(
            ogc_url(endpoint, **params, f="html" if as_html else "json"),
            "self",
            HTML if as_html else json_type,
        ),
        link(
            ogc_url(endpoint, **params, f="json" if as_html else "html"),
            "alternate",
            json_type if as_html else HTML,
        ),
    ]


def landing_page() -> dict[str, Any]:
    """The landing page: what this API is and where its parts are."""
    links = _self_links("landing", JSON)
    links += [
        link(ogc_url("openapi", f="json"), "service-desc", OPENAPI, "OpenAPI 3.0"),
        link(ogc_url("openapi", f="html"), "service-doc", HTML, translate("ogc.api_doc")),
        link(ogc_url("conformance"), "conformance", JSON, translate("ogc.conformance")),
        link(
            ogc_url("conformance"),
            "http://www.opengis.net/def/rel/ogc/1.0/conformance",
            JSON,
            translate("ogc.conformance"),
        ),
        link(ogc_url("collections"), "data", JSON, translate("ogc.collections")),
        link(
            ogc_url("collections"),
            "http://www.opengis.net/def/rel/ogc/1.0/data",
            JSON,
            translate("ogc.collections"),
        ),
        link(ogc_url("tile_matrix_sets"), f"{REL_OGC}/tiling-schemes", JSON, "tileMatrixSets"),
    ]
    return {
        "title": translate("app.name"),
        "description": translate("ogc.description"),
        "links": links,
    }


def conformance() -> dict[str, Any]:
    """The conformance classes this API implements."""
    return {"conformsTo": list(CONFORMANCE)}


def collection(store: BaseStore, spec: LayerSpec) -> dict[str, Any]:
    """One collection: id, title, description, extent, CRSs and links."""
    lang = current_lang()
    meta = collection_meta(store, spec)
    extent: dict[str, Any] = {}
    if meta.bbox is not None:
        extent["spatial"] = {"bbox": [list(meta.bbox)], "crs": ogc_crs.CRS84}
    if meta.interval is not None:
        extent["temporal"] = {"interval": [list(meta.interval)], "trs": GREGORIAN}
    cid = spec.name
    links = [
        link(ogc_url("collection", collection_id=cid), "self", JSON, spec.label_in(lang)),
        link(ogc_url("schema", collection_id=cid), "describedby", SCHEMA, "JSON Schema"),
        # GDAL's OAPIF driver (3.6 at least) looks for this spelling only.
        link(ogc_url("schema", collection_id=cid), "describedBy", SCHEMA, "JSON Schema"),
        link(ogc_url("collection", collection_id=cid, f="html"), "alternate", HTML),
        link(ogc_url("items", collection_id=cid), "items", GEOJSON, spec.label_in(lang)),
        link(ogc_url("items", collection_id=cid, f="html"), "items", HTML),
    ]
    if spec.spatial:  # vector tiles (OGC API - Tiles)
        links.append(link(ogc_url("tilesets", collection_id=cid), TILESETS_VECTOR, JSON))
    for key, fmt in (("geojson", GEOJSON), ("gpkg", "application/geopackage+sqlite3")):
        links.append(
            link(
                url_for("exports.export", filename=f"{cid}.{key}", _external=True),
                "enclosure",
                fmt,
                translate("ogc.download"),
            )
        )
    doc: dict[str, Any] = {
        "id": cid,
        "title": spec.label_in(lang),
        "description": spec.description.get(lang) or spec.description.get("zh") or "",
        "itemType": "feature",
        "crs": list(meta.crs),
        "storageCrs": ogc_crs.STORAGE_CRS,
        # The weakest role that may create, change or delete its features.
        "writeRole": spec.write_role,
        "links": links,
    }
    if extent:
        doc["extent"] = extent
    return doc


def collections(store: BaseStore) -> dict[str, Any]:
    """Every layer as a collection."""
    docs = [collection(store, spec) for spec in store.specs]
    crs_union: list[str] = []
    for doc in docs:
        crs_union += [c for c in doc["crs"] if c not in crs_union]
    return {
        "links": _self_links("collections", JSON),
        "crs": crs_union,
        "collections": docs,
    }


def page_links(
    collection_id: str,
    offset: int,
    limit: int,
    returned: int,
    matched: int,
    as_html: bool,
    last_id: str | None = None,
) -> list[dict[str, str]]:
    """self / alternate / next / prev / collection links of an items page. The next
    link carries ``after=<last_id>`` (keyset paging: no deep OFFSET) beside its offset."""
    args = {k: v for k, v in request.args.items() if k not in ("offset", "f", "after")}
    fmt, other = ("html", "json") if as_html else ("json", "html")
    own_type, other_type = (HTML, GEOJSON) if as_html else (GEOJSON, HTML)

    def page(at: int, f: str, after: str | None = None) -> str:
        extra: dict[str, Any] = {"offset": at} if at else {}
        if after is not None:
            extra["after"] = after
        return ogc_url("items", collection_id=collection_id, **args, **extra, f=f)

    links = [
        link(page(offset, fmt), "self", own_type),
        link(page(offset, other), "alternate", other_type),
    ]
    if offset + returned < matched:
        following = page(offset + limit, fmt, last_id)
        links.append(link(following, "next", own_type, translate("ogc.next")))
    if offset > 0:
        links.append(
            link(page(max(0, offset - limit), fmt), "prev", own_type, translate("ogc.prev"))
        )
    links.append(link(ogc_url("collection", collection_id=collection_id), "collection", JSON))
    return links


def with_every_field(spec: LayerSpec, features: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Copies of ``features`` whose properties name every declared field (null when not
    set), so clients that guess the fields from the first page (QGIS, older GDAL without
    the schema) see them all; without the private fields ``spec`` leaves out."""
    names = spec.field_names
    hidden = hidden_names(spec)
    out = []
    for feature in features:
        props = feature.get("properties") or {}
        full = {name: props.get(name) for name in names}
        full.update((k, v) for k, v in props.items() if k not in hidden)
        out.append({**feature, "properties": full})
    return out


def feature_collection(
    features: list[dict[str, Any]], matched: int, links: list[dict[str, str]]
) -> dict[str, Any]:
    """An items page (GeoJSON FeatureCollection with the OGC members)."""
    return {
        "type": "FeatureCollection",
        "features": features,
        "numberMatched": matched,
        "numberReturned": len(features),
        "timeStamp": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "links": links,
    }


def feature(collection_id: str, item: dict[str, Any]) -> dict[str, Any]:
    """A single item with its links."""
    fid = item["id"]
    links = [
        link(ogc_url("item", collection_id=collection_id, feature_id=fid), "self", GEOJSON),
        link(
            ogc_url("item", collection_id=collection_id, feature_id=fid, f="html"),
            "alternate",
            HTML,
        ),
        link(ogc_url("collection", collection_id=collection_id), "collection", JSON),
    ]
    return {**item, "links": links}


_JSON_TYPES = {
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
}
_SYSTEM_TYPES = {
    "created_at": {"type": "string", "format": "date-time"},
    "updated_at": {"type": "string", "format": "date-time"},
    "version": {"type": "integer"},
    "demo": {"type": "boolean"},
}


def field_schema(spec: LayerSpec, name: str, lang: str) -> dict[str, Any]:
    """JSON Schema of one property (type, format, enum, title, unit)."""
    fspec = spec.field(name)
    if fspec is None:
        return dict(_SYSTEM_TYPES.get(name, {"type": "string"}), readOnly=True)
    schema: dict[str, Any] = dict(_JSON_TYPES.get(fspec.type, {"type": "string"}))
    schema["title"] = fspec.label_in(lang)
    if fspec.type == "enum" and not fspec.extensible:
        schema["enum"] = list(fspec.values)
    if fspec.unit:
        schema["x-ogc-unit"] = fspec.unit
    if fspec.computed:
        schema["readOnly"] = True
    return schema


def feature_schema(spec: LayerSpec) -> dict[str, Any]:
    """JSON Schema of a feature of ``spec``: clients such as GDAL take the fields and their
    types from it instead of guessing them from the first page."""
    lang = current_lang()
    names = [*spec.field_names, *SYSTEM_FIELDS]
    props = {name: field_schema(spec, name, lang) for name in names}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": ogc_url("schema", collection_id=spec.name),
        "title": spec.label_in(lang),
        "type": "object",
        "required": ["type", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"type": "string"},
            "geometry": {"oneOf": [{"type": "null"}, {"type": "object"}]},
            "properties": {
                "type": "object",
                "required": [f.name for f in spec.fields if f.required],
                "properties": props,
            },
        },
    }
