"""Editing a feature on its page (issue #14): the attribute form, the location, delete and
restore with a reason.

The form is built from the layer spec (``select name=status`` for the status); the
location of a point is typed in any supported CRS (WGS84, CGCS2000, GCJ-02, BD-09,
Gauss-Krüger) or set by dragging the marker. Every edit goes through the same path as the
OGC API: :func:`webmap.write_rights.require_write` (role and area), CSRF (the app's form
check), the change planner (checks, area scope, review state) and the history. The form
carries the version it was read at; a concurrent edit in between gets a clear message
(409 page) instead of being overwritten.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from geo.crs import parse_crs, transform_xy
from geo.messages import register
from geo.problems import InputError
from layers.analyses import township_areas
from layers.changes import Change
from layers.errors import BadRequest, Conflict, ValidationFailed, VillageWorksError
from layers.feature_lists import BULK_LIMIT, bulk_rows
from layers.specs import LayerSpec
from webmap.auth import require_role, user_name
from webmap.extensions import get_store
from webmap.i18n import current_lang
from webmap.write_rights import require_feature_edit, require_write

bp = Blueprint("feature_edit", __name__, url_prefix="/features")
SOURCE = "page"
MAX_REASON = 200

for _code, _zh, _en in (
    (
        "edit_reason_needed",
        "请填写删除或恢复的原因",
        "Give a reason for deleting or restoring",
    ),
    (
        "bulk_no_status",
        "图层“{layer}”没有状态字段，不能批量改状态",
        "The layer '{layer_en}' has no status field to change",
    ),
    ("bulk_nothing_chosen", "请先勾选要修改的项目", "Tick the features to change first"),
    (
        "edit_bad_coordinates",
        "坐标“{value}”不是数字：请填写经度/纬度或 X/Y",
        "The coordinates '{value}' are not numbers: type longitude/latitude or X/Y",
    ),
):
    register(_code, _zh, _en)


def form_properties(spec: LayerSpec, form: Mapping[str, str]) -> dict[str, Any]:
    """The typed properties of the form: every editable field sent, "" meaning empty
    (removed); the change planner converts and checks the values."""
    out: dict[str, Any] = {}
    for f in spec.fields:
        if not f.computed and f.name in form:  # computed fields are the store's
            text = str(form.get(f.name, "")).strip()
            out[f.name] = text if text else None
    return out


def form_geometry(spec: LayerSpec, form: Mapping[str, str]) -> dict[str, Any] | None:
    """The point typed (``x``, ``y`` in ``crs``) or dragged (``lon``, ``lat``), or None
    when the location was left as it was."""
    if not spec.spatial or "Point" not in spec.geometry:
        return None
    x, y = str(form.get("x", "")).strip(), str(form.get("y", "")).strip()
    if not x and not y:
        return None
    try:
        xs, ys = float(x), float(y)
    except ValueError:
        raise BadRequest("edit_bad_coordinates", value=f"{x[:30]}, {y[:30]}") from None
    try:
        choice = parse_crs(str(form.get("crs") or "EPSG:4326"))
    except InputError as exc:
        raise ValidationFailed(list(exc.problems)) from None
    lon, lat = transform_xy([xs], [ys], choice)
    return {"type": "Point", "coordinates": [round(float(lon[0]), 7), round(float(lat[0]), 7)]}


def _version(form: Mapping[str, str]) -> int | None:
    text = str(form.get("version", "")).strip()
    return int(text) if text.isdigit() else None


@bp.post("/<layer>/<fid>/edit")
@require_role("field")
def edit(layer: str, fid: str) -> Response | tuple[str, int]:
    """Change the attributes and/or the location of one feature (a field account: only
    a work it submitted that is not approved, see :mod:`webmap.write_rights`; its change
    sends the work for review again)."""
    store = get_store()
    spec = require_write(layer)
    require_feature_edit(spec, store.require(layer, fid))  # a field account: its own work
    form = request.form
    try:
        change = Change(
            "update",
            id=fid,
            properties=form_properties(spec, form),
            geometry=form_geometry(spec, form),
            if_version=_version(form),
            margin_m=float(current_app.config["AREA_MARGIN_M"]),
        )
        store.commit(layer, [change], user=user_name(), source=SOURCE)
    except VillageWorksError as exc:
        return _refused(spec, fid, exc)
    return redirect(url_for("maps.feature", layer=layer, fid=fid, saved=1, **_lang()))


@bp.post("/<layer>/<fid>/delete")
@require_role("planner")
def delete(layer: str, fid: str) -> Response | tuple[str, int]:
    """Delete (soft) one feature, with a reason that goes into its history."""
    return _remove_or_restore(layer, fid, "delete")


@bp.post("/<layer>/<fid>/restore")
@require_role("planner")
def restore(layer: str, fid: str) -> Response | tuple[str, int]:
    """Bring a deleted feature back, with a reason that goes into its history."""
    return _remove_or_restore(layer, fid, "restore")


def _remove_or_restore(layer: str, fid: str, op: str) -> Response | tuple[str, int]:
    store = get_store()
    spec = require_write(layer)
    reason = request.form.get("reason", "").strip()[:MAX_REASON]
    try:
        if not reason:
            raise BadRequest("edit_reason_needed")
        version = _version(request.form) if op == "delete" else None
        change = Change(op, id=fid, if_version=version)
        store.commit(layer, [change], user=user_name(), source=f"{SOURCE}: {reason}")
    except VillageWorksError as exc:
        return _refused(spec, fid, exc)
    done = "deleted" if op == "delete" else "restored"
    return redirect(url_for("maps.feature", layer=layer, fid=fid, **{done: 1}, **_lang()))


@bp.get("/<layer>/bulk")
@require_role("planner")
def bulk_page(layer: str) -> tuple[str, int]:
    """The features of a layer, filtered by status and township, to change at once."""
    return _bulk_page(require_write(layer))


@bp.post("/<layer>/bulk")
@require_role("planner")
def bulk(layer: str) -> Response | tuple[str, int]:
    """Set the status of the selected features (``id``, repeated) at once: all of them
    or, on any problem (a stale version, a feature outside the account's areas), none."""
    store = get_store()
    spec = require_write(layer)
    form = request.form
    ids = list(dict.fromkeys(form.getlist("id")))
    status = form.get("status", "").strip()
    lang = current_lang()
    try:
        if not spec.status_field:
            raise BadRequest(
                "bulk_no_status", layer=spec.label_in("zh"), layer_en=spec.label_in("en")
            )
        if not ids:
            raise BadRequest("bulk_nothing_chosen")
        versions = {k[2:]: int(v) for k, v in form.items() if k.startswith("v:") and v.isdigit()}
        changes = [
            Change("update", id=fid, properties={spec.status_field: status or None},
                   if_version=versions.get(fid))
            for fid in ids
        ]  # fmt: skip
        store.commit(layer, changes, user=user_name(), source=f"{SOURCE}: bulk")
    except VillageWorksError as exc:
        return _bulk_page(spec, exc.status, error=exc.user_message(lang), problems=_messages(exc))
    kept = {k: v for k in ("status", "township", "lang") if (v := request.args.get(k, ""))}
    return redirect(url_for("feature_edit.bulk_page", layer=layer, done=len(ids), **kept))


def _bulk_page(spec: LayerSpec, status: int = 200, **extra: Any) -> tuple[str, int]:
    store = get_store()
    wanted = request.args.get("status", "")
    township = request.args.get("township", "")
    rows, total = bulk_rows(store, spec, wanted, township)
    field = spec.field(spec.status_field) if spec.status_field else None
    page = render_template(
        "feature_bulk.html",
        spec=spec,
        rows=rows,
        total=total,
        status_field=field,
        wanted=wanted,
        township=township,
        townships=sorted(township_areas(store)[["township_id", "township"]].values.tolist()),
        limit=BULK_LIMIT,
        **extra,
    )
    return page, status


def _messages(exc: VillageWorksError) -> list[str]:
    lang = current_lang()
    return [p.message(lang) for p in getattr(exc, "problems", []) or []]


def _lang() -> dict[str, str]:
    return {"lang": "en"} if request.values.get("lang") == "en" else {}


def _refused(spec: LayerSpec, fid: str, exc: VillageWorksError) -> tuple[str, int]:
    """The page saying why nothing was saved: every problem, or the conflict."""
    lang = current_lang()
    status = 409 if isinstance(exc, Conflict) else exc.status
    page = render_template(
        "feature_refused.html",
        spec=spec,
        fid=fid,
        message=exc.user_message(lang),
        problems=_messages(exc),
        conflict=isinstance(exc, Conflict),
    )
    return page, status
