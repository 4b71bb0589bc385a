"""The commissioner report as CSV (one table per file), XLSX (one sheet per table, plus the
definitions), JSON and PDF (the web page's own template, printed by WeasyPrint): renderings of
one ``Report``, so the figures are the same. ``render_file`` is the one entry point of the
downloads, whether built in the request or by a worker (``reports.exports``)."""

from __future__ import annotations

import io
import logging
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from timebank import spreadsheets

from .commissioning import NO_CASH_VALUE, Cell, Report, Table
from .reading import MONEY, read, sheet_name, show, show_table


def text(cell: Cell) -> str:
    """A cell as CSV text: ISO dates, plain decimals, empty for no value."""
    if cell is None:
        return ""
    if isinstance(cell, date):
        return cell.isoformat()
    return str(cell)


def json_cell(cell: Cell) -> Any:
    """Numbers of people and exchanges as numbers; hours, money and dates as strings (exact)."""
    if isinstance(cell, Decimal | date):
        return text(cell)
    return cell


def to_csv(table: Table) -> str:
    out = io.StringIO()
    writer = spreadsheets.Writer(out, lineterminator="\n")
    writer.writerow(table.columns)
    writer.writerows([text(cell) for cell in row] for row in table.rows)
    return out.getvalue()


def to_xlsx(report: Report) -> bytes:
    """The workbook for people: "About this report" (the banks, the period, the headline
    sentences), then a sheet per table with plain headers and labels (numbers as numbers,
    percentages and dates formatted, each withheld or empty cell saying why, the reasons in
    full under the table), then "Definitions". Machine names stay in the CSV and the JSON."""
    reading = read(report)
    book = Workbook()
    # A new workbook comes with one empty sheet.
    book.remove(book.worksheets[0])
    bold, wrap = Font(bold=True), Alignment(wrap_text=True, vertical="top")
    about = book.create_sheet(gettext("About this report"))
    about.column_dimensions["A"].width = 24
    about.column_dimensions["B"].width = 100
    spreadsheets.append(about, [gettext("Commissioner report"), reading.banks])
    about["A1"].font = about["B1"].font = Font(bold=True, size=14)
    for name, value in (
        (gettext("Period"), reading.period),
        (gettext("First day"), report.start),
        (gettext("Last day"), report.end),
        (gettext("Produced on"), timezone.localdate()),
        (
            gettext("Numbers not shown"),
            gettext("A number from 1 to %(most)s is not shown, so that no one can be recognised.")
            % {"most": report.threshold - 1},
        ),
        (gettext("Note"), gettext(NO_CASH_VALUE)),
    ):
        spreadsheets.append(about, [name, value])
        if isinstance(value, date):
            about.cell(about.max_row, 2).number_format = DAY
            about.cell(about.max_row, 2).alignment = Alignment(horizontal="left")
    spreadsheets.append(about, [])
    spreadsheets.append(about, [gettext("In brief")])
    about.cell(about.max_row, 1).font = bold
    for sentence in reading.headline:
        spreadsheets.append(about, ["", sentence])
        about.cell(about.max_row, 2).alignment = wrap
    for table in report.tables:
        _table_sheet(book.create_sheet(sheet_name(table, book.sheetnames)), table, report)
    definitions = book.create_sheet(gettext("Definitions"))
    spreadsheets.append(definitions, [gettext("Figure"), gettext("What it counts")])
    definitions.column_dimensions["A"].width = 36
    definitions.column_dimensions["B"].width = 100
    for cell in definitions[1]:
        cell.font = bold
    for definition in reading.definitions:
        spreadsheets.append(definitions, [definition.label, definition.text])
        definitions.cell(definitions.max_row, 2).alignment = wrap
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


DAY, MONTH = "d mmmm yyyy", "mmmm yyyy"


def _number_format(column: str, cell: Decimal) -> str:
    """Shares as percentages, money in pounds, hours and days to their places."""
    places = -int(cell.as_tuple().exponent)
    if places == 4:
        return "0%"
    if column in MONEY:
        return "£#,##0.00"
    return "#,##0." + "0" * places if places else "#,##0"


