"""Blank upload templates of a layer: an .xlsx workbook and a CSV file.

The headers are the ones the upload reads back: the coordinate columns (``经度``/``纬度``
or ``lon``/``lat`` for a point layer, ``WKT`` otherwise) and each field's label in the
chosen language, which :func:`layers.uploads.map_columns` matches to the field. In the
workbook an enum field gets a drop-down of its value labels (an Excel list validation
over a column of the ``values`` sheet, so labels may hold commas), and a notes sheet says
what each column takes. No example row: a filled-in row left in the template would land
as a feature.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from layers.specs import FieldSpec, LayerSpec
from layers.tabular import csv_bytes

if TYPE_CHECKING:
    from openpyxl import Workbook
    from openpyxl.worksheet.worksheet import Worksheet

#: Rows of the data sheet that carry the drop-downs.
TEMPLATE_ROWS = 5000
#: Header texts of the coordinate columns, by language.
_POINT_HEADERS = {"zh": ("经度", "纬度"), "en": ("lon", "lat")}
#: The drop-down of a yes/no field, in words the upload reads back (layers.specs._TRUE).
_BOOLEAN_CHOICES = {"zh": ("是", "否"), "en": ("yes", "no")}


@dataclass(frozen=True)
class Column:
    """One column of a template: its header, the field it feeds and its allowed values."""

    header: str
    field: FieldSpec | None
    choices: tuple[str, ...] = ()


def template_columns(
    spec: LayerSpec, lang: str, suggested: Mapping[str, tuple[str, ...]] | None = None
) -> list[Column]:
    """The columns of ``spec``'s template in ``lang``: coordinates first, then fields.

    ``suggested`` offers values for other fields by name (the county's townships for a
    text field ``township``): a drop-down that does not refuse other text.

    Computed fields are left out (the store fills them).
    """
    if "Point" in spec.geometry:
        coordinates = [Column(h, None) for h in _POINT_HEADERS.get(lang, _POINT_HEADERS["zh"])]
    elif spec.geometry:
        coordinates = [Column("WKT", None)]
    else:
        coordinates = []
    offered = suggested or {}
    fields = [
        Column(f.label_in(lang), f, _choices(f, lang) or tuple(offered.get(f.name, ())))
        for f in spec.fields
        if not f.computed
    ]
    return coordinates + fields


def _choices(fspec: FieldSpec, lang: str) -> tuple[str, ...]:
    """The values a column's drop-down offers: an enum's labels, yes/no; else none."""
    if fspec.type == "boolean":
        return _BOOLEAN_CHOICES.get(lang, _BOOLEAN_CHOICES["zh"])
    return tuple(fspec.value_label(v, lang) for v in fspec.values)


def template_csv(spec: LayerSpec, lang: str) -> bytes:
    """The CSV template of ``spec``: its header row, UTF-8 with a BOM for Excel."""
    return csv_bytes([c.header for c in template_columns(spec, lang)], [])


def template_xlsx(
    spec: LayerSpec,
    lang: str,
    texts: Mapping[str, str],
    suggested: Mapping[str, tuple[str, ...]] | None = None,
) -> bytes:
    """The .xlsx template of ``spec`` in ``lang`` (``suggested``: as
    :func:`template_columns` takes it).

    ``texts`` are the words of the notes sheet in ``lang`` (keys ``data``, ``notes``,
    ``values``, ``column``, ``type``, ``required``, ``allowed``, ``yes``, ``coordinate``,
    ``type.<field type>``); missing keys fall back to the key itself.
    """
    from openpyxl import Workbook  # imported on use: slow to import
    from openpyxl.styles import Font

    columns = template_columns(spec, lang, suggested)
    book = Workbook()
    data: Worksheet = book.active
    data.title = texts.get("data", "data")
    data.append([c.header for c in columns])
    data.freeze_panes = "A2"
    bold = Font(bold=True)
    for i, column in enumerate(columns, start=1):
        data.cell(row=1, column=i).font = bold
        data.column_dimensions[_letter(i)].width = max(12, len(column.header) * 2 + 2)
    _notes_sheet(book, columns, texts)
    _drop_downs(book, data, columns, texts)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def _letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return str(get_column_letter(index))


def _notes_sheet(book: Workbook, columns: list[Column], texts: Mapping[str, str]) -> None:
    """A sheet with one line per column: header, type, required, allowed values."""
    notes = book.create_sheet(texts.get("notes", "notes"))
    keys = ("column", "type", "required", "allowed")
    notes.append([texts.get(k, k) for k in keys])
    for column in columns:
        fspec = column.field
        if fspec is None:
            notes.append([column.header, texts.get("coordinate", "coordinate"), texts.get("yes")])
            continue
        unit = f" ({fspec.unit})" if fspec.unit else ""
        kind = texts.get(f"type.{fspec.type}", fspec.type) + unit
        required = texts.get("yes", "yes") if fspec.required else ""
        notes.append([column.header, kind, required, " / ".join(column.choices)])
    for letter, width in zip("ABCD", (18, 18, 8, 60), strict=True):
        notes.column_dimensions[letter].width = width


def _drop_downs(
    book: Workbook, data: Worksheet, columns: list[Column], texts: Mapping[str, str]
) -> None:
    """An Excel list validation on each column with choices: the values written in the
    rule (``"太阳能,市电"``) when they fit Excel's 255 characters and hold no comma or
    quote, else a range of a hidden ``values`` sheet."""
    from openpyxl.worksheet.datavalidation import DataValidation

    lists: Worksheet | None = None
    for i, column in enumerate(columns, start=1):
        if not column.choices:
            continue
        source = _inline_list(column.choices)
        if source is None:
            if lists is None:
                lists = book.create_sheet(texts.get("values", "values"))
                lists.sheet_state = "hidden"
            source = _listed(lists, column)
        check = DataValidation(type="list", formula1=source, allow_blank=True)
        check.error = " / ".join(column.choices)[:255]
        fspec = column.field
        strict = fspec is not None and fspec.type in ("enum", "boolean") and not fspec.extensible
        check.showErrorMessage = strict  # suggested values (townships) allow other text
        target = _letter(i)
        check.add(f"{target}2:{target}{TEMPLATE_ROWS}")
        data.add_data_validation(check)


def _inline_list(choices: tuple[str, ...]) -> str | None:
    """The list rule ``"a,b,c"``, or None when Excel cannot hold the choices so."""
    text = ",".join(choices)
    if len(text) > 250 or any("," in c or '"' in c for c in choices):
        return None
    return f'"{text}"'


def _listed(lists: Worksheet, column: Column) -> str:
    """Write ``column``'s choices into the next column of ``lists``; the range of them."""
    n = lists.max_column + 1 if lists.max_row > 1 or lists["A1"].value else 1
    lists.cell(row=1, column=n, value=column.header)
    for r, choice in enumerate(column.choices, start=2):
        lists.cell(row=r, column=n, value=choice)
    letter = _letter(n)
    title = lists.title.replace("'", "''")
    return f"'{title}'!${letter}$2:${letter}${len(column.choices) + 1}"
