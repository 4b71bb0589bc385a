"""Who may move whose hours: the one rule, asked by every service that moves them.

Recording (one-to-one and group), donating, granting, confirming (by a person or by the
deadline), approving, declining and reversing all ask here, and nothing else decides it; the
web, the API, the admin and the management commands all call those services.

The rule: **nobody completes, approves or grants a movement of hours in which they are a party
or from which they gain, by their own hand.** Spelled out:

1. *Behind an account*: a member's account, its member; an organisation's, its
   representatives; the community pot, nobody (only a broker's decision moves its hours).
2. *The hand*: whoever acts. While a broker acts for a member (``members.middleware``), the
   act is done as the member and the hand is both, the member and the broker
   (``audit.acting_broker_for``); each test below applies to both. And it is done in the bank
   acted in only (``check_acting_bank``), whichever interface asked.
3. A *party* is anyone behind an account of the movement; a *gainer* anyone behind an account
   it pays.
4. *Consent to a debit*: someone behind the debited account who gains nothing from the
   movement says yes (by recording it, or by confirming it), or a broker of the bank who is no
   party decides (by recording it, by approving it, by granting). No balance falls otherwise.
   When the bank's deadline passes, the automatic confirmation stands for the person asked.
5. *Recording*. A broker who is no party decides. Anyone else records only what they take part
   in, and counts as a member: a broker or a representative who takes part included.
   One-to-one: if the recorder gains, the payer confirms (or, when the bank does not ask
   members to confirm or nobody behind the payer can, a different broker approves); if the
   recorder pays, the other party confirms it is right when the bank asks it. A group exchange
   (recorded by a broker, or by a representative of an organisation taking part) that debits
   any account its recorder does not stand for (another member, an organisation, the pot)
   waits for a broker's approval.
6. *Donations* only from an account the hand stands for (or by a broker who is no party);
   never to oneself or to an organisation one represents. *Grants* by a broker who is no
   party: never to oneself or to an organisation one represents.
7. *Approving*: a broker of the bank who is neither a party nor the exchange's recorder (nor
   the broker who recorded it acting for the member); so under "every exchange is approved"
   the broker who recorded one never approves it herself. Where the bank has no such broker
   (one broker, who took part or recorded it), the site's administrator approves it in the
   admin ("Approve the selected exchanges"): the refusal says so.
8. *Confirming*: someone behind the account asked (the payer, when the recorder gained; else
   the other party), never the recorder or the recorder's hand; confirming for the payer,
   never someone who gains. *Declining*: a broker, or whoever may confirm while it waits for
   them. *Reversing*: a broker who took no part.

Every check here raises ``PermissionDenied`` with a sentence the person can act on; none looks
at the exchange's state except declining by the person asked (it waits for them or it does
not), so the services decide "already decided" on their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.utils.translation import gettext

from audit.services import acting_bank_for, acting_broker_for
from ledger.models import Account, AccountKind, Entry
from members.access import is_broker
from members.models import BROKER_ROLES, Membership, Person, Representative, Status, TimeBank

from .models import Exchange, State


def hand(person: Person | None) -> frozenset[int]:
    """The ids of everyone whose hand is on an act done as ``person``: the person, and the
    broker acting for them in this request, if one is."""
    if person is None:
        return frozenset()
    broker = acting_broker_for(person)
    return frozenset({person.pk} if broker is None else {person.pk, broker.pk})


def check_acting_bank(person: Person | None, time_bank: TimeBank | int) -> None:
    """While a broker acts for ``person``, only the bank they act in: the services refuse the
    rest themselves, whichever interface called them (the access functions already do)."""
    bank_id = acting_bank_for(person)
    if bank_id is not None and bank_id != getattr(time_bank, "pk", time_bank):
        raise PermissionDenied(
            gettext("You are acting for a member in another time bank: stop acting first.")
        )


def recorded_hand(exchange: Exchange) -> frozenset[int]:
    """Everyone whose hand recorded ``exchange``: its recorder, and the broker acting for them."""
    return frozenset(p for p in (exchange.recorded_by_id, exchange.acting_broker_id) if p)


def is_site_admin(person: Person | None) -> bool:
    """The site's administrator: an active staff login (with a profile, to be named)."""
    user = getattr(person, "user", None)
    return bool(user is not None and user.is_active and user.is_staff)


