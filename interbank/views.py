"""Pages of links between time banks: administrators manage their bank's links; members see
what linked banks share, record help across, and decide it on the exchange's page."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from exchanges.exceptions import AlreadyDecided
from exchanges.models import State
from ledger import services as ledger
from ledger.exceptions import LedgerError
from listings.models import Listing
from members.access import get_bank_for_member, is_broker, person_for
from members.models import TRADING_ROLES, Person, Status, TimeBank

from . import services
from .access import get_bank_for_admin, get_cross_for, get_link_for_admin
from .forms import ChangeForm, CrossRecordForm, ProposeForm, ReasonForm, TermsForm
from .models import SHARING_ORDER, Link, LinkStatus, Sharing

T = TypeVar("T")


def _attempt(form: forms.BaseForm, action: Callable[[], T]) -> T | None:
    """Run a service call; a refusal a person can act on becomes a form error."""
    try:
        return action()
    except ValidationError as error:
        if hasattr(error, "error_dict"):
            for field, errors in error.error_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            form.add_error(None, error)
    except LedgerError as error:
        form.add_error(None, str(error))
    return None


@login_required
def links(request: HttpRequest, slug: str) -> HttpResponse:
    """An administrator's page of their bank's links: each with its terms and what can be
    done; and a form to propose a new one."""
    bank, person = get_bank_for_admin(request.user, slug)
    form = ProposeForm(request.POST or None, bank=bank)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        link = _attempt(
            form,
            lambda: services.propose_link(
                by=person,
                time_bank=bank,
                partner=data["partner"],
                trust_limit_minutes=data["trust_limit"],
                shares=data["shares"],
            ),
        )
        if link is not None:
            messages.success(
                request,
                _("Link proposed to %(bank)s: its administrator will accept or decline it.")
                % {"bank": data["partner"].name},
            )
            return redirect("interbank-links", slug=bank.slug)
    rows = []
    for link in (
        Link.objects.of_bank(bank)
        .select_related("proposer", "partner", "proposer_mirror", "partner_mirror")
        .order_by("-proposed_at", "-pk")
    ):
        mirror = link.mirror_of(bank)
        rows.append(
            {
                "link": link,
                "other": link.other(bank),
                "asked": link.status == LinkStatus.PROPOSED and link.partner_id == bank.pk,
                "limit": link.limit_of(bank),
                "shares": Sharing(link.shares_of(bank)).label,
                "their_limit": link.limit_of(link.other(bank)),
                "balance": mirror.posted_minutes if mirror is not None else 0,
                "may_resume": link.status == LinkStatus.SUSPENDED
                and link.changed_by_bank_id == bank.pk,
                "terms": TermsForm(
                    initial={
                        "trust_limit": link.limit_of(bank) / 60,
                        "shares": link.shares_of(bank),
                    },
                    prefix=f"link{link.pk}",
                ),
            }
        )
    return render(request, "interbank/links.html", {"bank": bank, "form": form, "rows": rows})


@login_required
@require_POST
def link_change(request: HttpRequest, pk: int) -> HttpResponse:
    """Accept, decline, suspend, resume or end a link, or change one's own terms."""
    link, person = get_link_for_admin(request.user, pk)
    form = ChangeForm(request.POST)
    back = link.partner if services.is_bank_admin(person, link.partner) else link.proposer
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return redirect("interbank-links", slug=back.slug)
    data = form.cleaned_data
    change = data["change"]
    calls: dict[str, Callable[[], object]] = {
        "accept": lambda: services.accept_link(
            link=link, by=person, trust_limit_minutes=data["trust_limit"], shares=data["shares"]
        ),
        "decline": lambda: services.decline_link(link=link, by=person),
        "suspend": lambda: services.suspend_link(link=link, by=person),
        "resume": lambda: services.resume_link(link=link, by=person),
        "end": lambda: services.end_link(link=link, by=person),
        "terms": lambda: services.set_terms(
            link=link, by=person, trust_limit_minutes=data["trust_limit"], shares=data["shares"]
        ),
    }
    try:
        done = calls[change]()
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return redirect("interbank-links", slug=back.slug)
    except PermissionDenied as error:
        # An administrator of the other bank (resuming what it suspended, accepting its own
        # proposal): said on the page, nothing changed.
        messages.error(request, str(error))
        return redirect("interbank-links", slug=back.slug)
    cancelled = done[1] if isinstance(done, tuple) else 0
    said = {
        "accept": _("Link accepted: members of both time banks can now exchange."),
        "decline": _("Link declined."),
        "suspend": _("Link suspended."),
        "resume": _("Link resumed."),
        "end": _("Link ended."),
        "terms": _("Your terms are saved."),
    }[change]
    if cancelled:
        said += " " + _("%(n)s open exchanges were cancelled, and the members told.") % {
            "n": cancelled
        }
    messages.success(request, said)
    return redirect("interbank-links", slug=back.slug)


def _active_links(bank: TimeBank) -> list[Link]:
    return list(
        Link.objects.of_bank(bank)
        .active()
        .select_related("proposer", "partner", "proposer_mirror", "partner_mirror")
        .order_by("pk")
    )


def _visible_members(bank: TimeBank, person: Person) -> list[tuple[TimeBank, list[Person]]]:
    """The members of each linked bank whose names ``bank``'s members may see."""
    found = []
    for link in _active_links(bank):
        if SHARING_ORDER.index(link.visible(bank)) < SHARING_ORDER.index(Sharing.MEMBERS):
            continue
        other = link.other(bank)
        people = list(
            Person.objects.filter(
                memberships__time_bank=other,
                memberships__status=Status.APPROVED,
                memberships__role__in=TRADING_ROLES,
            )
            .exclude(pk=person.pk)
            .only("pk", "display_name")
            .order_by("display_name", "pk")
        )
        found.append((other, people))
    return found