def _table_sheet(sheet: Any, table: Table, report: Report) -> None:
    """One table on its sheet: its title, its plain headers, its rows (see ``to_xlsx``)."""
    t = report.threshold
    spreadsheets.append(sheet, [table.title])
    sheet["A1"].font = Font(bold=True, size=12)
    spreadsheets.append(sheet, show_table(table, t).headers)
    for cell in sheet[2]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "B3"
    notes: list[str] = []
    for row in table.rows:
        values: list[Any] = []
        formats: list[str | None] = []
        for column, cell in zip(table.columns, row, strict=True):
            shown = show(table, row, column, t)
            if shown.why:
                values.append(shown.text)
                formats.append(None)
                notes.append(shown.why)
            elif isinstance(cell, Decimal):
                values.append(cell)
                formats.append(_number_format(column, cell))
            elif isinstance(cell, date):
                values.append(cell)
                formats.append(MONTH if column == "month" else DAY)
            elif isinstance(cell, int):
                values.append(cell)
                formats.append("#,##0")
            else:
                values.append(shown.text)
                formats.append(None)
        spreadsheets.append(sheet, values)
        for cell, number_format in zip(sheet[sheet.max_row], formats, strict=True):
            if number_format:
                cell.number_format = number_format
    for note in [table.note, *dict.fromkeys(notes)]:
        if note:
            spreadsheets.append(sheet, [])
            spreadsheets.append(sheet, [note])
    sheet.column_dimensions["A"].width = 40
    for letter in "BCDEFGHIJ":
        sheet.column_dimensions[letter].width = 18


def to_json(report: Report) -> dict[str, Any]:
    """The report with its machine names (snake_case, ISO dates, shares as fractions), as
    the CSV has them, and the same words as the page: the headline sentences, each table's
    title and why each withheld or empty cell is so (a reason's machine name), and the
    definitions with their plain labels."""
    reading = read(report)
    return {
        "time_banks": [{"slug": bank.slug, "name": bank.name} for bank in report.banks],
        "start": report.start.isoformat(),
        "end": report.end.isoformat(),
        "suppression_threshold": report.threshold,
        "note": gettext(NO_CASH_VALUE),
        "headline": reading.headline,
        "tables": [
            {
                "name": table.name,
                "title": table.title,
                "columns": table.columns,
                "rows": [[json_cell(cell) for cell in row] for row in table.rows],
                "note": table.note,
                "why": [
                    {"row": json_cell(key), "column": column, "reason": reason or ""}
                    for key, column, reason in table.reasons()
                ],
            }
            for table in report.tables
        ],
        "definitions": [
            {"term": d.term, "label": d.label, "definition": d.text} for d in reading.definitions
        ],
    }


# --- PDF ----------------------------------------------------------------------------------------

PACK_TEMPLATE = "reports/commissioner_pack.html"


def _static_file(url: str) -> tuple[bytes, str]:
    """The site's own static file at ``url`` (read from disk) and its type; ValueError for
    anything else, so printing a report never reaches the network."""
    path = urlsplit(url).path
    prefix = "/" + settings.STATIC_URL.strip("/") + "/"
    found = finders.find(path.removeprefix(prefix)) if path.startswith(prefix) else None
    if not found or isinstance(found, list):
        raise ValueError(f"Not a static file of the site: {url}")
    with open(found, "rb") as file:
        body = file.read()
    return body, "text/css" if path.endswith(".css") else "application/octet-stream"


def to_pdf(report: Report) -> bytes:
    """The printed pack (``PACK_TEMPLATE`` and its stylesheet): a cover, one summary page,
    the sections, the definitions and the full tables as an appendix, from the same reading
    as the page (``reports.reading``). No request: the same bytes in the request and on a
    worker."""
    # Imported here: WeasyPrint loads pango when imported, which only PDF downloads need.
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    # WeasyPrint warns about each screen-only rule of the site's stylesheet it does not
    # support (media queries by width, clip): expected, so only its errors are logged.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)

    class StaticFilesOnly(URLFetcher):
        def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
            body, content_type = _static_file(url)
            return URLFetcherResponse(url, body=body, headers={"Content-Type": content_type})

    html = render_to_string(PACK_TEMPLATE, {"reading": read(report)})
    return HTML(
        string=html, base_url=settings.SITE_URL + "/", url_fetcher=StaticFilesOnly()
    ).write_pdf()


# --- One entry point for the downloads --------------------------------------------------------

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


def filename(slugs: list[str], start: date, end: date, format: str, table: str = "") -> str:
    """The download's name: ``<banks>-report-<start>-<end>[-<table>].<format>``."""
    name = f"{'-'.join(slugs)}-report-{start.isoformat()}-{end.isoformat()}"
    return f"{name}-{table}.{format}" if table else f"{name}.{format}"


def render_file(report: Report, format: str, table: str = "") -> bytes:
    """The bytes of a download: CSV of the table ``table`` (KeyError if there is none), the
    XLSX workbook or the PDF."""
    if format == "csv":
        return to_csv(report.table(table)).encode()
    if format == "xlsx":
        return to_xlsx(report)
    if format == "pdf":
        return to_pdf(report)
    raise ValueError(f"Unknown format {format!r}.")
