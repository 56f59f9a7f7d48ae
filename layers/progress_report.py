"""The monthly progress report (进展情况报告) as one content model, for Word and PDF alike.

:func:`build_report` turns the ledger of a plan year into a :class:`ProgressReport`:
the title (山阴县2026年为民办实事项目进展情况（截至12月3日）), the date, a summary
paragraph with the headline figures, one table per category with every item of the year,
the main gaps ranked by what to fix first, and a map picture (PNG bytes). The renderers
(:mod:`layers.report_docx`, :mod:`layers.report_pdf`) only lay it out.

Nothing is computed twice: the items are :func:`layers.ledger.ledger_progress` rows for
the year, and the cells are :func:`layers.ledger_io.item_row` values written as
:func:`layers.tabular.as_text` writes them, so a table's figures are those of
``/ledger/export.csv?year=Y``. The gaps are the rows of the existing analyses
in the order of :func:`layers.gap_ranking.ranked_gaps`, the one the maps and the
dashboard use.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
from shapely.geometry.base import BaseGeometry

from geo.messages import register, render
from layers.analyses import THRESHOLDS, gap_label, layer_frame, township_areas
from layers.errors import VillageWorksError
from layers.gap_ranking import RankedGap, ranked_gaps
from layers.ledger import ItemProgress, ledger_progress, linked_layers
from layers.ledger_io import (
    COLUMNS,
    Group,
    category_label,
    county_name,
    group_items,
    item_row,
    township_order,
)
from layers.report_map import MapGap, MapWorks, report_map_png
from layers.resident_stats import ReportStats, StatsRow, report_stats
from layers.store_base import BaseStore
from layers.tabular import as_text

for _code, _zh, _en in (
    ("report_bad_year", "年份无效：{value}（应为 2000 到 2100 的整数）",
     "The year is not valid: {value} (a whole number from 2000 to 2100)"),
    ("report_bad_month", "月份无效：{value}（应为 1 到 12 的整数）",
     "The month is not valid: {value} (a whole number from 1 to 12)"),
    ("report_future_month", "{value} 尚未开始，不能生成截至该月的报告",
     "{value} has not begun yet: there is no report as of its end"),
    ("report_unknown_township", "没有这个乡镇：{value}（可选：{allowed}）",
     "There is no such township: {value} (choose from {allowed})"),
    ("report_bad_format", "不支持的报告格式：{value}（可选：docx、pdf）",
     "Unsupported report format: {value} (choose docx or pdf)"),
    ("report_bad_lang", "不支持的语言：{value}（可选：zh、en）",
     "Unsupported language: {value} (choose zh or en)"),
):  # fmt: skip
    register(_code, _zh, _en)

FORMATS = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
}
#: The ledger columns each category table shows, in this order (:data:`COLUMNS` keys).
TABLE_COLUMNS = (
    "seq",
    "title",
    "township",
    "target",
    "unit",
    "actual",
    "pct",
    "plan_pct",
    "responsible_unit",
    "deadline",
    "flags",
)
#: The analyses whose ranked gaps (:mod:`layers.gap_ranking`) take turns in the report.
RANKED_KINDS = ("lighting", "visits", "irrigation", "services")
TOP_GAPS = 10
#: Texts of the report, zh and en.
TEXTS: Mapping[str, tuple[str, str]] = {
    "title": (
        "{county}{year}年为民办实事项目进展情况（截至{month}月{day}日）",
        "{county}: progress of the {year} practical works for the people (as of {day} {mon})",
    ),
    "scope_county": ("全县", "the county"),
    "scope_line": ("范围：{value}", "Scope: {value}"),
    "date_line": ("{year}年{month}月{day}日", "{day} {mon} {year}"),
    "h_summary": ("一、总体进展", "1. Overall progress"),
    "h_tables": ("二、分类进展", "2. Progress by category"),
    "h_map": ("三、项目和主要短板分布图", "3. Map of the works and the main gaps"),
    "h_gaps": ("四、需优先解决的短板", "4. Gaps to fix first"),
    "h_residents": ("五、群众反映问题办理情况", "5. Residents' reports"),
    "map_caption": (
        "图：{year}年项目（按类别着色）与前{n}项短板（红色编号）",
        "Map: the works of {year} (coloured by category) and the top {n} gaps (numbered in red)",
    ),
    "no_items": ("本年度台账中没有事项。", "The ledger holds no item of this year."),
    "no_gaps": ("各项分析均未发现短板。", "The analyses found no gap."),
    "gaps_intro": (
        "各项分析依次取其最突出的短板排序：最长的无路灯路段、最久未走访的村、距在用机井最远"
        "的大棚、距免费公交最远的设施。",
        "Each analysis gives its worst gap in turn: the longest unlit stretch of road, the "
        "village longest unvisited, the greenhouse farthest from a working well, the facility "
        "farthest from the free bus.",
    ),
    "table_title": ("（{n}）{label}（{count}项）", "({n}) {label}: {count} item(s)"),
    "res_group": ("分组", "Group"),
    "res_name": ("名称", "Name"),
    "res_received": ("收到（件）", "Received"),
    "res_solved": ("已解决（件）", "Solved"),
    "res_solved_rate": ("解决率（%）", "Solved (%)"),
    "res_open": ("办理中（件）", "Open"),
    "res_days": ("办理天数（中位数）", "Days to solve (median)"),
    "res_satisfaction": ("满意率（%）", "Satisfied (%)"),
    "res_total": ("合计", "Total"),
    "res_township": ("乡镇", "Township"),
    "res_department": ("承办部门", "Department"),
    "res_none": ("未注明", "Not given"),
    "res_intro": (
        "{year}年收到的群众反映问题（按收到日期），满意率为评价4至5星的占比。",
        "Residents' reports received in {year} (by the day received); satisfied: rated 4 or 5.",
    ),
    "gap_no": ("序号", "No."),
    "gap_what": ("问题", "Gap"),
    "gap_name": ("名称", "Name"),
    "gap_township": ("乡镇", "Township"),
    "gap_figure": ("数据", "Figures"),
}
_MEASURE_WORDS = {"not_visited": "个村", "far_from_bus": "处设施"}
_NUMERALS = "一二三四五六七八九十"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def text(key: str, lang: str, **params: Any) -> str:
    """A report text in ``lang`` with ``params`` filled in."""
    zh, en = TEXTS[key]
    return (en if lang == "en" else zh).format(**params)


def _date_params(day: dt.date) -> dict[str, Any]:
    return {"year": day.year, "month": day.month, "day": day.day, "mon": _MONTHS[day.month - 1]}


class ReportParameterError(VillageWorksError):
    """A bad report parameter (422); the message says it in both languages."""

    status = 422
    code = "report_bad_year"

    def user_message(self, lang: str = "zh") -> str:
        """The message in ``lang`` first, then in the other language."""
        other = "zh" if lang == "en" else "en"
        return (
            f"{render(self.code, lang, **self.params)} / {render(self.code, other, **self.params)}"
        )


# ---------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class ReportParams:
    """What a report covers: the plan year, the day it is as of, one township or all."""

    year: int
    as_of: dt.date
    lang: str = "zh"
    township: str | None = None
    township_id: str | None = None
    #: False for a past month's report (as of its end, not today).
    current: bool = True


def _whole(text: Any, code: str, low: int, high: int) -> int:
    try:
        number = int(str(text).strip())
    except ValueError:
        raise ReportParameterError(code, value=str(text)[:40]) from None
    if not low <= number <= high:
        raise ReportParameterError(code, value=str(text)[:40])
    return number


def _township(store: BaseStore, wanted: str) -> tuple[str, str]:
    """(name, id) of the township named or numbered ``wanted``."""
    areas = township_areas(store)
    for name, township_id in zip(areas["township"], areas["township_id"], strict=True):
        if wanted.strip() in (str(name), str(township_id)):
            return str(name), str(township_id)
    allowed = "、".join(str(n) for n in areas["township"])
    raise ReportParameterError("report_unknown_township", value=wanted[:40], allowed=allowed)


def parse_report_params(
    store: BaseStore,
    *,
    year: Any = None,
    month: Any = None,
    township: Any = None,
    lang: Any = "zh",
    today: dt.date | None = None,
) -> ReportParams:
    """The parameters of a report, checked: ``year`` (default this year), ``month`` (the
    report is as of the end of that month, or today in the current month; default
    today), ``township`` by id or name, ``lang`` zh or en. :class:`ReportParameterError`
    (422) says what is wrong, in both languages.

    >>> import tempfile
    >>> from layers.store import GeoJSONStore
    >>> store = GeoJSONStore(tempfile.mkdtemp())
    >>> parse_report_params(store, year="2026", month="10", today=dt.date(2026, 12, 3)).as_of
    datetime.date(2026, 10, 31)
    >>> try:
    ...     parse_report_params(store, year="2026", month="13")
    ... except ReportParameterError as exc:
    ...     print(exc.status, exc.user_message("en").split(" / ")[0])
    422 The month is not valid: 13 (a whole number from 1 to 12)
    """
    today = today or dt.date.today()
    lang = "zh" if lang in (None, "") else str(lang)
    if lang not in ("zh", "en"):
        raise ReportParameterError("report_bad_lang", value=lang[:20])
    blank = year is None or str(year).strip() == ""
    plan_year = today.year if blank else _whole(year, "report_bad_year", 2000, 2100)
    as_of = today
    if month is not None and str(month).strip() != "":
        number = _whole(month, "report_bad_month", 1, 12)
        first = dt.date(plan_year, number, 1)
        if first > today:
            raise ReportParameterError("report_future_month", value=f"{plan_year}-{number:02d}")
        last = dt.date(plan_year, number, calendar.monthrange(plan_year, number)[1])
        as_of = min(last, today)
    name = township_id = None
    if township is not None and str(township).strip():
        name, township_id = _township(store, str(township))
    return ReportParams(plan_year, as_of, lang, name, township_id, as_of == today)


def check_format(fmt: str) -> str:
    """``docx`` or ``pdf``; :class:`ReportParameterError` for another."""
    if fmt not in FORMATS:
        raise ReportParameterError("report_bad_format", value=str(fmt)[:20])
    return fmt


# ---------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class ReportTable:
    """The items of one category: a heading, the column headers, one row of cells each."""

    category: str
    heading: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    ids: tuple[str, ...]


@dataclass(frozen=True)
class ReportGap:
    """One gap of the report's list, with its figure in words."""

    rank: int
    kind: str
    gap: str
    what: str
    name: str
    township: str
    figure: str
    geometry: BaseGeometry | None = None

    def cells(self) -> tuple[str, ...]:
        """The gap's row in the report's gap table."""
        return (str(self.rank), self.what, self.name, self.township, self.figure)


