"""The OpenAPI 3.0 document of the OGC API (``/ogc/api``), generated from the layer specs.

Besides the generic ``/collections/{collectionId}/items`` path, each layer gets its own
items path listing its equality-filter parameters (the fields), so that clients know which
query parameters exist and unknown ones can be refused with 400 (Part 1).
"""

from __future__ import annotations

from typing import Any

from flask import url_for

from layers.private_fields import public_spec
from layers.specs import WRITE_ROLES, FieldSpec, LayerSpec
from layers.store_base import BaseStore
from webmap.i18n import translate
from webmap.ogc import documents as docs
from webmap.ogc import parts
from webmap.ogc.params import BBOX_PATTERN, DATETIME_PATTERN, DEFAULT_LIMIT, FORMATS, filter_bounds
from webmap.ogc.tiles_docs import openapi_paths as tiles_paths

OPENAPI_VERSION = "3.0.3"
MERGE_PATCH = "application/merge-patch+json"
_FIELD_SCHEMAS: dict[str, dict[str, Any]] = {
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
}


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _query(name: str, description: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
        "style": "form",
        "explode": False,
        **extra,
    }


def _json_content(schema: dict[str, Any], media_type: str = docs.JSON) -> dict[str, Any]:
    return {media_type: {"schema": schema}, docs.HTML: {"schema": {"type": "string"}}}


def _response(description: str, content: dict[str, Any] | None = None, **extra: Any) -> dict:
    result: dict[str, Any] = {"description": description, **extra}
    if content:
        result["content"] = content
    return result


def _header(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": description,
        "schema": schema,
    }


def _path(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema,
    }


def _object(required: list[str], **properties: Any) -> dict[str, Any]:
    """A JSON Schema object with ``properties`` (``required`` left out when empty)."""
    schema: dict[str, Any] = {"type": "object"}
    if required:
        schema["required"] = required
    schema["properties"] = properties
    return schema


_STRING: dict[str, Any] = {"type": "string"}
_STRINGS: dict[str, Any] = {"type": "array", "items": {"type": "string"}}


#: ``limit=``, ``offset=``, ``after=``, ``bbox=`` and ``datetime=`` with nothing after
#: the ``=`` are taken as absent (as HTML forms send them), and the document says so.
_EMPTY_IS_ABSENT: dict[str, Any] = {"allowEmptyValue": True}


def _query_parameters(crs_all: list[str], max_limit: int) -> dict[str, Any]:
    crs_schema = {"type": "string", "format": "uri", "enum": crs_all}
    # OGC API - Features Part 1 (/req/core/fc-limit-definition): the maximum is declared,
    # and a larger value "SHALL NOT result in an error (instead use the maximum)".
    limit_schema = {"type": "integer", "minimum": 1, "maximum": max_limit, "default": DEFAULT_LIMIT}
    return {
        "limit": _query(
            "limit",
            f"Features per page (default {DEFAULT_LIMIT}; larger values are lowered to "
            f"{max_limit})",
            limit_schema,
            **_EMPTY_IS_ABSENT,
        ),
        "offset": _query(
            "offset",
            "Features to skip",
            {"type": "integer", "minimum": 0, "default": 0},
            **_EMPTY_IS_ABSENT,
        ),
        "after": _query(
            "after",
            "Start after this feature id (keyset paging, as next links do)",
            # A NUL is in no feature id (PostgreSQL text cannot hold one): answered 400.
            {"type": "string", "maxLength": 200, "pattern": "^[^\\u0000]*$"},
            **_EMPTY_IS_ABSENT,
        ),
        "bbox": _query(
            "bbox",
            "minx,miny,maxx,maxy in bbox-crs (CRS84 lon/lat by default)",
            {"type": "string", "pattern": BBOX_PATTERN},
            **_EMPTY_IS_ABSENT,
        ),
        "bbox-crs": _query("bbox-crs", "CRS of bbox", crs_schema),
        "crs": _query("crs", "CRS of the response geometries", crs_schema),
        "datetime": _query(
            "datetime",
            "An RFC 3339 date or date-time, or an interval start/end of them with '..' (or "
            "nothing) for an open end; the start must not be after the end. A collection "
            "without dates answers 400 (its own items path does not list the parameter)",
            {"type": "string", "pattern": DATETIME_PATTERN},
            **_EMPTY_IS_ABSENT,
        ),
        "f": _query("f", "Response format", {"type": "string", "enum": list(FORMATS)}),
        "lang": _query("lang", "Interface language", {"type": "string", "enum": ["zh", "en"]}),
    }


