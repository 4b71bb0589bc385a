"""Every write about exchanges: record, confirm, approve, decline, reverse; group exchanges,
donations and grants. Hours move only through ``ledger.services``.

Each function is atomic. Emails go out after the transaction commits. Refusals a person can
act on raise ``django.core.exceptions.ValidationError`` (bad input), ``PermissionDenied`` (not
theirs to do) or a ``ledger.exceptions.LedgerError`` (limits, replays, already decided).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext

from audit import services as audit
from audit.models import Action
from ledger import services as ledger
from ledger.exceptions import IdempotencyConflict, InsufficientHours, MaximumBalanceReached
from ledger.models import Account, AccountKind, Entry, format_hours
from members.access import is_broker
from members.models import (
    ApprovalRule,
    GroupRemainderRule,
    LimitRule,
    Membership,
    Person,
    Status,
    TimeBank,
)

from . import emails
from .exceptions import AlreadyDecided, PastLimit
from .models import HELP, LIVE, CoProduction, Exchange, Kind, State

QUARTER_HOUR = 15
# A register for a large event is recorded in parts: one journal stays easy to read and check.
MAX_GROUP = 100


# --- Who may do what ------------------------------------------------------------------------------


def accounts_acted_for(person: Person, time_bank: TimeBank) -> list[Account]:
    """The accounts ``person`` may act for in ``time_bank``: their own, and those of the
    organisations they represent."""
    return list(
        Account.objects.filter(time_bank=time_bank).filter(
            Q(person=person) | Q(organisation__representative__person=person)
        )
    )


def people_to_tell(account: Account) -> list[Person]:
    """Who reads the emails about an account: its member, or an organisation's representatives."""
    if account.kind == AccountKind.MEMBER:
        return [account.person]
    if account.kind == AccountKind.ORGANISATION:
        return list(Person.objects.filter(representative__organisation_id=account.organisation_id))
    return []


# --- Refusals at a limit, as the person recording reads them ---------------------------------------


def _ask_your_broker(time_bank: TimeBank) -> str:
    contact = time_bank.contact_phone or time_bank.contact_email
    if contact:
        return gettext("ask your broker (%(contact)s)") % {"contact": contact}
    return gettext("ask your broker")


def explain_limit(
    error: InsufficientHours | MaximumBalanceReached, *, reader: Person, time_bank: TimeBank
) -> PastLimit:
    """The ledger's refusal at a limit, said to ``reader`` (who is recording): with the
    figures only when the account is their own (or an organisation's they represent) or they
    are a broker; never another member's balance. Always with what to do next: a member asks
    their broker, who can record it for a broker to approve."""
    account = Account.objects.select_related("person", "organisation").get(pk=error.account_id)
    own = account.pk in {a.pk for a in accounts_acted_for(reader, time_bank)}
    broker = is_broker(reader, time_bank)
    paying = isinstance(error, InsufficientHours)
    if own or broker:
        whose = (
            gettext("Your balance")
            if own and account.person_id == reader.pk
            else gettext("%(name)s's balance") % {"name": account.holder_name}
        )
        if paying:
            assert isinstance(error, InsufficientHours)
            said = gettext("%(whose)s would be %(balance)s, past the limit of %(limit)s.") % {
                "whose": whose,
                "balance": format_hours(error.available_minutes),
                "limit": format_hours(error.limit_minutes),
            }
        else:
            assert isinstance(error, MaximumBalanceReached)
            said = gettext(
                "%(whose)s would be %(balance)s, more than the maximum of %(maximum)s."
            ) % {
                "whose": whose,
                "balance": format_hours(error.balance_minutes),
                "maximum": format_hours(error.maximum_minutes),
            }
    elif paying:
        said = gettext("%(name)s has received as many hours as the time bank allows for now.") % {
            "name": account.holder_name
        }
    else:
        said = gettext("%(name)s holds as many hours as the time bank allows for now.") % {
            "name": account.holder_name
        }
    if broker:
        then = gettext(
            "You can record it anyway for a broker to approve: approving it lets the balance "
            "go past the limit."
        )
    elif own and paying:
        then = gettext(
            "Give some help first, or %(ask)s: they can record it for a broker to approve."
        ) % {"ask": _ask_your_broker(time_bank)}
    elif own:
        then = gettext(
            "Spend some hours or give some away first, or %(ask)s: they can record it for a "
            "broker to approve."
        ) % {"ask": _ask_your_broker(time_bank)}
    else:
        then = gettext("Please %(ask)s: they can record it for a broker to approve.") % {
            "ask": _ask_your_broker(time_bank)
        }
    return PastLimit(f"{said} {then}", account_id=account.pk, may_record_for_approval=broker)


