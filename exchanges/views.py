from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import TypeVar

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from audit import services as audit
from audit.models import Action
from ledger import services as ledger
from ledger.exceptions import LedgerError
from ledger.models import Account, Entry, Journal, format_hours
from listings.access import get_listing_for
from listings.models import Listing, ListingKind
from members.access import (
    get_bank_for_broker,
    get_bank_for_member,
    get_member_for_broker,
    person_for,
)
from members.forms import LeaveForm
from members.models import TRADING_ROLES, Membership, Person, Status, TimeBank
from timebank import spreadsheets

from . import rules, services, words
from .access import get_account_for, get_exchange_for
from .exceptions import AlreadyDecided, PastLimit
from .forms import (
    BrokerRecordForm,
    DecisionForm,
    DonationForm,
    GrantForm,
    GroupForm,
    ReasonForm,
    RecordForm,
    StatementForm,
)
from .models import COPRODUCTION_IN_WORDS, Exchange, State, hour_totals

# Recent exchanges on the dashboard.
RECENT = 10

_T = TypeVar("_T")


def _id_param(request: HttpRequest, name: str) -> int:
    """A numeric id from the query string; anything else names nothing, so 404."""
    value = request.GET.get(name, "")
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        raise Http404(_("Nothing has that %(name)s.") % {"name": name})
    return int(value)


def _own_account(bank: TimeBank, person: Person) -> Account:
    return ledger.open_account(time_bank=bank, person=person)


def _open_listings(person: Person, bank: TimeBank) -> QuerySet[Listing]:
    # TEMPORARY: members/ types ListingQuerySet's methods as returning a plain QuerySet;
    # mypy flags this comment as unused once they return Self.
    return Listing.objects.owned_by(person).open().filter(time_bank=bank).select_related("category")


def _attempt(
    form: forms.BaseForm, action: Callable[[], _T], *, passing: tuple[type[Exception], ...] = ()
) -> _T | None:
    """Run a service call; turn a refusal a person can act on into a form error (those of
    ``passing`` are raised for the caller to answer)."""
    try:
        return action()
    except passing:
        raise
    except ValidationError as error:
        if hasattr(error, "error_dict"):
            for field, errors in error.error_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            form.add_error(None, error)
    except LedgerError as error:
        form.add_error(None, str(error))
        if isinstance(error, PastLimit) and error.may_record_for_approval:
            offer = getattr(form, "offer_past_limit", None)
            if offer is not None:
                offer()
    return None


# What a list of exchanges shows of each: who gave, who received, and who recorded it.
PEOPLE = [
    "recorded_by",
    "awaiting_confirmation_from",
    "giver__person",
    "giver__organisation",
    "receiver__person",
    "receiver__organisation",
]


def _at_a_glance(bank: TimeBank, person: Person, membership: Membership) -> dict:
    """What a member's home and bank page answer at a glance: the balance and the hours
    given and received, what waits for them (to confirm), and what they wait on (for the
    other person or a broker). Four queries."""
    account = _own_account(bank, person)
    month_start = timezone.localdate().replace(day=1)
    limit = account.credit_limit_minutes
    totals = hour_totals(account, since=month_start)
    return {
        "bank": bank,
        "membership": membership,
        "account": account,
        # What the balance holds besides exchanges: an opening balance a bank brought from
        # its old records (imports), so that the figures shown still add up to the balance.
        "brought_forward": account.posted_minutes
        - (totals["given"] - totals["received"] + totals["gifts_in"] - totals["gifts_out"]),
        # How much more they may receive before the limit (their own figure: theirs to see).
        "room": None
        if limit is None
        else max(account.posted_minutes - account.pending_out_minutes - limit, 0),
        "totals": totals,
        "waiting_for_you": Exchange.objects.filter(time_bank=bank)
        .waiting_for(person)
        .select_related(*PEOPLE),
        "waiting_on_others": Exchange.objects.waiting_on_others(account, person).select_related(
            *PEOPLE
        ),
    }


