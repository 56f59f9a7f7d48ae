"""The review page (验收, ``/review``): planners decide the works field staff submitted.

The queue lists the works awaiting review in the planner's areas (every township for an
account without areas), oldest first, each with its photos, where it is on the map, how
far it lies from the nearest counted work of its layer, its ledger item and what it
changes against the approved version. A planner approves, returns with a comment, or
rejects one work, or approves a selection at once. Every decision goes through
:func:`layers.review.decide`, the same path as a PATCH of ``review`` through the OGC API:
the same rights, area scope, checks and history.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from layers.errors import BadRequest, VillageWorksError
from layers.evidence import ACCURACY_FIELD
from layers.review import APPROVED, REJECTED, RETURNED, decide, review_label
from layers.review_queue import Submission, pending_counts, review_queue, work_layers
from webmap import mapdata
from webmap.auth import current_user, require_role, user_name
from webmap.extensions import get_store
from webmap.i18n import current_lang, translate
from webmap.page_maps import feature_photos, map_assets, map_page, map_view, snapshot

bp = Blueprint("review", __name__, url_prefix="/review")
bp.context_processor(map_assets)
DECISIONS = (APPROVED, RETURNED, REJECTED)


def _areas() -> list[str] | None:
    """The township ids of this planner's areas, None for the whole county."""
    user = current_user()
    areas = getattr(user, "areas", None)
    return list(areas) if areas else None


@bp.get("")
@require_role("planner")
def queue() -> tuple[str, int]:
    """The works awaiting review, filtered by layer and township."""
    return _page()


def _page(status: int = 200, **extra: Any) -> tuple[str, int]:
    store = get_store()
    lang = current_lang()
    layer = request.args.get("layer", "")
    township = request.args.get("township", "")
    layers = work_layers(store)
    if layer and layer not in {s.name for s in layers}:
        raise BadRequest("bad_request", value=layer[:40])
    areas = _areas()
    done = request.args.get("done", "")
    decided = request.args.get("decision", "")
    if done.isdigit() and decided in DECISIONS:
        label = review_label(decided, lang)
        extra.setdefault("notice", translate("review.done", lang, n=int(done), decision=label))
    items, total = review_queue(
        store, areas=areas, layer=layer or None, township_id=township or None
    )
    snap = snapshot()
    towns = sorted(snap.places.townships.values(), key=lambda p: p.id)
    if areas is not None:
        towns = [t for t in towns if t.id in areas]
    page = render_template(
        "review.html",
        cards=[_card(item, lang) for item in items],
        total=total,
        pending=pending_counts(store, areas),
        layers=layers,
        townships=towns,
        layer=layer,
        township=township,
        areas=areas,
        **_map(snap, items),
        **extra,
    )
    return page, status


def _card(item: Submission, lang: str) -> dict[str, Any]:
    """What one submission's card shows."""
    store = get_store()
    spec = store.spec(item.layer)
    snap = snapshot()
    title = mapdata.feature_title(spec, item.feature, lang)
    ledger_title = None
    if item.ledger_item:
        found = store.get("ledger", item.ledger_item) if "ledger" in store.specs else None
        ledger_title = (found or {}).get("properties", {}).get("title") if found else None
    labels = {f.name: f.label_in(lang) for f in spec.fields}
    return {
        "item": item,
        "spec": spec,
        "title": title,
        "key": f"{item.layer}/{item.id}",
        "ledger_title": ledger_title,
        "photos": feature_photos(item.layer, item.feature, lang, title),
        "changes": [
            (
                labels.get(
                    name, translate("review.location", lang) if name == "geometry" else name
                ),
                _shown(old),
                _shown(new),
            )
            for name, old, new in item.changes
        ],
        "rows": mapdata.field_rows(
            spec,
            item.props,
            lang,
            snap.titles,
            {n: s.label_in(lang) for n, s in snap.specs.items()},
        ),
        "accuracy": item.props.get(ACCURACY_FIELD),
        "evidence": [p.message(lang) for p in item.evidence],
    }


def _shown(value: Any) -> str:
    if isinstance(value, dict):  # a geometry
        coords = value.get("coordinates")
        if value.get("type") == "Point" and coords:
            return f"{coords[0]:.6f}, {coords[1]:.6f}"
        return str(value.get("type") or "")
    return "" if value is None else str(value)


def _map(snap: mapdata.Snapshot, items: list[Submission]) -> dict[str, Any]:
    """The map of the queue: each listed work on the township outlines."""
    store = get_store()
    by_layer: dict[str, list[Submission]] = {}
    for item in items:
        if item.feature.get("geometry"):
            by_layer.setdefault(item.layer, []).append(item)
    if not by_layer:
        return {}
    layers = []
    frames = []
    for name, listed in by_layer.items():
        spec = store.spec(name)
        frame = mapdata.features_frame(spec, [i.feature for i in listed])
        frames.append(frame)
        layers.append(mapdata.MapLayer(spec, spec.kind, frame, True, name))
    bounds = mapdata.padded_bounds(pd.concat(frames, ignore_index=True))
    context = mapdata.context_layers(snap, bounds, exclude=set(by_layer))
    view = map_view(snap, mapdata.Filters(), bounds=bounds, controls=False)
    return map_page([*context, *layers], view)


@bp.post("/decide")
@require_role("planner")
def decide_selected() -> Response | tuple[str, int]:
    """Decide the selected works (``item`` = ``layer/id``, repeated): ``decision`` is
    approved, returned or rejected; returned and rejected need a ``comment``."""
    form = request.form
    decision = form.get("decision", "")
    comment = form.get("comment", "").strip()
    override = form.get("override", "").strip() or None
    chosen = form.getlist("item")
    lang = current_lang()
    try:
        if decision not in DECISIONS:
            raise BadRequest("bad_review_state", value=decision[:40])
        by_layer: dict[str, list[str]] = {}
        for key in chosen:
            layer, _, fid = key.partition("/")
            by_layer.setdefault(layer, []).append(fid)
        done = 0
        for layer, ids in by_layer.items():
            result = decide(
                get_store(), layer, ids, decision, comment, user_name(), override=override
            )
            done += len(result.ids)
    except VillageWorksError as exc:
        return _page(exc.status, error=exc.user_message(lang))
    kept = {k: v for k in ("layer", "township", "lang") if (v := request.values.get(k, ""))}
    return redirect(url_for("review.queue", **kept, done=done, decision=decision))
