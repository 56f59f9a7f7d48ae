"""Upload pages: choose a file, PREVIEW what would happen, commit, list, undo and redo.

The list (``/uploads``) holds every file upload and, below, the captures made on phones
(who, when, layer, feature, review state); for the signed-in submitter, the rows of its
uploads that planners returned, with their comments and links to correct them. Undo and
redo are two steps each: ``GET /uploads/<id>/undo`` (or ``/redo``) says how many features
it would delete (or bring back) and holds the button, ``POST`` does it (planners, CSRF,
one commit through the store: :func:`layers.upload_log.undo_upload`, :func:`~layers.
upload_log.redo_upload`).

The file is staged server-side under a random token between preview and commit
(:class:`layers.uploads.Staging`); the browser only ever holds the token. A commit runs
with exactly the options the user last previewed: if the form was changed since, the page
shows the new preview instead of committing.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import (
    Blueprint,
    flash,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response

from geo.display import display_mapping
from layers.errors import BadRequest, NotFound, ValidationFailed
from layers.returned import captures, returned_of_uploads
from layers.review import review_label
from layers.scopes import townships
from layers.specs import FIELD_TYPES, LayerSpec
from layers.upload_log import redo_ids, redo_upload, undo_count
from layers.upload_templates import template_csv, template_xlsx
from layers.uploads import (
    DUPLICATE_ACTIONS,
    Staging,
    UploadLog,
    UploadOptions,
    UploadReport,
    run_upload,
    undo_upload,
)
from webmap.auth import current_user, require_role, user_name
from webmap.extensions import get_store
from webmap.forms import input_kind, map_setup, max_upload_bytes, options_from_form, ref_choices
from webmap.i18n import current_lang, translate
from webmap.scriptjson import script_json
from webmap.write_rights import require_write, writable

bp = Blueprint("uploads_pages", __name__, url_prefix="/uploads")
CRS_CHOICES = ("auto", "wgs84", "cgcs2000", "gcj02", "bd09")
#: Options compared to decide whether the user has previewed what they commit.
_PREVIEWED_KEYS = (
    "layer",
    "crs",
    "defaults",
    "column_map",
    "on_duplicate",
    "encoding",
    "swap_xy",
    "sheet",
)
_TEMPLATE_TEXTS = (
    "data",
    "notes",
    "values",
    "column",
    "type",
    "required",
    "allowed",
    "yes",
    "coordinate",
    *(f"type.{t}" for t in sorted(FIELD_TYPES)),
)
_TEMPLATE_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


def _import_layers() -> list[LayerSpec]:
    """Layers a file can go into: works first, then reference layers."""
    specs = [s for s in get_store().specs if s.kind in ("work", "reference")]
    return sorted(writable(specs), key=lambda s: s.kind != "work")


def _staging() -> Staging:
    return Staging(get_store().files)


@bp.get("")
@require_role("viewer")
def index() -> str:
    """Every upload: who, when, file, hash, layer, CRS, counts, status; undo (and redo)
    for planners; for the signed-in submitter, the rows of its uploads that planners
    returned, with their comments. Then the captures made on phones, with their review
    state."""
    user = current_user()
    store = get_store()
    uploads = UploadLog(store.files).list()
    mine = [u for u in uploads if user is not None and u.get("user") == user.name]
    found, total = captures(store)
    return render_template(
        "uploads.html",
        uploads=uploads,
        returned=returned_of_uploads(store, mine),
        captures=found,
        captures_total=total,
        review_label=review_label,
        specs={s.name: s for s in store.specs},
        can_undo=bool(user and user.can("planner")),
        messages=get_flashed_messages(),
    )


@bp.get("/new")
@require_role("field")
def new() -> str:
    """The upload form: file, layer, coordinate system."""
    return render_template(
        "upload_new.html", layers=_import_layers(), crs_choices=CRS_CHOICES, error=None
    )


@bp.post("/new")
@require_role("field")
def stage() -> Response | tuple[str, int]:
    """Keep the file under a random token and show its preview."""
    upload = request.files.get("file")
    data = upload.read() if upload is not None else b""
    if upload is None or not data:
        error = translate("uploads.no_file")
        page = render_template(
            "upload_new.html", layers=_import_layers(), crs_choices=CRS_CHOICES, error=error
        )
        return page, 400
    form = request.form.to_dict()
    if form.get("crs") == "epsg":
        form["crs"] = form.get("crs_epsg", "")
    options = options_from_form(form)
    options.sheet = (form.get("sheet") or request.args.get("sheet") or "").strip() or None
    require_write(options.layer)  # 404 / 403 before anything is kept
    token = _staging().put(data, upload.filename or "upload", options, user=user_name())
    return redirect(url_for("uploads_pages.preview", token=token))


def _run_preview(token: str, options: UploadOptions) -> tuple[UploadReport | None, Any]:
    """The dry-run report of a staged file, or the error that stops it."""
    staging = _staging()
    meta = staging.meta(token, user=user_name())
    data = staging.data(token, user=user_name())
    options = UploadOptions.from_dict({**options.to_dict(), "dry_run": True})
    try:
        report = run_upload(
            get_store(),
            data,
            meta["filename"],
            options,
            user=user_name(),
            max_bytes=max_upload_bytes(),
        )
    except (ValidationFailed, BadRequest) as exc:
        return None, exc
    return report, None


@bp.get("/staged/<token>")
@require_role("field")
def preview(token: str) -> Any:
    """What the staged file would add: map, counts, problems per row, options to adjust."""
    meta = _staging().meta(token, user=user_name())
    if meta.get("upload_id"):
        return redirect(url_for("uploads_pages.detail", upload_id=meta["upload_id"]))
    options = UploadOptions.from_dict(meta["options"])
    wanted = (request.args.get("sheet") or "").strip()
    if wanted and wanted != options.sheet:  # ?sheet= names the workbook's sheet to read
        options.sheet = wanted
        _staging().update(token, user=user_name(), options=options.to_dict())
    report, error = _run_preview(token, options)
    spec = get_store().spec(options.layer)
    problems = getattr(error, "problems", [])
    lang = current_lang()
    features = report.features[:2000] if report else []
    return render_template(
        "upload_preview.html",
        token=token,
        meta=meta,
        options=options,
        report=report,
        error=error,
        error_problems=problems,
        sheets=_sheets(report, problems),
        spec=spec,
        layers=_import_layers(),
        crs_choices=CRS_CHOICES,
        duplicate_actions=DUPLICATE_ACTIONS,
        input_kind=input_kind,
        messages=get_flashed_messages(),
        refs=ref_choices(spec),
        map_json=script_json(_map_data(features, spec, lang)),
    )


def _sheets(report: UploadReport | None, problems: list[Any]) -> list[str]:
    """The sheets of a staged workbook, for the sheet choice (also when reading failed)."""
    if report is not None:
        return report.sheets
    listed = next((p.params.get("sheets") for p in problems if p.params.get("sheets")), "")
    return [name for name in str(listed).split(", ") if name]


def _map_data(features: list[dict[str, Any]], spec: LayerSpec, lang: str) -> dict[str, Any]:
    """What the preview map draws; shifted to GCJ-02 when the basemap is Gaode's."""
    setup = map_setup(lang)
    if setup["gcj02"]:
        shown = [display_mapping(f.get("geometry"), True, None) for f in features]
        features = [dict(f, geometry=g) for f, g in zip(features, shown, strict=True)]
        setup["outline"] = display_mapping(setup["outline"], True, None)
    labels = {f.name: f.label_in(lang) for f in spec.fields}
    return {**setup, "features": features, "labels": labels}


