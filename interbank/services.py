"""Every write about links between time banks and the exchanges across them.

Links: ``propose_link``, ``accept_link``, ``decline_link``, ``suspend_link``, ``resume_link``,
``end_link``, ``set_terms`` (a bank's trust limit and what it shares). Only an approved
administrator of a bank acts for it. Suspending or ending a link cancels its open exchanges.

Exchanges: ``record_between_banks``, ``confirm``, ``approve``, ``decline``, ``reverse``. Each
is one transaction moving both halves together (``interbank.models``); hours move only through
``ledger.services``. Locks are taken in the house order: the exchange rows (both halves, in id
order), then the accounts in ascending id order (all four at once, so two exchanges in
opposite directions on one link never deadlock), then memberships (``refresh_activity``).

Refusals a person can act on raise ``ValidationError``, ``PermissionDenied`` or a
``LedgerError`` (``PastLimit`` naming whose limit; ``AlreadyDecided``; ``IdempotencyConflict``).
Emails are queued for the worker, which sends them after commit (``exchanges.emails``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from typing import TypedDict

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from audit import services as audit
from audit.models import Action
from exchanges import emails
from exchanges import services as exchanges
from exchanges.exceptions import AlreadyDecided, DecisionKeyReused, PastLimit
from exchanges.models import OPEN, Decision, DecisionAction, Exchange, Kind, State
from exchanges.rules import check_acting_bank, hand
from ledger import services as ledger
from ledger.exceptions import (
    IdempotencyConflict,
    InsufficientHours,
    LimitsBelowBalance,
    MaximumBalanceReached,
)
from ledger.models import Account, AccountKind, format_hours
from members.access import is_broker
from members.models import Membership, Person, Role, Status, TimeBank

from .models import LIVE_LINK, CrossBankExchange, Link, LinkStatus, Sharing

# Transaction ids are derived from the recorder's bank and key: a retry finds the same one.
TRANSACTION_NAMESPACE = uuid.UUID("6f1c1d2e-8a51-4c1e-9a43-2f0a4b1e7c25")
# A bank trusts a partner with at most this many hours (a typo guard, not a policy).
MAX_TRUST_MINUTES = 10_000 * 60


# --- Links ---------------------------------------------------------------------------------------


def is_bank_admin(person: Person | None, time_bank: TimeBank | int) -> bool:
    if person is None:
        return False
    return Membership.objects.filter(
        person=person, time_bank=time_bank, status=Status.APPROVED, role=Role.ADMIN
    ).exists()


def _admin_side(person: Person, link: Link, *, only: TimeBank | None = None) -> TimeBank:
    """The bank of ``link`` that ``person`` administers (``only``: that one or nothing)."""
    for bank in [only] if only is not None else [link.proposer, link.partner]:
        if is_bank_admin(person, bank):
            check_acting_bank(person, bank)
            return bank
    raise PermissionDenied(gettext("Only an administrator of the time bank can do that."))


def _check_terms(trust_limit_minutes: int, shares: str) -> None:
    if (
        isinstance(trust_limit_minutes, bool)
        or not isinstance(trust_limit_minutes, int)
        or not 0 <= trust_limit_minutes <= MAX_TRUST_MINUTES
    ):
        raise ValidationError(
            {
                "trust_limit": gettext("Give the trust limit in hours, from 0 to %(most)s.")
                % {"most": format_hours(MAX_TRUST_MINUTES)}
            }
        )
    if shares not in Sharing.values:
        raise ValidationError({"shares": gettext("Choose what the other time bank may see.")})


def _set_trust(mirror: Account, minutes: int, bank: TimeBank, other: TimeBank) -> Account:
    """The mirror's credit limit is its bank's trust limit towards the other bank."""
    try:
        return ledger.set_limits(
            account=mirror, credit_limit_minutes=-minutes, max_balance_minutes=None
        )
    except LimitsBelowBalance as error:
        raise ValidationError(
            {
                "trust_limit": gettext(
                    "Members of %(bank)s have already given %(hours)s more to members of "
                    "%(other)s than they received: the trust limit cannot be lower."
                )
                % {
                    "bank": bank.name,
                    "other": other.name,
                    "hours": format_hours(-error.balance_minutes),
                }
            }
        ) from error


def _lock_link(link: Link) -> Link:
    return (
        Link.objects.select_for_update(of=("self",))
        .select_related("proposer", "partner", "proposer_mirror", "partner_mirror")
        .get(pk=link.pk)
    )


def _refuse_unless(locked: Link, *states: str) -> None:
    if locked.status not in states:
        raise ValidationError(
            gettext("This link is now: %(status)s.")
            % {"status": locked.get_status_display().lower()}
        )


@transaction.atomic
def propose_link(
    *, by: Person, time_bank: TimeBank, partner: TimeBank, trust_limit_minutes: int, shares: str
) -> Link:
    """An administrator of ``time_bank`` proposes a link to ``partner``, with their bank's
    trust limit and what it shares. Waits for an administrator of ``partner``."""
    if not is_bank_admin(by, time_bank):
        raise PermissionDenied(gettext("Only an administrator of the time bank can do that."))
    check_acting_bank(by, time_bank)
    if partner.pk == time_bank.pk:
        raise ValidationError({"partner": gettext("Choose another time bank.")})
    _check_terms(trust_limit_minutes, shares)
    already = gettext("%(bank)s is already linked to yours, or a link is waiting.") % {
        "bank": partner.name
    }
    if Link.objects.between(time_bank, partner).filter(status__in=LIVE_LINK).exists():
        raise ValidationError({"partner": already})
    try:
        with transaction.atomic():
            link = Link.objects.create(
                proposer=time_bank,
                partner=partner,
                status=LinkStatus.PROPOSED,
                proposed_by=by,
                proposer_limit_minutes=trust_limit_minutes,
                proposer_shares=shares,
            )
    except IntegrityError:  # the other bank proposed at the same moment
        raise ValidationError({"partner": already}) from None
    audit.record(
        action=Action.LINK_PROPOSED,
        actor=by,
        time_bank=time_bank,
        obj=link,
        details={"partner": partner.pk, "trust_limit_minutes": trust_limit_minutes},
    )
    return link


@transaction.atomic
def accept_link(*, link: Link, by: Person, trust_limit_minutes: int, shares: str) -> Link:
    """An administrator of the bank asked accepts, with its own trust limit and sharing: each
    bank's mirror account for the other is opened (or found again, after an earlier link) with
    its trust limit, and members may now exchange."""
    locked = _lock_link(link)
    _admin_side(by, locked, only=locked.partner)
    _refuse_unless(locked, LinkStatus.PROPOSED)
    _check_terms(trust_limit_minutes, shares)
    proposer_mirror = ledger.mirror_account(time_bank=locked.proposer, partner_bank=locked.partner)
    partner_mirror = ledger.mirror_account(time_bank=locked.partner, partner_bank=locked.proposer)
    proposer_mirror = _set_trust(
        proposer_mirror, locked.proposer_limit_minutes, locked.proposer, locked.partner
    )
    partner_mirror = _set_trust(
        partner_mirror, trust_limit_minutes, locked.partner, locked.proposer
    )
    locked.status = LinkStatus.ACTIVE
    locked.decided_by, locked.decided_at = by, timezone.now()
    locked.partner_limit_minutes, locked.partner_shares = trust_limit_minutes, shares
    locked.proposer_mirror, locked.partner_mirror = proposer_mirror, partner_mirror
    locked.save(
        update_fields=[
            "status",
            "decided_by",
            "decided_at",
            "partner_limit_minutes",
            "partner_shares",
            "proposer_mirror",
            "partner_mirror",
        ]
    )
    audit.record(
        action=Action.LINK_ACCEPTED,
        actor=by,
        time_bank=locked.partner,
        obj=locked,
        details={"partner": locked.proposer_id, "trust_limit_minutes": trust_limit_minutes},
    )
    return locked


@transaction.atomic
def decline_link(*, link: Link, by: Person) -> Link:
    """An administrator of the bank asked declines a proposed link."""
    locked = _lock_link(link)
    _admin_side(by, locked, only=locked.partner)
    _refuse_unless(locked, LinkStatus.PROPOSED)
    locked.status = LinkStatus.DECLINED
    locked.decided_by, locked.decided_at = by, timezone.now()
    locked.save(update_fields=["status", "decided_by", "decided_at"])
    audit.record(
        action=Action.LINK_DECLINED,
        actor=by,
        time_bank=locked.partner,
        obj=locked,
        details={"partner": locked.proposer_id},
    )
    return locked


def _changed(locked: Link, *, by: Person, bank: TimeBank, status: str) -> None:
    locked.status = status
    locked.changed_by, locked.changed_by_bank, locked.changed_at = by, bank, timezone.now()
    locked.save(update_fields=["status", "changed_by", "changed_by_bank", "changed_at"])


@transaction.atomic
def suspend_link(*, link: Link, by: Person) -> tuple[Link, int]:
    """An administrator of either bank suspends an active link: no new exchanges, and every
    open one is cancelled (both halves, the hours held released, the members told). Returns
    the link and how many exchanges were cancelled."""
    locked = _lock_link(link)
    bank = _admin_side(by, locked)
    _refuse_unless(locked, LinkStatus.ACTIVE)
    _changed(locked, by=by, bank=bank, status=LinkStatus.SUSPENDED)
    reason = gettext(
        "%(bank)s suspended its link with %(other)s, so this exchange was cancelled."
    ) % {"bank": bank.name, "other": locked.other(bank).name}
    cancelled = _cancel_open(locked, by=by, reason=reason)
    audit.record(
        action=Action.LINK_SUSPENDED,
        actor=by,
        time_bank=bank,
        obj=locked,
        details={"cancelled": cancelled},
    )
    return locked, cancelled


@transaction.atomic
def resume_link(*, link: Link, by: Person) -> Link:
    """An administrator of the bank that suspended a link resumes it."""
    locked = _lock_link(link)
    _refuse_unless(locked, LinkStatus.SUSPENDED)
    bank = _admin_side(by, locked, only=locked.changed_by_bank)
    _changed(locked, by=by, bank=bank, status=LinkStatus.ACTIVE)
    audit.record(action=Action.LINK_RESUMED, actor=by, time_bank=bank, obj=locked)
    return locked


@transaction.atomic
def end_link(*, link: Link, by: Person) -> tuple[Link, int]:
    """An administrator of either bank ends a link (or withdraws a proposal): every open
    exchange is cancelled. Completed exchanges and the mirror accounts' balances stay (a new
    link between the two banks finds them again). Returns the link and how many exchanges
    were cancelled."""
    locked = _lock_link(link)
    bank = _admin_side(by, locked)
    _refuse_unless(locked, LinkStatus.PROPOSED, LinkStatus.ACTIVE, LinkStatus.SUSPENDED)
    _changed(locked, by=by, bank=bank, status=LinkStatus.ENDED)
    reason = gettext("%(bank)s ended its link with %(other)s, so this exchange was cancelled.") % {
        "bank": bank.name,
        "other": locked.other(bank).name,
    }
    cancelled = _cancel_open(locked, by=by, reason=reason)
    audit.record(
        action=Action.LINK_ENDED,
        actor=by,
        time_bank=bank,
        obj=locked,
        details={"cancelled": cancelled},
    )
    return locked, cancelled


@transaction.atomic
def set_terms(*, link: Link, by: Person, trust_limit_minutes: int, shares: str) -> Link:
    """An administrator changes their own bank's side of a link: its trust limit (refused
    below what its members have already given on balance) and what it shares."""
    locked = _lock_link(link)
    bank = _admin_side(by, locked)
    _refuse_unless(locked, *LIVE_LINK)
    if locked.status == LinkStatus.PROPOSED and bank.pk == locked.partner_id:
        raise ValidationError(gettext("Accept the link first, with your terms."))
    _check_terms(trust_limit_minutes, shares)
    side = locked.side(bank)
    mirror = locked.mirror_of(bank)
    if mirror is not None:
        _set_trust(mirror, trust_limit_minutes, bank, locked.other(bank))
    setattr(locked, f"{side}_limit_minutes", trust_limit_minutes)
    setattr(locked, f"{side}_shares", shares)
    locked.save(update_fields=[f"{side}_limit_minutes", f"{side}_shares"])
    audit.record(
        action=Action.LINK_TERMS_CHANGED,
        actor=by,
        time_bank=bank,
        obj=locked,
        details={"trust_limit_minutes": trust_limit_minutes, "shares": shares},
    )
    return locked


# --- Recording ------------------------------------------------------------------------------------


def _explain(error: InsufficientHours | MaximumBalanceReached, *, reader: Person) -> PastLimit:
    """A refusal at a limit, naming whose: a bank's trust limit (its mirror account), or a
    member's own limit as ``exchanges.services.explain_limit`` says it."""
    account = Account.objects.select_related("time_bank", "partner_bank").get(pk=error.account_id)
    if account.kind != AccountKind.MIRROR:
        return exchanges.explain_limit(error, reader=reader, time_bank=account.time_bank)
    message = gettext(
        "This would take %(bank)s past the trust limit it set for exchanges with %(other)s "
        "(%(limit)s more given than received). It can be recorded once members of %(other)s "
        "have given some help back, or when %(bank)s raises its trust limit: ask your broker."
    ) % {
        "bank": account.time_bank.name,
        "other": account.partner_bank.name if account.partner_bank else "",
        "limit": format_hours(-(account.credit_limit_minutes or 0)),
    }
    return PastLimit(message, account_id=account.pk, may_record_for_approval=False)


