"""The progress report as a Word document (python-docx): editable text, Word tables (not
pictures), the map as an inline picture. It lays out a :class:`ProgressReport` and
computes nothing."""

from __future__ import annotations

import io
from collections.abc import Sequence

from docx import Document
from docx.document import Document as DocumentType
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from docx.text.run import Run

from layers.progress_report import ProgressReport

#: Fonts of Chinese official documents, as Word names them (any Chinese Word has them).
BODY_FONT_ZH = "宋体"
HEADING_FONT_ZH = "黑体"
LATIN_FONT = "Times New Roman"


def _font(run: Run, east_asian: str, size_pt: float, bold: bool = False) -> None:
    run.font.name = LATIN_FONT
    run.font.size = Pt(size_pt)
    run.font.bold = bold
    rpr = run._element.get_or_add_rPr()
    rpr.get_or_add_rFonts().set(qn("w:eastAsia"), east_asian)


def _paragraph(
    doc: DocumentType,
    text: str,
    *,
    size_pt: float = 12,
    bold: bool = False,
    centred: bool = False,
    heading: bool = False,
    indent: bool = False,
) -> None:
    style = "Heading 2" if heading else None
    para = doc.add_paragraph(style=style)
    if centred:
        para.alignment = WD_ALIGN_PARAGRAPH.CENTER
    if indent:
        para.paragraph_format.first_line_indent = Pt(size_pt * 2)
    run = para.add_run(text)
    _font(run, HEADING_FONT_ZH if heading or bold else BODY_FONT_ZH, size_pt, bold)


def _table(doc: DocumentType, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    table = doc.add_table(rows=1 + len(rows), cols=len(headers))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for r, values in enumerate([headers, *rows]):
        cells = table.rows[r].cells
        for c, value in enumerate(values):
            cells[c].text = ""
            run = cells[c].paragraphs[0].add_run(str(value))
            _font(run, HEADING_FONT_ZH if r == 0 else BODY_FONT_ZH, 8, bold=r == 0)
    _repeat_header(table.rows[0])


def _repeat_header(row: object) -> None:
    """The header row is repeated on every page the table runs over."""
    trpr = row._tr.get_or_add_trPr()  # type: ignore[attr-defined]
    header = trpr.makeelement(qn("w:tblHeader"), {qn("w:val"): "true"})
    trpr.append(header)


def _page(doc: DocumentType) -> None:
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Cm(21.0), Cm(29.7)
    for side in ("left_margin", "right_margin"):
        setattr(section, side, Cm(2.0))
    section.top_margin = section.bottom_margin = Cm(2.2)


def report_docx(report: ProgressReport) -> bytes:
    """The report as .docx bytes: title, date, summary, a table per category, the map,
    the ranked gaps (and residents' reports when there are figures)."""
    doc = Document()
    _page(doc)
    doc.core_properties.title = report.title
    doc.core_properties.language = "en-GB" if report.lang == "en" else "zh-CN"
    _paragraph(doc, report.title, size_pt=16, bold=True, centred=True)
    _paragraph(doc, report.date_line, centred=True)
    _paragraph(doc, report.scope_line, centred=True)
    _paragraph(doc, report.heading("summary"), size_pt=14, heading=True)
    _paragraph(doc, report.summary, indent=True)
    _paragraph(doc, report.heading("tables"), size_pt=14, heading=True)
    if not report.tables:
        _paragraph(doc, report.empty_text)
    for table in report.tables:
        _paragraph(doc, table.heading, size_pt=12, bold=True)
        _table(doc, table.headers, table.rows)
    _paragraph(doc, report.heading("map"), size_pt=14, heading=True)
    doc.add_picture(io.BytesIO(report.map_png), width=Cm(16.0))
    doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
    _paragraph(doc, report.map_caption, size_pt=10, centred=True)
    _paragraph(doc, report.heading("gaps"), size_pt=14, heading=True)
    _paragraph(doc, report.gaps_intro, indent=True)
    if report.gaps:
        _table(doc, report.gap_headers, [g.cells() for g in report.gaps])
    if report.residents:
        _paragraph(doc, report.heading("residents"), size_pt=14, heading=True)
        _paragraph(doc, report.residents_intro, indent=True)
        _table(doc, report.residents[0], report.residents[1:])
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
