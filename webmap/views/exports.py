"""Downloads: ``/export/<layer>.<fmt>?<the map's filters>`` and ``/export/all.<fmt>``.

A download holds exactly the features the planner was looking at:

- the map's own filters (``status``, ``township``/``village`` place ids, ``from``/``to``,
  ``ledger``, and ``layers`` for ``all``) mean what they mean on the map: they are
  applied by :func:`webmap.mapdata.select_features` to work layers and leave other layers
  alone;
- the OGC API's filters (``bbox``, ``bbox-crs``, ``datetime``, ``date_from``/``date_to``,
  ``<field>=<value>`` for the other fields) are parsed by :mod:`webmap.ogc.params`; with
  ``all`` (formats that hold several layers: GeoPackage, Shapefile zip, KML, xlsx) a layer
  they cannot apply to is left out.

Map pages link here with ``{% set layer = ... %}{% set filters = request.args %}``
``{% include "ogc/export_links.html" %}`` or the ``export_links(layer, args)`` helper.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, current_app, request, url_for
from werkzeug.exceptions import TooManyRequests

from layers.county_view import resolve_or_refuse
from layers.errors import BadRequest
from layers.exports import FORMATS, export_layers
from layers.rate_limit import RateLimit
from layers.specs import LayerSpec
from layers.store_base import BaseStore
from webmap.auth import current_user
from webmap.extensions import get_settings, get_store
from webmap.i18n import current_lang, translate
from webmap.ogc import documents as docs
from webmap.ogc.params import (
    COMMON_PARAMS,
    DATE_PARAMS,
    Filters,
    check_known,
    filter_params,
    parse_filters,
)
from webmap.private_view import reader_spec, reads_private_now

bp = Blueprint("exports", __name__)
ALL = "all"
VIEW_PARAMS = ("bbox", "bbox-crs", "datetime", *DATE_PARAMS)
#: Parameters of the map pages (webmap.mapdata.Filters), with the map's meaning.
MAP_PARAMS = ("layers", "status", "township", "village", "from", "to", "ledger")


def split_filename(filename: str) -> tuple[str, str]:
    """``streetlights.gpkg`` -> (``streetlights``, ``gpkg``); ``x.shp.zip`` -> (``x``, ``shp``)."""
    if filename.endswith(".shp.zip"):
        return filename[: -len(".shp.zip")], "shp"
    layer, _, fmt = filename.rpartition(".")
    if not layer or fmt not in FORMATS:
        allowed = ", ".join(FORMATS)
        message = translate("export.unknown_format", value=fmt, allowed=allowed)
        raise BadRequest(value=message)
    return layer, fmt


def _allowed_bbox_crs(store: BaseStore, spec: LayerSpec) -> tuple[str, ...]:
    """The CRSs a bbox may be given in: those the layer's OGC API collection offers."""
    return docs.collection_meta(store, spec).crs