@contextmanager
def _limits_explained(reader: Person) -> Iterator[None]:
    try:
        yield
    except (InsufficientHours, MaximumBalanceReached) as error:
        raise _explain(error, reader=reader) from error


def _lock_accounts(accounts: Sequence[Account]) -> None:
    """Lock every account of both halves at once, in ascending id order (the ledger's)."""
    ids = sorted({a.pk for a in accounts})
    list(Account.objects.select_for_update().filter(pk__in=ids).order_by("pk").values("pk"))


def _check_member(account: Account, effective_date: date) -> None:
    joined = (
        Membership.objects.filter(
            time_bank_id=account.time_bank_id, person_id=account.person_id, status=Status.APPROVED
        )
        .only("decided_at", "joined_on")
        .first()
        if account.person_id is not None
        else None
    )
    if account.kind != AccountKind.MEMBER or joined is None:
        raise ValidationError(
            gettext("%(name)s is not an approved member of %(bank)s.")
            % {"name": account.holder_name, "bank": account.time_bank.name}
        )
    if joined.joined is not None and effective_date < joined.joined:
        raise ValidationError(
            {
                "effective_date": gettext("%(name)s joined later: the help cannot be earlier.")
                % {"name": account.holder_name}
            }
        )


def _check_minutes(banks: Sequence[TimeBank], minutes: int) -> None:
    if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes <= 0:
        raise ValidationError(
            {"minutes": gettext("Give the hours as a positive number, in quarter hours.")}
        )
    if minutes % exchanges.QUARTER_HOUR:
        raise ValidationError({"minutes": gettext("Give the hours in quarter hours (15 minutes).")})
    most = min(bank.max_exchange_minutes for bank in banks)
    if minutes > most:
        raise ValidationError(
            {
                "minutes": gettext(
                    "One exchange can be at most %(hours)s. Record longer help as several."
                )
                % {"hours": format_hours(most)}
            }
        )