def home(request: HttpRequest) -> HttpResponse:
    """Signed out: what a time bank is and which ones to join. Signed in: each of your time
    banks at a glance (your hours in words, what waits for you and what you wait on, one
    button to record), the broker's queue, the commissioner's report, an application's state."""
    if not request.user.is_authenticated:
        banks = TimeBank.objects.filter(accepting_applications=True)
        return render(request, "members/welcome.html", {"banks": banks})
    person = person_for(request.user)
    memberships = list(Membership.objects.for_user(request.user).select_related("time_bank"))
    joined = {m.time_bank_id for m in memberships}
    open_banks = TimeBank.objects.filter(accepting_applications=True).exclude(pk__in=joined)
    cards = []
    for membership in memberships:
        card: dict = {"membership": membership, "bank": membership.time_bank}
        trades = membership.status == Status.APPROVED and membership.role in TRADING_ROLES
        if trades and person is not None:
            card.update(_at_a_glance(membership.time_bank, person, membership))
        if membership.is_broker:
            card["to_approve"] = (
                Exchange.objects.filter(time_bank=membership.time_bank).awaiting_broker().count()
            )
            card["applications"] = (
                Membership.objects.filter(time_bank=membership.time_bank)
                .awaiting_decision()
                .count()
            )
        cards.append(card)
    return render(
        request,
        "members/home.html",
        {"person": person, "cards": cards, "open_banks": open_banks},
    )


@login_required
def dashboard(request: HttpRequest, slug: str) -> HttpResponse:
    """A member's page in one time bank: the same glance as their home, then their recent
    exchanges (every one still waiting, and the latest others, by date of help) and their
    offers and requests."""
    bank, person, membership = get_bank_for_member(request.user, slug)
    glance = _at_a_glance(bank, person, membership)
    recent = Exchange.objects.latest_involving(glance["account"], RECENT).select_related(*PEOPLE)
    context = {
        **glance,
        "person": person,
        "recent": recent,
        "listings": _open_listings(person, bank),
        "is_broker": membership.is_broker,
    }
    return render(request, "exchanges/dashboard.html", context)


@login_required
def record(request: HttpRequest, slug: str) -> HttpResponse:
    """Record an exchange: a member for themselves; a broker between any two accounts, or for
    one member (``?for=<account>``: the page names them and asks whether they gave or
    received)."""
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
        # None matches NULL: an organisation's listing has no person, a member's no organisation.
        owner_account = Account.objects.filter(
            Q(person_id=listing.person_id) & Q(organisation_id=listing.organisation_id),
            time_bank=bank,
        ).first()
    offered = listing is not None and listing.kind == ListingKind.OFFER
    subject = None
    if membership.is_broker and request.GET.get("for"):
        subject = get_account_for(request.user, bank, _id_param(request, "for"))
    form: RecordForm | BrokerRecordForm
    if membership.is_broker and subject is None:
        if owner_account is not None:
            initial["giver" if offered else "receiver"] = owner_account.pk
        form = BrokerRecordForm(request.POST or None, bank=bank, initial=initial)
    else:
        own = subject or _own_account(bank, person)
        if owner_account is not None and owner_account != own:
            initial["other"] = owner_account.pk
            initial["direction"] = "received" if offered else "gave"
        form = RecordForm(
            request.POST or None,
            bank=bank,
            own=own,
            subject=subject.holder_name if subject is not None else None,
            initial=initial,
        )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if isinstance(form, BrokerRecordForm):
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
                past_limit=bool(data.get("past_limit")),
            ),
        )
        if exchange is not None:
            messages.success(request, _recorded_message(exchange, person))
            return redirect("exchange", pk=exchange.pk)
    return render(
        request,
        "exchanges/record.html",
        {"bank": bank, "form": form, "listing": listing, "subject": subject},
    )


def _recorded_message(exchange: Exchange, reader: Person) -> str:
    """What the person who recorded reads next: who helped whom, then what happens now."""
    said = words.story(exchange, reader)
    asked = exchange.awaiting_confirmation_from
    if exchange.state == State.UNCONFIRMED and asked is not None:
        then = _("We have asked %(name)s to confirm it.") % {"name": asked.display_name}
    elif exchange.state == State.AWAITING_APPROVAL and exchange.flagged_over_limit:
        then = _("It is past a limit, so it waits for a broker to approve it.")
    elif exchange.state == State.AWAITING_APPROVAL:
        then = _("A broker will check it, then the hours will move.")
    else:
        then = _("The hours have moved.")
    return _("Recorded: %(said)s %(then)s") % {"said": said, "then": then}


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
            messages.success(request, _recorded_message(exchange, person))
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
    if exchange.between_banks:
        return redirect("interbank-exchange", pk=exchange.pk)
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
        "person": person,
        "coproduction": COPRODUCTION_IN_WORDS.get(exchange.coproduction, ""),
    }
    return render(request, "exchanges/detail.html", context)