@contextmanager
def _limits_explained(reader: Person, time_bank: TimeBank) -> Iterator[None]:
    """Around a ledger call: a refusal at a limit becomes ``explain_limit``'s."""
    try:
        yield
    except (InsufficientHours, MaximumBalanceReached) as error:
        raise explain_limit(error, reader=reader, time_bank=time_bank) from error


def _make_room(*, payer: Account, payee: Account, minutes: int) -> bool:
    """For a broker recording past a limit: widen the payer's credit limit and the payee's
    maximum balance just enough to hold this exchange's hours. Returns whether either was
    widened. Locks both accounts in ascending id order (the ledger's order) for the rest of
    the caller's transaction, so nothing else can use the room made here."""
    locked = {
        a.pk: a
        for a in Account.objects.select_for_update()
        .filter(pk__in=[payer.pk, payee.pk])
        .order_by("pk")
    }
    out, into = locked[payer.pk], locked[payee.pk]
    after_out = out.posted_minutes - out.pending_out_minutes - minutes
    after_in = into.posted_minutes + into.pending_in_minutes + minutes
    widen_credit = out.credit_limit_minutes is not None and after_out < out.credit_limit_minutes
    widen_maximum = into.max_balance_minutes is not None and after_in > into.max_balance_minutes
    if widen_credit:
        ledger.set_limits(
            account=out, credit_limit_minutes=after_out, max_balance_minutes=out.max_balance_minutes
        )
    if widen_maximum:
        ledger.set_limits(
            account=into,
            credit_limit_minutes=into.credit_limit_minutes,
            max_balance_minutes=after_in,
        )
    return widen_credit or widen_maximum


def _narrow_back(exchange: Exchange) -> None:
    """After a past-the-limit exchange is declined (its hold released): the receiver's credit
    limit goes back towards the bank's, as far as the account's balance allows."""
    account = exchange.receiver
    bank = exchange.time_bank
    if account is None or bank.limit_rule != LimitRule.BLOCK:
        return
    account = Account.objects.select_for_update().get(pk=account.pk)
    limit, default = account.credit_limit_minutes, bank.default_credit_limit_minutes
    if limit is None or limit >= default:
        return
    available = account.posted_minutes - account.pending_out_minutes
    narrowed = max(limit, min(default, available))
    if narrowed != limit:
        ledger.set_limits(
            account=account,
            credit_limit_minutes=narrowed,
            max_balance_minutes=account.max_balance_minutes,
        )


# --- Checks on what was entered -------------------------------------------------------------------


def _check_minutes(time_bank: TimeBank, minutes: int, field: str = "minutes") -> None:
    if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes <= 0:
        raise ValidationError(
            {field: gettext("Give the hours as a positive number, in quarter hours.")}
        )
    if minutes % QUARTER_HOUR:
        raise ValidationError({field: gettext("Give the hours in quarter hours (15 minutes).")})
    if minutes > time_bank.max_exchange_minutes:
        raise ValidationError(
            {
                field: gettext(
                    "One exchange can be at most %(hours)s. Record longer help as several."
                )
                % {"hours": format_hours(time_bank.max_exchange_minutes)}
            }
        )


