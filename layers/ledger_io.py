"""The ledger (台账) as the spreadsheets county offices exchange: xlsx and CSV, both ways.

Export (:func:`ledger_xlsx`): a title row, a header row in Chinese (or English), one row
per item grouped by township in boundary order, a subtotal row ("小计") after each
township and a total row ("合计") at the end. Progress columns (done, %, plan %,
warnings) are computed by :func:`layers.ledger.ledger_progress` and never read back.
:func:`ledger_csv` writes the item rows alone (UTF-8 with a BOM, for Excel).

Import (:func:`plan_import`, then :func:`apply_import`): the same layout, headers in
either language, from xlsx or CSV. Every row is validated first and every problem is
reported with its sheet row, column, value and a message in the user's language; a row
with an ``编号`` (id) updates that item, a row without one creates an item. Nothing is
written unless every row is good, and then all rows are written in one commit.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from geo.messages import register
from geo.problems import InputError, Problem, short_value
from geo.safety import safe_unzip
from layers.analyses import layer_frame
from layers.errors import ValidationFailed
from layers.ledger import ItemProgress, item_plan_year
from layers.specs import SpecRegistry, validate_properties
from layers.store_base import BaseStore, Change, CommitResult
from layers.tabular import Row, Sheet, Style, csv_bytes, xlsx_bytes

for _code, _zh, _en in (
    (
        "ledger_bad_file",
        "无法读取文件（应为 .xlsx 或 .csv）：{value}",
        "Cannot read the file (expected .xlsx or .csv): {value}",
    ),
    (
        "ledger_missing_column",
        "表头中找不到“{value}”列",
        "The header row has no '{value}' column",
    ),
    ("ledger_empty_file", "文件中没有台账事项", "The file holds no ledger items"),
    (
        "ledger_too_many_rows",
        "文件超过 {limit} 行，请分批导入",
        "The file has more than {limit} rows; import it in parts",
    ),
    (
        "ledger_unknown_id",
        "第 {row} 行：编号 {value} 不是现有的台账事项（新增事项请留空编号）",
        "Row {row}: {value} is not an existing ledger item (leave the id blank for a new one)",
    ),
    (
        "ledger_duplicate_id",
        "第 {row} 行：编号 {value} 在文件中出现了不止一次",
        "Row {row}: the id {value} appears more than once in the file",
    ),
    (
        "ledger_needs_entries",
        "第 {row} 行：类别“{value}”不是图层，进度只能按填报计算（计量方式应为“进度填报”）",
        "Row {row}: category '{value}' is not a layer, so progress can only come from "
        "entries (measured as 'Progress entries')",
    ),
):
    register(_code, _zh, _en)

MAX_ROWS = 5000
MAX_UNZIPPED = 50 * 1024 * 1024
SUBTOTAL = ("小计", "Subtotal")
TOTAL = ("合计", "Total")
#: Labels of categories that are not layers (items with progress entries).
CATEGORY_LABELS: Mapping[str, tuple[str, str]] = {
    "other": ("其他", "Other"),
    "training": ("培训", "Training"),
    "job_fair": ("招聘会", "Job fair"),
}
_FLAG_LABELS = {
    "overdue": ("逾期", "Overdue"),
    "stalled": ("停滞", "Stalled"),
    "behind": ("滞后", "Behind plan"),
}
_HEAD = Style(bold=True, fill="DDE3E8")
_SUB = Style(bold=True, fill="F3F0E0")
_TITLE = Style(bold=True, size=16, centered=True)


@dataclass(frozen=True)
class Column:
    """A column of the ledger sheet; ``field`` is the ledger field it imports into."""

    key: str
    zh: str
    en: str
    field: str | None
    width: int

    def label(self, lang: str) -> str:
        """The header in ``lang``."""
        return self.en if lang == "en" else self.zh


COLUMNS: tuple[Column, ...] = (
    Column("seq", "序号", "No.", None, 6),
    Column("title", "事项", "Item", "title", 36),
    Column("category", "类别", "Category", "category", 12),
    Column("township", "乡镇", "Township", "township", 12),
    Column("village", "村", "Village", "village", 12),
    Column("target", "目标数量", "Target", "target", 10),
    Column("unit", "单位", "Unit", "unit", 8),
    Column("actual", "完成数量", "Done", None, 10),
    Column("pct", "完成率（%）", "Done (%)", None, 10),
    Column("awaiting", "待验收", "Awaiting review", None, 10),
    Column("plan_pct", "计划进度（%）", "Plan (%)", None, 10),
    Column("responsible_unit", "责任单位", "Responsible unit", "responsible_unit", 22),
    Column("start_date", "开始日期", "Start", "start_date", 12),
    Column("deadline", "完成时限", "Deadline", "deadline", 12),
    Column("status", "状态", "Status", "status", 10),
    Column("flags", "预警", "Warnings", None, 14),
    Column("notes", "备注", "Notes", "notes", 30),
    Column("measure", "计量方式", "Measured as", "measure", 12),
    Column("species", "树种", "Species", "species", 10),
    Column("plan_year", "计划年度", "Plan year", "plan_year", 8),
    Column("id", "编号", "ID", "id", 12),
)
_BY_KEY = {c.key: c for c in COLUMNS}


# ------------------------------------------------------------------------------ labels


def category_label(specs: SpecRegistry, category: str, lang: str) -> str:
    """How a category reads: its layer's label, a known label, or the text itself."""
    spec = specs.get(category)
    if spec is not None and spec.kind != "ledger":
        return spec.label_in(lang)
    labels = CATEGORY_LABELS.get(category)
    return (labels[1] if lang == "en" else labels[0]) if labels else category