@dataclass(frozen=True)
class ProgressReport:
    """Everything a progress report says, in its language; renderers only lay it out."""

    params: ReportParams
    title: str
    date_line: str
    scope_line: str
    summary: str
    tables: tuple[ReportTable, ...]
    gap_headers: tuple[str, ...]
    gaps: tuple[ReportGap, ...]
    map_png: bytes
    map_caption: str
    #: Residents' reports of the year (:mod:`layers.resident_stats`; header row first),
    #: empty when none was received.
    residents: tuple[tuple[str, ...], ...] = ()
    residents_intro: str = ""

    @property
    def lang(self) -> str:
        """The report's language."""
        return self.params.lang

    @property
    def empty_text(self) -> str:
        """What the tables section says when the year has no item."""
        return text("no_items", self.lang)

    @property
    def gaps_intro(self) -> str:
        """How the gaps are ranked (or that there is none)."""
        return text("gaps_intro" if self.gaps else "no_gaps", self.lang)

    def heading(self, key: str) -> str:
        """A section heading (``summary``, ``tables``, ``map``, ``gaps``, ``residents``)."""
        return text(f"h_{key}", self.lang)

    def file_name(self, fmt: str) -> str:
        """An ASCII file name: ``report-2026-12-03.docx`` (with the township id)."""
        where = f"-{self.params.township_id}" if self.params.township_id else ""
        return f"report-{self.params.year}{where}-{self.params.as_of.isoformat()}.{fmt}"