def _decide(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    exchange = get_exchange_for(request.user, pk, write=True)
    if exchange.between_banks:
        # Decided with its other half, on its own page.
        return redirect("interbank-exchange", pk=exchange.pk)
    person = person_for(request.user)
    if person is None:  # get_exchange_for found none for a user without a profile already
        raise Http404(_("No such exchange."))
    # Confirm and approve have nothing to fill in, but their form is validated too: a refusal
    # (a double click finds it already decided) is added to it as an error.
    form_class = ReasonForm if action in {"decline", "reverse"} else DecisionForm
    form = form_class(request.POST if request.method == "POST" else None)
    # The desk's script (desk.js) posts in place and swaps the card for the answer.
    in_place = request.method == "POST" and request.headers.get("X-Requested-With") == "in-place"
    if request.method == "POST" and form.is_valid():
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
        try:
            done = _attempt(form, calls[action], passing=(AlreadyDecided,))
        except AlreadyDecided as error:
            # A double click, or a page left open: the exchange's own page shows what it is now.
            if in_place:
                return HttpResponse(status=400)
            messages.info(request, str(error))
            return redirect("exchange", pk=exchange.pk)
        if done is not None:
            message = _("Done: the exchange is now %(state)s.") % {
                "state": done.get_state_display().lower()
            }
            if action == "confirm":
                # To the person who confirmed, in their words: who helped whom, what now.
                message = _("Confirmed: %(said)s %(then)s") % {
                    "said": words.story(done, person),
                    "then": _("The hours have moved.")
                    if done.state == State.COMPLETED
                    else _("A broker will check it, then the hours will move."),
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


def _cursor(request: HttpRequest, name: str) -> Entry | None:
    """A statement page link's position: the date of help and the account's version of the
    line it starts after ("2026-12-05.14"), as an unsaved entry to compare with."""
    value = request.GET.get(name, "")
    if not value:
        return None
    day, _sep, version = value.partition(".")
    if not (version.isascii() and version.isdigit()) or len(version) > 18:
        raise ValidationError(name)
    try:
        when = date.fromisoformat(day)
    except ValueError:
        raise ValidationError(name) from None
    return Entry(account_version=int(version), journal=Journal(effective_date=when))


def _position(line: Entry) -> str:
    return f"{line.journal.effective_date:%Y-%m-%d}.{line.account_version}"


def _statement_page(
    found: ledger.HelpStatement, *, older: Entry | None, newer: Entry | None
) -> dict:
    """One page of statement lines, newest first, by keyset on (date of help, version), with
    each line's running balance in that order and whether there are newer and older lines.
    Two queries whatever the page."""
    lines = found.lines
    if newer is not None:
        # Back towards the newest: the page just above ``newer``, read upwards.
        above = list(
            lines.filter(ledger.newer_than(newer)).order_by(
                "journal__effective_date", "account_version"
            )[: STATEMENT_PAGE + 1]
        )
        has_newer = len(above) > STATEMENT_PAGE
        page = above[:STATEMENT_PAGE][::-1]
        has_older = True
    else:
        if older is not None:
            lines = lines.filter(ledger.older_than(older))
        below = list(lines[: STATEMENT_PAGE + 1])
        has_older = len(below) > STATEMENT_PAGE
        page = below[:STATEMENT_PAGE]
        has_newer = older is not None
    for line, balance in zip(page, ledger.running_balances(found, page), strict=True):
        line.running_balance = balance
    return {
        "page": page,
        "has_newer": has_newer and bool(page),
        "has_older": has_older and bool(page),
        "newer_link": _position(page[0]) if page else "",
        "older_link": _position(page[-1]) if page else "",
    }


# A statement line's exchange and the people in it, for its "with whom" (a correction reads
# them from the exchange it reverses).
STATEMENT_LINE_RELATIONS = [
    f"journal__{via}exchange__{side}__{holder}"
    for via in ("", "reverses__")
    for side in ("giver", "receiver")
    for holder in ("person", "organisation")
]


@login_required
def statement(request: HttpRequest, slug: str) -> HttpResponse:
    """A statement for any date range by the date the help happened, newest first, each line
    with whom and its running balance in that order; printable, a page of lines at a time
    (links to newer and older lines), and the whole period as CSV with ``?format=csv``."""
    bank, person, _membership = get_bank_for_member(request.user, slug)
    account = (
        get_account_for(request.user, bank, _id_param(request, "account"))
        if request.GET.get("account")
        else _own_account(bank, person)
    )
    try:
        older, newer = _cursor(request, "older"), _cursor(request, "newer")
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
    found = ledger.statement_by_date_of_help(account=account, first_day=start, last_day=end)
    found = ledger.HelpStatement(
        opening=found.opening,
        closing=found.closing,
        lines=found.lines.select_related("journal", *STATEMENT_LINE_RELATIONS),
    )
    if request.GET.get("format") == "csv" and not form.errors:
        return _statement_csv(request, bank, person, account, found, start, end)
    paged = _statement_page(found, older=older, newer=newer)
    for line in paged["page"]:
        line.with_whom = _with_whom(line, account)
    period = f"account={account.pk}&start={start:%Y-%m-%d}&end={end:%Y-%m-%d}"
    return render(
        request,
        "exchanges/statement.html",
        {
            "bank": bank,
            "account": account,
            "form": form,
            "period": period,
            "opening": found.opening,
            "closing": found.closing,
            "start": start,
            "end": end,
            "today": today,
            "own": account.person_id is not None and account.person_id == person.pk,
            **paged,
        },
    )


def _with_whom(line: Entry, account: Account) -> str:
    journal = line.journal
    exchange = getattr(journal, "exchange", None)
    if exchange is None and journal.reverses_id is not None:
        exchange = getattr(journal.reverses, "exchange", None)
    if exchange is None:
        return ""
    return words.other_side(exchange, account)


def _statement_csv(
    request: HttpRequest,
    bank: TimeBank,
    person: Person,
    account: Account,
    found: ledger.HelpStatement,
    start: date,
    end: date,
) -> HttpResponse:
    """The whole period, in the page's order (newest first), with the same running balances."""
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
    writer = spreadsheets.Writer(response)
    writer.writerow(
        [
            "date_of_help",
            "recorded_on",
            "description",
            "with_whom",
            "minutes",
            "hours",
            "balance_minutes",
        ]
    )
    writer.writerow([end.isoformat(), "", _("Closing balance"), "", "", "", found.closing])
    balance = found.closing
    for line in found.lines.iterator(chunk_size=1000):
        writer.writerow(
            [
                line.journal.effective_date.isoformat(),
                timezone.localtime(line.posted_at).date().isoformat(),
                line.journal.description,
                _with_whom(line, account),
                line.amount_minutes,
                format_hours(line.amount_minutes),
                balance,
            ]
        )
        balance -= line.amount_minutes
    writer.writerow([start.isoformat(), "", _("Opening balance"), "", "", "", found.opening])
    return response


@login_required
def mark_member_left(request: HttpRequest, slug: str, person_id: int) -> HttpResponse:
    """For a broker: a page asking "Mark them as left?" (GET), then marking a member as having
    left the time bank (POST), with an optional reason. The exchanges that would debit them
    are cancelled (``services.leave_time_bank``)."""
    membership, broker = get_member_for_broker(request.user, slug, person_id)
    # Bound on any POST: the reason is optional, so the form may come back empty.
    form = LeaveForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.leave_time_bank(
                membership=membership, by=broker, reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                _("%(name)s is marked as left.") % {"name": membership.person.display_name},
            )
            return redirect("member-page", slug=slug, person_id=person_id)
    return render(
        request,
        "members/leave.html",
        {"bank": membership.time_bank, "membership": membership, "form": form},
    )
