"""The works ledger (台账) pages: list, create, edit, link features, progress entries,
import and export.

Reading needs what every map page needs; every change needs the planner role and the
session's CSRF token. Progress is never typed: it is computed from the linked features
(or, for items without a layer, from dated entries that keep who and when).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import Any

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from geo.problems import Problem
from layers.analyses import layer_frame, parse_as_of
from layers.errors import Conflict, NotFound, ValidationFailed
from layers.ledger import (
    ItemProgress,
    feature_amount,
    item_plan_year,
    ledger_progress,
    linked_features,
    linked_layers,
    progress_entries,
    work_day,
)
from layers.ledger_carry import CannotCarry, carry_over
from layers.ledger_io import (
    ImportPlan,
    RowProblem,
    apply_import,
    category_label,
    flags_text,
    ledger_csv,
    ledger_xlsx,
    plan_import,
    township_order,
)
from layers.staging import Staging
from layers.store_base import BaseStore, Change
from webmap.auth import require_role, user_name
from webmap.damaged import spare_damaged_layers
from webmap.extensions import get_store
from webmap.i18n import current_lang, translate
from webmap.write_rights import require_write
from webmap.year_select import export_year, page_year, year_select

bp = Blueprint("ledger", __name__)
FORM_FIELDS = (
    "plan_year",
    "title",
    "category",
    "township",
    "village",
    "target",
    "unit",
    "measure",
    "species",
    "responsible_unit",
    "start_date",
    "deadline",
    "status",
    "notes",
)
MAX_LINKED_SHOWN = 500
MAX_CANDIDATES = 300
_ID_SPLIT = re.compile(r"[\s,，;；、]+")


# ---------------------------------------------------------------------------- helpers


def _as_of() -> dt.date:
    return parse_as_of(request.args.get("as_of")) or dt.date.today()


def _progress(store: BaseStore, as_of: dt.date, year: int | None = None) -> list[ItemProgress]:
    return ledger_progress(store, today=as_of, as_of=as_of, year=year)


def _one(store: BaseStore, item_id: str) -> ItemProgress:
    store.require("ledger", item_id)
    day = dt.date.today()
    return next(p for p in _progress(store, day) if p.id == item_id)


#: Fields the edit form does not show but an edit keeps (set by carry-over).
KEPT_FIELDS = ("carried_from", "carried_to")


def _labels(store: BaseStore) -> dict[str, Callable[..., str]]:
    """Template helpers turning codes into words in the request's language."""
    lang = current_lang()
    spec = store.spec("ledger")

    def value(field: str, code: Any) -> str:
        fspec = spec.field(field)
        return fspec.value_label(code, lang) if fspec is not None else str(code or "")

    def layer(name: str) -> str:
        found = store.specs.get(name)
        return found.label_in(lang) if found is not None else name

    return {
        "cat_label": lambda c: category_label(store.specs, c, lang),
        "value_label": value,
        "layer_label": layer,
        "flags": lambda item: flags_text(item, lang),
    }


