"""The commissioner report as CSV (one table per file), XLSX (one sheet per table, plus the
definitions) and JSON: three renderings of one ``Report``, so the figures are the same."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from typing import Any

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
    about.append(["period", f"{report.start.isoformat()} to {report.end.isoformat()}"])
    about.append(["suppression_threshold", report.threshold])
    about.append(["note", NO_CASH_VALUE])
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
        "note": NO_CASH_VALUE,
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
