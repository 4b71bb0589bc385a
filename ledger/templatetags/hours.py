"""``{% load hours %}`` then ``{{ minutes|hours }}``: "1.5 hours", "45 minutes"."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils.translation import gettext

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


@register.filter(name="balance_phrase")
def balance_phrase(minutes: int | None) -> str:
    """A balance in a list of names, never a bare "-9 hours": "9 hours to spend", "received 9
    hours more than given", "as much given as received"."""
    if minutes is None or minutes == "":
        return ""
    minutes = int(minutes)
    if minutes > 0:
        return gettext("%(hours)s to spend") % {"hours": format_hours(minutes)}
    if minutes < 0:
        return gettext("received %(hours)s more than given") % {"hours": format_hours(-minutes)}
    return gettext("as much given as received")