def reference(account: Account) -> str:
    """A member as another bank (or install) knows them: "<bank slug>/<person id>"."""
    return f"{account.time_bank.slug}/{account.person_id}"


def _asked(person_account: Account) -> Person | None:
    """Who confirms for ``person_account``: its member, if they sign in."""
    if person_account.person_id is None:
        return None
    person = Person.objects.filter(pk=person_account.person_id, user__isnull=False).first()
    return person


class _JournalDetails(TypedDict):
    """What both journals of an exchange across banks say alike (``ledger.post_journal``)."""

    idempotency_key: str
    fingerprint: str
    effective_date: date
    recorded_by: Person
    description: str
    category: str
    pending: bool


@transaction.atomic
def record_between_banks(
    *,
    recorded_by: Person,
    own: Account,
    other: Account,
    gave: bool,
    minutes: int,
    details: exchanges.Details,
    idempotency_key: str | None = None,
) -> CrossBankExchange:
    """A member records help they gave to (``gave``) or received from a member of a linked
    time bank: ``own`` is their account, ``other`` the other member's, in the other bank.

    1. A retry (the same key, in the recorder's own namespace, and the same request) returns
       the exchange first recorded; the same key with another request is a conflict. The
       transaction id is derived from the recorder's bank and key, so a concurrent retry
       meets the first in the ledger (both journals' key is ``interbank-<transaction id>``).
    2. Checks: the recorder is the member behind ``own`` (or a broker acting for them); an
       active link joins the two banks; both are approved members; quarter hours within
       both banks' largest exchange; a date in the last year, not in the future.
    3. Who says yes, as inside a bank (``exchanges.rules``): a recorder who gave needs the
       other member's confirmation (nobody to confirm: a broker of the other bank approves
       instead); one who received needs the other's when their bank asks members to confirm.
       Each bank's approval rule applies to its own half; it waits until both are satisfied.
    4. One transaction, four entries: in the giver's bank the member +m and its mirror for
       the other bank -m; in the receiver's bank its mirror +m and the member -m. Pending
       (holding the hours) until confirmed and approved. A limit refuses the whole, naming
       whose (a bank's trust limit, or the member's own).
    5. After commit: asks the other member to confirm, or tells both it is done.
    """
    bank, other_bank = own.time_bank, other.time_bank
    key = exchanges.caller_key(recorded_by, idempotency_key)
    fingerprint = exchanges.request_fingerprint(
        "interbank", own, other, gave, minutes, *details.sent()
    )
    transaction_id = uuid.uuid5(TRANSACTION_NAMESPACE, f"{bank.pk}:{key}")
    replay = _replay(transaction_id, key, fingerprint)
    if replay is not None:
        return replay
    check_acting_bank(recorded_by, bank)
    if own.kind != AccountKind.MEMBER or own.person_id != recorded_by.pk:
        raise PermissionDenied(
            gettext("You can record exchanges you took part in, with your own account.")
        )
    if other.kind != AccountKind.MEMBER or other_bank.pk == bank.pk:
        raise ValidationError({"other": gettext("Choose a member of a linked time bank.")})
    link = (
        Link.objects.between(bank, other_bank)
        .filter(status=LinkStatus.ACTIVE)
        .select_related("proposer_mirror", "partner_mirror")
        .first()
    )
    if link is None:
        raise PermissionDenied(
            gettext("%(bank)s has no active link with %(other)s.")
            % {"bank": bank.name, "other": other_bank.name}
        )
    effective_date = details.effective_date or timezone.localdate()
    today = timezone.localdate()
    if effective_date > today:
        raise ValidationError(
            {"effective_date": gettext("The date the help happened cannot be in the future.")}
        )
    if effective_date < today - timedelta(days=366):
        raise ValidationError(
            {"effective_date": gettext("That is more than a year ago: ask your broker.")}
        )
    _check_minutes([bank, other_bank], minutes)
    _check_member(own, effective_date)
    _check_member(other, effective_date)
    if not details.description.strip():
        raise ValidationError({"description": gettext("Say in a few words what the help was.")})
    if len(details.description.strip()) > 200:
        raise ValidationError({"description": gettext("Please keep it to 200 characters.")})

    giver, receiver = (own, other) if gave else (other, own)
    giving_bank, receiving_bank = giver.time_bank, receiver.time_bank
    giving_mirror, receiving_mirror = link.mirror_of(giving_bank), link.mirror_of(receiving_bank)
    assert giving_mirror is not None and receiving_mirror is not None  # an active link has both
    asked = None
    if gave:
        # The member who pays says yes; nobody to: a broker of their bank approves.
        asked = _asked(receiver)
    elif giving_bank.confirmation_required:
        asked = _asked(giver)
    giving_needs = exchanges.approval_needed(giving_bank, giver, minutes)
    receiving_needs = exchanges.approval_needed(receiving_bank, receiver, minutes) or (
        gave and asked is None
    )
    state = (
        State.UNCONFIRMED
        if asked
        else State.AWAITING_APPROVAL
        if giving_needs or receiving_needs
        else State.COMPLETED
    )
    journal_key = f"interbank-{transaction_id}"
    common: _JournalDetails = {
        "idempotency_key": journal_key,
        "fingerprint": fingerprint,
        "effective_date": effective_date,
        "recorded_by": recorded_by,
        "description": details.description.strip(),
        "category": getattr(details.category, "slug", ""),
        "pending": state != State.COMPLETED,
    }
    _lock_accounts([giver, receiver, giving_mirror, receiving_mirror])
    with _limits_explained(recorded_by):
        giving_journal = ledger.post_journal(
            time_bank=giving_bank, legs=[(giver, minutes), (giving_mirror, -minutes)], **common
        )
        receiving_journal = ledger.post_journal(
            time_bank=receiving_bank,
            legs=[(receiving_mirror, minutes), (receiver, -minutes)],
            **common,
        )
    found = CrossBankExchange.objects.filter(transaction_id=transaction_id).first()
    if found is not None:  # a concurrent retry of the same request committed first
        return found
    now = timezone.now()
    halves = {}
    for half_bank, journal, half_giver, half_receiver, needs in (
        (giving_bank, giving_journal, giver, giving_mirror, giving_needs),
        (receiving_bank, receiving_journal, receiving_mirror, receiver, receiving_needs),
    ):
        halves[half_bank.pk] = Exchange.objects.create(
            time_bank=half_bank,
            kind=Kind.SERVICE,
            journal=journal,
            state=state,
            minutes=minutes,
            effective_date=effective_date,
            description=details.description.strip(),
            category=details.category,
            coproduction=details.coproduction,
            giver=half_giver,
            receiver=half_receiver,
            recorded_by=recorded_by,
            acting_broker=audit.acting_broker_for(recorded_by),
            recorded_at=now,
            awaiting_confirmation_from=asked,
            confirm_by=(today + timedelta(days=giving_bank.auto_confirm_days)) if asked else None,
            needs_approval=needs,
            between_banks=True,
        )
    cross = CrossBankExchange.objects.create(
        link=link,
        transaction_id=transaction_id,
        giving=halves[giving_bank.pk],
        receiving=halves[receiving_bank.pk],
        giver_reference=reference(giver),
        receiver_reference=reference(receiver),
        recorded_at=now,
    )
    for half in cross.halves():
        audit.record(
            action=Action.EXCHANGE_RECORDED,
            actor=recorded_by,
            time_bank=half.time_bank,
            obj=half,
            details={"minutes": minutes, "state": state, "between_banks": str(transaction_id)},
        )
        exchanges.refresh_activity(time_bank=half.time_bank, exchange=half)
    if state == State.UNCONFIRMED:
        asked_half = cross.receiving if gave else cross.giving
        emails.please_confirm(asked_half)
    elif state == State.COMPLETED:
        for half in cross.halves():
            emails.exchange_completed(half)
    return cross


