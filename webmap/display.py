"""Values as pages show them: field values, a feature's table, its title and history.

The one formatting of a value for a page, used by the feature pages, the map's popups and
work lists, and the OGC API's HTML. It is :func:`layers.exports.display_value` (which the
exports use in its plain style) in a localised style: ``1,234 households``,
``2024年3月5日``, ``是``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from layers.exports import ValueStyle
from layers.exports import display_value as value_text
from layers.review import (
    REVIEW_COMMENT_FIELD,
    REVIEW_FIELD,
    REVIEW_OVERRIDE_FIELD,
    review_label,
    review_of,
)
from layers.specs import LayerSpec
from webmap.i18n import format_date, format_number, translate


def unit_label(unit: str, lang: str) -> str:
    """A unit as the language writes it (``户`` reads "households" in English)."""
    if not unit:
        return ""
    text = translate(f"maps.unit.{unit}", lang)
    return unit if text == f"maps.unit.{unit}" else text


def plain_value(value: Any) -> Any:
    """``value`` as a JSON-ready Python value; NaN, NaT and missing become None."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, float | np.floating):
        if not np.isfinite(value):
            return None
        number = float(value)
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _page_number(value: float, unit: str, lang: str) -> str:
    text = format_number(value, lang, 0 if float(value).is_integer() else 2)
    return f"{text} {unit_label(unit, lang)}".strip()


def _page_yes_no(value: bool, lang: str) -> str:
    return translate("maps.yes" if value else "maps.no", lang)


#: Values as pages show them: localised dates and numbers, units in the page's language.
PAGE_VALUES = ValueStyle(yes_no=_page_yes_no, date=format_date, number=_page_number)


def display_value(spec: LayerSpec, name: str, value: Any, lang: str) -> str:
    """One property as a user reads it on a page (feature pages, the OGC API's HTML):
    enum label, formatted number with unit, date; :func:`layers.exports.display_value`
    in the page style."""
    return value_text(spec.field(name), plain_value(value), lang, PAGE_VALUES)


@dataclass(frozen=True)
class FieldRow:
    """One row of a feature's table: label, shown value, and the page it refers to."""

    name: str
    label: str
    value: str
    ref_layer: str | None = None
    ref_id: str | None = None


def field_rows(
    spec: LayerSpec,
    properties: Mapping[str, Any],
    lang: str,
    titles: Mapping[str, Mapping[str, str]],
    layer_labels: Mapping[str, str] | None = None,
) -> list[FieldRow]:
    """Every declared field of a feature, in declaration order, for its detail page.

    ``titles`` gives the name of referenced features (layer -> id -> title);
    ``layer_labels`` the label of each layer, for a ledger item's ``category``.
    """
    rows = []
    for fspec in spec.fields:
        raw = properties.get(fspec.name)
        text = display_value(spec, fspec.name, raw, lang)
        if fspec.name == "category" and str(raw) in (layer_labels or {}):
            text = (layer_labels or {})[str(raw)]
        ref_layer = ref_id = None
        if fspec.type == "ref" and raw not in (None, ""):
            ref_layer, ref_id = fspec.ref_layer, str(raw)
            title = titles.get(ref_layer or "", {}).get(ref_id)
            text = f"{title} ({ref_id})" if title else ref_id
        rows.append(FieldRow(fspec.name, fspec.label_in(lang), text, ref_layer, ref_id))
    return rows


def feature_title(spec: LayerSpec, feature: Mapping[str, Any], lang: str) -> str:
    """What a feature is called: its title field (or ``name``), else its layer and id."""
    props = feature.get("properties") or {}
    field_name = spec.title_field or ("name" if spec.field("name") else None)
    if field_name and props.get(field_name):
        return str(props[field_name])
    return f"{spec.label_in(lang)} {feature.get('id', '')}".strip()