def _options_from_preview_form(staged: UploadOptions) -> UploadOptions:
    """The options as the preview form now has them."""
    form = request.form
    fields: dict[str, Any] = {
        "layer": form.get("layer") or staged.layer,
        "crs": form.get("crs_epsg", "").strip() or form.get("crs") or "auto",
        "duplicates": form.get("duplicates") or staged.on_duplicate,
        "swap_xy": form.get("swap_xy", ""),
        "encoding": form.get("encoding", ""),
    }
    options = options_from_form(fields)
    options.sheet = (form.get("sheet") or "").strip() or staged.sheet
    options.defaults = {
        key[len("default.") :]: value.strip()
        for key, value in form.items()
        if key.startswith("default.") and value.strip()
    }
    options.column_map = {
        key[len("map.") :]: value for key, value in form.items() if key.startswith("map.")
    }
    return options


def _same(a: UploadOptions, b: UploadOptions) -> bool:
    da, db = a.to_dict(), b.to_dict()
    return all(da[k] == db[k] for k in _PREVIEWED_KEYS)


@bp.post("/staged/<token>")
@require_role("field")
def act(token: str) -> Response:
    """Preview again with new options, or commit exactly what was previewed."""
    staging = _staging()
    staged = staging.options(token, user=user_name())
    if staging.meta(token, user=user_name()).get("upload_id"):
        upload_id = staging.meta(token, user=user_name())["upload_id"]
        return redirect(url_for("uploads_pages.detail", upload_id=upload_id))
    options = _options_from_preview_form(staged)
    if request.form.get("action") != "commit" or not _same(options, staged):
        if request.form.get("action") == "commit":
            flash(translate("uploads.changed_since_preview"))
        staging.update(token, user=user_name(), options=options.to_dict())
        return redirect(url_for("uploads_pages.preview", token=token))
    return _commit(token, staged)