def category_code(specs: SpecRegistry, text: str) -> str:
    """The category a cell means: a layer name or label, a known label, or the text."""
    wanted = text.strip()
    lowered = wanted.lower()
    for spec in specs:
        if spec.kind == "ledger":
            continue
        if lowered in (spec.name.lower(), *(v.lower() for v in spec.label.values())):
            return spec.name
    for code, labels in CATEGORY_LABELS.items():
        if lowered in (code, *(v.lower() for v in labels)):
            return code
    return wanted


def _species_label(specs: SpecRegistry, code: str, lang: str) -> str:
    plantings = specs.get("plantings")
    fspec = plantings.field("species") if plantings is not None else None
    return fspec.value_label(code, lang) if fspec is not None and code else code


def _species_code(specs: SpecRegistry, text: str) -> str:
    plantings = specs.get("plantings")
    fspec = plantings.field("species") if plantings is not None else None
    if fspec is None:
        return text
    lowered = text.strip().lower()
    for code in fspec.values:
        labels = fspec.value_labels.get(code, {})
        if lowered in (code.lower(), *(v.lower() for v in labels.values())):
            return code
    return text.strip()


def flags_text(item: ItemProgress, lang: str) -> str:
    """The item's warnings in words ("逾期、滞后")."""
    index = 1 if lang == "en" else 0
    raised = [k for k in _FLAG_LABELS if getattr(item, k)]
    return ("; " if lang == "en" else "、").join(_FLAG_LABELS[k][index] for k in raised)


# ------------------------------------------------------------------------------ groups


@dataclass(frozen=True)
class Group:
    """The items of one township (``township`` "" for county-level items) and their sums."""

    township: str
    items: tuple[ItemProgress, ...]

    @property
    def unit(self) -> str | None:
        """The unit all items share, or None when they differ (sums would mean nothing)."""
        units = {i.unit for i in self.items}
        return units.pop() if len(units) == 1 else None

    @property
    def target(self) -> float | None:
        """Sum of targets when the units agree."""
        return sum(i.target for i in self.items) if self.unit is not None else None

    @property
    def actual(self) -> float | None:
        """Sum of what was done when the units agree."""
        return round(sum(i.actual for i in self.items), 2) if self.unit is not None else None

    @property
    def pct(self) -> float | None:
        """Completion: capped sum over target when units agree, else the mean item %."""
        counted = [i for i in self.items if i.target]
        if not counted:
            return None
        if self.unit is not None:
            capped = sum(min(i.actual, i.target) for i in counted)
            return round(100.0 * capped / sum(i.target for i in counted), 1)
        return round(sum(min(100.0, i.pct or 0.0) for i in counted) / len(counted), 1)

    @property
    def done(self) -> int:
        """Items finished."""
        return sum(i.finished for i in self.items)

    @property
    def overdue(self) -> int:
        """Items overdue."""
        return sum(i.overdue for i in self.items)

    @property
    def behind(self) -> int:
        """Items behind plan (overdue ones included)."""
        return sum(i.behind for i in self.items)

    @property
    def awaiting(self) -> int:
        """Linked works awaiting review."""
        return sum(i.awaiting for i in self.items)