def _replay(transaction_id: uuid.UUID, key: str, fingerprint: str) -> CrossBankExchange | None:
    found = (
        CrossBankExchange.objects.filter(transaction_id=transaction_id)
        .select_related("giving__journal")
        .first()
    )
    if found is None:
        return None
    if found.giving.journal.fingerprint != fingerprint:
        raise IdempotencyConflict(key, found.giving.journal_id)
    return found


# --- Deciding -------------------------------------------------------------------------------------


def get_cross_for_exchange(exchange: Exchange) -> CrossBankExchange:
    """The cross-bank exchange one of whose halves is ``exchange``."""
    return CrossBankExchange.objects.select_related("link").get(
        Q(giving=exchange) | Q(receiving=exchange)
    )


def _lock_pair(cross: CrossBankExchange) -> tuple[Exchange, Exchange]:
    """Both halves, locked in id order; returned as (giving, receiving)."""
    rows = {
        e.pk: e
        for e in Exchange.objects.select_for_update(of=("self",))
        .select_related("time_bank", "journal", "giver", "receiver")
        .filter(pk__in=[cross.giving_id, cross.receiving_id])
        .order_by("pk")
    }
    return rows[cross.giving_id], rows[cross.receiving_id]


def _made_before(
    half: Exchange, *, action: str, person: Person, key: str | None, reason: str = ""
) -> bool:
    """A retry of a decision made with ``key`` (kept on the decider's half): True. The key
    with another decision: ``DecisionKeyReused``."""
    if not key:
        return False
    earlier = Decision.objects.filter(time_bank_id=half.time_bank_id, idempotency_key=key).first()
    if earlier is None:
        return False
    if (earlier.exchange_id, earlier.action, earlier.decided_by_id, earlier.reason) != (
        half.pk,
        action,
        person.pk,
        reason,
    ):
        raise DecisionKeyReused(key, earlier.exchange_id)
    return True