def _commit(token: str, options: UploadOptions) -> Response:
    staging = _staging()
    meta = staging.meta(token, user=user_name())
    require_write(options.layer)
    options.dry_run = False
    options.skip_rejected = True  # the user has seen which rows are left out
    options.idempotency_key = f"staging-{token}"
    try:
        report = run_upload(
            get_store(),
            staging.data(token, user=user_name()),
            meta["filename"],
            options,
            user=user_name(),
            max_bytes=max_upload_bytes(),
        )
    except ValidationFailed:
        flash(translate("uploads.commit_failed"))
        return redirect(url_for("uploads_pages.preview", token=token))
    if report.upload_id is None:
        flash(translate("uploads.nothing_written"))
        return redirect(url_for("uploads_pages.preview", token=token))
    staging.committed(token, report.upload_id, user=user_name())
    flash(translate("uploads.committed", count=len(report.ids), id=report.upload_id))
    return redirect(url_for("uploads_pages.detail", upload_id=report.upload_id))


@bp.get("/template/<layer>.<fmt>")
@require_role("field")
def template(layer: str, fmt: str) -> Response:
    """A blank template of ``layer`` to fill and upload (.xlsx with drop-downs for the
    enum fields and a notes sheet, or .csv), headers in the request's language."""
    spec = require_write(layer)
    if fmt not in _TEMPLATE_TYPES or spec not in _import_layers() or not spec.spatial:
        raise NotFound("not_found")
    lang = current_lang()
    if fmt == "xlsx":
        texts = {key: translate(f"uploads.template.{key}") for key in _TEMPLATE_TEXTS}
        data = template_xlsx(spec, lang, texts, _suggested(spec))
    else:
        data = template_csv(spec, lang)
    name = f"{spec.name}-template.{fmt}"
    label = f"{spec.label_in(lang)}-{translate('uploads.template.name')}.{fmt}"
    disposition = f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(label)}"
    return Response(
        data, mimetype=_TEMPLATE_TYPES[fmt], headers={"Content-Disposition": disposition}
    )


def _suggested(spec: LayerSpec) -> dict[str, tuple[str, ...]]:
    """Values a template offers beyond enum fields: the townships for ``township``."""
    fspec = spec.field("township")
    if fspec is None or fspec.type != "string":
        return {}
    names = townships(get_store()).names.values()
    return {"township": tuple(sorted({n for n in names if n}))}


@bp.get("/<upload_id>")
@require_role("viewer")
def detail(upload_id: str) -> str:
    """One upload's record with its problems."""
    meta = UploadLog(get_store().files).get(upload_id)
    user = current_user()
    return render_template(
        "upload_detail.html",
        u=meta,
        spec=get_store().specs.get(meta.get("layer", "")),
        can_undo=bool(user and user.can("planner")),
        messages=get_flashed_messages(),
    )


@bp.get("/<upload_id>/undo")
@require_role("planner")
def undo_confirm(upload_id: str) -> tuple[str, int]:
    """What an undo would delete (how many features), with the button that does it."""
    return _confirm(upload_id, "undo")


@bp.post("/<upload_id>/undo")
@require_role("planner")
def undo(upload_id: str) -> Response:
    """Soft-delete what the upload added (history kept); back to the list."""
    require_write(str(UploadLog(get_store().files).get(upload_id).get("layer", "")))
    meta = undo_upload(get_store(), upload_id, user=user_name())
    flash(translate("uploads.undone", id=upload_id, count=meta.get("removed", 0)))
    return redirect(url_for("uploads_pages.index"))


@bp.get("/<upload_id>/redo")
@require_role("planner")
def redo_confirm(upload_id: str) -> tuple[str, int]:
    """What a redo of an undone upload would bring back, with the button that does it."""
    return _confirm(upload_id, "redo")


@bp.post("/<upload_id>/redo")
@require_role("planner")
def redo(upload_id: str) -> Response:
    """Restore what the undo of the upload deleted (history kept); back to the list."""
    require_write(str(UploadLog(get_store().files).get(upload_id).get("layer", "")))
    meta = redo_upload(get_store(), upload_id, user=user_name())
    flash(translate("uploads.redone", id=upload_id, count=meta.get("restored", 0)))
    return redirect(url_for("uploads_pages.index"))


def _confirm(upload_id: str, action: str) -> tuple[str, int]:
    """The confirmation page of an undo or a redo; 409 when the upload's state does not
    allow it (already undone, or not undone), saying so."""
    store = get_store()
    meta = UploadLog(store.files).get(upload_id)
    require_write(str(meta.get("layer", "")))
    if action == "undo":
        allowed, count = meta.get("status") == "committed", undo_count(store, meta)
    else:
        allowed, count = meta.get("status") == "undone", len(redo_ids(store, meta))
    page = render_template(
        "upload_confirm.html",
        u=meta,
        action=action,
        allowed=allowed,
        count=count,
        spec=store.specs.get(meta.get("layer", "")),
    )
    return page, 200 if allowed else 409