def township_order(store: BaseStore) -> list[str]:
    """Township names in the order of their boundary codes."""
    frame = layer_frame(store, "boundaries", None)
    if len(frame) == 0 or "level" not in frame.columns:
        return []
    townships = frame[(frame["level"].astype(str) == "township").to_numpy()]
    ordered = townships.sort_values(["code", "name"], na_position="last")
    return [str(n) for n in ordered["name"] if n]


def group_items(items: Iterable[ItemProgress], order: Sequence[str]) -> list[Group]:
    """Items grouped by township: known townships in ``order``, others by name, then
    county-level items (no township)."""
    by_township: dict[str, list[ItemProgress]] = {}
    for item in items:
        by_township.setdefault(item.township, []).append(item)
    rank = {name: i for i, name in enumerate(order)}
    names = sorted(by_township, key=lambda n: (n == "", rank.get(n, len(rank)), n))
    return [Group(n, tuple(by_township[n])) for n in names]


# ------------------------------------------------------------------------------ export


def _cell_value(item: ItemProgress, key: str, specs: SpecRegistry, lang: str) -> Any:
    """The value of column ``key`` for one item, as the sheet shows it."""
    ledger = specs["ledger"]
    if key == "category":
        return category_label(specs, item.category, lang)
    if key in ("status", "measure"):
        fspec = ledger.field(key)
        return fspec.value_label(getattr(item, key), lang) if fspec else getattr(item, key)
    if key == "species":
        return _species_label(specs, item.species, lang) or None
    if key in ("start_date", "deadline"):
        value = getattr(item, key)
        try:
            return dt.date.fromisoformat(str(value)[:10]) if value else None
        except ValueError:
            return str(value)
    if key == "flags":
        return flags_text(item, lang) or None
    if key in ("pct", "plan_pct"):
        return getattr(item, key)
    value = getattr(item, key)
    return None if value == "" else value


def item_row(item: ItemProgress, seq: int, specs: SpecRegistry, lang: str) -> list[Any]:
    """One item's cells, in :data:`COLUMNS` order."""
    return [seq if c.key == "seq" else _cell_value(item, c.key, specs, lang) for c in COLUMNS]


def _group_row(group: Group, kind: tuple[str, str], lang: str, name: str) -> list[Any]:
    index = 1 if lang == "en" else 0
    n = len(group.items)
    values: dict[str, Any] = {
        "seq": kind[index],
        "title": f"{name} ({n} items)" if lang == "en" else f"{name}（{n}项）",
        "target": group.target,
        "unit": group.unit,
        "actual": group.actual,
        "pct": group.pct,
        "awaiting": group.awaiting,
        "status": f"{group.done}/{n} done" if lang == "en" else f"已完成{group.done}/{n}项",
        "flags": (
            f"overdue {group.overdue}, behind {group.behind}"
            if lang == "en"
            else f"逾期{group.overdue}项，滞后{group.behind}项"
        ),
    }
    return [values.get(c.key) for c in COLUMNS]


def county_name(store: BaseStore) -> str:
    """The county's name from its boundary, "" when unknown."""
    frame = layer_frame(store, "boundaries", None)
    if len(frame) == 0 or "level" not in frame.columns:
        return ""
    names = frame[(frame["level"].astype(str) == "county").to_numpy()]["name"]
    return str(names.iloc[0]) if len(names) else ""