def _check_parties(time_bank: TimeBank, accounts: Sequence[Account], effective_date: date) -> None:
    """Every party is an open account of this bank whose member or organisation was part of it
    on the day the help happened."""
    today = timezone.localdate()
    if effective_date > today:
        raise ValidationError(
            {"effective_date": gettext("The date the help happened cannot be in the future.")}
        )
    if effective_date < today - timedelta(days=366):
        raise ValidationError(
            {
                "effective_date": gettext(
                    "That is more than a year ago: ask your broker to record it."
                )
            }
        )
    if any(a.kind == AccountKind.POT for a in accounts):
        raise ValidationError(
            gettext("Hours reach the community pot by donation and leave it by a broker's grant.")
        )
    if len({a.pk for a in accounts}) != len(accounts):
        raise ValidationError(
            gettext("Someone appears twice: a person cannot exchange with themselves.")
        )
    person_ids = [a.person_id for a in accounts if a.kind == AccountKind.MEMBER]
    for account in accounts:
        if account.time_bank_id != time_bank.pk:
            raise ValidationError(
                gettext("Everyone in an exchange must belong to the same time bank.")
            )
    joined = {
        m.person_id: m.joined
        for m in Membership.objects.filter(
            time_bank=time_bank, person_id__in=person_ids, status=Status.APPROVED
        ).only("person_id", "decided_at", "joined_on")
    }
    for account in accounts:
        if account.kind != AccountKind.MEMBER:
            continue
        if account.person_id not in joined:
            raise ValidationError(
                gettext("%(name)s is not an approved member of %(bank)s.")
                % {"name": account.holder_name, "bank": time_bank.name}
            )
        day = joined[account.person_id]
        if day is not None and effective_date < day:
            raise ValidationError(
                {
                    "effective_date": gettext(
                        "%(name)s joined on %(date)s: the help cannot be earlier. If they "
                        "really joined before, a broker can change the date they joined on "
                        "their page."
                    )
                    % {"name": account.holder_name, "date": date_format(day, "DATE_FORMAT")}
                }
            )


def _check_length(text: str, field: str, limit: int = 200) -> None:
    if len(text.strip()) > limit:
        raise ValidationError(
            {field: gettext("Please keep it to %(limit)s characters.") % {"limit": limit}}
        )


def _needs_approval(time_bank: TimeBank, accounts: Sequence[Account], largest_minutes: int) -> bool:
    rule = time_bank.approval_rule
    if rule == ApprovalRule.ALL:
        return True
    if rule == ApprovalRule.OVER_HOURS:
        return largest_minutes > time_bank.approval_over_minutes
    if rule == ApprovalRule.NEWCOMERS:
        # An account's version counts its posted entries: its completed exchanges so far.
        members = [a.pk for a in accounts if a.kind == AccountKind.MEMBER]
        return Account.objects.filter(
            pk__in=members, version__lt=time_bank.approval_first_exchanges
        ).exists()
    return False


def _past_soft_limit(time_bank: TimeBank, account: Account, minutes: int) -> bool:
    """Under the "flag" rule accounts have no hard limit; the bank's limit is for flagging."""
    if account.kind == AccountKind.POT:
        return False
    return (
        ledger.balance(account=account).available - minutes < time_bank.default_credit_limit_minutes
    )


def _key(idempotency_key: str | None) -> str:
    return idempotency_key or uuid.uuid4().hex


def _replayed(journal_id: int, **expected: object) -> Exchange | None:
    """The exchange already recorded with this journal (a retried request), or None.
    A retry whose exchange details differ is a conflict, as for the ledger's own payload."""
    existing = Exchange.objects.filter(journal_id=journal_id).first()
    if existing is None:
        return None
    for field, value in expected.items():
        if getattr(existing, field) != value:
            raise IdempotencyConflict(existing.journal.idempotency_key, journal_id)
    return existing


# --- Recording ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Details:
    """What every exchange says about the help."""

    effective_date: date
    description: str
    category: object | None = None  # members.Category
    coproduction: str = CoProduction.DELIVERY
    listing: object | None = None  # members.Listing