def _remember(
    half: Exchange, *, action: str, person: Person, key: str | None, reason: str = ""
) -> None:
    if not key:
        return
    try:
        with transaction.atomic():
            Decision.objects.create(
                time_bank_id=half.time_bank_id,
                exchange=half,
                action=action,
                idempotency_key=key,
                decided_by=person,
                reason=reason,
            )
    except IntegrityError:
        raise DecisionKeyReused(key, half.pk) from None


def _refuse_if_decided(half: Exchange, still_open: Sequence[str]) -> None:
    if half.state not in still_open:
        raise AlreadyDecided(half.state, half.get_state_display().lower())


def ends(half: Exchange) -> tuple[Account, Account]:
    """The giver's and the receiver's account of a half of an exchange across banks. Every
    half has both (its journal has two legs); a half without is a broken row, not a refusal."""
    giver, receiver = half.giver, half.receiver
    if giver is None or receiver is None:
        raise ValueError(
            f"exchange {half.pk} has no giver or receiver: no half of one across banks"
        )
    return giver, receiver


def _parties(giving: Exchange, receiving: Exchange) -> frozenset[int]:
    return frozenset(p for p in (ends(giving)[0].person_id, ends(receiving)[1].person_id) if p)


def _recorded_hand(half: Exchange) -> frozenset[int]:
    return frozenset(p for p in (half.recorded_by_id, half.acting_broker_id) if p)