# ---------------------------------------------------------------------------- the items


def report_items(store: BaseStore, params: ReportParams) -> list[ItemProgress]:
    """The items of the year as the ledger export computes them (``today`` and ``as_of``
    the report's day), in the export's township order; one township's only when asked."""
    items = ledger_progress(store, today=params.as_of, as_of=params.as_of, year=params.year)
    ordered = [i for g in group_items(items, township_order(store)) for i in g.items]
    return ordered


def _category_order(store: BaseStore, items: Sequence[ItemProgress]) -> list[str]:
    """Categories present: layers in the specs' order, then the others by name."""
    present = {i.category for i in items}
    layers = [name for name in linked_layers(store) if name in present]
    return layers + sorted(present - set(layers))


def category_tables(
    store: BaseStore, items: Sequence[ItemProgress], params: ReportParams
) -> tuple[ReportTable, ...]:
    """One table per category: every item of the year (``params.township``'s only), the
    cells of the CSV export. ``seq`` is the item's row number in that export."""
    lang = params.lang
    keys = [c.key for c in COLUMNS]
    picks = [keys.index(k) for k in TABLE_COLUMNS]
    headers = tuple(COLUMNS[i].label(lang) for i in picks)
    numbered = list(enumerate(items, start=1))
    if params.township is not None:
        numbered = [(n, i) for n, i in numbered if i.township == params.township]
    tables = []
    for n, category in enumerate(_category_order(store, [i for _, i in numbered]), start=1):
        mine = [(seq, i) for seq, i in numbered if i.category == category]
        rows = []
        for seq, item in mine:
            cells = item_row(item, seq, store.specs, lang)
            rows.append(tuple(as_text(cells[p]) for p in picks))
        label = category_label(store.specs, category, lang)
        number = _NUMERALS[n - 1] if lang != "en" and n <= len(_NUMERALS) else str(n)
        heading = text("table_title", lang, n=number, label=label, count=len(mine))
        ids = tuple(i.id for _, i in mine)
        tables.append(ReportTable(category, heading, headers, tuple(rows), ids))
    return tuple(tables)