def township_name(township: str, lang: str) -> str:
    """A township's name; county-level items are "县级事项"."""
    return township or ("County level" if lang == "en" else "县级事项")


def ledger_xlsx(
    store: BaseStore,
    items: Sequence[ItemProgress],
    *,
    as_of: dt.date,
    lang: str = "zh",
    year: int | None = None,
) -> bytes:
    """The ledger as an Excel workbook in the county offices' layout.

    Row 1 the title (with the plan ``year`` when given: "2021年为民办实事台账"), row 2 the
    "as of" date, row 3 the headers (:data:`COLUMNS`), then one
    row per item, grouped by township with a "小计" row after each and "合计" at the end.
    Written by :func:`layers.tabular.xlsx_bytes`: text cells are never formulas.
    """
    county = county_name(store)
    if lang == "en":
        title = f"{county} ledger of works" + (f", {year}" if year else "")
    else:
        title = f"{county}{f'{year}年' if year else ''}为民办实事台账"
    stamp = f"As of {as_of.isoformat()}" if lang == "en" else f"截至{as_of.isoformat()}"
    sheet = Sheet(
        "台账" if lang != "en" else "Ledger",
        [
            Row([title], _TITLE),
            [stamp],
            Row([c.label(lang) for c in COLUMNS], _HEAD),
            *_sheet_rows(store, items, lang, county),
        ],
        widths=[c.width for c in COLUMNS],
        freeze="C4",
        merges=[f"A1:{get_column_letter(len(COLUMNS))}1"],
        number_formats={i: "0.0" for i, c in enumerate(COLUMNS) if c.key in ("pct", "plan_pct")},
        print_title_rows="3:3",
        fit_width=True,
    )
    return xlsx_bytes([sheet])


def _sheet_rows(
    store: BaseStore, items: Sequence[ItemProgress], lang: str, county: str
) -> list[Sequence[Any] | Row]:
    """The item rows by township, each township's subtotal row, then the total row."""
    rows: list[Sequence[Any] | Row] = []
    seq = 0
    for group in group_items(items, township_order(store)):
        for item in group.items:
            seq += 1
            rows.append(item_row(item, seq, store.specs, lang))
        name = township_name(group.township, lang)
        rows.append(Row(_group_row(group, SUBTOTAL, lang, name), _SUB))
    everything = Group("", tuple(items))
    total_name = county or TOTAL[1 if lang == "en" else 0]
    rows.append(Row(_group_row(everything, TOTAL, lang, total_name), _HEAD))
    return rows


def ledger_csv(store: BaseStore, items: Sequence[ItemProgress], *, lang: str = "zh") -> bytes:
    """The ledger items as CSV: UTF-8 with a BOM, the sheet's headers, one row per item
    in township order (no subtotal rows, so it sorts and filters cleanly), through
    :func:`layers.tabular.csv_bytes` (formula-like text defused)."""
    rows = [
        item_row(item, seq, store.specs, lang)
        for seq, item in enumerate(
            (i for g in group_items(items, township_order(store)) for i in g.items), start=1
        )
    ]
    return csv_bytes([c.label(lang) for c in COLUMNS], rows)


# ------------------------------------------------------------------------------ import


@dataclass(frozen=True)
class RowProblem:
    """One problem of an import, located as the user sees the file."""

    row: int | None
    column: str
    value: str
    message: str


