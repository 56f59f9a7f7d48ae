"""The routes of the part collections (``greenhouses-points``, see ``parts``).

They share the URLs of every collection, so a ``before_request`` (for the read and write
blueprints) takes a part's requests first:

- reads (GET/HEAD): the collection document and the items pages are answered here, from
  the layer's features of the part's geometry kind (counts, paging and links of the
  part); one item and the schema are the layer's, an item of another kind is 404;
- writes (Part 4): allowed, but only with geometries of the part's kind (400 naming the
  type sent and the types allowed, zh/en) and only on features of that kind (404 for one
  of another kind); the write then goes to the layer itself, under the same rights and
  checks, and ``Location`` names the feature in the layer's own collection.
"""

from __future__ import annotations

from typing import Any

import orjson
from flask import Flask, Response, current_app, request

from layers.errors import BadRequest, NotFound
from layers.private_fields import row_hidden
from layers.specs import LayerSpec
from layers.store_base import BaseStore
from webmap.extensions import get_store
from webmap.i18n import current_lang, translate
from webmap.ogc import crs as ogc_crs
from webmap.ogc import documents as docs
from webmap.ogc import parts, routes, transactions
from webmap.ogc.params import check_query, parse_items_query

_READS = {"ogc.collection", "ogc.items", "ogc.item", "ogc.schema"}
_BODY_WRITES = ("POST", "PUT", "PATCH")


def _part_of_request() -> parts.Part | None:
    cid = (request.view_args or {}).get("collection_id")
    return parts.find_part(get_store(), cid) if isinstance(cid, str) else None


def _to_layer(part: parts.Part) -> None:
    """Let the layer's own view answer (``view_args`` is what the view is called with)."""
    assert request.view_args is not None
    request.view_args["collection_id"] = part.layer


def _same_kind(store: BaseStore, spec: LayerSpec, part: parts.Part, feature_id: str) -> None:
    found = store.get(part.layer, feature_id)
    if found is None or not parts.of_part(part, [found]):
        raise NotFound(what=parts.part_title(spec, part, current_lang()), value=feature_id)


def _collection(store: BaseStore, spec: LayerSpec, part: parts.Part) -> Response:
    check_query(request.args, ("f", "lang"))
    doc = parts.part_collection(store, spec, part)
    if routes.wants_html():
        return routes.html_response("collection.html", doc=doc, spec=spec)
    return routes.json_response(doc)


def _page(found: list[dict[str, Any]], offset: int, limit: int, after: str | None) -> list[Any]:
    if after is not None:  # keyset paging, in the store's id order
        found = [f for f in found if str(f["id"]) > after]
        return found[:limit]
    return found[offset : offset + limit]


def _items(store: BaseStore, spec: LayerSpec, part: parts.Part) -> Response:
    meta = docs.collection_meta(store, spec)
    query = parse_items_query(
        spec,
        request.args,
        crs_allowed=list(meta.crs),
        max_limit=int(current_app.config["OGC_MAX_LIMIT"]),
    )
    found = [
        f
        for f in parts.selected(store, part, query.filters)
        if not row_hidden(spec, f.get("properties"))
    ]
    page = _page(found, query.offset, query.limit, query.after)
    features = ogc_crs.features_to_crs(docs.with_every_field(spec, page), query.crs)
    as_html = routes.wants_html(docs.GEOJSON)
    last_id = str(page[-1]["id"]) if page else None
    links = docs.page_links(
        part.id, query.offset, query.limit, len(features), len(found), as_html, last_id
    )
    doc = docs.feature_collection(features, len(found), links)
    if as_html:
        rows = routes._rows(spec, features)
        return routes.html_response("items.html", doc=doc, spec=spec, rows=rows)
    return routes.json_response(doc, docs.GEOJSON, headers=routes.content_crs(query.crs))


def read_part() -> Response | None:
    """Answer a read of a part collection (None: not a part, or the layer's view)."""
    if request.method not in ("GET", "HEAD") or request.endpoint not in _READS:
        return None
    part = _part_of_request()
    if part is None:
        return None
    store = get_store()
    spec = routes.layer_spec(part.layer)
    if request.endpoint == "ogc.collection":
        return _collection(store, spec, part)
    if request.endpoint == "ogc.items":
        return _items(store, spec, part)
    if request.endpoint == "ogc.item":
        _same_kind(store, spec, part, str((request.view_args or {})["feature_id"]))
    _to_layer(part)
    return None


def _sent_geometry_type() -> str | None:
    """The type of the body's geometry (None: no geometry, or a body the view refuses)."""
    try:
        body = orjson.loads(request.get_data(cache=True))
    except orjson.JSONDecodeError:
        return None
    geometry = body.get("geometry") if isinstance(body, dict) else None
    return str(geometry.get("type")) if isinstance(geometry, dict) else None


def write_part() -> None:
    """Check a write to a part collection, then hand it to the layer's own view."""
    part = _part_of_request()
    if part is None or request.method not in (*_BODY_WRITES, "DELETE"):
        return
    store = get_store()
    spec = store.spec(part.layer)
    feature_id = (request.view_args or {}).get("feature_id")
    if feature_id is not None:
        _same_kind(store, spec, part, str(feature_id))
    sent = _sent_geometry_type() if request.method in _BODY_WRITES else None
    if sent is not None and sent not in part.types:
        title = parts.part_title(spec, part, current_lang())
        raise BadRequest(
            value=translate(
                "qgis.part_geometry",
                collection=part.id,
                title=title,
                value=sent,
                allowed=", ".join(part.types),
                layer=part.layer,
            )
        )
    _to_layer(part)


def _before() -> Response | None:
    if request.blueprint == transactions.bp.name:
        write_part()
        return None
    return read_part() if request.blueprint == routes.bp.name else None


def init_app(app: Flask) -> None:
    """Put the part collections in front of the read and write routes (after the login
    guard of ``webmap.auth``, which ``create_app`` sets up first)."""
    app.before_request(_before)