def _choices(store: BaseStore, current: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Options of the item form: categories, townships, villages, measures, statuses."""
    lang = current_lang()
    spec = store.spec("ledger")
    categories = [(name, category_label(store.specs, name, lang)) for name in linked_layers(store)]
    categories += [(c, category_label(store.specs, c, lang)) for c in ("training", "other")]
    chosen = str((current or {}).get("category") or "")
    if chosen and chosen not in {c for c, _ in categories}:
        categories.append((chosen, category_label(store.specs, chosen, lang)))
    villages = layer_frame(store, "villages", None)
    names = sorted({str(n) for n in villages["name"].dropna()}) if "name" in villages else []
    plantings = store.specs.get("plantings")
    species = plantings.field("species") if plantings is not None else None

    def options(field: str) -> list[tuple[str, str]]:
        fspec = spec.field(field)
        return [(v, fspec.value_label(v, lang)) for v in fspec.values] if fspec else []

    return {
        "categories": categories,
        "townships": township_order(store),
        "village_names": names,
        "measures": options("measure"),
        "statuses": options("status"),
        "species": [(v, species.value_label(v, lang)) for v in species.values] if species else [],
    }


def _form_text(value: Any) -> Any:
    """A stored value as a form shows it: 1200.0 as "1200"."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value


def _form_values() -> dict[str, Any]:
    """The item fields posted by the form (blank means "not set")."""
    return {name: (request.form.get(name) or "").strip() or None for name in FORM_FIELDS}


def _problems(exc: ValidationFailed) -> list[str]:
    lang = current_lang()
    return [p.message(lang) for p in exc.problems if p.severity == "error"]


# ------------------------------------------------------------------------------ list


@bp.get("/ledger")
@spare_damaged_layers
def index() -> Any:
    """The items of one plan year (``?year=``) with their computed progress, grouped by
    township order. A bad year shows the default year and says what is wrong (422)."""
    store = get_store()
    as_of = _as_of()
    year, problem = page_year(store)
    items = _progress(store, as_of, year)
    rank = {name: i for i, name in enumerate(township_order(store))}
    items.sort(key=lambda i: (i.township == "", rank.get(i.township, len(rank)), i.id))
    html = render_template(
        "ledger_list.html",
        items=items,
        as_of=as_of,
        year=year,
        year_select=year_select(store, year, problem),
        **_labels(store),
    )
    return html, 422 if problem else 200


@bp.get("/ledger/export.<fmt>")
def export(fmt: str) -> Response:
    """The items of one plan year (``?year=``, default as on the list; a bad one: 422)
    as .xlsx (county layout) or .csv (UTF-8 with BOM), as of ``as_of``."""
    if fmt not in ("xlsx", "csv"):
        raise NotFound("gaps_unknown_format", value=fmt, allowed="xlsx, csv")
    store = get_store()
    as_of = _as_of()
    year = export_year(store)
    items = _progress(store, as_of, year)
    lang = current_lang()
    if fmt == "xlsx":
        data = ledger_xlsx(store, items, as_of=as_of, lang=lang, year=year)
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        data, mimetype = ledger_csv(store, items, lang=lang), "text/csv"
    name = f"ledger-{year}-{as_of.isoformat()}.{fmt}"
    return Response(
        data, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


# ----------------------------------------------------------------------- create/edit


@bp.route("/ledger/new", methods=["GET", "POST"])
@require_role("planner")
def new() -> Any:
    """The form for a new item; on success its page."""
    require_write("ledger")
    store = get_store()
    values: dict[str, Any] = {
        "status": "in_progress",
        "measure": "count",
        "plan_year": request.args.get("year", type=int) or dt.date.today().year,
    }
    problems: list[str] = []
    if request.method == "POST":
        values = _form_values()
        try:
            result = store.create("ledger", None, values, user=user_name())
        except ValidationFailed as exc:
            problems = _problems(exc)
        else:
            flash(translate("ledger.flash.created"))
            return redirect(url_for("ledger.item", item_id=result.ids[0]))
    html = render_template(
        "ledger_form.html", values=values, problems=problems, item=None, **_choices(store, values)
    )
    return html, 422 if problems else 200


@bp.get("/ledger/<item_id>")
def item(item_id: str) -> Any:
    """One item: figures, the edit form (planners), linked features, entries, history.
    The year selector shows the item's plan year and leads to that year's list; a bad
    ``?year=`` is said (422)."""
    store = get_store()
    _, problem = page_year(store)
    return _item_page(store, item_id, year_problem=problem), 422 if problem else 200


def _item_page(
    store: BaseStore,
    item_id: str,
    *,
    values: Mapping[str, Any] | None = None,
    problems: list[str] | None = None,
    entry_problems: list[str] | None = None,
    year_problem: str = "",
) -> str:
    progress = _one(store, item_id)
    feature = store.require("ledger", item_id)
    current = {k: _form_text(feature["properties"].get(k)) for k in FORM_FIELDS}
    year = progress.plan_year or dt.date.today().year
    return render_template(
        "ledger_item.html",
        item=progress,
        year=year,
        year_select=year_select(store, year, year_problem),
        carry=_carry_links(store, progress),
        values=values or current,
        version=feature["properties"].get("version", 1),
        problems=problems or [],
        entry_problems=entry_problems or [],
        linked=_linked_rows(store, progress),
        candidates=_candidates(store, progress),
        link_layers=linked_layers(store),
        entries=progress_entries(store, item_id),
        history=list(reversed(store.history("ledger", item_id)))[:20],
        today=dt.date.today().isoformat(),
        **_choices(store, current),
        **_labels(store),
    )


@bp.post("/ledger/<item_id>")
@require_role("planner")
def edit(item_id: str) -> Any:
    """Save the edit form (all fields at once, checked against the version shown)."""
    require_write("ledger")
    store = get_store()
    store.require("ledger", item_id)
    values = _form_values()
    kept = store.require("ledger", item_id)["properties"]
    values.update({k: kept.get(k) for k in KEPT_FIELDS if kept.get(k)})
    version = request.form.get("version", type=int)
    change = Change("replace", id=item_id, properties=values, if_version=version)
    try:
        store.commit("ledger", [change], user=user_name(), source="form")
    except ValidationFailed as exc:
        return _item_page(store, item_id, values=values, problems=_problems(exc)), 422
    except Conflict as exc:
        message = exc.user_message(current_lang())
        return _item_page(store, item_id, values=values, problems=[message]), 412
    flash(translate("ledger.flash.saved"))
    return redirect(url_for("ledger.item", item_id=item_id))


@bp.post("/ledger/<item_id>/delete")
@require_role("planner")
def delete(item_id: str) -> BaseResponse:
    """Soft-delete an item (its history stays; it can be restored)."""
    require_write("ledger")
    get_store().delete("ledger", item_id, user=user_name())
    flash(translate("ledger.flash.deleted"))
    return redirect(url_for("ledger.index"))


# ------------------------------------------------------------------------ carry-over


def _carry_links(store: BaseStore, progress: ItemProgress) -> dict[str, Any]:
    """The items this one was carried from and to (id, plan year, title), for links."""
    out: dict[str, Any] = {}
    for key, other in (("from", progress.carried_from), ("to", progress.carried_to)):
        found = store.get("ledger", other) if other else None
        props = (found or {}).get("properties") or {}
        if found is not None:
            out[key] = {"id": other, "year": item_plan_year(props), "title": props.get("title")}
    return out


@bp.post("/ledger/<item_id>/carry-over")
@require_role("planner")
def carry(item_id: str) -> Any:
    """结转到下一年度: the unfinished item goes on as a new item of the next plan year
    (target: what is left); the old one keeps its works and history (409 if it cannot)."""
    require_write("ledger")
    store = get_store()
    store.require("ledger", item_id)
    try:
        new_id = carry_over(store, item_id, user=user_name())
    except CannotCarry as exc:
        return _item_page(store, item_id, problems=[exc.user_message(current_lang())]), 409
    flash(translate("year.carry.done", id=new_id))
    return redirect(url_for("ledger.item", item_id=new_id))


# ------------------------------------------------------------------- linked features


def _linked_rows(store: BaseStore, progress: ItemProgress) -> list[dict[str, Any]]:
    """The features counted for ``progress``, with what each adds."""
    lang = current_lang()
    rows = []
    for layer, feature in linked_features(store, progress.id)[:MAX_LINKED_SHOWN]:
        spec = store.spec(layer)
        props = feature.get("properties") or {}
        status = props.get(spec.status_field) if spec.status_field else None
        status_spec = spec.field(spec.status_field) if spec.status_field else None
        rows.append(
            {
                "layer": layer,
                "id": feature["id"],
                "title": str(props.get(spec.title_field) or "") if spec.title_field else "",
                "status": status_spec.value_label(status, lang) if status_spec else "",
                "amount": feature_amount(store, progress, layer, props),
                "day": work_day(store, layer, props),
                "village_id": props.get("village_id"),
            }
        )
    return rows


def _candidates(store: BaseStore, progress: ItemProgress) -> list[dict[str, Any]]:
    """Features of the item's layer not linked to any item (same township when known)."""
    layer = progress.category
    if layer not in linked_layers(store):
        return []
    spec = store.spec(layer)
    out = []
    for feature in store.features(layer):
        props = feature.get("properties") or {}
        if props.get("ledger_item"):
            continue
        if progress.township and props.get("township") not in (None, progress.township):
            continue
        title = str(props.get(spec.title_field) or "") if spec.title_field else ""
        out.append({"id": feature["id"], "title": title, "day": work_day(store, layer, props)})
        if len(out) >= MAX_CANDIDATES:
            break
    return out


def _posted_ids() -> list[str]:
    typed = _ID_SPLIT.split(request.form.get("ids_text", ""))
    picked = request.form.getlist("ids")
    return list(dict.fromkeys(i.strip() for i in [*picked, *typed] if i.strip()))


@bp.post("/ledger/<item_id>/link")
@require_role("planner")
def link(item_id: str) -> BaseResponse:
    """Link features (ticked or typed ids) to the item: their work now counts."""
    return _set_links(item_id, item_id)


@bp.post("/ledger/<item_id>/unlink")
@require_role("planner")
def unlink(item_id: str) -> BaseResponse:
    """Unlink features from the item: their work no longer counts."""
    return _set_links(item_id, None)


def _link_of(store: BaseStore, layer: str, fid: str) -> str:
    feature = store.get(layer, fid) or {}
    return str((feature.get("properties") or {}).get("ledger_item") or "")


def _set_links(item_id: str, value: str | None) -> BaseResponse:
    store = get_store()
    store.require("ledger", item_id)
    layer = request.form.get("layer", "")
    if layer not in linked_layers(store):
        raise NotFound("unknown_layer", value=layer[:40])
    require_write(layer)
    ids = _posted_ids()
    missing = [i for i in ids if store.get(layer, i) is None]
    if value is None:  # only features linked to this item can be unlinked from it
        missing += [i for i in ids if i not in missing and _link_of(store, layer, i) != item_id]
    if missing or not ids:
        flash(translate("ledger.flash.bad_ids", ids=", ".join(missing[:20]) or "-"), "error")
        return redirect(url_for("ledger.item", item_id=item_id) + "#link")
    changes = [Change("update", id=i, properties={"ledger_item": value}) for i in ids]
    store.commit(layer, changes, user=user_name(), source=f"ledger:{item_id}")
    key = "ledger.flash.linked" if value else "ledger.flash.unlinked"
    flash(translate(key, n=len(ids)))
    return redirect(url_for("ledger.item", item_id=item_id) + "#linked")


# ------------------------------------------------------------------ progress entries


@bp.post("/ledger/<item_id>/progress")
@require_role("planner")
def add_entry(item_id: str) -> Any:
    """Record a dated progress entry (who and when are kept by the store)."""
    require_write("ledger_progress")
    store = get_store()
    store.require("ledger", item_id)
    values = {
        "item_id": item_id,
        "date": request.form.get("date", "").strip() or None,
        "quantity": request.form.get("quantity", "").strip() or None,
        "notes": request.form.get("notes", "").strip() or None,
    }
    try:
        store.create("ledger_progress", None, values, user=user_name())
    except ValidationFailed as exc:
        return _item_page(store, item_id, entry_problems=_problems(exc)), 422
    flash(translate("ledger.flash.entry_added"))
    return redirect(url_for("ledger.item", item_id=item_id) + "#entries")


@bp.post("/ledger/<item_id>/progress/<entry_id>/delete")
@require_role("planner")
def delete_entry(item_id: str, entry_id: str) -> BaseResponse:
    """Withdraw an entry (soft delete: the journal keeps it)."""
    require_write("ledger_progress")
    store = get_store()
    entry = store.require("ledger_progress", entry_id)
    if str(entry["properties"].get("item_id")) != item_id:
        raise NotFound(what="ledger_progress", value=entry_id)
    store.delete("ledger_progress", entry_id, user=user_name())
    flash(translate("ledger.flash.entry_deleted"))
    return redirect(url_for("ledger.item", item_id=item_id) + "#entries")


# ---------------------------------------------------------------------------- import


def _staging() -> Staging:
    """Previewed ledger files, each its importer's, until committed or a day old."""
    return Staging(get_store().files, "ledger_imports/staging")


def _preview(plan: ImportPlan, token: str | None, ext: str, status: int = 200) -> Any:
    return render_template("ledger_import.html", plan=plan, token=token, ext=ext), status


@bp.route("/ledger/import", methods=["GET", "POST"])
@require_role("planner")
def import_file() -> Any:
    """Upload an .xlsx or .csv ledger; see what it would do before anything is written."""
    require_write("ledger")
    if request.method == "GET":
        return render_template("ledger_import.html", plan=None, token=None, ext="")
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        problem = Problem("ledger_empty_file")
        plan = ImportPlan(problems=[_row_problem(problem)])
        return _preview(plan, None, "", 422)
    data = upload.read()
    ext = "csv" if upload.filename.lower().endswith(".csv") else "xlsx"
    plan = plan_import(get_store(), data, f"upload.{ext}", lang=current_lang())
    if not plan.ok:
        return _preview(plan, None, ext, 422)
    token = _staging().put(data, f"upload.{ext}", user=user_name())
    return _preview(plan, token, ext)


def _row_problem(problem: Problem) -> RowProblem:
    return RowProblem(None, "", "", problem.message(current_lang()))


@bp.post("/ledger/import/confirm")
@require_role("planner")
def import_confirm() -> Any:
    """Write a previewed import: all rows in one commit, or nothing."""
    require_write("ledger")
    token = request.form.get("token", "")
    staging = _staging()
    name = str(
        staging.meta(token, user=user_name())["filename"]
    )  # 404: unknown, expired, not yours
    data = staging.data(token, user=user_name())
    store = get_store()
    plan = plan_import(store, data, name, lang=current_lang())
    if not plan.ok:
        return _preview(plan, None, name.rsplit(".", 1)[-1], 422)
    apply_import(
        store, plan, user=user_name(), source=f"import:ledger-{token[:12]}", key=f"ledger-{token}"
    )
    staging.discard(token, user=user_name())
    flash(translate("ledger.flash.imported", created=plan.created, updated=plan.updated))
    return redirect(url_for("ledger.index"))
