"""Read routes of the OGC API: one line of parsing, one call, one response each.

JSON by default (``f=json``, ``Accept: application/json`` or ``application/geo+json``);
HTML for browsers (``f=html`` or ``Accept: text/html``).
"""

from __future__ import annotations

from typing import Any

import orjson
from flask import Blueprint, Response, current_app, render_template, request

from layers.errors import BadRequest, NotFound
from layers.exports import title_of
from layers.private_fields import row_hidden
from layers.specs import LayerSpec
from webmap.damaged import damaged_notes, spare_damaged_layers
from webmap.display import display_value
from webmap.extensions import get_store
from webmap.http_cache import client_holds, data_etag, not_modified
from webmap.i18n import current_lang
from webmap.ogc import crs as ogc_crs
from webmap.ogc import documents as docs
from webmap.ogc import openapi, parts
from webmap.ogc.params import check_query, parse_items_query
from webmap.private_view import reader_spec

bp = Blueprint("ogc", __name__, url_prefix="/ogc")
_HTML_FORMATS = {"html"}
_JSON_FORMATS = {"json", "geojson"}


def wants_html(json_type: str = docs.JSON) -> bool:
    """Whether this request asked for HTML (``f`` first, then the Accept header)."""
    fmt = request.args.get("f", "").lower()
    if fmt:
        if fmt not in _HTML_FORMATS | _JSON_FORMATS:
            raise BadRequest(value=f"f must be json or html, not {fmt!r}")
        return fmt in _HTML_FORMATS
    offered = [json_type, docs.JSON, docs.GEOJSON, docs.HTML]
    return request.accept_mimetypes.best_match(offered, default=json_type) == docs.HTML


def json_response(
    doc: Any, media_type: str = docs.JSON, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """``doc`` serialised by orjson (NaN becomes null, numpy values allowed)."""
    body = orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY)
    response = Response(body, status=status, mimetype=media_type, headers=headers or {})
    response.vary.add("Accept")
    return response


def html_response(template: str, **context: Any) -> Response:
    """A page of the OGC API in the interface language."""
    response = Response(render_template(f"ogc/{template}", **context), mimetype=docs.HTML)
    response.vary.add("Accept")
    return response


def layer_spec(collection_id: str) -> LayerSpec:
    """The spec of a collection as this request's account reads it (without private
    fields but for planners and admins), or 404."""
    return reader_spec(get_store().spec(collection_id))


def etag(item: dict[str, Any]) -> str:
    """A feature's ETag: its version, which every change increments."""
    return f'"{int((item.get("properties") or {}).get("version", 1))}"'


def content_crs(uri: str) -> dict[str, str]:
    """The Content-Crs header (OGC API Part 2) for a response in ``uri``."""
    return {"Content-Crs": f"<{uri}>"}


@bp.get("/")
def landing() -> Response:
    """Landing page."""
    check_query(request.args, ("f", "lang"))
    doc = docs.landing_page()
    if wants_html():
        return html_response("landing.html", doc=doc)
    return json_response(doc)


@bp.get("/conformance")
def conformance() -> Response:
    """Conformance classes."""
    check_query(request.args, ("f", "lang"))
    doc = docs.conformance()
    if wants_html():
        return html_response("conformance.html", doc=doc)
    return json_response(doc)


@bp.get("/api", endpoint="openapi")
def openapi_document() -> Response:
    """The OpenAPI 3.0 definition of this API (HTML: a readable summary)."""
    check_query(request.args, ("f", "lang"))
    doc = openapi.document(get_store(), int(current_app.config["OGC_MAX_LIMIT"]))
    if wants_html(docs.OPENAPI):
        return html_response("api.html", doc=doc)
    return json_response(doc, docs.OPENAPI)


@bp.get("/collections")
@spare_damaged_layers
def collections() -> Response:
    """Every layer as a collection; a damaged layer is listed (with no extent) and named
    in ``vw:damaged`` with its message."""
    check_query(request.args, ("f", "lang"))
    store = get_store()
    doc = parts.collections(store)  # each mixed layer followed by one collection per kind
    damaged = damaged_notes(store, current_lang())
    if damaged:
        doc["vw:damaged"] = damaged
    if wants_html():
        return html_response("collections.html", doc=doc)
    return json_response(doc)