def _ogc_args(args: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters that are not the map's own."""
    return {k: v for k, v in args.items() if k not in MAP_PARAMS}


def _layer_filters(store: BaseStore, spec: LayerSpec, args: Mapping[str, Any]) -> Filters:
    return parse_filters(spec, args, bbox_crs_allowed=_allowed_bbox_crs(store, spec))


def _applies(spec: LayerSpec, args: Mapping[str, Any]) -> bool:
    """Whether every (non-map) filter in ``args`` can apply to a layer of ``spec``."""
    fields = {k for k in args if k not in (*COMMON_PARAMS, *VIEW_PARAMS)}
    dated = any(args.get(k) for k in ("datetime", *DATE_PARAMS))
    return (
        (not args.get("bbox") or spec.spatial)
        and (not dated or bool(spec.date_field))
        and fields <= set(filter_params(spec))
    )


def map_filter_ids(names: list[str], args: Mapping[str, Any]) -> dict[str, set[str]] | None:
    """Ids each layer keeps under the map's filters, decided by the map's own code; None
    when the request has none of them."""
    if not any(args.get(k) for k in MAP_PARAMS if k != "layers"):
        return None
    from webmap import mapdata
    from webmap.extensions import get_county_view as snapshot

    snap = snapshot()
    filters = mapdata.parse_filters(args, snap.layer_names)
    town, village = resolve_or_refuse(  # names or ids; an unknown status is refused
        snap.places, snap.specs.values(), filters.township, filters.village, filters.status
    )
    filters = dataclasses.replace(filters, township=town, village=village)
    area = snap.places.area_of(filters)
    kept: dict[str, set[str]] = {}
    for name in names:
        frame = snap.frames.get(name)
        if frame is None:  # a layer the map does not draw: left alone, as on the map
            continue
        chosen = mapdata.select_features(frame, snap.specs[name], filters, area)
        kept[name] = {str(i) for i in chosen["id"]}
    return kept


def _layers_asked(store: BaseStore, layer: str, args: Mapping[str, Any]) -> list[LayerSpec]:
    if layer != ALL:
        return [reader_spec(store.spec(layer))]
    wanted = [n for n in str(args.get("layers") or "").split(",") if n]
    specs = [reader_spec(s) for s in store.specs if not wanted or s.name in wanted]
    return [s for s in specs if _applies(s, _ogc_args(args))]


def selection(
    store: BaseStore, layer: str, args: Mapping[str, Any]
) -> dict[str, list[dict[str, Any]]]:
    """The features an export request picks, per layer."""
    specs = _layers_asked(store, layer, args)
    if layer == ALL:
        fields = {"id"} | {f.name for s in store.specs for f in reader_spec(s).fields}
    else:
        fields = set(filter_params(specs[0]))
    check_known(args, (*COMMON_PARAMS, *VIEW_PARAMS, *MAP_PARAMS, *fields))
    by_map = map_filter_ids([s.name for s in specs], args)
    chosen: dict[str, list[dict[str, Any]]] = {}
    for spec in specs:
        filters = _layer_filters(store, spec, _ogc_args(args))
        features = store.query(spec.name, filters).features
        if by_map is not None and spec.name in by_map:
            features = [f for f in features if str(f["id"]) in by_map[spec.name]]
        chosen[spec.name] = features
    return chosen


def content_disposition(name: str, label: str, suffix: str) -> str:
    """``attachment`` with an ASCII name and the layer's (Chinese) label as ``filename*``."""
    return f"attachment; filename=\"{name}{suffix}\"; filename*=UTF-8''{quote(label + suffix)}"


@bp.get("/export/<filename>")
def export(filename: str) -> Response:
    """A layer (or every layer) as the features of the current view, in a file."""
    layer, fmt = split_filename(filename)
    store = get_store()
    export_format = FORMATS[fmt]
    if layer == ALL and not export_format.multi_layer:
        raise BadRequest(value=f"{fmt} holds one layer per file; choose a layer")
    lang = current_lang()
    _limit_anonymous()
    chosen = selection(store, layer, request.args)
    data = export_layers(store, dict(chosen), fmt, lang=lang, private=reads_private_now())
    label = translate("app.name") if layer == ALL else store.spec(layer).label_in(lang)
    headers = {
        "Content-Disposition": content_disposition(layer, label, export_format.suffix),
        "Cache-Control": "no-cache",
    }
    return Response(data, content_type=export_format.media_type, headers=headers)


_LIMIT = "villageworks.export_limit"


def _limit_anonymous() -> None:
    """429 with ``Retry-After`` for a visitor who is not logged in past
    ``VILLAGEWORKS_ANONYMOUS_EXPORTS_PER_MINUTE`` exports a minute from one address
    (counted for every worker in ``<data>/throttle/anonymous_exports.json``)."""
    if current_user() is not None:
        return
    settings = get_settings()
    limiter = current_app.extensions.get(_LIMIT)
    if limiter is None:
        limiter = current_app.extensions[_LIMIT] = RateLimit(
            get_store().files,
            "anonymous_exports",
            settings.anonymous_exports_per_minute,
            shared=not settings.read_only,  # read-only mode writes no counts file
        )
    wait = limiter.admit(request.remote_addr or "")
    if wait:
        limit = settings.anonymous_exports_per_minute
        message = translate("export.too_many", limit=limit, seconds=wait)
        raise TooManyRequests(description=message, retry_after=wait)


@bp.app_template_global()
def export_links(layer: str, args: Mapping[str, Any] | None = None) -> list[tuple[str, str, str]]:
    """(format key, label, URL) of each download of ``layer`` with the view's filters."""
    store = get_store()
    lang = current_lang()
    keep = set(VIEW_PARAMS) | set(MAP_PARAMS) | {"lang"}
    if layer != ALL:
        keep = (keep | set(filter_params(store.spec(layer)))) - {"layers"}
    params = {k: v for k, v in (args or {}).items() if k in keep and v not in (None, "")}
    links = []
    for key, export_format in FORMATS.items():
        if layer == ALL and not export_format.multi_layer:
            continue
        filename = f"{layer}.{key}"
        url = url_for("exports.export", filename=filename, **params)
        links.append((key, export_format.label.get(lang, key), url))
    return links
