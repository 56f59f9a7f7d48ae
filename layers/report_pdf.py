"""The progress report as PDF (reportlab): A4, the CJK font embedded as a subset (with its
Unicode map, so the text can be extracted and searched), tables that repeat their header
row on each page, the map as a picture. It lays out a :class:`ProgressReport` and
computes nothing; a missing font is :class:`layers.report_map.ReportFontMissing`."""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    Flowable,
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from layers.progress_report import ProgressReport
from layers.report_map import cjk_font_path

FONT = "VillageWorksCJK"
MARGIN = 1.8 * cm
#: Widths of the category table's columns, in points (A4 less the margins: 493 pt).
ITEM_WIDTHS = (20, 130, 40, 30, 22, 30, 30, 30, 80, 46, 35)
GAP_WIDTHS = (24, 70, 110, 50, 239)
_LOCK = threading.Lock()


def register_font() -> str:
    """Register the CJK font with reportlab once; its name."""
    with _LOCK:
        if FONT not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(FONT, str(cjk_font_path()), subfontIndex=0))
    return FONT


def _styles() -> dict[str, ParagraphStyle]:
    base = {"fontName": FONT, "wordWrap": "CJK"}
    return {
        "title": ParagraphStyle("title", fontSize=16, leading=22, alignment=TA_CENTER, **base),
        "centre": ParagraphStyle("centre", fontSize=10.5, leading=15, alignment=TA_CENTER, **base),
        "h": ParagraphStyle("h", fontSize=13, leading=20, spaceBefore=8, spaceAfter=4, **base),
        "h3": ParagraphStyle("h3", fontSize=11, leading=16, spaceBefore=6, spaceAfter=3, **base),
        "body": ParagraphStyle("body", fontSize=10.5, leading=17, firstLineIndent=21, **base),
        "cell": ParagraphStyle("cell", fontSize=7.5, leading=9.5, **base),
    }


def _para(value: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(value), style)  # user text is text, never markup


def _table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    widths: Sequence[float],
    style: ParagraphStyle,
) -> Table:
    data = [[_para(str(v), style) for v in row] for row in [headers, *rows]]
    table = Table(data, colWidths=list(widths), repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#7f8c8d")),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde3e8")),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LEFTPADDING", (0, 0), (-1, -1), 2),
                ("RIGHTPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return table


def _story(report: ProgressReport, s: dict[str, ParagraphStyle]) -> list[Flowable]:
    story: list[Flowable] = [
        _para(report.title, s["title"]),
        _para(report.date_line, s["centre"]),
        _para(report.scope_line, s["centre"]),
        _para(report.heading("summary"), s["h"]),
        _para(report.summary, s["body"]),
        _para(report.heading("tables"), s["h"]),
    ]
    if not report.tables:
        story.append(_para(report.empty_text, s["body"]))
    for table in report.tables:
        story.append(_para(table.heading, s["h3"]))
        story.append(_table(table.headers, table.rows, ITEM_WIDTHS, s["cell"]))
    picture = Image(io.BytesIO(report.map_png), width=15 * cm, height=15 * cm * 6 / 7)
    heading_map = _para(report.heading("map"), s["h"])
    story.append(KeepTogether([heading_map, picture, _para(report.map_caption, s["centre"])]))
    gaps: list[Flowable] = [
        _para(report.heading("gaps"), s["h"]),
        _para(report.gaps_intro, s["body"]),
        Spacer(1, 4),
    ]
    if report.gaps:
        rows = [g.cells() for g in report.gaps]
        gaps.append(_table(report.gap_headers, rows, GAP_WIDTHS, s["cell"]))
    story.append(KeepTogether(gaps))
    if report.residents:
        story.append(_para(report.heading("residents"), s["h"]))
        story.append(_para(report.residents_intro, s["body"]))
        width = (A4[0] - 2 * MARGIN) / len(report.residents[0])
        widths = [width] * len(report.residents[0])
        story.append(_table(report.residents[0], report.residents[1:], widths, s["cell"]))
    return story


def report_pdf(report: ProgressReport) -> bytes:
    """The report as PDF bytes (A4, the CJK font embedded)."""
    register_font()
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=report.title,
        author="VillageWorks",
        lang="en" if report.lang == "en" else "zh-CN",
    )
    doc.build(_story(report, _styles()))
    return out.getvalue()
