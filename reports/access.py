"""Access functions for reports and statements: load what the user asked for, or refuse.

A report is for the brokers of its time bank (403 for anyone else); a statement is for its
own member (404 for anyone else, so its existence is not revealed).
"""

from __future__ import annotations

from django.http import Http404

from members.access import get_bank_for_broker, get_bank_for_member

from .models import MonthlyReport, ReportState, Statement
from .services import parse_month


def _month(text: str):  # type: ignore[no-untyped-def]
    try:
        return parse_month(text)
    except ValueError:
        raise Http404("No such month.") from None


def get_report_for(user: object, slug: str, month: str) -> MonthlyReport:
    """A finished monthly report of a bank the user brokers."""
    bank, _ = get_bank_for_broker(user, slug)
    report = (
        MonthlyReport.objects.filter(time_bank=bank, month=_month(month), state=ReportState.DONE)
        .select_related("time_bank")
        .first()
    )
    if report is None:
        raise Http404("No report for that month.")
    return report


def get_statement_for(user: object, slug: str, month: str) -> Statement:
    """The signed-in member's own statement for ``month`` in the bank ``slug``."""
    _, _, membership = get_bank_for_member(user, slug)
    statement = (
        Statement.objects.filter(membership=membership, month=_month(month))
        .select_related("membership__time_bank", "membership__person")
        .first()
    )
    if statement is None:
        raise Http404("No statement for that month.")
    return statement
