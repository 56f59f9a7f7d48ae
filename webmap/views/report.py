"""The progress report (进展情况报告) as a download: ``/ledger/report.docx`` and
``/ledger/report.pdf`` with ``?year=Y[&month=M][&township=T][&lang=en]``.

Reading it needs what ``/ledger/export.csv`` needs (the app's read rule); the content is
:func:`layers.progress_report.build_report`'s, laid out by the Word or PDF renderer. A bad
parameter answers 422 with a message in both languages.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from layers.errors import NotFound
from layers.progress_report import FORMATS, build_report, parse_report_params
from layers.report_docx import report_docx
from layers.report_pdf import report_pdf
from webmap.extensions import get_store
from webmap.i18n import current_lang

bp = Blueprint("progress_report", __name__)
RENDERERS = {"docx": report_docx, "pdf": report_pdf}


@bp.get("/ledger/report.<fmt>")
def download(fmt: str) -> Response:
    """The report of ``?year=`` (default this year) as of the end of ``?month=`` (default
    today), for one ``?township=`` (id or name) or the county, in the page's language."""
    if fmt not in FORMATS:
        raise NotFound("gaps_unknown_format", value=fmt, allowed="docx, pdf")
    store = get_store()
    params = parse_report_params(
        store,
        year=request.args.get("year"),
        month=request.args.get("month"),
        township=request.args.get("township"),
        lang=request.args.get("lang") or current_lang(),
    )
    report = build_report(store, params)
    data = RENDERERS[fmt](report)
    name = report.file_name(fmt)
    return Response(
        data,
        mimetype=FORMATS[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