def _parameters(layer_names: list[str], crs_all: list[str], max_limit: int) -> dict[str, Any]:
    return {
        "collectionId": _path(
            "collectionId", "Layer name", {"type": "string", "enum": layer_names}
        ),
        "featureId": _path("featureId", "Feature id", _STRING),
        **_query_parameters(crs_all, max_limit),
        "If-Match": _header(
            "If-Match",
            "ETag (feature version) the change is based on; 412 if it moved on",
            _STRING,
        ),
        "Content-Crs": _header(
            "Content-Crs",
            "CRS of the geometry sent, e.g. <http://www.opengis.net/def/crs/"
            "EPSG/0/4490> (default CRS84)",
            _STRING,
        ),
        "Idempotency-Key": _header(
            "Idempotency-Key",
            "Sending the same key again creates nothing new",
            {"type": "string", "maxLength": 200},
        ),
    }


def _collection_schemas(links: dict[str, Any]) -> dict[str, Any]:
    """The landing page, conformance and collection documents."""
    return {
        "landingPage": _object(["links"], title=_STRING, description=_STRING, links=links),
        "confClasses": _object(["conformsTo"], conformsTo=_STRINGS),
        "collection": _object(
            ["id", "links"],
            id=_STRING,
            title=_STRING,
            description=_STRING,
            links=links,
            extent={"type": "object"},
            itemType=_STRING,
            crs=_STRINGS,
            storageCrs=_STRING,
            writeRole={"type": "string", "enum": list(WRITE_ROLES)},
        ),
        "collections": _object(
            ["links", "collections"],
            links=links,
            crs=_STRINGS,
            collections={"type": "array", "items": _ref("schemas", "collection")},
        ),
    }


def _feature_schemas(links: dict[str, Any]) -> dict[str, Any]:
    """GeoJSON geometries, features and pages of them, and the merge patch."""
    geometry = _object(["type"], type=_STRING, coordinates={"type": "array", "items": {}})
    geometry["nullable"] = True
    count = {"type": "integer", "minimum": 0}
    return {
        "geometryGeoJSON": geometry,
        "featureGeoJSON": _object(
            ["type", "geometry", "properties"],
            type={"type": "string", "enum": ["Feature"]},
            id=_STRING,
            geometry=_ref("schemas", "geometryGeoJSON"),
            properties={"type": "object", "nullable": True},
            links=links,
        ),
        "featureCollectionGeoJSON": _object(
            ["type", "features"],
            type={"type": "string", "enum": ["FeatureCollection"]},
            features={"type": "array", "items": _ref("schemas", "featureGeoJSON")},
            links=links,
            timeStamp={"type": "string", "format": "date-time"},
            numberMatched=count,
            numberReturned=count,
        ),
        "mergePatch": {
            "type": "object",
            "description": "JSON Merge Patch (RFC 7396) of a feature: properties set to "
            "null are removed",
            "properties": {
                "geometry": _ref("schemas", "geometryGeoJSON"),
                "properties": {"type": "object"},
            },
        },
    }


def _schemas() -> dict[str, Any]:
    links = {"type": "array", "items": _ref("schemas", "link")}
    error = _object(
        ["status", "code", "message"],
        status={"type": "integer"},
        code=_STRING,
        message=_STRING,
        problems={"type": "array", "items": {"type": "object"}},
    )
    return {
        "link": _object(["href"], href=_STRING, rel=_STRING, type=_STRING, title=_STRING),
        **_collection_schemas(links),
        **_feature_schemas(links),
        "exception": _object(["error"], error=error),
    }


def _responses() -> dict[str, Any]:
    error = {docs.JSON: {"schema": _ref("schemas", "exception")}}
    return {
        "BadRequest": _response("Invalid parameter or body", error),
        "NotFound": _response("No such collection or feature", error),
        "Unauthorized": _response(
            "Log in, or send the API token (Bearer, or as the Basic password)", error
        ),
        "Forbidden": _response("The account's role may not do this", error),
        "PreconditionFailed": _response("If-Match did not match the feature's version", error),
        "Invalid": _response("The feature breaks the layer's rules; nothing was saved", error),
        "UnsupportedMediaType": _response(f"Send {MERGE_PATCH}", error),
    }


def _errors(*names: str) -> dict[str, Any]:
    codes = {
        "BadRequest": "400",
        "Unauthorized": "401",
        "Forbidden": "403",
        "NotFound": "404",
        "PreconditionFailed": "412",
        "Invalid": "422",
        "UnsupportedMediaType": "415",
    }
    return {codes[n]: _ref("responses", n) for n in names}


