"""``{% load hours %}`` then ``{{ minutes|hours }}``: "1.5 hours", "45 minutes"."""

from __future__ import annotations

from django import template

from ledger.models import format_hours

register = template.Library()


@register.filter(name="hours")
def hours(minutes: int | None) -> str:
    if minutes is None or minutes == "":
        return ""
    return format_hours(int(minutes))