@transaction.atomic
def record_exchange(
    *,
    recorded_by: Person,
    giver: Account,
    receiver: Account,
    minutes: int,
    details: Details,
    idempotency_key: str | None = None,
    past_limit: bool = False,
) -> Exchange:
    """Record that ``giver`` helped ``receiver`` for ``minutes``.

    1. Checks the recorder: a party (for themselves or an organisation they represent) or a
       broker of the bank; the hours (quarter hours, within the bank's maximum); the date and
       the parties.
    2. Decides, by the bank's policy, whether the other party must confirm and whether a broker
       must approve. A broker's record needs no confirmation: the broker vouches for it. An
       offline other party cannot confirm, so a broker approves instead.
    3. Moves the hours in the ledger: posted at once, or pending (holding the receiver's hours)
       until confirmed and approved. Under the "block" rule the ledger refuses an exchange past
       the receiver's limit; under "flag" it is recorded and flagged to the broker.
       A refusal at a limit says what to do next (``explain_limit``). ``past_limit``: a broker
       records it anyway; the limit is widened just enough to hold the hours, and the exchange
       waits for a broker to approve it (declining it narrows the limit back).
    4. After commit: asks the other party to confirm, or tells both it is recorded.
    A retry with the same ``idempotency_key`` returns the original exchange and moves nothing.
    """
    time_bank = giver.time_bank
    broker = is_broker(recorded_by, time_bank)
    own = {a.pk for a in accounts_acted_for(recorded_by, time_bank)}
    if not broker and not ({giver.pk, receiver.pk} & own):
        raise PermissionDenied(
            gettext("You can record exchanges you took part in; a broker records for others.")
        )
    if past_limit and not broker:
        raise PermissionDenied(gettext("Only a broker can record an exchange past a limit."))
    _check_minutes(time_bank, minutes)
    _check_parties(time_bank, [giver, receiver], details.effective_date)
    if not details.description.strip():
        raise ValidationError({"description": gettext("Say in a few words what the help was.")})
    _check_length(details.description, "description")

    other = None
    if not broker and time_bank.confirmation_required:
        other_account = receiver if giver.pk in own else giver
        other = next((p for p in people_to_tell(other_account) if p.user_id), None)
    needs_approval = _needs_approval(time_bank, [giver, receiver], minutes)
    if not broker and time_bank.confirmation_required and other is None:
        needs_approval = True  # nobody online to confirm: the broker checks instead
    state = (
        State.UNCONFIRMED
        if other
        else State.AWAITING_APPROVAL
        if needs_approval
        else State.COMPLETED
    )

    flagged = time_bank.limit_rule == LimitRule.FLAG and _past_soft_limit(
        time_bank, receiver, minutes
    )
    key = _key(idempotency_key)
    if past_limit:
        already = Exchange.objects.filter(time_bank=time_bank, journal__idempotency_key=key).first()
        # A retry finds its exchange (and the room made for it) and replays it below.
        made_room = already.flagged_over_limit if already is not None else False
        if already is None:
            made_room = _make_room(payer=receiver, payee=giver, minutes=minutes)
        if made_room:
            state, needs_approval, flagged, other = State.AWAITING_APPROVAL, True, True, None
    with _limits_explained(recorded_by, time_bank):
        journal = ledger.transfer(
            from_account=receiver,
            to_account=giver,
            minutes=minutes,
            idempotency_key=key,
            effective_date=details.effective_date,
            recorded_by=recorded_by,
            description=details.description.strip(),
            category=getattr(details.category, "slug", ""),
            pending=state != State.COMPLETED,
        )
    replay = _replayed(
        journal.pk, giver_id=giver.pk, receiver_id=receiver.pk, coproduction=details.coproduction
    )
    if replay:
        return replay
    now = timezone.now()
    exchange = Exchange.objects.create(
        time_bank=time_bank,
        kind=Kind.SERVICE,
        journal=journal,
        state=state,
        minutes=minutes,
        effective_date=details.effective_date,
        description=details.description.strip(),
        category=details.category,
        listing=details.listing,
        coproduction=details.coproduction,
        giver=giver,
        receiver=receiver,
        recorded_by=recorded_by,
        recorded_at=now,
        awaiting_confirmation_from=other,
        confirm_by=(timezone.localdate() + timedelta(days=time_bank.auto_confirm_days))
        if other
        else None,
        needs_approval=needs_approval,
        flagged_over_limit=flagged,
    )
    audit.record(
        action=Action.EXCHANGE_RECORDED,
        actor=recorded_by,
        time_bank=time_bank,
        obj=exchange,
        details={"minutes": minutes, "state": state, **({"past_limit": True} if flagged else {})},
    )
    refresh_activity(time_bank=time_bank, exchange=exchange)
    if state == State.UNCONFIRMED:
        transaction.on_commit(lambda: emails.please_confirm(exchange))
    elif state == State.COMPLETED:
        transaction.on_commit(lambda: emails.exchange_completed(exchange))
    return exchange


