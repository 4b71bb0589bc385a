"""The broker's desk: everything waiting for a broker in one page, each row actionable in one
click (its script, desk.js, posts in place)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from exchanges.forms import ReasonForm
from ledger import services as ledger
from members.access import get_bank_for_broker
from members.forms import MemberSearchForm
from members.models import Membership

from .followups import DESK_APPLICATIONS, desk_queues, first_with_total, follow_up_summaries


@login_required
def desk(request: HttpRequest, slug: str) -> HttpResponse:
    """The broker's desk: everything waiting for a broker, each row actionable in one click.
    Each queue shows its oldest few and its size (``?all=1``: every exchange waiting), each
    follow-up list its first few; the applications' own page has them all. A fixed number of
    queries, however large the bank and its queues."""
    bank, broker = get_bank_for_broker(request.user, slug)
    pot = ledger.community_pot(time_bank=bank)
    everything = request.GET.get("all") == "1"
    queues = (
        desk_queues(time_bank=bank, to_approve=None, long_unconfirmed=None)
        if everything
        else desk_queues(time_bank=bank)
    )
    applications, applications_total = first_with_total(
        Membership.objects.filter(time_bank=bank).awaiting_decision().select_related("person"),
        DESK_APPLICATIONS,
    )
    context = {
        "bank": bank,
        "pot": pot,
        "applications": applications,
        "applications_total": applications_total,
        "queues": queues,
        "to_approve": queues.to_approve,
        "long_unconfirmed": queues.long_unconfirmed,
        "flagged_exchanges": queues.flagged,
        "reason_form": ReasonForm(),
        "followups": follow_up_summaries(time_bank=bank),
        # The desk's search box sends what the members page reads (its own form's field).
        "member_search": MemberSearchForm(),
    }
    return render(request, "desk/desk.html", context)
