"""Access functions for reports and statements: load what the user asked for, or refuse.

A report is for the brokers of its time bank (403 for anyone else); a statement is for its
own member (404 for anyone else, so its existence is not revealed). A commissioner report
(aggregates only) is for the bank's brokers and admins, its approved commissioners, and
anyone holding a commissioner grant for the bank in force today; others get 403, and a bank
that does not exist is 404. A worker-built report download is for the user who asked for it
(404 for anyone else), while they may still see every one of its banks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from uuid import UUID

from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.http import Http404
from django.utils.translation import gettext

from members.access import get_bank_for_broker, get_bank_for_member, person_for
from members.models import BROKER_ROLES, CommissionerGrant, Membership, Role, Status, TimeBank

from .models import MonthlyReport, ReportExport, ReportState, Statement
from .services import parse_month


def _month(text: str) -> date:
    try:
        return parse_month(text)
    except ValueError:
        raise Http404(gettext("No such month.")) from None


def get_report_for(user: object, slug: str, month: str) -> MonthlyReport:
    """A finished monthly report of a bank the user brokers."""
    bank, _ = get_bank_for_broker(user, slug)
    report = (
        MonthlyReport.objects.filter(time_bank=bank, month=_month(month), state=ReportState.DONE)
        .select_related("time_bank")
        .first()
    )
    if report is None:
        raise Http404(gettext("No report for that month."))
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
        raise Http404(gettext("No statement for that month."))
    return statement


def get_banks_for_commissioning(user: object, slugs: Sequence[str]) -> list[TimeBank]:
    """The time banks ``slugs`` (in that order), if the user may see the commissioner report
    of every one of them: a broker or admin of the bank, an approved commissioner of it, or
    the holder of a grant for it in force today. One query for the banks and the check."""
    wanted = list(dict.fromkeys(slugs))
    person = person_for(user)
    if person is None:
        raise PermissionDenied(
            gettext("Only commissioners and brokers of a time bank see its reports.")
        )
    roles = Membership.objects.filter(
        time_bank=OuterRef("pk"),
        person=person,
        status=Status.APPROVED,
        role__in=[*BROKER_ROLES, Role.COMMISSIONER],
    )
    grants = CommissionerGrant.objects.in_force().filter(time_bank=OuterRef("pk"), person=person)
    banks = {
        bank.slug: bank
        for bank in TimeBank.objects.filter(slug__in=wanted).annotate(
            allowed=Exists(roles) | Exists(grants)
        )
    }
    if not wanted or len(banks) != len(wanted):
        raise Http404(gettext("No such time bank."))
    if not all(bank.allowed for bank in banks.values()):
        raise PermissionDenied(
            gettext("Only commissioners and brokers of a time bank see its reports.")
        )
    return [banks[slug] for slug in wanted]


def get_export_for(user: object, token: UUID) -> tuple[ReportExport, list[TimeBank]]:
    """A worker-built report download, for the user who asked for it (404 for anyone else,
    so its existence is not revealed) and only while they may still see every one of its
    banks (403 otherwise): the export and its banks."""
    user_id = getattr(user, "pk", None)
    export = (
        None
        if user_id is None
        else ReportExport.objects.filter(token=token, user_id=user_id).first()
    )
    if export is None:
        raise Http404(gettext("No such report."))
    return export, get_banks_for_commissioning(user, export.slugs)