# ---------------------------------------------------------------------------- summary


def _pct_of(part: int, whole: int) -> str:
    return as_text(round(100.0 * part / whole, 1)) if whole else "0"


def _category_clause(
    store: BaseStore, category: str, items: Sequence[ItemProgress], lang: str
) -> str:
    """ "路灯完成96盏，目标124盏，完成率77.4%" for one category (its items' sums when their
    units agree, else the mean completion)."""
    label = category_label(store.specs, category, lang)
    group = Group(category, tuple(items))
    pct = as_text(group.pct) if group.pct is not None else "0"
    if group.unit is not None and group.target is not None:
        done, target, unit = as_text(group.actual), as_text(group.target), group.unit
        if lang == "en":
            return f"{label}: {done} of {target} {unit} done ({pct}%)"
        return f"{label}完成{done}{unit}，目标{target}{unit}，完成率{pct}%"
    if lang == "en":
        return f"{label}: {len(items)} items, {pct}% done on average"
    return f"{label}{len(items)}项，平均完成率{pct}%"


def _gap_clause(counts: Mapping[str, int], lang: str) -> str:
    parts = [f"{gap_label(code, lang)} {n}" for code, n in counts.items() if n]
    if not parts:
        return ""
    if lang == "en":
        return " Main gaps found by the analyses: " + "; ".join(parts) + "."
    found = [
        f"{gap_label(c, lang)}{n}{_MEASURE_WORDS.get(c, '处')}" for c, n in counts.items() if n
    ]
    return "当前主要短板：" + "，".join(found) + "。"


def summary_text(
    store: BaseStore,
    items: Sequence[ItemProgress],
    params: ReportParams,
    gap_counts: Mapping[str, int],
    residents: StatsRow | None = None,
) -> str:
    """The summary paragraph, worded as such reports are: "截至目前，全县2026年为民办实事
    项目共15项，已完成10项……"."""
    lang, n = params.lang, len(items)
    scope = params.township or text("scope_county", lang)
    done = sum(i.finished for i in items)
    behind = sum(i.behind for i in items)
    overdue = sum(i.overdue for i in items)
    awaiting = sum(i.awaiting for i in items)
    overall = Group("", tuple(items)).pct
    by_category = [
        _category_clause(store, c, [i for i in items if i.category == c], lang)
        for c in _category_order(store, items)
    ]
    if lang == "en":
        out = (
            f"As of {params.as_of.day} {_MONTHS[params.as_of.month - 1]} {params.as_of.year}, "
            f"{scope} has {n} practical works for the people planned for {params.year}: "
            f"{done} finished ({_pct_of(done, n)}%), {n - done} under way, of which {behind} "
            f"behind plan ({overdue} overdue); overall completion {as_text(overall or 0)}%."
        )
        if by_category:
            out += " By category: " + "; ".join(by_category) + "."
        if awaiting:
            out += f" A further {awaiting} works are built and await review."
        return out + _residents_clause(residents, lang) + _gap_clause(gap_counts, lang)
    when = "截至目前" if params.current else f"截至{params.as_of.month}月{params.as_of.day}日"
    out = (
        f"{when}，{scope}{params.year}年为民办实事项目共{n}项，已完成{done}项，占"
        f"{_pct_of(done, n)}%；正在推进{n - done}项，其中进度滞后于计划{behind}项（逾期"
        f"{overdue}项）；总体完成率{as_text(overall or 0)}%。"
    )
    if by_category:
        out += "分类别看，" + "；".join(by_category) + "。"
    if awaiting:
        out += f"另有{awaiting}处已建成待验收，验收后计入。"
    return out + _residents_clause(residents, lang) + _gap_clause(gap_counts, lang)