def _satisfied(halves: Sequence[Exchange]) -> bool:
    return all(not h.needs_approval or h.approved_by_id for h in halves)


def _save(halves: Sequence[Exchange], fields: list[str]) -> None:
    for half in halves:
        half.save(update_fields=fields)
        exchanges.refresh_activity(time_bank=half.time_bank, exchange=half)


def _complete(giving: Exchange, receiving: Exchange, decided_by: Person | None) -> None:
    """Post both journals (caller holds the halves' locks; the accounts are locked here)."""
    _lock_accounts([*ends(giving), *ends(receiving)])
    for half in (giving, receiving):
        ledger.post_pending(journal=half.journal, decided_by=decided_by)
        half.state = State.COMPLETED
        emails.exchange_completed(half)


def _void(giving: Exchange, receiving: Exchange, *, by: Person | None, reason: str) -> None:
    _lock_accounts([*ends(giving), *ends(receiving)])
    now = timezone.now()
    for half in (giving, receiving):
        ledger.void_pending(journal=half.journal, decided_by=by, reason=reason)
        half.state = State.DECLINED
        half.declined_by, half.declined_at, half.decline_reason = by, now, reason


@transaction.atomic
def confirm(
    *, cross: CrossBankExchange, person: Person, idempotency_key: str | None = None
) -> CrossBankExchange:
    """The member asked confirms. Then it waits for any bank whose approval rule asks a
    broker to approve its half; otherwise both halves' hours move now."""
    giving, receiving = _lock_pair(cross)
    asked_half = (
        receiving
        if giving.awaiting_confirmation_from_id == ends(receiving)[1].person_id
        else giving
    )
    key = exchanges.caller_key(person, idempotency_key) if idempotency_key else None
    if _made_before(asked_half, action=DecisionAction.CONFIRM, person=person, key=key):
        return cross
    _refuse_if_decided(giving, [State.UNCONFIRMED])
    check_acting_bank(person, asked_half.time_bank_id)
    if person.pk != giving.awaiting_confirmation_from_id or hand(person) & _recorded_hand(giving):
        raise PermissionDenied(gettext("Only the other person in the exchange can confirm it."))
    now = timezone.now()
    for half in (giving, receiving):
        half.confirmed_by, half.confirmed_at = person, now
    if _satisfied([giving, receiving]):
        _complete(giving, receiving, person)
    else:
        giving.state = receiving.state = State.AWAITING_APPROVAL
    _save([giving, receiving], ["state", "confirmed_by", "confirmed_at"])
    for half in (giving, receiving):
        audit.record(
            action=Action.EXCHANGE_CONFIRMED,
            actor=person,
            time_bank=half.time_bank,
            obj=half,
            details={"state": half.state},
        )
    _remember(asked_half, action=DecisionAction.CONFIRM, person=person, key=key)
    return cross