@transaction.atomic
def record_group_exchange(
    *,
    recorded_by: Person,
    time_bank: TimeBank,
    providers: Sequence[tuple[Account, int]],
    receivers: Sequence[tuple[Account, int]],
    details: Details,
    idempotency_key: str | None = None,
) -> Exchange:
    """One journal for a group: each provider earns their minutes, each receiver gives theirs.

    A class: one teacher earns 2 hours, six attendees give 1 hour each. A community lunch: ten
    volunteers earn 2 hours each from the organisation. The difference between what providers
    earn and receivers give goes to (or comes from) the community pot, by the bank's rule.
    Recorded by a broker, or by a representative of an organisation taking part.
    """
    providers, receivers = list(providers), list(receivers)
    if not providers or not receivers:
        raise ValidationError(
            gettext("A group exchange needs at least one provider and one receiver.")
        )
    accounts = [a for a, _ in providers + receivers]
    broker = is_broker(recorded_by, time_bank)
    represents = {
        a.pk
        for a in accounts_acted_for(recorded_by, time_bank)
        if a.kind == AccountKind.ORGANISATION
    }
    if not broker and not represents & {a.pk for a in accounts}:
        raise PermissionDenied(
            gettext(
                "A broker, or a representative of an organisation taking part, records group exchanges."
            )
        )
    for _, minutes in providers + receivers:
        _check_minutes(time_bank, minutes)
    _check_parties(time_bank, accounts, details.effective_date)
    if not details.description.strip():
        raise ValidationError({"description": gettext("Say in a few words what the help was.")})
    _check_length(details.description, "description")
    if len(providers) + len(receivers) > MAX_GROUP:
        raise ValidationError(
            gettext("A group exchange can have at most %(most)s people; record it in parts.")
            % {"most": MAX_GROUP}
        )
    earned = sum(m for _, m in providers)
    given = sum(m for _, m in receivers)
    legs = [(a, m) for a, m in providers] + [(a, -m) for a, m in receivers]
    if earned != given:
        if time_bank.group_remainder_rule != GroupRemainderRule.POT:
            raise ValidationError(
                gettext("The hours given and earned must be equal in this time bank.")
            )
        legs.append((ledger.community_pot(time_bank=time_bank), given - earned))
    needs_approval = not broker and _needs_approval(
        time_bank, accounts, max(m for _, m in providers + receivers)
    )
    state = State.AWAITING_APPROVAL if needs_approval else State.COMPLETED
    with _limits_explained(recorded_by, time_bank):
        journal = ledger.post_journal(
            time_bank=time_bank,
            legs=legs,
            idempotency_key=_key(idempotency_key),
            effective_date=details.effective_date,
            recorded_by=recorded_by,
            description=details.description.strip(),
            category=getattr(details.category, "slug", ""),
            pending=needs_approval,
        )
    replay = _replayed(journal.pk, kind=Kind.GROUP)
    if replay:
        return replay
    exchange = Exchange.objects.create(
        time_bank=time_bank,
        kind=Kind.GROUP,
        journal=journal,
        state=state,
        minutes=earned,
        effective_date=details.effective_date,
        description=details.description.strip(),
        category=details.category,
        listing=details.listing,
        coproduction=details.coproduction,
        recorded_by=recorded_by,
        needs_approval=needs_approval,
    )
    audit.record(
        action=Action.EXCHANGE_RECORDED,
        actor=recorded_by,
        time_bank=time_bank,
        obj=exchange,
        details={"minutes": earned, "state": state, "kind": Kind.GROUP},
    )
    refresh_activity(time_bank=time_bank, exchange=exchange)
    if state == State.COMPLETED:
        transaction.on_commit(lambda: emails.exchange_completed(exchange))
    return exchange