# ---------------------------------------------------------------------------- gaps


def _figure(gap: RankedGap, lang: str) -> str:
    """A ranked gap's figure in words: the unlit length, the days since the last visit,
    the distance to a working well or the free bus."""
    en, figure = lang == "en", gap.figure
    if gap.gap == "dark_road":
        length = f"{(figure or 0) * 1000:,.0f}"
        return f"{length} m without a working light" if en else f"长{length}米无路灯"
    if gap.gap == "not_visited":
        if figure is None:
            return "never visited" if en else "从未走访"
        return f"{figure:,.0f} days since the last visit" if en else f"已{figure:,.0f}天未走访"
    # No figure: farther than the analysis looks, ten times its threshold.
    far = f"{10 * _default_distance_m():,.0f}"
    distance = f"{figure:,.0f}" if figure is not None else far
    if gap.gap == "far_from_well":
        if figure is None:
            return f"no working well within {far} m" if en else f"{far}米内没有在用机井"
        return f"{distance} m from a working well" if en else f"距最近在用机井{distance}米"
    if figure is None:
        return f"over {far} m from the free bus" if en else f"距免费公交超过{far}米"
    return f"{distance} m from the free bus" if en else f"距免费公交{distance}米"


def _default_distance_m() -> float:
    return next(t.default for t in THRESHOLDS["irrigation"] if t.name == "max_distance_m")


def _gap_name(store: BaseStore, gap: RankedGap, lang: str) -> str:
    """The place: its name (a road with its chainage), else its layer's label and id."""
    if gap.label and gap.label != gap.feature_id:
        return gap.label
    spec = store.specs.get(gap.layer)
    label = spec.label_in(lang) if spec is not None else gap.layer
    return f"{label} {gap.feature_id}".strip()


def report_gaps(
    store: BaseStore, params: ReportParams, limit: int = TOP_GAPS
) -> tuple[tuple[ReportGap, ...], dict[str, int]]:
    """The gaps to fix first, and how many of each gap code are ranked, in the report's
    scope.

    The order within a kind is :func:`layers.gap_ranking.ranked_gaps`' (the maps' and the
    dashboard's); the kinds of :data:`RANKED_KINDS` then take turns, each giving its next
    worst gap (the longest unlit stretch, the village longest unvisited, the greenhouse
    farthest from a working well, the facility farthest from the free bus), until
    ``limit`` gaps are listed.
    """
    ranked = ranked_gaps(store, params.as_of, kinds=RANKED_KINDS)
    if params.township is not None:
        ranked = [g for g in ranked if g.township == params.township]
    counts: dict[str, int] = {}
    for gap in ranked:
        counts[gap.gap] = counts.get(gap.gap, 0) + 1
    order = {kind: n for n, kind in enumerate(RANKED_KINDS)}
    turn: dict[str, int] = {}
    keyed = []
    for gap in ranked:  # each kind's gaps in their order; the scope's n-th is its turn n
        turn[gap.kind] = turn.get(gap.kind, 0) + 1
        keyed.append(((turn[gap.kind], order.get(gap.kind, len(order))), gap))
    turns = [gap for _, gap in sorted(keyed, key=lambda pair: pair[0])]
    picked = tuple(
        ReportGap(
            rank=n,
            kind=gap.kind,
            gap=gap.gap,
            what=gap_label(gap.gap, params.lang),
            name=_gap_name(store, gap, params.lang),
            township=gap.township,
            figure=_figure(gap, params.lang),
            geometry=gap.geometry,
        )
        for n, gap in enumerate(turns[:limit], start=1)
    )
    return picked, counts


# ---------------------------------------------------------------------------- residents


def _share(rate: float | None) -> str:
    """A 0-1 share as a percentage ("—" when there is none)."""
    return "—" if rate is None else as_text(round(100.0 * rate, 1))


def _residents_clause(total: StatsRow | None, lang: str) -> str:
    if total is None or not total.received:
        return ""
    solved, rate = total.solved, _share(total.solved_rate)
    satisfied = _share(total.satisfaction_rate)
    if lang == "en":
        return (
            f" Residents reported {total.received} problems: {solved} solved ({rate}%), "
            f"satisfaction {satisfied}%."
        )
    return f"收到群众反映问题{total.received}件，已解决{solved}件（{rate}%），满意率{satisfied}%。"