@transaction.atomic
def approve(
    *, cross: CrossBankExchange, broker: Person, idempotency_key: str | None = None
) -> CrossBankExchange:
    """A broker approves their own bank's half, when its approval rule asks for it; never the
    other bank's. Once both banks' rules are satisfied and the member asked has confirmed,
    both halves' hours move."""
    giving, receiving = _lock_pair(cross)
    mine = [h for h in (giving, receiving) if is_broker(broker, h.time_bank_id)]
    if not mine:
        raise PermissionDenied(
            gettext("Only a broker of one of the two time banks can approve its side.")
        )
    key = exchanges.caller_key(broker, idempotency_key) if idempotency_key else None
    if _made_before(mine[0], action=DecisionAction.APPROVE, person=broker, key=key):
        return cross
    _refuse_if_decided(giving, OPEN)
    check_acting_bank(broker, mine[0].time_bank_id)
    if hand(broker) & _parties(giving, receiving):
        raise PermissionDenied(
            gettext("You took part in this exchange: another broker must approve it.")
        )
    if hand(broker) & _recorded_hand(giving):
        raise PermissionDenied(
            gettext("You recorded this exchange: another broker must approve it.")
        )
    waiting = [h for h in mine if h.needs_approval and not h.approved_by_id]
    if not waiting:
        raise PermissionDenied(
            gettext("Your time bank's side needs no approval: it waits for the other side.")
        )
    half = waiting[0]
    half.approved_by, half.approved_at = broker, timezone.now()
    half.save(update_fields=["approved_by", "approved_at"])
    if giving.state == State.AWAITING_APPROVAL and _satisfied([giving, receiving]):
        _complete(giving, receiving, broker)
        _save([giving, receiving], ["state"])
    audit.record(
        action=Action.EXCHANGE_APPROVED,
        actor=broker,
        time_bank=half.time_bank,
        obj=half,
        details={"state": half.state},
    )
    _remember(half, action=DecisionAction.APPROVE, person=broker, key=key)
    return cross


@transaction.atomic
def decline(
    *,
    cross: CrossBankExchange,
    person: Person,
    reason: str,
    idempotency_key: str | None = None,
) -> CrossBankExchange:
    """A broker of either bank declines it (each bank may refuse its half, which refuses the
    whole), or the member asked says "this isn't right" while it waits for them: both
    journals are voided, the hours held released, both members told why."""
    reason = reason.strip()
    if not reason:
        raise ValidationError(
            {"reason": gettext("Please give a reason: both people will read it.")}
        )
    giving, receiving = _lock_pair(cross)
    brokered = [h for h in (giving, receiving) if is_broker(person, h.time_bank_id)]
    asked = person.pk == giving.awaiting_confirmation_from_id
    own_half = (
        brokered[0]
        if brokered
        else (receiving if ends(receiving)[1].person_id == person.pk else giving)
    )
    key = exchanges.caller_key(person, idempotency_key) if idempotency_key else None
    if _made_before(own_half, action=DecisionAction.DECLINE, person=person, key=key, reason=reason):
        return cross
    _refuse_if_decided(giving, OPEN)
    if not brokered and not (asked and giving.state == State.UNCONFIRMED):
        raise PermissionDenied(
            gettext("Only a broker, or the person asked to confirm, can decline an exchange.")
        )
    check_acting_bank(person, own_half.time_bank_id)
    _void(giving, receiving, by=person, reason=reason)
    _save([giving, receiving], ["state", "declined_by", "declined_at", "decline_reason"])
    for half in (giving, receiving):
        audit.record(
            action=Action.EXCHANGE_DECLINED, actor=person, time_bank=half.time_bank, obj=half
        )
        emails.exchange_declined(half)
    _remember(own_half, action=DecisionAction.DECLINE, person=person, key=key, reason=reason)
    return cross