def _get(op_id: str, summary: str, schema: str, params: list[str], media: str = docs.JSON):
    errors = ("BadRequest", "NotFound") if "collectionId" in params else ("BadRequest",)
    return {
        "get": {
            "operationId": op_id,
            "summary": summary,
            "parameters": [_ref("parameters", p) for p in params],
            "responses": {
                "200": _response(summary, _json_content(_ref("schemas", schema), media)),
                **_errors(*errors),
            },
        }
    }


def _field_parameter(fspec: FieldSpec) -> dict[str, Any]:
    schema = dict(_FIELD_SCHEMAS.get(fspec.type, {"type": "string"}))
    if fspec.type == "enum" and not fspec.extensible:
        schema["enum"] = list(fspec.values)
    if fspec.type in ("number", "integer"):
        low, high = filter_bounds(fspec)
        schema["minimum"], schema["maximum"] = _bound(low, fspec.type), _bound(high, fspec.type)
    label = f"{fspec.label_in('zh')} / {fspec.label_in('en')}"
    return _query(fspec.name, f"Features whose {label} equals this value", schema)


def _bound(value: float, ftype: str) -> float | int:
    return int(value) if ftype == "integer" or float(value).is_integer() else value


def _items_get(op_id: str, spec: LayerSpec | None) -> dict[str, Any]:
    params: list[dict[str, Any]] = [] if spec else [_ref("parameters", "collectionId")]
    names = ["limit", "offset", "after", "bbox", "bbox-crs", "crs", "datetime", "f", "lang"]
    if spec is not None and not spec.date_field:
        names.remove("datetime")  # 400: the layer has no date to filter on
    params += [_ref("parameters", p) for p in names]
    if spec is not None:
        params.append(_query("id", "Feature id", {"type": "string"}))
        params += [_field_parameter(f) for f in spec.fields]
    return {
        "operationId": op_id,
        "summary": f"Features of {spec.label_in('en')}" if spec else "Features of a layer",
        "parameters": params,
        "responses": {
            "200": _response(
                "A page of features",
                _json_content(_ref("schemas", "featureCollectionGeoJSON"), docs.GEOJSON),
                headers={"Content-Crs": {"schema": {"type": "string"}}},
            ),
            **_errors("BadRequest", "NotFound"),
        },
    }


def _feature_body() -> dict[str, Any]:
    schema = _ref("schemas", "featureGeoJSON")
    return {
        "required": True,
        "content": {docs.GEOJSON: {"schema": schema}, docs.JSON: {"schema": schema}},
    }


def _collection_ids(specs: list[LayerSpec]) -> list[str]:
    """Every collection id: each layer, and after a mixed one its parts (``parts``)."""
    return [cid for s in specs for cid in (s.name, *(p.id for p in parts.parts_of(s)))]


def _write_ops() -> tuple[dict[str, Any], dict[str, Any]]:
    # Either scheme: Basic takes the API token as the password (webmap/basic_auth.py).
    secured: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"basicAuth": []}]
    etag_header = {"ETag": {"schema": {"type": "string"}}}
    feature_content = {docs.GEOJSON: {"schema": _ref("schemas", "featureGeoJSON")}}
    post = {
        "operationId": "createFeature",
        "summary": "Add a feature (role field or stronger)",
        "security": secured,
        "parameters": [
            _ref("parameters", p) for p in ("collectionId", "Content-Crs", "Idempotency-Key")
        ],
        "requestBody": _feature_body(),
        "responses": {
            "201": _response(
                "Created",
                feature_content,
                headers={"Location": {"schema": {"type": "string"}}, **etag_header},
            ),
            **_errors("BadRequest", "Unauthorized", "Forbidden", "NotFound", "Invalid"),
        },
    }
    changed = _response("The feature as it now is", feature_content, headers=etag_header)
    errors = _errors(
        "BadRequest", "Unauthorized", "Forbidden", "NotFound", "PreconditionFailed", "Invalid"
    )
    item_params = ["collectionId", "featureId", "If-Match"]
    item_ops = {
        "put": {
            "operationId": "replaceFeature",
            "summary": "Replace a feature (role planner)",
            "security": secured,
            "parameters": [_ref("parameters", p) for p in (*item_params, "Content-Crs")],
            "requestBody": _feature_body(),
            "responses": {"200": changed, **errors},
        },
        "patch": {
            "operationId": "updateFeature",
            "summary": "Change some properties or the geometry (JSON Merge Patch; role planner)",
            "security": secured,
            "parameters": [_ref("parameters", p) for p in (*item_params, "Content-Crs")],
            "requestBody": {
                "required": True,
                "content": {
                    "application/merge-patch+json": {"schema": _ref("schemas", "mergePatch")},
                    docs.JSON: {"schema": _ref("schemas", "mergePatch")},
                },
            },
            "responses": {"200": changed, **errors, **_errors("UnsupportedMediaType")},
        },
        "delete": {
            "operationId": "deleteFeature",
            "summary": "Delete a feature (kept in the history; role planner)",
            "security": secured,
            "parameters": [_ref("parameters", p) for p in item_params],
            "responses": {"204": _response("Deleted"), **errors},
        },
    }
    return post, item_ops