@dataclass(frozen=True)
class Movement:
    """Hours moving between accounts (an exchange's journal, or one about to be recorded),
    with the people behind each account."""

    legs: tuple[tuple[Account, int], ...]
    behind: dict[int, frozenset[int]] = field(repr=False)

    @classmethod
    def of(cls, legs: Iterable[tuple[Account, int]]) -> Movement:
        """``legs`` as ``(account, minutes)``, minutes positive for the accounts paid. One
        query for the representatives of the organisations among them, none otherwise."""
        legs = tuple(legs)
        organisations = {
            a.organisation_id
            for a, _ in legs
            if a.kind == AccountKind.ORGANISATION and a.organisation_id is not None
        }
        representatives: dict[int, set[int]] = {}
        if organisations:
            rows = Representative.objects.filter(organisation_id__in=organisations)
            for organisation_id, person_id in rows.values_list("organisation_id", "person_id"):
                representatives.setdefault(organisation_id, set()).add(person_id)
        behind: dict[int, frozenset[int]] = {}
        for account, _ in legs:
            if account.kind == AccountKind.MEMBER and account.person_id is not None:
                behind[account.pk] = frozenset({account.person_id})
            elif account.kind == AccountKind.ORGANISATION and account.organisation_id is not None:
                behind[account.pk] = frozenset(representatives.get(account.organisation_id, ()))
            else:
                behind[account.pk] = frozenset()
        return cls(legs, behind)

    @classmethod
    def of_exchange(cls, exchange: Exchange) -> Movement:
        entries = (
            Entry.objects.filter(journal_id=exchange.journal_id)
            .select_related("account")
            .order_by("pk")
        )
        return cls.of((entry.account, entry.amount_minutes) for entry in entries)

    def account(self, pk: int | None) -> Account | None:
        return next((a for a, _ in self.legs if a.pk == pk), None)

    @property
    def payers(self) -> list[Account]:
        return [a for a, minutes in self.legs if minutes < 0]

    @property
    def parties(self) -> frozenset[int]:
        return frozenset().union(*self.behind.values())

    @property
    def gainers(self) -> frozenset[int]:
        return frozenset().union(*(self.behind[a.pk] for a, m in self.legs if m > 0))

    def stands_for(self, people: frozenset[int], account: Account) -> bool:
        """Whether ``people`` (a hand) may say yes to ``account``'s debit: one of them is
        behind it, and none of them gains from the movement."""
        return bool(people & self.behind[account.pk]) and not people & self.gainers

    def unconsented(self, people: frozenset[int]) -> list[Account]:
        """The accounts debited that ``people`` cannot say yes for."""
        return [a for a in self.payers if not self.stands_for(people, a)]


def _decides_as_broker(person: Person | None, movement: Movement, time_bank: TimeBank) -> bool:
    """A broker of the bank who is no party decides for every account of the movement.
    (A broker acting for a member acts as that member, who is never a broker.)"""
    return (
        person is not None and not hand(person) & movement.parties and is_broker(person, time_bank)
    )


# --- Recording ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recording:
    """What a recording needs before its hours move."""

    # A broker who is no party recorded it: their decision stands for every payer.
    by_broker: bool
    # The accounts it debits that nobody has said yes for (empty when ``by_broker``).
    unconsented: list[Account]


def check_may_record(
    *, person: Person, movement: Movement, time_bank: TimeBank, group: bool = False
) -> Recording:
    """Whether ``person`` may record ``movement`` in ``time_bank``, and what it then needs.

    One-to-one: a party (for themself or an organisation they represent) or a broker of the
    bank. A group: a broker, or a representative of an organisation taking part.
    """
    check_acting_bank(person, time_bank)
    by_broker = _decides_as_broker(person, movement, time_bank)
    if group:
        represents = any(
            a.kind == AccountKind.ORGANISATION and person.pk in movement.behind[a.pk]
            for a, _ in movement.legs
        )
        if not represents and not is_broker(person, time_bank):
            raise PermissionDenied(
                gettext(
                    "A broker, or a representative of an organisation taking part, records "
                    "group exchanges."
                )
            )
    elif not by_broker and person.pk not in movement.parties:
        raise PermissionDenied(
            gettext("You can record exchanges you took part in; a broker records for others.")
        )
    return Recording(
        by_broker=by_broker, unconsented=[] if by_broker else movement.unconsented(hand(person))
    )


def confirmer_for(movement: Movement, account: Account, *, recorder: Person) -> Person | None:
    """Who is asked to confirm for ``account``: someone behind it with a login who did not
    record it (nor, confirming for a payer, gains from it); None if nobody can."""
    excluded = hand(recorder)
    if account in movement.payers:
        excluded |= movement.gainers
    candidates = movement.behind[account.pk] - excluded
    if not candidates:
        return None
    return (
        Person.objects.filter(pk__in=candidates, user__isnull=False)
        .order_by("display_name", "pk")
        .first()
    )


# --- Donations and grants -----------------------------------------------------------------------


def check_may_donate(*, person: Person, movement: Movement, time_bank: TimeBank) -> None:
    """Hours given away: from an account the hand stands for (or by a broker who is no
    party), never to oneself or to an organisation one represents."""
    check_acting_bank(person, time_bank)
    if hand(person) & movement.gainers:
        raise PermissionDenied(
            gettext("You cannot give hours to yourself or to an organisation you represent.")
        )
    if _decides_as_broker(person, movement, time_bank) or not movement.unconsented(hand(person)):
        return
    raise PermissionDenied(gettext("You can give away only your own hours."))