@dataclass
class ImportPlan:
    """What an import would do: the changes, how many items each way, every problem."""

    changes: list[Change] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the import can be applied (no problem at all)."""
        return not self.problems

    @property
    def rows(self) -> int:
        """Item rows read from the file."""
        return self.created + self.updated + self.unchanged


def _normal(text: Any) -> str:
    """A header as compared: no spaces, ASCII brackets, lower case."""
    cleaned = re.sub(r"\s+", "", str(text or "")).replace("（", "(").replace("）", ")")
    return cleaned.lower()


_HEADERS = {_normal(name): c.key for c in COLUMNS for name in (c.zh, c.en, c.key, c.field or c.key)}


def _decode(data: bytes) -> str:
    # utf-8 first: gb18030 decodes most UTF-8 bytes too, into the wrong characters.
    for codec in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    raise InputError([Problem("ledger_bad_file", value="encoding")])


def read_rows(data: bytes, filename: str) -> list[tuple[int, list[Any]]]:
    """The rows of an xlsx (first sheet) or CSV file, with their row numbers (from 1).

    An xlsx is unzipped by :func:`geo.safety.safe_unzip` first, so an archive bomb is
    refused before openpyxl opens it.
    """
    if filename.lower().endswith(".csv") or not data.startswith(b"PK"):
        if filename.lower().endswith((".xlsx", ".xlsm")):
            raise InputError([Problem("ledger_bad_file", value=short_value(filename))])
        reader = csv.reader(io.StringIO(_decode(data)))
        try:
            return [(i, list(r)) for i, r in enumerate(reader, start=1) if i <= MAX_ROWS + 10]
        except csv.Error as exc:  # e.g. a field longer than csv.field_size_limit()
            raise InputError([Problem("ledger_bad_file", value=short_value(str(exc)))]) from exc
    safe_unzip(data, max_total=MAX_UNZIPPED, max_entry=MAX_UNZIPPED)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken workbook
        raise InputError([Problem("ledger_bad_file", value=short_value(str(exc)))]) from exc
    try:
        sheet = workbook.worksheets[0]
        rows: list[tuple[int, list[Any]]] = []
        for i, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            rows.append((i, list(values)))
            if i > MAX_ROWS + 10:
                break
        return rows
    finally:
        workbook.close()


def _header(rows: Sequence[tuple[int, list[Any]]]) -> tuple[int, dict[int, str]]:
    """Position of the header row among the first ten and its column keys by index."""
    for position, (_number, values) in enumerate(rows[:10]):
        keys = {i: _HEADERS[_normal(v)] for i, v in enumerate(values) if _normal(v) in _HEADERS}
        if "title" in keys.values():
            return position, keys
    raise InputError([Problem("ledger_missing_column", value="事项 / Item")])


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _is_total(values: dict[str, Any]) -> bool:
    seq = str(values.get("seq") or "").strip().lower()
    return seq in {*(s.lower() for s in SUBTOTAL), *(t.lower() for t in TOTAL)}


def _row_values(keys: Mapping[int, str], values: Sequence[Any]) -> dict[str, Any]:
    return {key: values[i] if i < len(values) else None for i, key in keys.items()}


def _raw_properties(specs: SpecRegistry, values: Mapping[str, Any]) -> dict[str, Any]:
    """The ledger fields of one row, with labels turned back into codes."""
    props: dict[str, Any] = {}
    for key, value in values.items():
        column = _BY_KEY[key]
        if column.field is None or column.field == "id":
            continue
        if isinstance(value, str):
            value = value.strip()
        if _blank(value):
            props[column.field] = None
        elif column.field == "category":
            props[column.field] = category_code(specs, str(value))
        elif column.field == "species":
            props[column.field] = _species_code(specs, str(value))
        else:
            props[column.field] = value
    return props


def _to_problem(problem: Problem, lang: str) -> RowProblem:
    column = next((c for c in COLUMNS if c.field and c.field == problem.field), None)
    return RowProblem(
        row=problem.row,
        column=column.label(lang) if column else (problem.field or ""),
        value=problem.value or "",
        message=problem.message(lang),
    )


def _same(current: Mapping[str, Any], clean: Mapping[str, Any], names: Iterable[str]) -> bool:
    def norm(value: Any) -> Any:
        return (
            float(value)
            if isinstance(value, int | float) and not isinstance(value, bool)
            else value
        )

    return all(norm(current.get(n)) == norm(clean.get(n)) for n in names)


def _with_plan_year(props: Mapping[str, Any]) -> dict[str, Any]:
    """``props`` with its derived plan year filled in, so that exporting and importing an
    item saved without ``plan_year`` changes nothing."""
    out = dict(props)
    if out.get("plan_year") in (None, ""):
        out["plan_year"] = item_plan_year(out)
    return out


class _Planner:
    """Turns the rows of a file into ledger changes, collecting every problem."""

    def __init__(self, store: BaseStore) -> None:
        self.store = store
        self.spec = store.spec("ledger")
        self.plan = ImportPlan()
        self.problems: list[Problem] = []
        self.seen: dict[str, int] = {}

    def row(self, number: int, values: dict[str, Any]) -> None:
        props = _raw_properties(self.store.specs, values)
        item_id = "" if _blank(values.get("id")) else str(values["id"]).strip()
        current = self.store.get("ledger", item_id) if item_id else None
        if item_id and current is None:
            self.problems.append(
                Problem("ledger_unknown_id", row=number, field="id", value=item_id)
            )
        if item_id and item_id in self.seen:
            self.problems.append(
                Problem("ledger_duplicate_id", row=number, field="id", value=item_id)
            )
        self.seen[item_id] = number
        merged = dict(current["properties"]) if current is not None else {}
        merged.update(props)
        merged = {k: v for k, v in merged.items() if v is not None and self.spec.field(k)}
        clean, found = validate_properties(self.spec, merged, number)
        self.problems.extend(p for p in found if p.severity == "error")
        self._check_category(number, clean)
        if current is None:
            self.plan.changes.append(Change("create", properties=clean, row=number))
            self.plan.created += 1
        elif _same(_with_plan_year(current["properties"]), clean, self.spec.field_names):
            self.plan.unchanged += 1
        else:
            self.plan.changes.append(Change("replace", id=item_id, properties=clean, row=number))
            self.plan.updated += 1

    def _check_category(self, number: int, clean: Mapping[str, Any]) -> None:
        category = clean.get("category")
        if not category or clean.get("measure") == "entries":
            return
        spec = self.store.specs.get(str(category))
        if spec is None or spec.kind == "ledger":
            self.problems.append(
                Problem("ledger_needs_entries", row=number, field="category", value=str(category))
            )


def plan_import(store: BaseStore, data: bytes, filename: str, *, lang: str = "zh") -> ImportPlan:
    """Read and check a ledger file; nothing is written.

    The returned plan holds the changes and the counts (new, updated, unchanged items)
    when every row is good, else every problem found (row, column, value, message in
    ``lang``). Rows numbered "小计"/"合计" and empty rows are skipped.
    """
    try:
        rows = read_rows(data, filename)
        position, keys = _header(rows)
    except InputError as exc:
        return ImportPlan(problems=[_to_problem(p, lang) for p in exc.problems])
    planner = _Planner(store)
    body = rows[position + 1 :]
    if len(body) > MAX_ROWS:
        problem = Problem("ledger_too_many_rows", params={"limit": MAX_ROWS})
        return ImportPlan(problems=[_to_problem(problem, lang)])
    for number, raw in body:
        values = _row_values(keys, raw)
        if all(_blank(v) for v in values.values()) or _is_total(values):
            continue
        planner.row(number, values)
    plan = planner.plan
    if not planner.problems and plan.rows == 0:
        planner.problems.append(Problem("ledger_empty_file"))
    if not planner.problems and plan.changes:
        try:
            store.commit("ledger", plan.changes, user="-", source="import", dry_run=True)
        except ValidationFailed as exc:
            planner.problems.extend(p for p in exc.problems if p.severity == "error")
    plan.problems = [_to_problem(p, lang) for p in planner.problems]
    if plan.problems:
        plan.changes = []
    return plan


def apply_import(
    store: BaseStore, plan: ImportPlan, *, user: str, source: str, key: str | None = None
) -> CommitResult | None:
    """Write a good plan in one commit (None when there is nothing to change).

    ``key`` makes it idempotent: the same key twice writes once.
    """
    if not plan.ok:
        raise ValueError("an import with problems cannot be applied")
    if not plan.changes:
        return None
    return store.commit("ledger", plan.changes, user=user, source=source, idempotency_key=key)
