"""Every write about exchanges: record, confirm, approve, decline, reverse; group exchanges,
donations and grants. Hours move only through ``ledger.services``.

Each function is atomic. Its emails are queued for the worker, which sends them after the
transaction commits (``exchanges.emails``). Refusals a person can act on raise
``django.core.exceptions.ValidationError`` (bad input; ``members.ratelimits.RateLimited`` when
the recorder has recorded too many this hour), ``PermissionDenied`` (not theirs to do) or a
``ledger.exceptions.LedgerError`` (limits, replays, already decided).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, OuterRef, Subquery
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext

from audit import services as audit
from audit.models import Action
from ledger import services as ledger
from ledger.exceptions import (
    AlreadyResolved,
    IdempotencyConflict,
    InsufficientHours,
    MaximumBalanceReached,
)
from ledger.models import Account, AccountKind, Entry, Journal, JournalState, format_hours
from listings.models import Category, Listing
from members import ratelimits
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

from . import emails, rules
from .exceptions import AlreadyDecided, DecisionKeyReused, PastLimit
from .models import HELP, LIVE, CoProduction, Decision, DecisionAction, Exchange, Kind, State

QUARTER_HOUR = 15
# A register for a large event is recorded in parts: one journal stays easy to read and check.
MAX_GROUP = 100


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
    own = Account.objects.held_by(reader).filter(pk=account.pk, time_bank=time_bank).exists()
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
    if any(a.kind in (AccountKind.MIRROR, AccountKind.MIGRATION) for a in accounts):
        raise ValidationError(
            gettext("Hours reach another time bank only in an exchange with one of its members.")
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


def approval_needed(time_bank: TimeBank, account: Account, minutes: int) -> bool:
    """Whether ``time_bank``'s approval rule asks a broker to approve an exchange of
    ``minutes`` by ``account`` (``interbank`` asks it of each bank for its own half)."""
    return _needs_approval(time_bank, [account], minutes)


def _past_soft_limit(time_bank: TimeBank, account: Account, minutes: int) -> bool:
    """Under the "flag" rule accounts have no hard limit; the bank's limit is for flagging."""
    if account.kind == AccountKind.POT:
        return False
    return (
        ledger.balance(account=account).available - minutes < time_bank.default_credit_limit_minutes
    )


# The ledger keeps keys of up to 100 characters (``Journal``, ``Decision``).
KEY_MAX = 100


def caller_key(person: Person, idempotency_key: str | None) -> str:
    """The ledger's key for a key a caller chose: in the caller's own namespace
    (``caller-<person id>:<key>``), on every interface alike. So two people's keys never meet,
    and no caller's key can be one the services choose themselves (``reverse-exchange-<id>``).
    No key: a fresh one. A key longer than the ledger keeps, or with a NUL, is refused on every
    backend alike (SQLite would keep it, PostgreSQL would fail); one too long to store whole
    with its namespace is replaced by its digest."""
    if idempotency_key is not None and (
        len(idempotency_key) > KEY_MAX or "\x00" in idempotency_key
    ):
        raise ValidationError(
            {"idempotency_key": gettext("This form has expired: please open the page again.")}
        )
    key = idempotency_key or uuid.uuid4().hex
    if len(key) > 64:
        key = "sha256-" + hashlib.sha256(key.encode()).hexdigest()[:57]
    return f"caller-{person.pk}:{key}"