@login_required
def neighbours(request: HttpRequest, slug: str) -> HttpResponse:
    """Linked time banks, for a member: names of members and offers, where both banks share
    them; never contact details."""
    bank, person, _membership = get_bank_for_member(request.user, slug)
    banks = []
    for link in _active_links(bank):
        other = link.other(bank)
        visible = link.visible(bank)
        members: list[Person] = []
        offers: list[Listing] = []
        if visible in {Sharing.MEMBERS, Sharing.OFFERS}:
            members = list(
                Person.objects.filter(
                    memberships__time_bank=other,
                    memberships__status=Status.APPROVED,
                    memberships__role__in=TRADING_ROLES,
                )
                .only("pk", "display_name")
                .order_by("display_name", "pk")
            )
        if visible == Sharing.OFFERS:
            offers = list(
                Listing.objects.open_offers()
                .filter(time_bank=other)
                .filter(Q(person__isnull=False))
                .select_related("person", "category")
                .order_by("title", "pk")[:100]
            )
        banks.append({"bank": other, "members": members, "offers": offers, "visible": visible})
    return render(request, "interbank/neighbours.html", {"bank": bank, "banks": banks})


@login_required
def record(request: HttpRequest, slug: str) -> HttpResponse:
    """A member records help they gave to, or received from, a member of a linked bank."""
    bank, person, _membership = get_bank_for_member(request.user, slug)
    visible = _visible_members(bank, person)
    choices = [
        (f"{other.pk}:{p.pk}", f"{p.display_name} ({other.name})")
        for other, people in visible
        for p in people
    ]
    initial = {}
    if request.GET.get("with") in {value for value, _label in choices}:
        initial["other"] = request.GET["with"]
    form = CrossRecordForm(request.POST or None, bank=bank, people=choices, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        bank_id, person_id = (int(part) for part in data["other"].split(":"))
        other_bank = next(other for other, _people in visible if other.pk == bank_id)
        other_person = Person.objects.get(pk=person_id)
        own = ledger.open_account(time_bank=bank, person=person)
        own.time_bank = bank
        other = ledger.open_account(time_bank=other_bank, person=other_person)
        other.time_bank = other_bank
        cross = _attempt(
            form,
            lambda: services.record_between_banks(
                recorded_by=person,
                own=own,
                other=other,
                gave=data["direction"] == "gave",
                minutes=data["minutes"],
                details=form.details(),
                idempotency_key=data["idempotency_key"],
            ),
        )
        if cross is not None:
            half = cross.half_in(bank)
            assert half is not None  # one half of what was just recorded is in the recorder's bank
            asked = half.awaiting_confirmation_from
            messages.success(
                request,
                _("Recorded. %(name)s is asked to confirm it.") % {"name": asked.display_name}
                if half.state == State.UNCONFIRMED and asked is not None
                else _("Recorded: %(state)s.") % {"state": half.get_state_display().lower()},
            )
            return redirect("interbank-exchange", pk=half.pk)
    return render(
        request,
        "interbank/record.html",
        {"bank": bank, "form": form, "has_people": bool(choices)},
    )


@login_required
def exchange(request: HttpRequest, pk: int) -> HttpResponse:
    """An exchange between members of two banks, as one side sees it, with the decisions
    the person may take. POST ``decision``: confirm, approve, decline or reverse."""
    cross, half = get_cross_for(request.user, pk)
    person = person_for(request.user)
    assert person is not None  # get_cross_for found a half they may see
    giving, receiving = cross.giving, cross.receiving
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        decision, reason = form.cleaned_data["decision"], form.cleaned_data["reason"]
        calls: dict[str, Callable[[], object]] = {
            "confirm": lambda: services.confirm(cross=cross, person=person),
            "approve": lambda: services.approve(cross=cross, broker=person),
            "decline": lambda: services.decline(cross=cross, person=person, reason=reason),
            "reverse": lambda: services.reverse(cross=cross, broker=person, reason=reason),
        }
        try:
            done = _attempt(form, calls[decision])
        except AlreadyDecided as error:
            messages.info(request, str(error))
            return redirect("interbank-exchange", pk=half.pk)
        if done is not None:
            half.refresh_from_db()
            messages.success(
                request,
                _("Done: the exchange is now %(state)s.")
                % {"state": half.get_state_display().lower()},
            )
            return redirect("interbank-exchange", pk=half.pk)
    own_bank = half.time_bank
    broker = is_broker(person, own_bank)
    mine = [h for h in (giving, receiving) if h.time_bank_id == own_bank.pk]
    context = {
        "cross": cross,
        "half": half,
        "giver": services.ends(giving)[0].person,
        "receiver": services.ends(receiving)[1].person,
        "giving_bank": giving.time_bank,
        "receiving_bank": receiving.time_bank,
        "own_bank": own_bank,
        "broker": broker,
        "form": form,
        "can_confirm": half.state == State.UNCONFIRMED
        and half.awaiting_confirmation_from_id == person.pk,
        "can_approve": broker
        and half.is_open
        and any(h.needs_approval and not h.approved_by_id for h in mine),
        "can_decline": half.is_open
        and (
            broker
            or (half.state == State.UNCONFIRMED and half.awaiting_confirmation_from_id == person.pk)
        ),
        "can_reverse": broker and half.state == State.COMPLETED,
        "other_half_waits": any(
            h.needs_approval and not h.approved_by_id for h in (giving, receiving) if h not in mine
        ),
    }
    return render(request, "interbank/exchange.html", context)
