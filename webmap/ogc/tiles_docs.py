"""The documents of OGC API - Tiles (Part 1) that :mod:`webmap.ogc.tiles` serves: the
WebMercatorQuad tile matrix set, a collection's vector tileset, and the OpenAPI paths.
"""

from __future__ import annotations

from typing import Any

from layers.specs import LayerSpec
from layers.tiles import MAX_FEATURES, MAX_ZOOM
from webmap.i18n import current_lang, translate
from webmap.ogc import documents as docs

MVT = "application/vnd.mapbox-vector-tile"
TMS_ID = "WebMercatorQuad"
TMS_TITLE = "Google Maps Compatible for the World"
TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
CRS_3857 = "http://www.opengis.net/def/crs/EPSG/0/3857"
REL_TILING_SCHEME = f"{docs.REL_OGC}/tiling-scheme"
#: Scale denominator and cell size (m) of tile matrix 0 (OGC 2D-TMS, WebMercatorQuad).
_SCALE_0 = 559082264.028717
_CELL_0 = 156543.033928041
_ORIGIN = [-20037508.3427892, 20037508.3427892]


def tile_matrix_set() -> dict[str, Any]:
    """The WebMercatorQuad tile matrix set as OGC's 2D-TMS 2.0 JSON defines it."""
    matrices = [
        {
            "id": str(z),
            "scaleDenominator": _SCALE_0 / (1 << z),
            "cellSize": _CELL_0 / (1 << z),
            "cornerOfOrigin": "topLeft",
            "pointOfOrigin": _ORIGIN,
            "tileWidth": 256,
            "tileHeight": 256,
            "matrixWidth": 1 << z,
            "matrixHeight": 1 << z,
        }
        for z in range(MAX_ZOOM + 1)
    ]
    return {
        "id": TMS_ID,
        "title": TMS_TITLE,
        "uri": TMS_URI,
        "crs": CRS_3857,
        "orderedAxes": ["X", "Y"],
        "wellKnownScaleSet": "http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible",
        "tileMatrices": matrices,
    }


def tile_matrix_sets() -> dict[str, Any]:
    """The list of tile matrix sets (WebMercatorQuad only)."""
    self_link = docs.link(docs.ogc_url("tile_matrix_set", tms=TMS_ID), "self", docs.JSON)
    return {"tileMatrixSets": [{"id": TMS_ID, "title": TMS_TITLE, "uri": TMS_URI,
                                "links": [self_link]}]}  # fmt: skip


def tile_template(cid: str) -> str:
    """The URL template of a collection's tiles: column (x) before row (y), as served."""
    base = docs.ogc_url("tileset", collection_id=cid, tms=TMS_ID)
    return f"{base}/{{tileMatrix}}/{{tileCol}}/{{tileRow}}"


def tileset(spec: LayerSpec, *, limits: bool = True) -> dict[str, Any]:
    """The vector tileset of a collection in WebMercatorQuad (``limits``: with its layer
    and tile matrix limits, as the tileset document; without: an entry of the list)."""
    cid = spec.name
    title = spec.label_in(current_lang())
    doc: dict[str, Any] = {
        "title": title,
        "dataType": "vector",
        "crs": CRS_3857,
        "tileMatrixSetURI": TMS_URI,
        "links": [
            docs.link(docs.ogc_url("tileset", collection_id=cid, tms=TMS_ID), "self", docs.JSON),
            docs.link(
                docs.ogc_url("tile_matrix_set", tms=TMS_ID), REL_TILING_SCHEME, docs.JSON, TMS_ID
            ),
            {**docs.link(tile_template(cid), "item", MVT, title), "templated": True},
        ],
    }
    if limits:
        cap = translate("tiles.cap", cap=f"{MAX_FEATURES:,}")
        doc["layers"] = [
            {"id": cid, "dataType": "vector", "geometryType": spec.geometry, "description": cap}
        ]
        doc["tileMatrixSetLimits"] = [
            {"tileMatrix": str(z), "minTileRow": 0, "maxTileRow": (1 << z) - 1,
             "minTileCol": 0, "maxTileCol": (1 << z) - 1}
            for z in range(MAX_ZOOM + 1)
        ]  # fmt: skip
    return doc


def _int_param(name: str, description: str, maximum: int) -> dict[str, Any]:
    schema = {"type": "integer", "minimum": 0, "maximum": maximum}
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": schema}  # fmt: skip


def _op(op_id: str, summary: str, params: list[dict[str, Any]], ok: dict[str, Any]):
    error = {docs.JSON: {"schema": {"$ref": "#/components/schemas/exception"}}}
    return {
        "get": {
            "operationId": op_id,
            "summary": summary,
            "parameters": params,
            "responses": {
                "200": ok,
                "400": {"description": "Invalid tile coordinates", "content": error},
                "404": {"description": "No such collection or tile matrix set", "content": error},
            },
        }
    }


def openapi_paths() -> dict[str, Any]:
    """The OpenAPI 3.0 paths of the tiles (``webmap.ogc.openapi`` adds them)."""
    cid = {"$ref": "#/components/parameters/collectionId"}
    tms = {"name": "tileMatrixSetId", "in": "path", "required": True,
           "schema": {"type": "string", "enum": [TMS_ID]}}  # fmt: skip
    zxy = [
        _int_param("tileMatrix", f"Zoom level (0 to {MAX_ZOOM})", MAX_ZOOM),
        _int_param("tileCol", "Tile column (x), below 2^tileMatrix", (1 << MAX_ZOOM) - 1),
        _int_param("tileRow", "Tile row (y), below 2^tileMatrix", (1 << MAX_ZOOM) - 1),
    ]
    json_ok = {"description": "A JSON document", "content": {docs.JSON: {"schema": {}}}}
    tile_ok = {"description": "A Mapbox Vector Tile (empty body: no features)",
               "content": {MVT: {"schema": {"type": "string", "format": "binary"}}}}  # fmt: skip
    base = "/collections/{collectionId}/tiles"
    return {
        "/tileMatrixSets": _op("getTileMatrixSetsList", "Tile matrix sets", [], json_ok),
        "/tileMatrixSets/{tileMatrixSetId}": _op(
            "getTileMatrixSet", "A tile matrix set", [tms], json_ok
        ),
        base: _op("getCollectionTileSetsList", "The collection's tilesets", [cid], json_ok),
        f"{base}/{{tileMatrixSetId}}": _op(
            "getCollectionTileSet", "A vector tileset", [cid, tms], json_ok
        ),
        f"{base}/{{tileMatrixSetId}}/{{tileMatrix}}/{{tileCol}}/{{tileRow}}": _op(
            "getCollectionVectorTile", "A vector tile", [cid, tms, *zxy], tile_ok
        ),
    }