def request_fingerprint(*sent: object) -> str:
    """A digest of what the caller sent, and nothing else: not the bank's policy at the time,
    nor a date the server filled in. A retry with the same key is judged by it."""
    payload = json.dumps(
        [getattr(value, "pk", value) for value in sent], default=str, separators=(",", ":")
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _replay(time_bank: TimeBank, key: str, fingerprint: str) -> Exchange | None:
    """The exchange already recorded under ``key`` (a retried request), or None. The same key
    with another request is ``IdempotencyConflict``. Checked before anything else, so that a
    genuine retry gets its first answer whatever changed since (the bank's policy, the date)."""
    found = (
        Journal.objects.filter(time_bank=time_bank, idempotency_key=key)
        .values_list("pk", "fingerprint")
        .first()
    )
    if found is None:
        return None
    exchange = Exchange.objects.filter(journal_id=found[0]).first()
    if found[1] != fingerprint or exchange is None:
        raise IdempotencyConflict(key, found[0])
    return exchange


def _recorded_with(journal: Journal) -> Exchange | None:
    """The exchange of a journal the ledger replayed (the same request, committed meanwhile
    by a concurrent call), or None for a journal it has just posted."""
    return Exchange.objects.filter(journal_id=journal.pk).first()


def _within_rate(recorded_by: Person, *, broker: bool) -> None:
    """Each exchange recorded emails someone else: refuse a recorder past the hour's limit
    (``members.ratelimits``). Called after a replay is recognised, so a retry always answers."""
    ratelimits.at_most(
        Exchange.objects.filter(
            recorded_by=recorded_by, recorded_at__gte=timezone.now() - ratelimits.WINDOW
        ),
        most=ratelimits.EXCHANGES_PER_HOUR_BROKER if broker else ratelimits.EXCHANGES_PER_HOUR,
    )


# --- Recording ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Details:
    """What every exchange says about the help. ``effective_date`` None: today (the API's
    default when the caller leaves it out)."""

    effective_date: date | None
    description: str
    category: Category | None = None
    coproduction: str = CoProduction.DELIVERY
    listing: Listing | None = None

    def sent(self) -> list[object]:
        """What the caller said, for the request's fingerprint."""
        return [
            self.effective_date,
            self.description.strip(),
            getattr(self.category, "slug", None),
            self.coproduction,
            getattr(self.listing, "pk", None),
        ]


def _check_description(details: Details) -> None:
    if not details.description.strip():
        raise ValidationError({"description": gettext("Say in a few words what the help was.")})
    _check_length(details.description, "description")


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

    1. A retry (``idempotency_key``, in the recorder's own namespace, with the same request)
       returns the original exchange and moves nothing; the same key with another request is
       ``IdempotencyConflict``.
    2. Checks the recorder by the one rule (``rules.check_may_record``): a party, or a broker of
       the bank; the hours (quarter hours, within the bank's maximum); the date and the parties.
    3. Decides who must say yes (``exchanges.rules``, point 5). A broker who takes no part
       decides. A recorder who gains needs the payer's confirmation; one who pays needs the
       other party's when the bank asks for it. Nobody who can confirm (offline, or the bank
       does not ask members): a different broker approves. The bank's approval rule may add a
       broker's approval to any of these.
    4. Moves the hours in the ledger: posted at once, or pending (holding the receiver's hours)
       until confirmed and approved. Under the "block" rule the ledger refuses an exchange past
       the receiver's limit; under "flag" it is recorded and flagged to the broker.
       A refusal at a limit says what to do next (``explain_limit``). ``past_limit``: a broker
       records it anyway; the limit is widened just enough to hold the hours, and the exchange
       waits for a (different) broker to approve it (declining it narrows the limit back).
    5. After commit: asks the other party to confirm, or tells both it is recorded.
    """
    time_bank = giver.time_bank
    key = caller_key(recorded_by, idempotency_key)
    fingerprint = request_fingerprint(
        "service", giver, receiver, minutes, past_limit, *details.sent()
    )
    replay = _replay(time_bank, key, fingerprint)
    if replay is not None:
        return replay
    _within_rate(recorded_by, broker=is_broker(recorded_by, time_bank))
    effective_date = details.effective_date or timezone.localdate()
    movement = rules.Movement.of([(receiver, -minutes), (giver, minutes)])
    recording = rules.check_may_record(person=recorded_by, movement=movement, time_bank=time_bank)
    if past_limit and not is_broker(recorded_by, time_bank):
        raise PermissionDenied(gettext("Only a broker can record an exchange past a limit."))
    _check_minutes(time_bank, minutes)
    _check_parties(time_bank, [giver, receiver], effective_date)
    _check_description(details)

    other = None
    needs_approval = _needs_approval(time_bank, [giver, receiver], minutes)
    if not recording.by_broker and (recording.unconsented or time_bank.confirmation_required):
        # The payer says yes when the recorder gains; else the other party says it is right.
        asked = receiver if recording.unconsented else giver
        if time_bank.confirmation_required:
            other = rules.confirmer_for(movement, asked, recorder=recorded_by)
        if other is None:
            needs_approval = True  # nobody to confirm: a broker checks instead
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
    # A retry never gets here (``_replay`` above), so the room is made once.
    if past_limit and _make_room(payer=receiver, payee=giver, minutes=minutes):
        state, needs_approval, flagged, other = State.AWAITING_APPROVAL, True, True, None
    with _limits_explained(recorded_by, time_bank):
        journal = ledger.transfer(
            from_account=receiver,
            to_account=giver,
            minutes=minutes,
            idempotency_key=key,
            fingerprint=fingerprint,
            effective_date=effective_date,
            recorded_by=recorded_by,
            description=details.description.strip(),
            category=getattr(details.category, "slug", ""),
            pending=state != State.COMPLETED,
        )
    replay = _recorded_with(journal)
    if replay:
        return replay
    now = timezone.now()
    exchange = Exchange.objects.create(
        time_bank=time_bank,
        kind=Kind.SERVICE,
        journal=journal,
        state=state,
        minutes=minutes,
        effective_date=effective_date,
        description=details.description.strip(),
        category=details.category,
        listing=details.listing,
        coproduction=details.coproduction,
        giver=giver,
        receiver=receiver,
        recorded_by=recorded_by,
        acting_broker=audit.acting_broker_for(recorded_by),
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
        emails.please_confirm(exchange)
    elif state == State.COMPLETED:
        emails.exchange_completed(exchange)
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
    Recorded by a broker, or by a representative of an organisation taking part. Whatever it
    debits that its recorder cannot say yes for (another member, the pot; anything when the
    recorder gains, or is a broker taking part) waits for a broker's approval
    (``exchanges.rules``, point 5), as does everything the bank's approval rule names.
    """
    providers, receivers = list(providers), list(receivers)
    key = caller_key(recorded_by, idempotency_key)
    fingerprint = request_fingerprint(
        "group",
        time_bank,
        sorted((a.pk, m) for a, m in providers),
        sorted((a.pk, m) for a, m in receivers),
        *details.sent(),
    )
    replay = _replay(time_bank, key, fingerprint)
    if replay is not None:
        return replay
    _within_rate(recorded_by, broker=is_broker(recorded_by, time_bank))
    effective_date = details.effective_date or timezone.localdate()
    if not providers or not receivers:
        raise ValidationError(
            gettext("A group exchange needs at least one provider and one receiver.")
        )
    accounts = [a for a, _ in providers + receivers]
    for _, minutes in providers + receivers:
        _check_minutes(time_bank, minutes)
    _check_parties(time_bank, accounts, effective_date)
    _check_description(details)
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
    recording = rules.check_may_record(
        person=recorded_by, movement=rules.Movement.of(legs), time_bank=time_bank, group=True
    )
    needs_approval = bool(recording.unconsented) or _needs_approval(
        time_bank, accounts, max(m for _, m in providers + receivers)
    )
    state = State.AWAITING_APPROVAL if needs_approval else State.COMPLETED
    with _limits_explained(recorded_by, time_bank):
        journal = ledger.post_journal(
            time_bank=time_bank,
            legs=legs,
            idempotency_key=key,
            fingerprint=fingerprint,
            effective_date=effective_date,
            recorded_by=recorded_by,
            description=details.description.strip(),
            category=getattr(details.category, "slug", ""),
            pending=needs_approval,
        )
    replay = _recorded_with(journal)
    if replay:
        return replay
    exchange = Exchange.objects.create(
        time_bank=time_bank,
        kind=Kind.GROUP,
        journal=journal,
        state=state,
        minutes=earned,
        effective_date=effective_date,
        description=details.description.strip(),
        category=details.category,
        listing=details.listing,
        coproduction=details.coproduction,
        recorded_by=recorded_by,
        acting_broker=audit.acting_broker_for(recorded_by),
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
        emails.exchange_completed(exchange)
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
    community pot, another member or an organisation. Posted at once: it is the donor's gift.
    Never to oneself, nor to an organisation one represents (``exchanges.rules``, point 6)."""
    time_bank = donor.time_bank
    key = caller_key(recorded_by, idempotency_key)
    fingerprint = request_fingerprint("donation", donor, to_account, minutes, note.strip())
    replay = _replay(time_bank, key, fingerprint)
    if replay is not None:
        return replay
    _within_rate(recorded_by, broker=is_broker(recorded_by, time_bank))
    if donor.kind == AccountKind.POT:
        raise ValidationError(gettext("Hours leave the community pot as grants, not donations."))
    if to_account.time_bank_id != time_bank.pk:
        raise ValidationError(gettext("Hours can be given only within the same time bank."))
    rules.check_may_donate(
        person=recorded_by,
        movement=rules.Movement.of([(donor, -minutes), (to_account, minutes)]),
        time_bank=time_bank,
    )
    _check_minutes(time_bank, minutes)
    parties = [donor] if to_account.kind == AccountKind.POT else [donor, to_account]
    _check_parties(time_bank, parties, timezone.localdate())
    _check_length(note, "note")
    description = note.strip() or f"Donation to {to_account.holder_name}"
    with _limits_explained(recorded_by, time_bank):
        journal = ledger.transfer(
            from_account=donor,
            to_account=to_account,
            minutes=minutes,
            idempotency_key=key,
            fingerprint=fingerprint,
            effective_date=timezone.localdate(),
            recorded_by=recorded_by,
            description=description,
            category="donation",
        )
    replay = _recorded_with(journal)
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
        acting_broker=audit.acting_broker_for(recorded_by),
    )
    audit.record(
        action=Action.DONATION_MADE,
        actor=recorded_by,
        time_bank=time_bank,
        obj=exchange,
        details={"minutes": minutes, "to_account": to_account.pk},
    )
    emails.exchange_completed(exchange)
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
    """A broker gives hours from the community pot to a member or organisation, with a reason.
    Never to themself, nor to an organisation they represent (``exchanges.rules``, point 6)."""
    key = caller_key(broker, idempotency_key)
    fingerprint = request_fingerprint("grant", time_bank, to_account, minutes, reason.strip())
    replay = _replay(time_bank, key, fingerprint)
    if replay is not None:
        return replay
    _within_rate(broker, broker=True)
    pot = ledger.community_pot(time_bank=time_bank)
    rules.check_may_grant(
        person=broker,
        movement=rules.Movement.of([(pot, -minutes), (to_account, minutes)]),
        time_bank=time_bank,
    )
    if not reason.strip():
        raise ValidationError(
            {"reason": gettext("Say why the hours are granted: it shows on the pot's statement.")}
        )
    _check_length(reason, "reason")
    _check_minutes(time_bank, minutes)
    _check_parties(time_bank, [to_account], timezone.localdate())
    with _limits_explained(broker, time_bank):
        journal = ledger.transfer(
            from_account=pot,
            to_account=to_account,
            minutes=minutes,
            idempotency_key=key,
            fingerprint=fingerprint,
            effective_date=timezone.localdate(),
            recorded_by=broker,
            description=reason.strip(),
            category="grant",
        )
    replay = _recorded_with(journal)
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
    emails.exchange_completed(exchange)
    return exchange


# --- Deciding ------------------------------------------------------------------------------------
#
# Each decision starts, under the exchange's row lock, with the same two steps, before any
# check of who may decide (some of which depend on the state):
# 1. a retry of a decision already made with this idempotency key answers as the first did
#    (the exchange, as it is now) and changes nothing; the key with another decision is a 409;
# 2. an exchange already decided is a 409 saying what it is now, whoever asks.
# A decision made with a key is remembered (``Decision``) in the same transaction.


def _lock(exchange: Exchange) -> Exchange:
    return (
        Exchange.objects.select_for_update(of=("self",))
        .select_related("time_bank", "journal")
        .get(pk=exchange.pk)
    )


def _made_before(
    locked: Exchange, *, action: str, person: Person, key: str | None, reason: str = ""
) -> bool:
    """Whether ``key`` already made this decision (a retry). Raises ``DecisionKeyReused``
    when it made another one. The caller holds the exchange's lock, so of two identical
    requests at once the second waits for the first and finds its decision."""
    if not key:
        return False
    earlier = Decision.objects.filter(time_bank_id=locked.time_bank_id, idempotency_key=key).first()
    if earlier is None:
        return False
    same = (earlier.exchange_id, earlier.action, earlier.decided_by_id, earlier.reason)
    if same != (locked.pk, action, person.pk, reason):
        raise DecisionKeyReused(key, earlier.exchange_id)
    return True


def _refuse_if_between_banks(locked: Exchange) -> None:
    """Half of an exchange with a linked time bank is decided with its other half, by
    ``interbank.services``: never here on its own."""
    if locked.between_banks:
        raise PermissionDenied(
            gettext("This exchange is with a member of another time bank: decide it on its page.")
        )


def _refuse_if_decided(locked: Exchange, *, still_open: set[str]) -> None:
    if locked.state not in still_open:
        raise AlreadyDecided(locked.state, locked.get_state_display().lower())


def _remember(
    locked: Exchange, *, action: str, person: Person, key: str | None, reason: str = ""
) -> None:
    """Keep the decision under its key, so a retry finds it."""
    if not key:
        return
    try:
        with transaction.atomic():
            Decision.objects.create(
                time_bank_id=locked.time_bank_id,
                exchange=locked,
                action=action,
                idempotency_key=key,
                decided_by=person,
                reason=reason,
            )
    except IntegrityError:
        # The same key, just taken by another decision (on another exchange) that committed.
        other = (
            Decision.objects.filter(time_bank_id=locked.time_bank_id, idempotency_key=key)
            .values_list("exchange_id", flat=True)
            .first()
        )
        raise DecisionKeyReused(key, other or locked.pk) from None


def _complete(exchange: Exchange, decided_by: Person | None) -> None:
    ledger.post_pending(journal=exchange.journal, decided_by=decided_by)
    exchange.state = State.COMPLETED
    emails.exchange_completed(exchange)


@transaction.atomic
def confirm_exchange(
    *, exchange: Exchange, person: Person | None, idempotency_key: str | None = None
) -> Exchange:
    """The other party confirms (``person`` None: automatic confirmation after the deadline).

    Then, if a broker must approve, it waits for them; otherwise the hours move now.
    """
    locked = _lock(exchange)
    _refuse_if_between_banks(locked)
    key = caller_key(person, idempotency_key) if person is not None and idempotency_key else None
    if person is not None and _made_before(
        locked, action=DecisionAction.CONFIRM, person=person, key=key
    ):
        return locked
    _refuse_if_decided(locked, still_open={State.UNCONFIRMED})
    rules.check_may_confirm(exchange=locked, person=person)
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
    if person is not None:
        _remember(locked, action=DecisionAction.CONFIRM, person=person, key=key)
    return locked


@transaction.atomic
def approve_exchange(
    *, exchange: Exchange, broker: Person, idempotency_key: str | None = None
) -> Exchange:
    """A broker approves: the hours move. Approving an unconfirmed exchange also confirms it
    on the other party's behalf (for instance after a phone call with an offline member)."""
    locked = _lock(exchange)
    _refuse_if_between_banks(locked)
    key = caller_key(broker, idempotency_key) if idempotency_key else None
    if _made_before(locked, action=DecisionAction.APPROVE, person=broker, key=key):
        return locked
    _refuse_if_decided(locked, still_open={State.UNCONFIRMED, State.AWAITING_APPROVAL})
    rules.check_may_approve(exchange=locked, person=broker)
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
    _remember(locked, action=DecisionAction.APPROVE, person=broker, key=key)
    return locked


@transaction.atomic
def decline_exchange(
    *, exchange: Exchange, person: Person, reason: str, idempotency_key: str | None = None
) -> Exchange:
    """A broker declines, or the other party says "this isn't right": the held hours are
    released, and both parties are told why."""
    reason = reason.strip()
    if not reason:
        raise ValidationError(
            {"reason": gettext("Please give a reason: both people will read it.")}
        )
    locked = _lock(exchange)
    _refuse_if_between_banks(locked)
    key = caller_key(person, idempotency_key) if idempotency_key else None
    if _made_before(locked, action=DecisionAction.DECLINE, person=person, key=key, reason=reason):
        return locked
    _refuse_if_decided(locked, still_open={State.UNCONFIRMED, State.AWAITING_APPROVAL})
    # The person asked to confirm had their say when they confirmed: it waits for a broker now.
    if person.pk == locked.awaiting_confirmation_from_id:
        _refuse_if_decided(locked, still_open={State.UNCONFIRMED})
    rules.check_may_decline(exchange=locked, person=person)
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
    emails.exchange_declined(locked)
    _remember(locked, action=DecisionAction.DECLINE, person=person, key=key, reason=reason)
    return locked


@transaction.atomic
def reverse_exchange(
    *, exchange: Exchange, broker: Person, reason: str, idempotency_key: str | None = None
) -> Exchange:
    """A broker corrects a completed exchange by reversing it in the ledger (a new journal
    pointing at the original; nothing is deleted). Record the right one afterwards."""
    reason = reason.strip()
    if not reason:
        raise ValidationError(
            {"reason": gettext("Please give a reason: it stays on both statements.")}
        )
    locked = _lock(exchange)
    _refuse_if_between_banks(locked)
    key = caller_key(broker, idempotency_key) if idempotency_key else None
    if _made_before(locked, action=DecisionAction.REVERSE, person=broker, key=key, reason=reason):
        return locked
    # Open exchanges are not decided yet: reversing one is bad input (below), not a conflict.
    _refuse_if_decided(
        locked, still_open={State.UNCONFIRMED, State.AWAITING_APPROVAL, State.COMPLETED}
    )
    rules.check_may_reverse(exchange=locked, person=broker)
    if locked.is_open:
        raise ValidationError(
            gettext("Only a completed exchange can be reversed: decline this one instead.")
        )
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
    emails.exchange_reversed(locked)
    _remember(locked, action=DecisionAction.REVERSE, person=broker, key=key, reason=reason)
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
        state=State.UNCONFIRMED, confirm_by__lt=today, between_banks=False
    ).values_list("pk", flat=True):
        try:
            confirm_exchange(exchange=Exchange(pk=exchange_id), person=None)
        except AlreadyDecided:
            continue  # decided meanwhile
        except PermissionDenied:
            continue  # the person asked left meanwhile: expire_pending releases it
        done += 1
    return done


# --- Leaving, suspension and holds nobody decides ------------------------------------------------


def _cancel(exchange: Exchange, *, by: Person | None, reason: str, expired: bool = False) -> bool:
    """Cancel one open exchange (caller is atomic): its journal voided (or expired), its
    held hours released, the exchange declined with ``reason``. False if it was decided
    meanwhile. Locks the exchange, then its accounts (the decisions' order)."""
    locked = _lock(exchange)
    if not locked.is_open:
        return False
    if expired:
        ledger.expire_pending(journal=locked.journal)
    else:
        ledger.void_pending(journal=locked.journal, decided_by=by, reason=reason)
    if locked.flagged_over_limit:
        _narrow_back(locked)
    locked.state = State.DECLINED
    locked.declined_by, locked.declined_at, locked.decline_reason = by, timezone.now(), reason
    locked.save(update_fields=["state", "declined_by", "declined_at", "decline_reason"])
    refresh_activity(time_bank=locked.time_bank, exchange=locked)
    audit.record(
        action=Action.EXCHANGE_EXPIRED if expired else Action.EXCHANGE_DECLINED,
        actor=by,
        time_bank=locked.time_bank,
        obj=locked,
        details={"cancelled": "expired" if expired else "membership_ended"},
    )
    return True


def _cancel_debits_of(membership: Membership, *, by: Person, reason: str) -> int:
    """Cancel every open exchange of the member's bank that would debit their account: no
    balance falls without its owner's say (``exchanges.rules``), and someone who left or is
    suspended can no longer give it, nor will the deadline give it for them. After commit,
    the other parties are told. Returns how many."""
    debits = (
        Exchange.objects.filter(
            time_bank_id=membership.time_bank_id,
            state__in=[State.UNCONFIRMED, State.AWAITING_APPROVAL],
            journal__entries__account__person_id=membership.person_id,
            journal__entries__account__time_bank_id=membership.time_bank_id,
            journal__entries__amount_minutes__lt=0,
            between_banks=False,  # cancelled with their other half: ``interbank.services``
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    cancelled = 0
    member = membership.person
    for exchange_id in list(debits.distinct()):
        exchange = Exchange(pk=exchange_id)
        if _cancel(exchange, by=by, reason=reason):
            cancelled += 1
            done = Exchange.objects.select_related("time_bank").get(pk=exchange_id)
            emails.exchange_cancelled(done, skip=member)
    return cancelled


def _end_membership(*, membership: Membership, by: Person, status: str, reason: str) -> Membership:
    """Leaving and suspension, in the order every write takes its locks (exchanges, then
    accounts, then memberships): the member's open debits are cancelled first, then the
    membership is locked and changed, then any debit recorded meanwhile is cancelled too."""
    cancel_reason = (
        gettext("The member left the time bank, so this exchange was cancelled.")
        if status == Status.LEFT
        else gettext("The member's membership is suspended, so this exchange was cancelled.")
    )
    _cancel_debits_of(membership, by=by, reason=cancel_reason)
    locked = (
        Membership.objects.select_for_update(of=("self",))
        .select_related("person", "time_bank")
        .get(pk=membership.pk)
    )
    if status == Status.LEFT:
        locked.status, locked.left_at, locked.leave_reason = status, timezone.now(), reason.strip()
        locked.save(update_fields=["status", "left_at", "leave_reason"])
    else:
        locked.status = status
        locked.save(update_fields=["status"])
    _cancel_debits_of(locked, by=by, reason=cancel_reason)
    audit.record(
        action=Action.MEMBERSHIP_LEFT if status == Status.LEFT else Action.MEMBERSHIP_SUSPENDED,
        actor=by,
        time_bank=locked.time_bank,
        obj=locked,
        details={"by_member": by.pk == locked.person_id},
    )
    return locked


@transaction.atomic
def leave_time_bank(*, membership: Membership, by: Person, reason: str = "") -> Membership:
    """A member leaves a time bank, or a broker or admin of that bank marks them as left.

    1. Checks that ``by`` is the member or a broker of the bank (PermissionDenied otherwise)
       and that the membership is approved or suspended (ValidationError otherwise).
    2. Cancels every open exchange that would debit them (the other parties are told after
       commit); exchanges that would pay them stay, as they still may.
    3. Marks the membership left, now, keeping the reason on it (never in the audit log: it
       may say something about their health; erasure wipes it), and records
       ``membership.left``. Their hours, account and completed exchanges stay.
    """
    current = Membership.objects.select_related("person", "time_bank").get(pk=membership.pk)
    if by.pk != current.person_id and not is_broker(by, current.time_bank):
        raise PermissionDenied(
            gettext("Only the member or a broker of this time bank can do that.")
        )
    if current.status not in {Status.APPROVED, Status.SUSPENDED}:
        raise ValidationError(
            gettext("Only a member can leave; this membership is %(status)s.")
            % {"status": current.get_status_display().lower()}
        )
    return _end_membership(membership=current, by=by, status=Status.LEFT, reason=reason)


@transaction.atomic
def suspend_membership(*, membership: Membership, by: Person) -> Membership:
    """A broker of the bank suspends an approved member: they cannot trade until reinstated,
    and every open exchange that would debit them is cancelled (the other parties are told
    after commit). Records ``membership.suspended``."""
    current = Membership.objects.select_related("person", "time_bank").get(pk=membership.pk)
    if not is_broker(by, current.time_bank) or by.pk == current.person_id:
        raise PermissionDenied(gettext("Only another broker of this time bank can do that."))
    if current.status != Status.APPROVED:
        raise ValidationError(
            gettext("Only an approved member can be suspended; this membership is %(status)s.")
            % {"status": current.get_status_display().lower()}
        )
    return _end_membership(membership=current, by=by, status=Status.SUSPENDED, reason="")


@transaction.atomic
def reinstate_membership(*, membership: Membership, by: Person) -> Membership:
    """A broker of the bank lifts a suspension. Records ``membership.reinstated``."""
    locked = (
        Membership.objects.select_for_update(of=("self",))
        .select_related("person", "time_bank")
        .get(pk=membership.pk)
    )
    if not is_broker(by, locked.time_bank) or by.pk == locked.person_id:
        raise PermissionDenied(gettext("Only another broker of this time bank can do that."))
    if locked.status != Status.SUSPENDED:
        raise ValidationError(gettext("Only a suspended member can be reinstated."))
    locked.status = Status.APPROVED
    locked.save(update_fields=["status"])
    audit.record(
        action=Action.MEMBERSHIP_REINSTATED, actor=by, time_bank=locked.time_bank, obj=locked
    )
    return locked


def expire_pending(*, today: date | None = None) -> int:
    """Release the holds nobody decided within their bank's ``pending_expiry_days``, counted
    from when they were recorded: each open exchange that old is cancelled with the reason,
    its journal expiring in the ledger (after commit the parties are told); a pending journal
    with no exchange (written to the ledger directly) just expires. Each in its own
    transaction, claimed under its row lock, so it is safe to run twice (the second run finds
    nothing). The scheduled job (``exchanges.tasks.expire_pending``) and ``manage.py
    expire_pending`` call it. Returns how many holds it released."""
    now = timezone.now()
    if today is not None:
        now = datetime.combine(today, time.max, tzinfo=timezone.get_current_timezone())
    released = 0
    for bank in TimeBank.objects.order_by("pk"):
        cutoff = now - timedelta(days=bank.pending_expiry_days)
        reason = gettext(
            "Nobody decided it within %(days)s days, so it was cancelled and the hours held "
            "for it were released."
        ) % {"days": bank.pending_expiry_days}
        stale = Exchange.objects.filter(
            time_bank=bank,
            state__in=[State.UNCONFIRMED, State.AWAITING_APPROVAL],
            recorded_at__lt=cutoff,
            between_banks=False,  # expired with their other half: ``interbank.services``
        )
        for exchange_id in stale.order_by("pk").values_list("pk", flat=True):
            with transaction.atomic():
                if not _cancel(Exchange(pk=exchange_id), by=None, reason=reason, expired=True):
                    continue
                done = Exchange.objects.select_related("time_bank").get(pk=exchange_id)
                emails.exchange_cancelled(done)
            released += 1
        bare = Journal.objects.filter(
            time_bank=bank,
            state=JournalState.PENDING,
            recorded_at__lt=cutoff,
            exchange__isnull=True,
        )
        for journal_id in bare.order_by("pk").values_list("pk", flat=True):
            try:
                ledger.expire_pending(journal=Journal(pk=journal_id))
            except AlreadyResolved:
                continue
            released += 1
    return released
