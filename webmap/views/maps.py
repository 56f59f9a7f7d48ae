"""Map pages: the county map, township and village pages, one feature's page.

Each route parses the request, reads the county's snapshot (rebuilt only when a layer
changed), calls the pure functions of ``webmap.mapdata`` and ``webmap.maps``, and
renders the result. The snapshot and its gap overlays are :mod:`layers.county_view`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from layers.county_view import (
    FilterProblem,
    check_status,
    data_date,
    find_township,
    find_villages,
    resolve_places,
)
from layers.errors import BadRequest, NotFound
from layers.gap_ranking import ranked_gaps
from layers.photos import PhotoStore
from layers.private_fields import row_hidden
from webmap import mapdata
from webmap.auth import current_user
from webmap.damaged import spare_damaged_layers
from webmap.extensions import get_store
from webmap.feature_forms import edit_form, review_facts
from webmap.gap_rank_map import ranked_payload
from webmap.http_cache import cached_page
from webmap.i18n import current_lang, format_date, translate
from webmap.maps import SearchEntry
from webmap.page_maps import feature_photos, map_assets, map_page, map_view, snapshot
from webmap.photo_response import photo_response
from webmap.private_view import reader_spec
from webmap.write_rights import may_write
from webmap.year_select import map_replay

bp = Blueprint("maps", __name__)
#: Works of each list shown on a village's screen; its print lists every one.
SCREEN_ROWS = 60
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
@cached_page
def county() -> tuple[str, int]:
    """The county map with every layer, the panel, filters, search, replay and the ranked
    gaps; a filter it cannot use is named on the page (400) and left out."""
    snap = snapshot()
    filters, problems = view_filters(snap)
    layers = mapdata.map_layers(snap.frames, snap.specs.values(), filters, snap.places, snap.gaps)
    area = snap.places.area_of(filters)
    lang = current_lang()
    replay = map_replay(get_store(), layers, problems)  # plan years, ?year= (#17)
    view = map_view(
        snap,
        filters,
        bounds=area.bounds if area is not None else snap.bounds(),
        outline=area,
        outline_method=_method(snap, filters),
        search=_search(snap),
        replay_years=replay["replay_years"],
        replay_year=replay["replay_year"],
    )
    view = replace(view, ranked=_ranked(snap, filters, view.gcj02, lang))
    ledger = get_store().frame("ledger") if "ledger" in snap.specs else None
    page = render_template(
        "map.html",
        filters=filters,
        filter_problems=problems,
        choices=mapdata.filter_choices(snap, ledger, view.lang),
        townships=list(snap.places.townships.values()),
        village_counts=mapdata.village_count_per_township(snap.places),
        exports=_exports(layers, filters.args()),
        year_select=replay["year_select"],
        **map_page(layers, view),
    )
    return page, 400 if problems else 200


def _ranked(
    snap: mapdata.Snapshot, filters: mapdata.Filters, gcj02: bool, lang: str
) -> dict[str, Any]:
    """The ranked gaps of the county, or of the township the filters choose."""
    ranked = ranked_gaps(get_store(), dt.date.today())
    town = snap.places.township(filters.township)
    if town is not None:
        ranked = [g for g in ranked if g.township == town.name]
        ranked = _rerank(ranked)
    labels = {name: spec.label_in(lang) for name, spec in snap.specs.items()}
    return ranked_payload(ranked, lang, gcj02, layer_labels=labels)


def _rerank(ranked: list[Any]) -> list[Any]:
    """Ranks counted again within each kind (after a selection)."""
    seen: dict[str, int] = {}
    out = []
    for gap in ranked:
        seen[gap.kind] = seen.get(gap.kind, 0) + 1
        out.append(replace(gap, rank=seen[gap.kind]))
    return out


def _exports(layers: list[mapdata.MapLayer], args: dict[str, str]) -> dict[str, Any]:
    """What the page's export links carry: the view's filters and the layers it shows
    (the work layers one by one)."""
    shown = [layer for layer in layers if layer.show and not layer.gap_kind]
    lang = current_lang()
    return {
        "all_args": {**args, "layers": ",".join(layer.name for layer in shown)},
        "args": {k: v for k, v in args.items() if k != "layers"},
        "layers": [(x.name, x.spec.label_in(lang)) for x in shown if x.spec.kind == "work"],
    }


def view_filters(snap: mapdata.Snapshot) -> tuple[mapdata.Filters, list[str]]:
    """The page's filters with township and village names turned into ids, and a message
    (in the user's language) for each value that cannot be used; those are left out."""
    args = request.args.to_dict()
    problems: list[FilterProblem] = []
    for name in ("from", "to", "status", "township", "village", "ledger"):
        value = args.get(name) or ""
        try:
            mapdata.parse_filters({name: value}, ())
        except BadRequest:
            code = "too_long" if len(value.strip()) > 80 else "bad_date"
            problems.append(FilterProblem(name, value.strip()[:80], code))
            del args[name]
    if args.get("from") and args.get("to") and args["from"].strip() > args["to"].strip():
        problems.append(FilterProblem("to", args["to"], "date_order", (args["from"],)))
        del args["to"]
    filters = mapdata.parse_filters(args, snap.layer_names)
    township, village, found = resolve_places(snap.places, filters.township, filters.village)
    problems += found
    status = check_status(filters.status, snap.specs.values())
    if status is not None:
        problems.append(status)
    filters = replace(
        filters, township=township, village=village, status="" if status else filters.status
    )
    return filters, [_problem_text(p) for p in problems]


def _problem_text(problem: FilterProblem) -> str:
    lang = current_lang()
    joined = ("、" if lang == "zh" else ", ").join(problem.choices)
    return translate(
        f"maps.filter_error.{problem.code}",
        lang,
        param=translate(f"maps.filter_param.{problem.param}", lang),
        value=problem.value,
        choices=joined,
    )


def _method(snap: mapdata.Snapshot, filters: mapdata.Filters) -> str:
    village = snap.places.village(filters.village)
    return village.method if village is not None else "boundary"


def _area_page(snap: mapdata.Snapshot, place: mapdata.Place) -> dict[str, Any]:
    """What township and village pages share: map, legend, figures, chart, exports of
    the area's view, the print and data dates, and the messages of unusable filters."""
    filters, problems = view_filters(snap)
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
    store = get_store()
    area_arg = {place.level: place.id}
    return {
        "place": place,
        "filters": filters,
        "filter_problems": problems,
        "works": works,
        "figures": mapdata.area_figures(works, snap.specs, view.lang),
        "chart": mapdata.monthly_chart(works, snap.specs, view.lang),
        "exports": _exports(layers, {**filters.args(), **area_arg}),
        "print_date": format_date(dt.date.today().isoformat(), view.lang),
        "data_date": format_date(data_date(store.frame(n) for n in store.layer_names()), view.lang),
        **map_page(layers, view),
    }


@bp.get("/townships/<township_id>")
@cached_page
def township(township_id: str) -> tuple[str, int]:
    """A township (by id or name): its map, figures, chart, and its villages with their
    works."""
    snap = snapshot()
    place = snap.places.township(find_township(snap.places, township_id) or "")
    if place is None:
        raise NotFound(what=translate("maps.township"), value=township_id)
    page = _area_page(snap, place)
    villages = snap.places.villages_of(place.id)
    html = render_template(
        "township.html",
        villages=villages,
        village_works=mapdata.works_per_village(page["works"], villages),
        **page,
    )
    return html, 400 if page["filter_problems"] else 200


@bp.get("/villages/<village_id>")
@cached_page
def village(village_id: str) -> tuple[str, int]:
    """A village (by id, or by a name no other village has): its map, figures, chart
    and every work (the screen shows the newest of each list, the print all of them)."""
    snap = snapshot()
    found = find_villages(snap.places, village_id)
    place = snap.places.village(found[0]) if len(found) == 1 else None
    if place is None:
        raise NotFound(what=translate("maps.village"), value=village_id)
    page = _area_page(snap, place)
    total = max((len(f) for f in page["works"].values()), default=0)
    html = render_template(
        "village.html",
        township=snap.places.township(place.parent_id or ""),
        village_row=get_store().require("villages", place.id),
        lists=mapdata.work_lists(page["works"], snap.specs, current_lang(), limit=total),
        screen_rows=SCREEN_ROWS,
        **page,
    )
    return html, 400 if page["filter_problems"] else 200


@bp.get("/features/<layer>/<fid>")
def feature(layer: str, fid: str) -> str | tuple[str, int]:
    """One feature: every field, its review state, photos, history, where it is, and for
    an account that may write the layer the edit form (see :mod:`webmap.views.feature_edit`).
    A deleted feature's page offers a planner its restore."""
    store = get_store()
    spec = reader_spec(store.spec(layer))  # fields, history: no private one but for planners
    found = store.get(layer, fid)
    if found is None:
        return _deleted_page(layer, fid)
    if row_hidden(spec, found.get("properties")):  # a new or rejected report: planners only
        raise NotFound(what=spec.label_in(current_lang()), value=fid)
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
    spec = reader_spec(store.spec(layer))
    history = store.history(layer, fid)
    if not history or history[-1].get("op") != "delete":
        store.require(layer, fid)  # raises the usual 404
    body = history[-1].get("feature") or {"id": fid, "properties": {}}
    lang = current_lang()
    user = current_user()
    page = render_template(
        "feature_deleted.html",
        spec=spec,
        fid=fid,
        title=mapdata.feature_title(spec, body, lang),
        deleted=history[-1],
        can_restore=may_write(user, spec) and user is not None and user.can("planner"),
        history=mapdata.history_rows(history, spec, lang, None),
    )
    return page, 404


@bp.get("/photos/<photo_id>/thumb")
def photo_thumb(photo_id: str) -> BaseResponse:
    """A photo's thumbnail; the photo itself when it has none (stored before thumbnails)."""
    photos = PhotoStore(get_store().files)
    thumb = photos.thumb_name(photo_id)
    if thumb is None:
        if photos.name(photo_id) is None:
            raise NotFound("not_found", what="photo", value=photo_id[:40])
        return redirect(url_for("capture.photo", photo_id=photo_id))
    return photo_response(photos, thumb, "image/jpeg", f"{photo_id}-thumb")