def check_may_grant(*, person: Person, movement: Movement, time_bank: TimeBank) -> None:
    """Hours from the community pot: a broker of the bank who is no party."""
    check_acting_bank(person, time_bank)
    if not is_broker(person, time_bank):
        raise PermissionDenied(
            gettext("Only a broker of this time bank can grant hours from the community pot.")
        )
    if hand(person) & movement.parties:
        raise PermissionDenied(
            gettext(
                "You cannot grant hours to yourself or to an organisation you represent: "
                "another broker can."
            )
        )


# --- Deciding -----------------------------------------------------------------------------------


def asked_account(exchange: Exchange, movement: Movement) -> Account | None:
    """The account whose people confirm a one-to-one exchange: the payer's, when whoever
    recorded it could not say yes for the payer; otherwise the other party's."""
    giver, receiver = movement.account(exchange.giver_id), movement.account(exchange.receiver_id)
    if giver is None or receiver is None:
        return None  # group exchanges, donations and grants are never confirmed
    return giver if movement.stands_for(recorded_hand(exchange), receiver) else receiver


def _confirm_refusal(exchange: Exchange, person: Person) -> str | None:
    """Why ``person`` may not confirm ``exchange`` (None: they may)."""
    refusal = gettext("Only the other person in the exchange can confirm it.")
    people = hand(person)
    if people & recorded_hand(exchange):
        return refusal
    movement = Movement.of_exchange(exchange)
    asked = asked_account(exchange, movement)
    if asked is None or person.pk not in movement.behind[asked.pk]:
        return refusal
    if asked in movement.payers and people & movement.gainers:
        return refusal
    return None


def check_may_confirm(*, exchange: Exchange, person: Person | None) -> None:
    """``person`` confirms ``exchange``; None is the automatic confirmation after the bank's
    deadline, which stands for the person asked while they are still a member of the bank (one
    who left or is suspended has their debits cancelled: this holds if one was recorded at the
    very moment they left)."""
    if person is None:
        asked = exchange.awaiting_confirmation_from_id
        if (
            asked is None
            or not Membership.objects.filter(
                person_id=asked, time_bank_id=exchange.time_bank_id, status=Status.APPROVED
            ).exists()
        ):
            raise PermissionDenied(
                gettext("The person asked is no longer a member: nobody confirms it for them.")
            )
        return
    check_acting_bank(person, exchange.time_bank_id)
    refusal = _confirm_refusal(exchange, person)
    if refusal is not None:
        raise PermissionDenied(refusal)


def check_may_approve(*, exchange: Exchange, person: Person) -> None:
    """A broker of the bank (or the site's administrator) who is neither a party nor the
    exchange's recorder."""
    check_acting_bank(person, exchange.time_bank_id)
    if not (is_broker(person, exchange.time_bank_id) or is_site_admin(person)):
        raise PermissionDenied(gettext("Only a broker of this time bank can approve exchanges."))
    people = hand(person)
    movement = Movement.of_exchange(exchange)
    if people & movement.parties:
        refusal = gettext("You took part in this exchange: another broker must approve it.")
    elif people & recorded_hand(exchange):
        refusal = gettext("You recorded this exchange: another broker must approve it.")
    else:
        return
    others = (
        Membership.objects.filter(
            time_bank_id=exchange.time_bank_id, status=Status.APPROVED, role__in=BROKER_ROLES
        )
        .exclude(Q(person_id__in=movement.parties) | Q(person_id__in=recorded_hand(exchange)))
        .exists()
    )
    if not others:
        refusal += " " + gettext(
            "This time bank has no other broker who could: the site's administrator approves "
            "it in the admin."
        )
    raise PermissionDenied(refusal)


def check_may_decline(*, exchange: Exchange, person: Person) -> None:
    """A broker of the bank, or whoever may confirm it while it waits for them."""
    check_acting_bank(person, exchange.time_bank_id)
    if is_broker(person, exchange.time_bank_id):
        return
    if exchange.state == State.UNCONFIRMED and _confirm_refusal(exchange, person) is None:
        return
    raise PermissionDenied(
        gettext("Only a broker, or the person asked to confirm, can decline an exchange.")
    )


def check_may_reverse(*, exchange: Exchange, person: Person) -> None:
    """A broker of the bank who took no part in the exchange."""
    check_acting_bank(person, exchange.time_bank_id)
    if not is_broker(person, exchange.time_bank_id):
        raise PermissionDenied(gettext("Only a broker of this time bank can reverse an exchange."))
    if hand(person) & Movement.of_exchange(exchange).parties:
        raise PermissionDenied(
            gettext("You took part in this exchange: another broker must reverse it.")
        )


def may(check: Callable[..., None], **kwargs: Any) -> bool:
    """Whether a ``check_may_*`` passes: for pages that show a button only to who may press it."""
    try:
        check(**kwargs)
    except PermissionDenied:
        return False
    return True
