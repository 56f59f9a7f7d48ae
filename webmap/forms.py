"""Form helpers shared by the capture page, the upload pages and the uploads API.

Upload options from form fields, the size cap, the control each field gets, the choices of
a reference field and the small map's setup. Views import these from here, never from
another view.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from flask import current_app

from layers.errors import BadRequest
from layers.specs import FieldSpec, LayerSpec
from layers.uploads import UploadOptions, working_area
from webmap.extensions import get_settings, get_store
from webmap.maps import basemap_tiles

#: Choices offered for a reference field (a village, a ledger item) at most.
MAX_REF_CHOICES = 2000
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _pairs(text: str | None, name: str) -> dict[str, Any]:
    """``a=1;b=2`` or a JSON object -> dict."""
    if not text:
        return {}
    text = text.strip()
    if text.startswith("{"):
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise BadRequest("bad_upload_option", field=name, value=text[:80]) from exc
        if not isinstance(value, dict):
            raise BadRequest("bad_upload_option", field=name, value=text[:80])
        return {str(k): v for k, v in value.items()}
    pairs = {}
    for item in text.split(";"):
        if "=" in item:
            key, value = item.split("=", 1)
            pairs[key.strip()] = value.strip()
    return pairs


def _flag(form: Mapping[str, Any], name: str) -> bool | None:
    """A yes/no form field; None when absent or ``auto``."""
    raw = str(form.get(name) or "").strip().lower()
    if raw in ("", "auto"):
        return None
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise BadRequest("bad_upload_option", field=name, value=raw[:40])


def options_from_form(form: Mapping[str, Any], **overrides: Any) -> UploadOptions:
    """Upload options from form fields (shared with the upload pages)."""
    layer = (form.get("layer") or "").strip()
    if not layer:
        raise BadRequest("bad_upload_option", field="layer", value="")
    try:
        margin = float(form.get("margin_m") or current_app.config["AREA_MARGIN_M"])
    except ValueError as exc:
        raise BadRequest("bad_upload_option", field="margin_m", value=form.get("margin_m")) from exc
    options = UploadOptions(
        layer=layer,
        crs=(form.get("crs") or "auto").strip(),
        dry_run=bool(_flag(form, "dry_run")),
        defaults=_pairs(form.get("defaults"), "defaults"),
        column_map=_pairs(form.get("column_map"), "column_map"),
        on_duplicate=(form.get("duplicates") or "skip").strip(),
        margin_m=margin,
        encoding=(form.get("encoding") or "").strip() or None,
        swap_xy=_flag(form, "swap_xy"),
        skip_rejected=bool(_flag(form, "skip_rejected")),
    )
    for key, value in overrides.items():
        setattr(options, key, value)
    return options


def max_upload_bytes() -> int:
    """The size cap of one upload (``VILLAGEWORKS_MAX_UPLOAD_MB``), as the CLI has it."""
    return get_settings().max_upload_bytes


def ref_choices(spec: LayerSpec) -> dict[str, list[tuple[str, str]]]:
    """For each reference field: (id, title) of the features it may point to."""
    store = get_store()
    choices: dict[str, list[tuple[str, str]]] = {}
    for fspec in spec.fields:
        if fspec.type != "ref" or not fspec.ref_layer or fspec.ref_layer not in store.specs:
            continue
        target = store.spec(fspec.ref_layer)
        title = target.title_field or ("name" if target.field("name") else None)
        feats = store.features(fspec.ref_layer)[:MAX_REF_CHOICES]
        found = [
            (f["id"], str((f.get("properties") or {}).get(title) or "") if title else "")
            for f in feats
        ]
        choices[fspec.name] = sorted(found, key=lambda c: (c[1] == "", c[1], c[0]))  # by name
    return choices


def map_setup(lang: str) -> dict[str, Any]:
    """Basemap tiles, county outline and bounds (WGS84) for a small Leaflet map.

    ``gcj02`` is true with Gaode tiles: what is drawn must then be shifted to GCJ-02.
    """
    area = working_area(get_store())
    basemap = current_app.config.get("DEFAULT_BASEMAP", "none")
    tiles = basemap_tiles(basemap, lang, current_app.config.get("TIANDITU_KEY", ""))
    outline = None
    if area is not None:
        outline = orjson.loads(orjson.dumps(area.simplify(0.001).__geo_interface__))
    return {
        "bounds": list(area.bounds) if area is not None else [73.0, 18.0, 135.5, 53.6],
        "outline": outline,
        "gcj02": basemap == "amap" and bool(tiles),
        "tiles": [
            {
                "url": t.url,
                "attribution": t.attribution,
                "subdomains": t.subdomains,
                "maxZoom": t.max_zoom,
            }
            for t in tiles
        ],
    }


def input_kind(fspec: FieldSpec) -> str:
    """Which form control a field gets (see ``_capture_field.html``)."""
    if fspec.type == "enum":
        return "datalist" if fspec.extensible else "select"
    return {
        "integer": "number",
        "number": "number",
        "date": "date",
        "boolean": "boolean",
        "text": "textarea",
        "ref": "ref",
    }.get(fspec.type, "text")