@transaction.atomic
def donate_hours(
    *,
    recorded_by: Person,
    donor: Account,
    to_account: Account,
    minutes: int,
    note: str = "",
    idempotency_key: str | None = None,
) -> Exchange:
    """A member (or a broker for them, or an organisation's representative) gives hours to the
    community pot, another member or an organisation. Posted at once: it is the donor's gift."""
    time_bank = donor.time_bank
    if donor.kind == AccountKind.POT:
        raise ValidationError(gettext("Hours leave the community pot as grants, not donations."))
    if donor.pk not in {a.pk for a in accounts_acted_for(recorded_by, time_bank)} and not is_broker(
        recorded_by, time_bank
    ):
        raise PermissionDenied(gettext("You can give away only your own hours."))
    _check_minutes(time_bank, minutes)
    if to_account.time_bank_id != time_bank.pk:
        raise ValidationError(gettext("Hours can be given only within the same time bank."))
    parties = [donor] if to_account.kind == AccountKind.POT else [donor, to_account]
    _check_parties(time_bank, parties, timezone.localdate())
    _check_length(note, "note")
    description = note.strip() or f"Donation to {to_account.holder_name}"
    with _limits_explained(recorded_by, time_bank):
        journal = ledger.transfer(
            from_account=donor,
            to_account=to_account,
            minutes=minutes,
            idempotency_key=_key(idempotency_key),
            effective_date=timezone.localdate(),
            recorded_by=recorded_by,
            description=description,
            category="donation",
        )
    replay = _replayed(journal.pk, kind=Kind.DONATION)
    if replay:
        return replay
    exchange = Exchange.objects.create(
        time_bank=time_bank,
        kind=Kind.DONATION,
        journal=journal,
        state=State.COMPLETED,
        minutes=minutes,
        effective_date=journal.effective_date,
        description=description,
        giver=donor,
        receiver=to_account,
        recorded_by=recorded_by,
    )
    audit.record(
        action=Action.DONATION_MADE,
        actor=recorded_by,
        time_bank=time_bank,
        obj=exchange,
        details={"minutes": minutes, "to_account": to_account.pk},
    )
    transaction.on_commit(lambda: emails.exchange_completed(exchange))
    return exchange


@transaction.atomic
def grant_from_pot(
    *,
    broker: Person,
    time_bank: TimeBank,
    to_account: Account,
    minutes: int,
    reason: str,
    idempotency_key: str | None = None,
) -> Exchange:
    """A broker gives hours from the community pot to a member or organisation, with a reason."""
    if not is_broker(broker, time_bank):
        raise PermissionDenied(
            gettext("Only a broker of this time bank can grant hours from the community pot.")
        )
    if not reason.strip():
        raise ValidationError(
            {"reason": gettext("Say why the hours are granted: it shows on the pot's statement.")}
        )
    _check_length(reason, "reason")
    _check_minutes(time_bank, minutes)
    _check_parties(time_bank, [to_account], timezone.localdate())
    pot = ledger.community_pot(time_bank=time_bank)
    with _limits_explained(broker, time_bank):
        journal = ledger.transfer(
            from_account=pot,
            to_account=to_account,
            minutes=minutes,
            idempotency_key=_key(idempotency_key),
            effective_date=timezone.localdate(),
            recorded_by=broker,
            description=reason.strip(),
            category="grant",
        )
    replay = _replayed(journal.pk, kind=Kind.GRANT)
    if replay:
        return replay
    exchange = Exchange.objects.create(
        time_bank=time_bank,
        kind=Kind.GRANT,
        journal=journal,
        state=State.COMPLETED,
        minutes=minutes,
        effective_date=journal.effective_date,
        description=reason.strip(),
        giver=pot,
        receiver=to_account,
        recorded_by=broker,
        approved_by=broker,
        approved_at=timezone.now(),
    )
    audit.record(
        action=Action.GRANT_MADE,
        actor=broker,
        time_bank=time_bank,
        obj=exchange,
        details={"minutes": minutes, "to_account": to_account.pk},
    )
    transaction.on_commit(lambda: emails.exchange_completed(exchange))
    return exchange


# --- Deciding ------------------------------------------------------------------------------------


def _lock(exchange: Exchange) -> Exchange:
    return (
        Exchange.objects.select_for_update(of=("self",))
        .select_related("time_bank", "journal")
        .get(pk=exchange.pk)
    )


def _complete(exchange: Exchange, decided_by: Person | None) -> None:
    ledger.post_pending(journal=exchange.journal, decided_by=decided_by)
    exchange.state = State.COMPLETED
    transaction.on_commit(lambda: emails.exchange_completed(exchange))