def _fixed_paths(post: dict[str, Any], item_ops: dict[str, Any]) -> dict[str, Any]:
    """The paths every server has, whatever its layers."""
    item_get = _get(
        "getFeature",
        "A feature",
        "featureGeoJSON",
        ["collectionId", "featureId", "crs", "f", "lang"],
        docs.GEOJSON,
    )
    api = _response("The API definition", _json_content({"type": "object"}, docs.OPENAPI))
    schema = _response("JSON Schema", {docs.SCHEMA: {"schema": {"type": "object"}}})
    return {
        "/": _get("getLandingPage", "Landing page", "landingPage", ["f", "lang"]),
        "/conformance": _get("getConformance", "Conformance classes", "confClasses", ["f"]),
        "/api": {
            "get": {
                "operationId": "getApi",
                "summary": "This document",
                "parameters": [_ref("parameters", p) for p in ("f", "lang")],
                "responses": {"200": api, **_errors("BadRequest")},
            }
        },
        "/collections": _get("getCollections", "Collections", "collections", ["f", "lang"]),
        "/collections/{collectionId}": _get(
            "describeCollection", "A collection", "collection", ["collectionId", "f", "lang"]
        ),
        "/collections/{collectionId}/schema": {
            "get": {
                "operationId": "getSchema",
                "summary": "JSON Schema of the collection's features",
                "parameters": [_ref("parameters", p) for p in ("collectionId", "lang")],
                "responses": {"200": schema, **_errors("BadRequest", "NotFound")},
            }
        },
        "/collections/{collectionId}/items": {
            "get": _items_get("getFeatures", None),
            "post": post,
        },
        "/collections/{collectionId}/items/{featureId}": {**item_get, **item_ops},
    }


def _layer_paths(specs: list[LayerSpec], post: dict[str, Any]) -> dict[str, Any]:
    """Each layer's own items path, listing its fields as query parameters."""
    paths: dict[str, Any] = {}
    for spec in specs:
        own_post = {**post, "operationId": f"createFeature_{spec.name}"}
        own_post["summary"] = f"Add a feature (role {spec.write_role} or stronger)"
        own_post["parameters"] = [p for p in post["parameters"] if "collectionId" not in str(p)]
        paths[f"/collections/{spec.name}/items"] = {
            "get": _items_get(f"getFeatures_{spec.name}", spec),
            "post": own_post,
        }
    return paths


def _with_transport_errors(paths: dict[str, Any]) -> dict[str, Any]:
    """``paths`` with the answers of the HTTP server itself (gunicorn, before the app)
    to a request line or headers too long: 414 and 431, without a body of the API's."""
    for operations in paths.values():
        for operation in operations.values():
            operation["responses"].setdefault("414", {"description": "The URL is too long"})
            operation["responses"].setdefault("431", {"description": "Headers are too large"})
    return paths


def document(store: BaseStore, max_limit: int) -> dict[str, Any]:
    """The OpenAPI 3.0 document of this server (the same for everyone: no private field
    is named in it)."""
    specs = [public_spec(spec) for spec in store.specs]
    crs_all: list[str] = []
    for spec in specs:
        meta = docs.collection_meta(store, spec)
        crs_all += [c for c in meta.crs if c not in crs_all]
    post, item_ops = _write_ops()
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": translate("app.name"),
            "description": translate("ogc.description"),
            "version": "1.0.0",
        },
        "servers": [{"url": url_for("ogc.landing", _external=True).rstrip("/")}],
        "paths": _with_transport_errors(
            {**_fixed_paths(post, item_ops), **_layer_paths(specs, post), **tiles_paths()}
        ),
        "components": {
            "parameters": _parameters(_collection_ids(specs), crs_all, max_limit),
            "schemas": _schemas(),
            "responses": _responses(),
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "basicAuth": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "any user name (or the account's own), the API token "
                    "as the password",
                },
            },
        },
    }
