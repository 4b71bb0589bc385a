from __future__ import annotations

import csv
from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from audit import services as audit
from audit.models import Action
from ledger import services as ledger
from ledger.exceptions import LedgerError
from ledger.models import Account, Entry, format_hours
from members.access import (
    get_bank_for_broker,
    get_bank_for_member,
    get_listing_for,
    get_member_for_broker,
    person_for,
)
from members.forms import LeaveForm
from members.models import Listing, ListingKind, Membership, TimeBank
from reminders.followups import desk_queues, follow_up_summaries

from . import rules, services
from .access import get_account_for, get_exchange_for
from .forms import (
    BrokerRecordForm,
    DonationForm,
    GrantForm,
    GroupForm,
    ReasonForm,
    RecordForm,
    StatementForm,
)
from .models import Exchange, State, hour_totals

# Recent exchanges on the dashboard.
RECENT = 10


def _id_param(request: HttpRequest, name: str) -> int:
    """A numeric id from the query string; anything else names nothing, so 404."""
    value = request.GET.get(name, "")
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        raise Http404(_("Nothing has that %(name)s.") % {"name": name})
    return int(value)


def _own_account(bank: TimeBank, person: object) -> Account:
    return ledger.open_account(time_bank=bank, person=person)


def _attempt(form: object, action: object) -> object | None:
    """Run a service call; turn a refusal a person can act on into a form error."""
    try:
        return action()  # type: ignore[operator]
    except ValidationError as error:
        if hasattr(error, "error_dict"):
            for field, errors in error.error_dict.items():
                form.add_error(field if field in form.fields else None, errors)  # type: ignore[attr-defined]
        else:
            form.add_error(None, error)  # type: ignore[attr-defined]
    except LedgerError as error:
        form.add_error(None, str(error))  # type: ignore[attr-defined]
    return None


@login_required
def dashboard(request: HttpRequest, slug: str) -> HttpResponse:
    """A member's page in one time bank: balance, hours, recent exchanges, what needs them."""
    bank, person, membership = get_bank_for_member(request.user, slug)
    account = _own_account(bank, person)
    month_start = timezone.localdate().replace(day=1)
    recent = Exchange.objects.latest_involving(account, RECENT).select_related(
        "giver__person", "giver__organisation", "receiver__person", "receiver__organisation"
    )
    to_confirm = Exchange.objects.filter(
        time_bank=bank, state=State.UNCONFIRMED, awaiting_confirmation_from=person
    ).select_related(
        "recorded_by",
        "giver__person",
        "giver__organisation",
        "receiver__person",
        "receiver__organisation",
    )
    context = {
        "bank": bank,
        "person": person,
        "membership": membership,
        "account": account,
        "totals": hour_totals(account, since=month_start),
        "recent": recent,
        "to_confirm": to_confirm,
        "listings": Listing.objects.owned_by(person)
        .open()
        .filter(time_bank=bank)
        .select_related("category"),
        "is_broker": membership.is_broker,
    }
    return render(request, "exchanges/dashboard.html", context)


