"""Map pages: the county map, township and village pages, one feature's page.

Each route parses the request, reads the county's snapshot (rebuilt only when a layer
changed), calls the pure functions of ``webmap.mapdata`` and ``webmap.maps``, and
renders the result. The snapshot and its gap overlays are :mod:`layers.county_view`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import Blueprint, redirect, render_template, request, send_file, url_for
from werkzeug.wrappers import Response as BaseResponse

from layers.errors import NotFound
from layers.photos import PhotoStore
from webmap import mapdata
from webmap.auth import current_user
from webmap.damaged import spare_damaged_layers
from webmap.extensions import get_store
from webmap.feature_forms import edit_form, review_facts
from webmap.i18n import current_lang, translate
from webmap.maps import SearchEntry
from webmap.page_maps import feature_photos, map_assets, map_page, map_view, snapshot
from webmap.write_rights import may_write

bp = Blueprint("maps", __name__)
bp.context_processor(map_assets)


def _search(snap: mapdata.Snapshot) -> list[SearchEntry]:
    towns = snap.places.townships
    villages = snap.frames.get("villages")
    if villages is None:
        return []
    points = dict(zip(villages["id"].astype(str), villages.geometry, strict=True))
    entries = []
    for village in snap.places.villages.values():
        point = points[village.id]
        town = towns[village.parent_id].name if village.parent_id in towns else ""
        entries.append(SearchEntry(village.id, village.name, town, point.x, point.y))
    return entries


@bp.get("/")
@spare_damaged_layers
def county() -> str:
    """The county map with every layer, the panel, filters, search and replay."""
    snap = snapshot()
    filters = mapdata.parse_filters(request.args, snap.layer_names)
    snap.places.check(filters)
    layers = mapdata.map_layers(snap.frames, snap.specs.values(), filters, snap.places, snap.gaps)
    area = snap.places.area_of(filters)
    view = map_view(
        snap,
        filters,
        bounds=area.bounds if area is not None else snap.bounds(),
        outline=area,
        outline_method=_method(snap, filters),
        search=_search(snap),
        replay_years=mapdata.replay_years(layers),
    )
    ledger = get_store().frame("ledger") if "ledger" in snap.specs else None
    return render_template(
        "map.html",
        filters=filters,
        choices=mapdata.filter_choices(snap, ledger, view.lang),
        townships=list(snap.places.townships.values()),
        village_counts=mapdata.village_count_per_township(snap.places),
        **map_page(layers, view),
    )


def _method(snap: mapdata.Snapshot, filters: mapdata.Filters) -> str:
    village = snap.places.village(filters.village)
    return village.method if village is not None else "boundary"


def _area_page(snap: mapdata.Snapshot, place: mapdata.Place) -> dict[str, Any]:
    """What township and village pages share: map, legend, figures, chart."""
    filters = mapdata.parse_filters(request.args, snap.layer_names)
    filters = replace(filters, township="", village="")
    layers = mapdata.map_layers(
        snap.frames, snap.specs.values(), filters, snap.places, snap.gaps, focus=place.geometry
    )
    view = map_view(
        snap,
        filters,
        bounds=place.geometry.bounds if place.geometry is not None else snap.bounds(),
        outline=place.geometry,
        outline_method=place.method,
    )
    works = {layer.name: layer.frame for layer in layers if layer.group == "work"}
    return {
        "place": place,
        "filters": filters,
        "works": works,
        "figures": mapdata.area_figures(works, snap.specs, view.lang),
        "chart": mapdata.monthly_chart(works, snap.specs, view.lang),
        **map_page(layers, view),
    }


@bp.get("/townships/<township_id>")
def township(township_id: str) -> str:
    """A township: its map, figures, chart, and its villages with their works."""
    snap = snapshot()
    place = snap.places.township(township_id)
    if place is None:
        raise NotFound(what=translate("maps.township"), value=township_id)
    page = _area_page(snap, place)
    villages = snap.places.villages_of(township_id)
    return render_template(
        "township.html",
        villages=villages,
        village_works=mapdata.works_per_village(page["works"], villages),
        **page,
    )


@bp.get("/villages/<village_id>")
def village(village_id: str) -> str:
    """A village: its map, figures, chart and works, and how its area was found."""
    snap = snapshot()
    place = snap.places.village(village_id)
    if place is None:
        raise NotFound(what=translate("maps.village"), value=village_id)
    page = _area_page(snap, place)
    return render_template(
        "village.html",
        township=snap.places.township(place.parent_id or ""),
        village_row=get_store().require("villages", village_id),
        lists=mapdata.work_lists(page["works"], snap.specs, current_lang()),
        **page,
    )


@bp.get("/features/<layer>/<fid>")
def feature(layer: str, fid: str) -> str | tuple[str, int]:
    """One feature: every field, its review state, photos, history, where it is, and for
    an account that may write the layer the edit form (see :mod:`webmap.views.feature_edit`).
    A deleted feature's page offers a planner its restore."""
    store = get_store()
    spec = store.spec(layer)
    found = store.get(layer, fid)
    if found is None:
        return _deleted_page(layer, fid)
    snap = snapshot()
    lang = current_lang()
    page: dict[str, Any] = {}
    where = mapdata.where_is(snap.places, found) if spec.spatial else (None, None)
    if spec.spatial and found.get("geometry"):
        layers, bounds = mapdata.feature_layers(snap, spec, found)
        village = where[1]
        view = map_view(
            snap,
            mapdata.Filters(),
            bounds=bounds,
            outline=village.geometry if village is not None else None,
            outline_method=village.method if village is not None else "boundary",
            controls=False,
        )
        page = map_page(layers, view)
    title = mapdata.feature_title(spec, found, lang)
    return render_template(
        "feature.html",
        spec=spec,
        feature=found,
        title=title,
        rows=mapdata.field_rows(
            spec,
            found.get("properties") or {},
            lang,
            snap.titles,
            {name: s.label_in(lang) for name, s in snap.specs.items()},
        ),
        history=mapdata.history_rows(
            store.history(layer, fid), spec, lang, found.get("properties")
        ),
        photos=feature_photos(layer, found, lang, title),
        where=where,
        review=review_facts(spec, found, lang),
        edit=edit_form(spec, found),
        **page,
    )


def _deleted_page(layer: str, fid: str) -> tuple[str, int]:
    """404, with the deleted feature's last fields and, for a planner, its restore."""
    store = get_store()
    spec = store.spec(layer)
    history = store.history(layer, fid)
    if not history or history[-1].get("op") != "delete":
        store.require(layer, fid)  # raises the usual 404
    body = history[-1].get("feature") or {"id": fid, "properties": {}}
    lang = current_lang()
    page = render_template(
        "feature_deleted.html",
        spec=spec,
        fid=fid,
        title=mapdata.feature_title(spec, body, lang),
        deleted=history[-1],
        can_restore=may_write(current_user(), spec) and bool(current_user().can("planner")),
        history=mapdata.history_rows(history, spec, lang, None),
    )
    return page, 404


@bp.get("/photos/<photo_id>/thumb")
def photo_thumb(photo_id: str) -> BaseResponse:
    """A photo's thumbnail; the photo itself when it has none (stored before thumbnails)."""
    photos = PhotoStore(get_store().data_dir)
    path = photos.thumb_path(photo_id)
    if path is None:
        if photos.path(photo_id) is None:
            raise NotFound("not_found", what="photo", value=photo_id[:40])
        return redirect(url_for("capture.photo", photo_id=photo_id))
    response = send_file(path, mimetype="image/jpeg", max_age=86400)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response