@transaction.atomic
def confirm_exchange(*, exchange: Exchange, person: Person | None) -> Exchange:
    """The other party confirms (``person`` None: automatic confirmation after the deadline).

    Then, if a broker must approve, it waits for them; otherwise the hours move now.
    """
    locked = _lock(exchange)
    if locked.state != State.UNCONFIRMED:
        raise AlreadyDecided(locked.get_state_display().lower())
    if person is not None and person.pk != locked.awaiting_confirmation_from_id:
        if person.pk not in {p.pk for p in locked.parties()} or person.pk == locked.recorded_by_id:
            raise PermissionDenied(gettext("Only the other person in the exchange can confirm it."))
    locked.confirmed_by = person
    locked.confirmed_at = timezone.now()
    if locked.needs_approval:
        locked.state = State.AWAITING_APPROVAL
    else:
        _complete(locked, person)
    locked.save(update_fields=["state", "confirmed_by", "confirmed_at"])
    refresh_activity(time_bank=locked.time_bank, exchange=locked)
    audit.record(
        action=Action.EXCHANGE_CONFIRMED,
        actor=person,
        time_bank=locked.time_bank,
        obj=locked,
        details={"state": locked.state},
    )
    return locked


@transaction.atomic
def approve_exchange(*, exchange: Exchange, broker: Person) -> Exchange:
    """A broker approves: the hours move. Approving an unconfirmed exchange also confirms it
    on the other party's behalf (for instance after a phone call with an offline member)."""
    locked = _lock(exchange)
    if not is_broker(broker, locked.time_bank):
        raise PermissionDenied(gettext("Only a broker of this time bank can approve exchanges."))
    if broker.pk in {p.pk for p in locked.parties()}:
        raise PermissionDenied(
            gettext("You took part in this exchange: another broker must approve it.")
        )
    if not locked.is_open:
        raise AlreadyDecided(locked.get_state_display().lower())
    now = timezone.now()
    fields = ["state", "approved_by", "approved_at"]
    if locked.state == State.UNCONFIRMED:
        locked.confirmed_by, locked.confirmed_at = broker, now
        fields += ["confirmed_by", "confirmed_at"]
    locked.approved_by, locked.approved_at = broker, now
    _complete(locked, broker)
    locked.save(update_fields=fields)
    refresh_activity(time_bank=locked.time_bank, exchange=locked)
    audit.record(
        action=Action.EXCHANGE_APPROVED, actor=broker, time_bank=locked.time_bank, obj=locked
    )
    return locked


@transaction.atomic
def decline_exchange(*, exchange: Exchange, person: Person, reason: str) -> Exchange:
    """A broker declines, or the other party says "this isn't right": the held hours are
    released, and both parties are told why."""
    reason = reason.strip()
    if not reason:
        raise ValidationError(
            {"reason": gettext("Please give a reason: both people will read it.")}
        )
    locked = _lock(exchange)
    broker = is_broker(person, locked.time_bank)
    is_other_party = (
        locked.state == State.UNCONFIRMED and person.pk == locked.awaiting_confirmation_from_id
    )
    if not broker and not is_other_party:
        raise PermissionDenied(
            gettext("Only a broker, or the person asked to confirm, can decline an exchange.")
        )
    if not locked.is_open:
        raise AlreadyDecided(locked.get_state_display().lower())
    ledger.void_pending(journal=locked.journal, decided_by=person, reason=reason)
    if locked.flagged_over_limit:
        _narrow_back(locked)
    locked.state = State.DECLINED
    locked.declined_by, locked.declined_at, locked.decline_reason = person, timezone.now(), reason
    locked.save(update_fields=["state", "declined_by", "declined_at", "decline_reason"])
    refresh_activity(time_bank=locked.time_bank, exchange=locked)
    audit.record(
        action=Action.EXCHANGE_DECLINED, actor=person, time_bank=locked.time_bank, obj=locked
    )
    transaction.on_commit(lambda: emails.exchange_declined(locked))
    return locked