def residents_table(stats: ReportStats, params: ReportParams) -> tuple[tuple[str, ...], ...]:
    """The residents' reports of the year: header, the total, each township (county
    reports), each department; empty when none was received."""
    lang = params.lang
    if not stats.total.received:
        return ()
    keys = ("res_received", "res_solved", "res_solved_rate", "res_open", "res_days")
    header = (
        text("res_group", lang),
        text("res_name", lang),
        *(text(k, lang) for k in keys),
        text("res_satisfaction", lang),
    )

    def row(group: str, name: str, r: StatsRow) -> tuple[str, ...]:
        days = "—" if r.median_days is None else as_text(r.median_days)
        figures = (str(r.received), str(r.solved), _share(r.solved_rate), str(r.open), days)
        label = name or text("res_none", lang)
        return (text(group, lang), label, *figures, _share(r.satisfaction_rate))

    scope = params.township or text("scope_county", lang)
    rows = [header, row("res_total", scope, stats.total)]
    if params.township is None:
        rows += [row("res_township", r.name, r) for r in stats.townships]
    rows += [row("res_department", r.name, r) for r in stats.departments]
    return tuple(rows)


# ---------------------------------------------------------------------------- map


def _map_areas(store: BaseStore, params: ReportParams) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """(outline, township boundaries) of the report's scope."""
    townships = township_areas(store)
    if params.township_id is not None:
        one = townships[(townships["township_id"] == params.township_id).to_numpy()]
        return one, one
    boundaries = layer_frame(store, "boundaries", None)
    if len(boundaries) and "level" in boundaries.columns:
        county = boundaries[(boundaries["level"].astype(str) == "county").to_numpy()]
    else:
        county = boundaries.iloc[:0]
    return (county if len(county) else townships), townships


def _map_works(store: BaseStore, params: ReportParams, item_ids: set[str]) -> list[MapWorks]:
    """The approved works linked to the report's items, by layer, as of its day."""
    works = []
    for layer in linked_layers(store):
        frame = layer_frame(store, layer, params.as_of)
        if len(frame) == 0 or "ledger_item" not in frame.columns:
            continue
        named = frame["ledger_item"].astype(object).where(frame["ledger_item"].notna(), "")
        mine = frame[named.astype(str).isin(sorted(item_ids)).to_numpy()]
        if len(mine):
            label = store.spec(layer).label_in(params.lang)
            works.append(MapWorks(layer, label, list(mine.geometry)))
    return works


def report_map(
    store: BaseStore, params: ReportParams, item_ids: set[str], gaps: Sequence[ReportGap]
) -> bytes:
    """The report's map picture (PNG): the scope's boundaries, its works of the year and
    the ranked gaps by number."""
    outline, townships = _map_areas(store, params)
    works = _map_works(store, params, item_ids)
    marks = [MapGap(g.rank, g.geometry) for g in gaps]
    return report_map_png(outline, townships, works, marks)


# ---------------------------------------------------------------------------- report


def build_report(store: BaseStore, params: ReportParams) -> ProgressReport:
    """The progress report of ``params.year`` as of ``params.as_of`` (see the module)."""
    lang = params.lang
    items = report_items(store, params)
    tables = category_tables(store, items, params)
    scoped = [i for i in items if params.township is None or i.township == params.township]
    gaps, counts = report_gaps(store, params)
    residents = report_stats(store, year=params.year, township=params.township)
    day = _date_params(params.as_of)
    county = county_name(store)
    title = text("title", lang, county=county, **{**day, "year": params.year})
    scope = params.township or text("scope_county", lang)
    headers = tuple(
        text(k, lang) for k in ("gap_no", "gap_what", "gap_name", "gap_township", "gap_figure")
    )
    return ProgressReport(
        params=params,
        title=title,
        date_line=text("date_line", lang, **day),
        scope_line=text("scope_line", lang, value=scope),
        summary=summary_text(store, scoped, params, counts, residents.total),
        tables=tables,
        gap_headers=headers,
        gaps=gaps,
        map_png=report_map(store, params, {i.id for i in scoped}, gaps),
        map_caption=text("map_caption", lang, year=params.year, n=len(gaps)),
        residents=residents_table(residents, params),
        residents_intro=text("res_intro", lang, year=params.year),
    )
