"""OGC API - Tiles (Part 1) at ``/ogc``: Mapbox Vector Tiles of every collection in the
WebMercatorQuad tile matrix set, and the tile-set metadata documents.

=====================================================================  =====================
``GET /ogc/tileMatrixSets``                                            the tile matrix sets
``GET /ogc/tileMatrixSets/WebMercatorQuad``                            its OGC definition
``GET /ogc/collections/{id}/tiles``                                    the collection's tilesets
``GET /ogc/collections/{id}/tiles/WebMercatorQuad``                    the vector tileset
``GET /ogc/collections/{id}/tiles/WebMercatorQuad/{z}/{x}/{y}``        one tile (MVT)
=====================================================================  =====================

``x`` is the tile's column and ``y`` its row (the XYZ order of Leaflet, MapLibre, QGIS
and tipg); the tileset's URL template says so: ``{tileMatrix}/{tileCol}/{tileRow}``. A
tile holds one MVT layer named as the collection, extent 4096, at most 10,000 features
(:mod:`layers.tiles`), each with its ``id`` and what the reader may see. A tile without
features is ``200`` with an empty body (a valid MVT with no layers). Tiles are kept in a
small in-process LRU per store, keyed by the layer's version; the ETag names the layer,
its version, the tile and whether the reader sees private fields, and a matching
``If-None-Match`` gets 304.
"""

from __future__ import annotations

import hashlib
import weakref

from flask import Response, current_app, request

from layers.errors import BadRequest, NotFound
from layers.private_fields import private_names
from layers.specs import LayerSpec
from layers.store_base import BaseStore
from layers.tiles import MAX_ZOOM, TileCache, layer_tile, tile_error
from webmap.extensions import get_store
from webmap.i18n import translate
from webmap.ogc import tiles_docs
from webmap.ogc.routes import bp, json_response, layer_spec
from webmap.private_view import reads_private_now

#: Tiles kept per store (a z14 tile of points is some tens of KB).
CACHE_TILES = 1024
_CACHES: weakref.WeakKeyDictionary[BaseStore, TileCache] = weakref.WeakKeyDictionary()


@bp.get("/tileMatrixSets", endpoint="tile_matrix_sets")
def tile_matrix_sets() -> Response:
    """The tile matrix sets tiles are offered in (WebMercatorQuad)."""
    return json_response(tiles_docs.tile_matrix_sets())


@bp.get("/tileMatrixSets/<tms>", endpoint="tile_matrix_set")
def tile_matrix_set_document(tms: str) -> Response:
    """The definition of WebMercatorQuad (404 for another id)."""
    _check_tms(tms)
    return json_response(tiles_docs.tile_matrix_set())


@bp.get("/collections/<collection_id>/tiles", endpoint="tilesets")
def tilesets(collection_id: str) -> Response:
    """The collection's tilesets: one vector tileset in WebMercatorQuad."""
    spec = layer_spec(collection_id)
    return json_response({"tilesets": [tiles_docs.tileset(spec, limits=False)]})


@bp.get("/collections/<collection_id>/tiles/<tms>", endpoint="tileset")
def tileset_document(collection_id: str, tms: str) -> Response:
    """The collection's vector tileset in WebMercatorQuad."""
    spec = layer_spec(collection_id)
    _check_tms(tms)
    return json_response(tiles_docs.tileset(spec))


@bp.get("/collections/<collection_id>/tiles/<tms>/<z>/<x>/<y>", endpoint="tile")
def tile(collection_id: str, tms: str, z: str, x: str, y: str) -> Response:
    """One Mapbox Vector Tile of the collection (``x`` column, ``y`` row)."""
    store = get_store()
    spec = layer_spec(collection_id)
    _check_tms(tms)
    zxy = _tile_numbers(z, x, y)
    version = store.version(spec.name)
    private = reads_private_now()
    tag = _etag(store, spec, version, zxy, private)
    headers = {"ETag": tag, "Cache-Control": _cache_control(spec, private)}
    if _client_holds(tag):
        return Response(status=304, headers=headers)
    key = (spec.name, version, spec.field_names, private, zxy)
    body = _cache(store).get_or_make(key, lambda: layer_tile(store, spec, *zxy))
    return Response(body, status=200, mimetype=tiles_docs.MVT, headers=headers)


def _check_tms(tms: str) -> None:
    if tms != tiles_docs.TMS_ID:
        raise NotFound(what=translate("tiles.tms"), value=tms)


def _tile_numbers(z: str, x: str, y: str) -> tuple[int, int, int]:
    """``z``, ``x``, ``y`` as integers in range, or 400 naming the wrong one."""
    values: dict[str, int] = {}
    for name, text in (("z", z), ("x", x), ("y", y)):
        if not (text.isascii() and text.isdigit()) or len(text) > 9:
            raise BadRequest(value=translate("tiles.not_integer", name=name, value=text))
        values[name] = int(text)
    zxy = (values["z"], values["x"], values["y"])
    wrong = tile_error(*zxy)
    if wrong == "z":
        raise BadRequest(value=translate("tiles.bad_zoom", value=zxy[0], max=MAX_ZOOM))
    if wrong is not None:
        top = (1 << zxy[0]) - 1
        raise BadRequest(
            value=translate("tiles.bad_tile", name=wrong, value=values[wrong], z=zxy[0], max=top)
        )
    return zxy


def _etag(
    store: BaseStore, spec: LayerSpec, version: int, zxy: tuple[int, ...], private: bool
) -> str:
    where = (getattr(store, "database_url", ""), str(getattr(store, "data_dir", "")))
    facts = (store.backend, where, spec.name, version, spec.field_names, zxy, private)
    return f'"mvt-{hashlib.sha256(repr(facts).encode()).hexdigest()[:24]}"'


def _client_holds(tag: str) -> bool:
    """Whether ``If-None-Match`` names ``tag`` (also with a gzip suffix ``-gz``)."""
    held = request.if_none_match
    bare = tag.strip('"')
    return held.contains_weak(bare) or held.contains_weak(f"{bare}-gz")


def _cache_control(spec: LayerSpec, private: bool) -> str:
    """Public for a layer that reads the same for every account, else private."""
    same_for_all = not private_names(spec)
    if same_for_all and current_app.config.get("ANONYMOUS_READ", True):
        return "public, max-age=60"
    return "private, max-age=0, must-revalidate"


def _cache(store: BaseStore) -> TileCache:
    cache = _CACHES.get(store)
    if cache is None:
        cache = _CACHES.setdefault(store, TileCache(CACHE_TILES))
    return cache


__all__ = ["CACHE_TILES", "tile"]