def ref_titles(
    frames: Mapping[str, pd.DataFrame], specs: Iterable[LayerSpec]
) -> dict[str, dict[str, str]]:
    """Names of every feature other features refer to: layer -> id -> title."""
    specs = list(specs)
    wanted = {f.ref_layer for s in specs for f in s.fields if f.type == "ref" and f.ref_layer}
    by_name = {s.name: s for s in specs}
    out: dict[str, dict[str, str]] = {}
    for layer in sorted(wanted):
        frame, spec = frames.get(layer), by_name.get(layer)
        if frame is None or spec is None or len(frame) == 0:
            continue
        title = spec.title_field or ("name" if "name" in frame.columns else None)
        if title is None or title not in frame.columns:
            continue
        names = frame[title].astype(object).where(frame[title].notna(), "")
        out[layer] = {str(i): str(n) for i, n in zip(frame["id"], names, strict=True) if n}
    return out


@dataclass(frozen=True)
class HistoryRow:
    """One change of a feature: when, who, what kind, through what, and what changed."""

    seq: int
    op: str
    at: str
    by: str
    source: str
    changes: tuple[tuple[str, str, str], ...]


def history_rows(
    history: Sequence[Mapping[str, Any]],
    spec: LayerSpec,
    lang: str,
    current: Mapping[str, Any] | None = None,
) -> list[HistoryRow]:
    """A feature's history, newest first, each change with the fields it changed.

    A feature that came with the data directory (seeded, imported before the journal) has
    no recorded creation: its ``created_*`` properties (from ``current``) stand for it, and
    the first recorded change cannot say what it changed.
    """
    entries = list(history)
    props_now = current or {}
    if entries and entries[0].get("op") != "create" and props_now.get("created_at"):
        created = {
            "seq": 0,
            "op": "create",
            "at": props_now.get("created_at"),
            "by": props_now.get("created_by"),
            "source": props_now.get("source"),
            "feature": None,
        }
        entries.insert(0, created)
    rows = []
    before: Mapping[str, Any] | None = None
    for entry in entries:
        body = entry.get("feature") or {}
        props = body.get("properties") or {}
        changes = []
        if before is not None and entry.get("op") not in ("create", "delete"):
            for fspec in spec.fields:
                old, new = before.get(fspec.name), props.get(fspec.name)
                if old != new:
                    changes.append(
                        (
                            fspec.label_in(lang),
                            display_value(spec, fspec.name, old, lang),
                            display_value(spec, fspec.name, new, lang),
                        )
                    )
        if spec.kind == "work":
            changes += _review_changes(before, props, lang)
        rows.append(
            HistoryRow(
                int(entry.get("seq") or 0),
                translate(f"maps.op.{entry.get('op')}", lang),
                format_datetime(entry.get("at"), lang),
                str(entry.get("by") or ""),
                str(entry.get("source") or ""),
                tuple(changes),
            )
        )
        before = props if entry.get("feature") else None
    return rows[::-1]


def _review_changes(
    before: Mapping[str, Any] | None, props: Mapping[str, Any], lang: str
) -> list[tuple[str, str, str]]:
    """The review decision an entry recorded (state, comment, override reason), for the
    history table: (label, before, after); nothing when the review did not change."""
    if not props or (before is not None and all(
        before.get(k) == props.get(k)
        for k in (REVIEW_FIELD, REVIEW_COMMENT_FIELD, REVIEW_OVERRIDE_FIELD)
    )):  # fmt: skip
        return []
    old = review_label(review_of(before), lang) if before is not None else ""
    out = [(translate("review.state_label", lang), old, review_label(review_of(props), lang))]
    for key, label in ((REVIEW_COMMENT_FIELD, "review.comment_label"),
                       (REVIEW_OVERRIDE_FIELD, "review.override_label")):  # fmt: skip
        if props.get(key) and (before is None or before.get(key) != props.get(key)):
            out.append((translate(label, lang), "", str(props[key])))
    return out if before is not None or REVIEW_FIELD in props else []


def format_datetime(value: Any, lang: str) -> str:
    """An ISO timestamp as date and minutes (UTC as stored), e.g. ``2024年5月1日 08:30``."""
    if not value:
        return ""
    text = str(value)
    day = format_date(text[:10], lang)
    return f"{day} {text[11:16]}".strip() if len(text) >= 16 else day
