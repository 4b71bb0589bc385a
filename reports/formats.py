"""The commissioner report as CSV (one table per file), XLSX (one sheet per table, plus the
definitions), JSON and PDF (the web page's own template, printed by WeasyPrint): renderings of
one ``Report``, so the figures are the same. ``render_file`` is the one entry point of the
downloads, whether built in the request or by a worker (``reports.exports``)."""

from __future__ import annotations

import csv
import io
import logging
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils.translation import gettext
from openpyxl import Workbook
from openpyxl.styles import Font

from .commissioning import NO_CASH_VALUE, Cell, Report, Table


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
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.columns)
    writer.writerows([text(cell) for cell in row] for row in table.rows)
    return out.getvalue()


def to_xlsx(report: Report) -> bytes:
    """One sheet per table (named as the table), then "about_these_figures"."""
    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    bold = Font(bold=True)
    for table in report.tables:
        sheet = book.create_sheet(table.name)
        sheet.append(table.columns)
        for cell in sheet[1]:
            cell.font = bold
        for row in table.rows:
            sheet.append(["" if cell is None else cell for cell in row])
            # Decimals are numbers in the sheet; show them with their places (hours 2, shares 4).
            for cell, value in zip(sheet[sheet.max_row], row, strict=True):
                if isinstance(value, Decimal):
                    cell.number_format = "0." + "0" * -int(value.as_tuple().exponent)
        if table.note:
            sheet.append([])
            sheet.append([table.note])
    about = book.create_sheet("about_these_figures")
    about.append(["term", "definition"])
    for cell in about[1]:
        cell.font = bold
    about.append(["time_banks", ", ".join(bank.name for bank in report.banks)])
    about.append(
        [
            "period",
            gettext("%(start)s to %(end)s")
            % {"start": report.start.isoformat(), "end": report.end.isoformat()},
        ]
    )
    about.append(["suppression_threshold", report.threshold])
    about.append(["note", gettext(NO_CASH_VALUE)])
    for term, definition in report.definitions:
        about.append([term, definition])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def to_json(report: Report) -> dict[str, Any]:
    return {
        "time_banks": [{"slug": bank.slug, "name": bank.name} for bank in report.banks],
        "start": report.start.isoformat(),
        "end": report.end.isoformat(),
        "suppression_threshold": report.threshold,
        "note": gettext(NO_CASH_VALUE),
        "tables": [
            {
                "name": table.name,
                "title": table.title,
                "columns": table.columns,
                "rows": [[json_cell(cell) for cell in row] for row in table.rows],
                "note": table.note,
            }
            for table in report.tables
        ],
        "definitions": [
            {"term": term, "definition": definition} for term, definition in report.definitions
        ],
    }


# --- PDF ----------------------------------------------------------------------------------------

PAGE_TEMPLATE = "reports/commissioner.html"


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
    """The web page's template printed to PDF (its print stylesheet: no navigation, no form,
    tables kept whole where they fit, the bar charts drawn in CSS). No request: the same
    bytes in the request and on a worker."""
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

    html = render_to_string(
        PAGE_TEMPLATE,
        {
            "bank": report.banks[0],
            "banks": report.banks,
            "report": report,
            "no_cash_value": gettext(NO_CASH_VALUE),
        },
    )
    return HTML(  # type: ignore[no-any-return]
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