@transaction.atomic
def reverse_exchange(*, exchange: Exchange, broker: Person, reason: str) -> Exchange:
    """A broker corrects a completed exchange by reversing it in the ledger (a new journal
    pointing at the original; nothing is deleted). Record the right one afterwards."""
    reason = reason.strip()
    if not reason:
        raise ValidationError(
            {"reason": gettext("Please give a reason: it stays on both statements.")}
        )
    locked = _lock(exchange)
    if not is_broker(broker, locked.time_bank):
        raise PermissionDenied(gettext("Only a broker of this time bank can reverse an exchange."))
    if locked.is_open:
        raise ValidationError(
            gettext("Only a completed exchange can be reversed: decline this one instead.")
        )
    if locked.state != State.COMPLETED:
        raise AlreadyDecided(locked.get_state_display().lower())
    with _limits_explained(broker, locked.time_bank):
        reversal = ledger.reverse_journal(
            journal=locked.journal,
            recorded_by=broker,
            reason=reason,
            idempotency_key=f"reverse-exchange-{locked.pk}",
        )
    locked.state = State.REVERSED
    locked.reversal = reversal
    locked.reversed_by, locked.reversed_at, locked.reverse_reason = broker, timezone.now(), reason
    locked.save(update_fields=["state", "reversal", "reversed_by", "reversed_at", "reverse_reason"])
    refresh_activity(time_bank=locked.time_bank, exchange=locked)
    audit.record(
        action=Action.EXCHANGE_REVERSED,
        actor=broker,
        time_bank=locked.time_bank,
        obj=locked,
        details={"reversal_journal": reversal.pk},
    )
    transaction.on_commit(lambda: emails.exchange_reversed(locked))
    return locked


# --- When each member last had help (the brokers' follow-up lists read it) -------------------------


def _latest_help(*, states: list[State], gave: bool | None = None) -> Subquery:
    """The latest date of help on the outer membership's own account in its time bank, in
    exchanges of help in ``states``: any leg, or only legs that gave (``gave``) or received."""
    legs = Entry.objects.filter(
        account__time_bank_id=OuterRef("time_bank_id"),
        account__person_id=OuterRef("person_id"),
        journal__exchange__kind__in=HELP,
        journal__exchange__state__in=states,
    )
    if gave is not None:
        legs = legs.filter(amount_minutes__gt=0) if gave else legs.filter(amount_minutes__lt=0)
    # MAX over the member's legs, not ORDER BY date LIMIT 1: with a LIMIT, PostgreSQL walks
    # the whole bank's journals by date hoping to meet the member's soon (minutes for a
    # rebuild); the aggregate reads the member's own entries on their index.
    return Subquery(
        legs.order_by()
        .values("account__person_id")
        .annotate(latest=Max("journal__effective_date"))
        .values("latest")
    )


def refresh_activity(*, time_bank: TimeBank, exchange: Exchange | None = None) -> int:
    """Recompute, from their exchanges, when the members who took part in ``exchange`` (every
    member of ``time_bank`` when it is None: the rebuild) last had help, gave and received
    (``Membership.last_help_on``, ``last_gave_on``, ``last_received_on``). Returns how many
    memberships it updated. Two queries.

    Every service that records an exchange of help or changes its state calls it inside its
    transaction, after saving the exchange. It recomputes rather than adding the new date, so
    a declined, reversed or back-dated exchange leaves the right answer. It locks the
    membership rows first (in id order, after the ledger's account locks) and recomputes in a
    statement that starts once it holds them, so of two exchanges for one member at once the
    second to commit counts the first.
    """
    memberships = Membership.objects.filter(time_bank=time_bank)
    if exchange is not None:
        # Members' own accounts only: organisations and the pot have no follow-up lists.
        people = Account.objects.filter(
            entries__journal_id=exchange.journal_id, person__isnull=False
        ).values("person_id")
        memberships = memberships.filter(person_id__in=people)
    with transaction.atomic():  # the caller's, or its own for a rebuild
        list(memberships.select_for_update().order_by("pk").values_list("pk", flat=True))
        return memberships.update(
            last_help_on=_latest_help(states=LIVE),
            last_gave_on=_latest_help(states=[State.COMPLETED], gave=True),
            last_received_on=_latest_help(states=[State.COMPLETED], gave=False),
        )


def confirm_overdue_exchanges(*, today: date | None = None) -> int:
    """Confirm every exchange whose other party let the bank's deadline pass. Safe to run twice:
    each exchange is claimed under its row lock. Returns how many were confirmed."""
    today = today or timezone.localdate()
    done = 0
    for exchange_id in Exchange.objects.filter(
        state=State.UNCONFIRMED, confirm_by__lt=today
    ).values_list("pk", flat=True):
        try:
            confirm_exchange(exchange=Exchange(pk=exchange_id), person=None)
        except AlreadyDecided:
            continue  # decided meanwhile
        done += 1
    return done