@transaction.atomic
def reverse(
    *,
    cross: CrossBankExchange,
    broker: Person,
    reason: str,
    idempotency_key: str | None = None,
) -> CrossBankExchange:
    """A broker of either bank who took no part corrects a completed exchange: both journals
    are reversed (all four entries), in one transaction."""
    reason = reason.strip()
    if not reason:
        raise ValidationError(
            {"reason": gettext("Please give a reason: it stays on both statements.")}
        )
    giving, receiving = _lock_pair(cross)
    mine = [h for h in (giving, receiving) if is_broker(broker, h.time_bank_id)]
    if not mine:
        raise PermissionDenied(
            gettext("Only a broker of one of the two time banks can reverse it.")
        )
    key = exchanges.caller_key(broker, idempotency_key) if idempotency_key else None
    if _made_before(mine[0], action=DecisionAction.REVERSE, person=broker, key=key, reason=reason):
        return cross
    _refuse_if_decided(giving, [*OPEN, State.COMPLETED])
    check_acting_bank(broker, mine[0].time_bank_id)
    if hand(broker) & _parties(giving, receiving):
        raise PermissionDenied(
            gettext("You took part in this exchange: another broker must reverse it.")
        )
    if giving.is_open:
        raise ValidationError(
            gettext("Only a completed exchange can be reversed: decline this one instead.")
        )
    _lock_accounts([*ends(giving), *ends(receiving)])
    now = timezone.now()
    with _limits_explained(broker):
        for half in (giving, receiving):
            half.reversal = ledger.reverse_journal(
                journal=half.journal,
                recorded_by=broker,
                reason=reason,
                idempotency_key=f"reverse-exchange-{half.pk}",
            )
            half.state = State.REVERSED
            half.reversed_by, half.reversed_at, half.reverse_reason = broker, now, reason
    _save(
        [giving, receiving], ["state", "reversal", "reversed_by", "reversed_at", "reverse_reason"]
    )
    for half in (giving, receiving):
        audit.record(
            action=Action.EXCHANGE_REVERSED,
            actor=broker,
            time_bank=half.time_bank,
            obj=half,
            details={"reversal_journal": half.reversal_id},
        )
        emails.exchange_reversed(half)
    _remember(mine[0], action=DecisionAction.REVERSE, person=broker, key=key, reason=reason)
    return cross


def _cancel_open(link: Link, *, by: Person | None, reason: str, expired: bool = False) -> int:
    """Cancel every open exchange of ``link`` (caller is atomic and holds the link's lock):
    both halves declined with ``reason``, the held hours released, the members told."""
    cancelled = 0
    for cross in CrossBankExchange.objects.filter(link=link, giving__state__in=OPEN).order_by("pk"):
        giving, receiving = _lock_pair(cross)
        if not giving.is_open:
            continue
        _void(giving, receiving, by=by, reason=reason)
        _save([giving, receiving], ["state", "declined_by", "declined_at", "decline_reason"])
        for half in (giving, receiving):
            audit.record(
                action=Action.EXCHANGE_EXPIRED if expired else Action.EXCHANGE_DECLINED,
                actor=by,
                time_bank=half.time_bank,
                obj=half,
                details={"cancelled": "link_changed"},
            )
            emails.exchange_cancelled(half)
        cancelled += 1
    return cancelled


def expire_pending(*, today: date | None = None) -> int:
    """Release the holds of exchanges across banks that nobody decided in time: the shorter of
    the two banks' ``pending_expiry_days``, counted from when it was recorded. Both halves
    expire in the ledger and are declined with the reason; the members are told after commit.
    Each in its own transaction, claimed under the halves' locks: safe to run twice. The
    daily task ``interbank.tasks.expire_pending`` and ``manage.py expire_pending_between_banks``
    call it. Returns how many exchanges it released."""
    now = timezone.now()
    if today is not None:
        now = datetime.combine(today, time.max, tzinfo=timezone.get_current_timezone())
    released = 0
    waiting = CrossBankExchange.objects.filter(giving__state__in=OPEN).select_related(
        "giving__time_bank", "receiving__time_bank"
    )
    for cross in waiting.order_by("pk"):
        days = min(
            cross.giving.time_bank.pending_expiry_days,
            cross.receiving.time_bank.pending_expiry_days,
        )
        if cross.giving.recorded_at >= now - timedelta(days=days):
            continue
        reason = gettext(
            "Nobody decided it within %(days)s days, so it was cancelled and the hours held "
            "for it were released."
        ) % {"days": days}
        with transaction.atomic():
            giving, receiving = _lock_pair(cross)
            if not giving.is_open:
                continue
            _lock_accounts([*ends(giving), *ends(receiving)])
            for half in (giving, receiving):
                ledger.expire_pending(journal=half.journal)
                half.state = State.DECLINED
                half.declined_by, half.declined_at, half.decline_reason = None, now, reason
            _save([giving, receiving], ["state", "declined_by", "declined_at", "decline_reason"])
            for half in (giving, receiving):
                audit.record(
                    action=Action.EXCHANGE_EXPIRED,
                    actor=None,
                    time_bank=half.time_bank,
                    obj=half,
                    details={"cancelled": "expired"},
                )
                emails.exchange_cancelled(half)
        released += 1
    return released
