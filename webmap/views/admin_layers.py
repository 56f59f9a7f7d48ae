"""The county's own layers for administrators: ``GET /admin/layers`` lists the declared
layers (built-in and the county's ``specs/*.toml``); ``POST /admin/layers`` (a form upload
of one ``.toml``, admin only, CSRF-checked like every form) declares a layer, or fields of
one, at run time.

The file is checked whole with the registry's own checks before anything is written
(``layers.spec_files.add_spec_file``); a bad one gets 400 naming the file and the key.
A declaration is one of the site's files, so with a database every server serves the new
layer from its next request on: before each request the store's specs are reloaded when
they moved (``layers.spec_files.refresh_specs``: on a database a non-blocking look at the
process's LISTEN connection, no round trip; in a data directory one listing of
``specs/``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for

from geo.messages import register
from layers.errors import BadRequest, VillageWorksError
from layers.spec_files import add_spec_file, refresh_specs, spec_paths
from layers.specs import SpecError
from webmap.auth import require_role
from webmap.extensions import STORE, get_store
from webmap.i18n import current_lang, translate

bp = Blueprint("admin_layers", __name__, url_prefix="/admin/layers")
register(
    "admin_layers_no_file",
    "请选择一个图层定义文件（.toml）",
    "Choose a layer declaration file (.toml)",
)


@bp.before_app_request
def _fresh_specs() -> None:
    """Take up a layer another server (or the CLI) declared since the last request: in
    this thread, before the request, so a notification already received is never left
    for later."""
    from flask import current_app

    store = current_app.extensions.get(STORE)
    if store is not None:
        refresh_specs(store)


def _page(status: int = 200, **extra: Any) -> tuple[str, int]:
    store = get_store()
    county = {path.split("/", 1)[1] for path in spec_paths(store.files)}
    rows = []
    for spec in store.specs:
        source = spec.source_file.rsplit("/", 1)[-1] if spec.source_file else ""
        rows.append((spec, source if source in county else ""))
    page = render_template("admin_layers.html", rows=rows, files=sorted(county), **extra)
    return page, status


@bp.get("")
@require_role("admin")
def index() -> tuple[str, int]:
    """Every declared layer: name, label, kind, geometry, fields, and the county's file."""
    return _page()


def _upload() -> tuple[str, bytes]:
    """The uploaded declaration's file name and bytes (the form field ``file``, or the
    one file sent)."""
    upload = request.files.get("file") or next(iter(request.files.values()), None)
    if upload is None or not upload.filename:
        raise BadRequest("admin_layers_no_file")
    name = upload.filename.replace("\\", "/").rsplit("/", 1)[-1]
    return name, upload.read()


@bp.post("")
@require_role("admin")
def add() -> Any:
    """Declare a layer from an uploaded ``.toml``; back to the list on success."""
    lang = current_lang()
    name = ""
    try:
        name, body = _upload()
        spec = add_spec_file(get_store().files, name, body)
    except SpecError as exc:
        message = translate("admin_layers.invalid", file=name, detail=str(exc))
        return _page(400, error=message)
    except VillageWorksError as exc:
        return _page(exc.status, error=exc.user_message(lang))
    refresh_specs(get_store())
    done = translate("admin_layers.added", name=spec.name, label=spec.label_in(lang))
    return redirect(url_for("admin_layers.index", done=done))
