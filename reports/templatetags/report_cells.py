"""``{{ cell|report_cell }}``: a commissioner report cell as the CSV shows it."""

from __future__ import annotations

from django import template

from reports.commissioning import Cell
from reports.formats import text

register = template.Library()


@register.filter
def report_cell(cell: Cell) -> str:
    return text(cell)
