"""``{% load hours %}`` then ``{{ minutes|hours }}``: "1.5 hours", "45 minutes"."""

from __future__ import annotations

from decimal import Decimal

from django import template

from ledger.models import balance_in_words, format_hours

register = template.Library()


@register.filter(name="hours")
def hours(minutes: int | None) -> str:
    if minutes is None or minutes == "":
        return ""
    return format_hours(int(minutes))


@register.filter(name="hours_number")
def hours_number(minutes: int | None) -> str:
    """Minutes as a bare number of hours, for a column headed "Hours" or "Balance": "1.5",
    "−0.25" (a true minus sign), "1.67" for 1 hour 40 minutes."""
    if minutes is None or minutes == "":
        return ""
    value = (Decimal(int(minutes)) / 60).quantize(Decimal("0.01")).normalize()
    text = f"{abs(value):f}"
    return f"−{text}" if value < 0 else text


@register.simple_tag
def balance_words(minutes: int, holder: str | None = None) -> str:
    """``{% balance_words account.posted_minutes %}``: "You have 3 hours to spend."; with a
    name, the same about them (a broker's view)."""
    return balance_in_words(int(minutes), holder)