@login_required
def record(request: HttpRequest, slug: str) -> HttpResponse:
    """Record an exchange: a member for themselves; a broker for anyone (``?for=<account>``)."""
    bank, person, membership = get_bank_for_member(request.user, slug)
    listing = (
        get_listing_for(request.user, _id_param(request, "listing"))
        if request.GET.get("listing")
        else None
    )
    initial = {}
    owner_account = None
    if listing is not None:
        initial = {"category": listing.category_id, "description": listing.title}
        # Don't re-ask what the listing says: who it was with, and which way the help went.
        owner_account = Account.objects.filter(
            time_bank=bank, person_id=listing.person_id, organisation_id=listing.organisation_id
        ).first()
    offered = listing is not None and listing.kind == ListingKind.OFFER
    if membership.is_broker:
        if owner_account is not None:
            initial["giver" if offered else "receiver"] = owner_account.pk
        if request.GET.get("for"):
            initial["giver"] = get_account_for(request.user, bank, _id_param(request, "for")).pk
        form = BrokerRecordForm(request.POST or None, bank=bank, initial=initial)
    else:
        own = _own_account(bank, person)
        if owner_account is not None and owner_account != own:
            initial["other"] = owner_account.pk
            initial["direction"] = "received" if offered else "gave"
        form = RecordForm(request.POST or None, bank=bank, own=own, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if membership.is_broker:
            giver, receiver = data["giver"], data["receiver"]
        else:
            giver, receiver = (
                (own, data["other"]) if data["direction"] == "gave" else (data["other"], own)
            )
        exchange = _attempt(
            form,
            lambda: services.record_exchange(
                recorded_by=person,
                giver=giver,
                receiver=receiver,
                minutes=data["minutes"],
                details=form.details(listing),
                idempotency_key=data["idempotency_key"],
            ),
        )
        if exchange is not None:
            messages.success(request, _recorded_message(exchange))
            return redirect("exchange", pk=exchange.pk)
    return render(
        request, "exchanges/record.html", {"bank": bank, "form": form, "listing": listing}
    )


def _recorded_message(exchange: Exchange) -> str:
    if exchange.state == State.UNCONFIRMED:
        return _("Recorded. We have asked %(name)s to confirm it.") % {
            "name": exchange.awaiting_confirmation_from.display_name
        }
    if exchange.state == State.AWAITING_APPROVAL:
        return _("Recorded. A broker will check it, then the hours will move.")
    return _("Recorded: %(hours)s. The hours have moved.") % {
        "hours": format_hours(exchange.minutes)
    }


@login_required
def record_group(request: HttpRequest, slug: str) -> HttpResponse:
    bank, person, membership = get_bank_for_member(request.user, slug)
    form = GroupForm(request.POST or None, bank=bank)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        exchange = _attempt(
            form,
            lambda: services.record_group_exchange(
                recorded_by=person,
                time_bank=bank,
                providers=[(a, data["provider_minutes"]) for a in data["providers"]],
                receivers=[(a, data["receiver_minutes"]) for a in data["receivers"]],
                details=form.details(),
                idempotency_key=data["idempotency_key"],
            ),
        )
        if exchange is not None:
            messages.success(request, _recorded_message(exchange))
            return redirect("exchange", pk=exchange.pk)
    return render(request, "exchanges/group.html", {"bank": bank, "form": form})


@login_required
def donate(request: HttpRequest, slug: str) -> HttpResponse:
    bank, person, _membership = get_bank_for_member(request.user, slug)
    own = _own_account(bank, person)
    form = DonationForm(
        request.POST or None, bank=bank, own=own, pot=ledger.community_pot(time_bank=bank)
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        exchange = _attempt(
            form,
            lambda: services.donate_hours(
                recorded_by=person,
                donor=own,
                to_account=data["to_account"],
                minutes=data["minutes"],
                note=data["note"],
                idempotency_key=data["idempotency_key"],
            ),
        )
        if exchange is not None:
            messages.success(
                request,
                _("Thank you: you gave %(hours)s.") % {"hours": format_hours(exchange.minutes)},
            )
            return redirect("dashboard", slug=bank.slug)
    return render(request, "exchanges/donate.html", {"bank": bank, "form": form, "account": own})


@login_required
def grant(request: HttpRequest, slug: str) -> HttpResponse:
    bank, broker = get_bank_for_broker(request.user, slug)
    pot = ledger.community_pot(time_bank=bank)
    form = GrantForm(request.POST or None, bank=bank)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        exchange = _attempt(
            form,
            lambda: services.grant_from_pot(
                broker=broker,
                time_bank=bank,
                to_account=data["to_account"],
                minutes=data["minutes"],
                reason=data["reason"],
                idempotency_key=data["idempotency_key"],
            ),
        )
        if exchange is not None:
            messages.success(
                request,
                _("Granted %(hours)s from the community pot.")
                % {"hours": format_hours(exchange.minutes)},
            )
            return redirect("desk", slug=bank.slug)
    return render(request, "exchanges/grant.html", {"bank": bank, "form": form, "pot": pot})


@login_required
def exchange_detail(request: HttpRequest, pk: int) -> HttpResponse:
    exchange = get_exchange_for(request.user, pk)
    person = person_for(request.user)
    entries = Entry.objects.filter(journal_id=exchange.journal_id).select_related(
        "account__person", "account__organisation"
    )
    # The buttons follow the one rule (exchanges.rules): shown only to who may press them.
    context = {
        "exchange": exchange,
        "entries": entries,
        "can_confirm": exchange.state == State.UNCONFIRMED
        and rules.may(rules.check_may_confirm, exchange=exchange, person=person),
        "can_decide": exchange.is_open
        and rules.may(rules.check_may_approve, exchange=exchange, person=person),
        "can_reverse": exchange.state == State.COMPLETED
        and rules.may(rules.check_may_reverse, exchange=exchange, person=person),
        "reason_form": ReasonForm(),
    }
    return render(request, "exchanges/detail.html", context)


def _decide(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    exchange = get_exchange_for(request.user, pk, write=True)
    person = person_for(request.user)
    form = ReasonForm(request.POST or None)
    # The desk's script (desk.js) posts in place and swaps the card for the answer.
    in_place = request.method == "POST" and request.headers.get("X-Requested-With") == "in-place"
    if request.method == "POST" and (action in {"confirm", "approve"} or form.is_valid()):
        calls = {
            "confirm": lambda: services.confirm_exchange(exchange=exchange, person=person),
            "approve": lambda: services.approve_exchange(exchange=exchange, broker=person),
            "decline": lambda: services.decline_exchange(
                exchange=exchange, person=person, reason=form.cleaned_data["reason"]
            ),
            "reverse": lambda: services.reverse_exchange(
                exchange=exchange, broker=person, reason=form.cleaned_data["reason"]
            ),
        }
        done = _attempt(form, calls[action])
        if done is not None:
            message = _("Done: the exchange is now %(state)s.") % {
                "state": done.get_state_display().lower()
            }
            if in_place:
                # The desk's count to approve goes down as the broker works through it.
                left = Exchange.objects.filter(time_bank_id=done.time_bank_id).awaiting_broker()
                context = {"exchange": done, "message": message, "to_approve": left.count()}
                return render(request, "exchanges/_decided.html", context)
            messages.success(request, message)
            # The desk posts here and wants to come back to itself; only local addresses.
            back = request.POST.get("next", "")
            if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
                return redirect(back)
            return redirect("exchange", pk=exchange.pk)
    if in_place:  # the script then posts the plain form, and the page it gets says why
        return HttpResponse(status=400)
    return render(
        request, "exchanges/decide.html", {"exchange": exchange, "form": form, "action": action}
    )


@login_required
def confirm(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, "confirm")


@login_required
def approve(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, "approve")


@login_required
def decline(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, "decline")


@login_required
def reverse(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, "reverse")


# Lines on one page of the statement; the CSV has every line of the period.
STATEMENT_PAGE = 50


def _cursor(request: HttpRequest, name: str) -> int | None:
    """A statement page link's position (an entry's ``account_version``), if given."""
    value = request.GET.get(name, "")
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        raise ValidationError(name)
    return int(value)


def _statement_page(lines: object, *, after: int | None, before: int | None) -> dict:
    """One page of statement lines by keyset on ``account_version`` (the entries index), with
    whether there are lines before and after it. One query whatever the page. Each line carries
    its own running balance (``balance_after``), so any page's balances are right."""
    if before is not None:
        found = list(
            lines.filter(account_version__lt=before).order_by("-account_version")[
                : STATEMENT_PAGE + 1
            ]
        )  # type: ignore[attr-defined]
        has_previous = len(found) > STATEMENT_PAGE
        page = found[:STATEMENT_PAGE][::-1]
        has_next = True
    else:
        if after is not None:
            lines = lines.filter(account_version__gt=after)  # type: ignore[attr-defined]
        found = list(lines[: STATEMENT_PAGE + 1])  # type: ignore[index]
        has_next = len(found) > STATEMENT_PAGE
        page = found[:STATEMENT_PAGE]
        has_previous = after is not None
    return {
        "page": page,
        "has_previous": has_previous and bool(page),
        "has_next": has_next and bool(page),
        "brought_forward": page[0].balance_after - page[0].amount_minutes if page else None,
        "carried_forward": page[-1].balance_after if page else None,
    }


@login_required
def statement(request: HttpRequest, slug: str) -> HttpResponse:
    """A statement for any date range, printable, a page of lines at a time (links to the
    previous and next pages), and the whole period as CSV with ``?format=csv``."""
    bank, person, _membership = get_bank_for_member(request.user, slug)
    account = (
        get_account_for(request.user, bank, _id_param(request, "account"))
        if request.GET.get("account")
        else _own_account(bank, person)
    )
    try:
        after, before = _cursor(request, "after"), _cursor(request, "before")
    except ValidationError:
        return HttpResponseBadRequest(
            _("That statement page link is not valid: open the statement again from your page.")
        )
    form = StatementForm(request.GET or None)
    today = timezone.localdate()
    start, end = today.replace(day=1) - timedelta(days=365), today
    if form.is_bound and form.is_valid():
        start = form.cleaned_data["start"] or start
        end = form.cleaned_data["end"] or end
    found = ledger.statement(account=account, first_day=start, last_day=end)
    data = {
        "opening": found.opening,
        "closing": found.closing,
        "lines": found.lines.select_related("journal"),
        "start": start,
        "end": end,
    }
    if request.GET.get("format") == "csv" and not form.errors:
        audit.record(
            action=Action.STATEMENT_DOWNLOADED,
            actor=person,
            time_bank=bank,
            obj=account,
            details={"start": start.isoformat(), "end": end.isoformat()},
        )
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="statement-{bank.slug}-{start}-{end}.csv"'
        )
        writer = csv.writer(response)
        writer.writerow(
            ["date_of_help", "recorded_on", "description", "minutes", "hours", "balance_minutes"]
        )
        writer.writerow([start.isoformat(), "", _("Opening balance"), "", "", data["opening"]])
        for line in data["lines"].iterator(chunk_size=1000):
            writer.writerow(
                [
                    line.journal.effective_date.isoformat(),
                    timezone.localtime(line.posted_at).date().isoformat(),
                    line.journal.description,
                    line.amount_minutes,
                    format_hours(line.amount_minutes),
                    line.balance_after,
                ]
            )
        writer.writerow([end.isoformat(), "", _("Closing balance"), "", "", data["closing"]])
        return response
    paged = _statement_page(data["lines"], after=after, before=before)
    period = f"account={account.pk}&start={start:%Y-%m-%d}&end={end:%Y-%m-%d}"
    return render(
        request,
        "exchanges/statement.html",
        {"bank": bank, "account": account, "form": form, "period": period, **data, **paged},
    )


@login_required
def desk(request: HttpRequest, slug: str) -> HttpResponse:
    """The broker's desk: everything waiting for a broker, each row actionable in one click."""
    bank, broker = get_bank_for_broker(request.user, slug)
    pot = ledger.community_pot(time_bank=bank)
    queues = desk_queues(time_bank=bank)
    context = {
        "bank": bank,
        "pot": pot,
        "applications": Membership.objects.filter(time_bank=bank)
        .awaiting_decision()
        .select_related("person"),
        "to_approve": queues.to_approve,
        "long_unconfirmed": queues.long_unconfirmed,
        "flagged_exchanges": queues.flagged,
        "reason_form": ReasonForm(),
        "followups": follow_up_summaries(time_bank=bank),
    }
    return render(request, "exchanges/desk.html", context)


@login_required
@require_POST
def mark_member_left(request: HttpRequest, slug: str, person_id: int) -> HttpResponse:
    """For a broker: mark a member as having left the time bank, with an optional reason. The
    exchanges that would debit them are cancelled (``services.leave_time_bank``)."""
    membership, broker = get_member_for_broker(request.user, slug, person_id)
    form = LeaveForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The reason is too long: keep it under 1,000 characters."))
        return redirect("member-page", slug=slug, person_id=person_id)
    try:
        services.leave_time_bank(
            membership=membership, by=broker, reason=form.cleaned_data["reason"]
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request, _("%(name)s is marked as left.") % {"name": membership.person.display_name}
        )
    return redirect("member-page", slug=slug, person_id=person_id)