@bp.get("/collections/<collection_id>")
def collection(collection_id: str) -> Response:
    """One collection."""
    check_query(request.args, ("f", "lang"))
    spec = layer_spec(collection_id)
    doc = parts.linked(spec, docs.collection(get_store(), spec))
    if wants_html():
        return html_response("collection.html", doc=doc, spec=spec)
    return json_response(doc)


@bp.get("/collections/<collection_id>/schema")
def schema(collection_id: str) -> Response:
    """JSON Schema of the collection's features (fields, types, enums, labels)."""
    check_query(request.args, ("f", "lang"))
    return json_response(docs.feature_schema(layer_spec(collection_id)), docs.SCHEMA)


@bp.get("/collections/<collection_id>/items")
def items(collection_id: str) -> Response:
    """A page of features, filtered by bbox, datetime and field values."""
    store = get_store()
    spec = layer_spec(collection_id)
    # The CRSs offered as last computed (no version lookup of its own); checked again
    # below against the version the query itself read.
    meta = docs.collection_meta(store, spec, latest=True)
    query = parse_items_query(
        spec,
        request.args,
        crs_allowed=list(meta.crs),
        max_limit=int(current_app.config["OGC_MAX_LIMIT"]),
    )
    as_html = wants_html(docs.GEOJSON)
    if not as_html and request.if_none_match:  # only a conditional GET reads the version first
        tag = data_etag(spec.name, store.version(spec.name))  # 304 while the layer stands still
        if client_holds(tag):
            return not_modified(tag, cache_control="")
    result = store.query(spec.name, query.store_query())
    fresh = docs.collection_meta(store, spec, result.version)
    if fresh != meta:  # the layer moved since: the CRS is checked against its new extent
        ogc_crs.choose(request.args.get("crs"), fresh.crs, "crs")
    version = store.version(spec.name) if result.version is None else result.version
    tag = data_etag(spec.name, version)  # the version the page was read at
    found, matched = result.features, result.number_matched
    shown = [f for f in found if not row_hidden(spec, f.get("properties"))]
    found, matched = shown, matched - (len(found) - len(shown))  # a new report: planners only
    features = ogc_crs.features_to_crs(docs.with_every_field(spec, found), query.crs)
    last_id = str(result.features[-1]["id"]) if result.features else None
    links = docs.page_links(
        spec.name, query.offset, query.limit, len(features), matched, as_html, last_id
    )
    doc = docs.feature_collection(features, matched, links)
    if as_html:
        return html_response("items.html", doc=doc, spec=spec, rows=_rows(spec, features))
    return json_response(doc, docs.GEOJSON, headers={**content_crs(query.crs), "ETag": tag})


@bp.get("/collections/<collection_id>/items/<feature_id>")
def item(collection_id: str, feature_id: str) -> Response:
    """One feature, with its version as ETag."""
    store = get_store()
    spec = layer_spec(collection_id)
    check_query(request.args, ("f", "lang", "crs"))
    meta = docs.collection_meta(store, spec)
    uri = ogc_crs.choose(request.args.get("crs"), meta.crs, "crs")
    found = store.get(spec.name, feature_id)
    if found is None or row_hidden(spec, found.get("properties")):
        raise NotFound(what=spec.label_in(current_lang()), value=feature_id)
    tag = etag(found)
    if client_holds(tag):
        return Response(status=304, headers={"ETag": tag})
    (converted,) = ogc_crs.features_to_crs(docs.with_every_field(spec, [found]), uri)
    doc = docs.feature(spec.name, converted)
    if wants_html(docs.GEOJSON):
        response = html_response("item.html", doc=doc, spec=spec, row=_rows(spec, [found])[0])
    else:
        response = json_response(doc, docs.GEOJSON, headers=content_crs(uri))
    response.headers["ETag"] = tag
    return response


def _rows(spec: LayerSpec, features: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Features as table rows for the HTML pages (text only; the template escapes it)."""
    lang = current_lang()
    rows = []
    for feature in features:
        props = feature.get("properties") or {}
        rows.append(
            {
                "id": feature["id"],
                "title": title_of(spec, feature),
                "values": [
                    display_value(spec, f.name, props.get(f.name), lang) for f in spec.fields
                ],
                "version": props.get("version"),
                "updated_at": props.get("updated_at"),
                "geometry_type": (feature.get("geometry") or {}).get("type", ""),
            }
        )
    return rows
