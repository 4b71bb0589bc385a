"""The only way hours move: open accounts, post, hold, resolve, reverse, read, verify.

Every function is keyword-only and atomic, and raises ``ledger.exceptions.LedgerError``
subclasses for refusals a person can act on.

Why posting has two implementations. On PostgreSQL a posting is one call to the PL/pgSQL
function ``ledger_post_journal`` (installed by migration 0002): it claims the idempotency key,
locks the accounts in ascending id order, checks the limits inside the locks, moves the
balances and writes the entries, all in one client/server round trip. The same steps done
through the ORM take ~8 round trips plus ORM CPU per transfer, which on a 2-core machine caps
throughput at ~650 transfers/s against ~3,200/s for one call (see
``/work/shared/research/ledger_anchors.md`` §5.4). SQLite is embedded, so round trips cost
nothing and writers are serialised by the database (``transaction_mode=IMMEDIATE``); there the
same steps run in Python (``_post_in_python``). The two are kept line-for-line parallel:
1. claim the key (replay -> return the original; other payload -> IdempotencyConflict);
2. lock the accounts in ascending id order;
3. for each leg, move the posted balance (or the hold) only if the account stays within its
   credit limit and maximum balance, then write the entry with its running balance.
Both return ``(journal id, recorded_at, replayed)``; everything around them is shared, and the
whole test suite runs against each backend.

Resolving (post/void/expire) and reversing are rarer and run through the ORM on both backends.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypedDict

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext

from members.models import LimitRule, Organisation, Person, TimeBank

from . import bulk
from .exceptions import (
    AccountMismatch,
    AlreadyResolved,
    AlreadyReversed,
    IdempotencyConflict,
    InsufficientHours,
    InvalidJournal,
    LedgerError,
    LimitsBelowBalance,
    MaximumBalanceReached,
    NotPosted,
    ReversalNotReversible,
    UnbalancedJournal,
)
from .models import Account, AccountKind, Entry, Journal, JournalState

logger = logging.getLogger(__name__)

# SQLSTATEs raised by ledger_post_journal (migration 0002).
_SQLSTATE_INVALID = "TBL01"
_SQLSTATE_CONFLICT = "TBL02"
_SQLSTATE_LIMIT = "TBL03"
_SQLSTATE_MAXIMUM = "TBL04"
_SQLSTATE_MISMATCH = "TBL05"
# Deadlock and serialization failures: retried inside the service, never shown to callers.
_SQLSTATE_RETRY = {"40P01", "40001"}
_RETRIES = 3


# --- The one clock ---------------------------------------------------------------------------


def database_now() -> datetime:
    """The database's clock: the one every ``posted_at`` (and ``recorded_at``, ``decided_at``)
    of the ledger is read from, on both backends, so PL/pgSQL and Python never disagree and two
    application servers' clocks never matter. Read after the accounts' locks are held, it
    never goes back along an account's entries (``verify_ledger`` checks that it does not).
    PostgreSQL: ``clock_timestamp()``, as ``ledger_post_journal`` reads it; SQLite: its
    ``'now'``, to the millisecond, in UTC."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT clock_timestamp()")
            return cursor.fetchone()[0]
        cursor.execute("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")
        return datetime.fromisoformat(cursor.fetchone()[0]).replace(tzinfo=UTC)


# --- Accounts -------------------------------------------------------------------------------


def open_account(
    *, time_bank: TimeBank, person: Person | None = None, organisation: Organisation | None = None
) -> Account:
    """Return the hours account of ``person`` or ``organisation`` in ``time_bank``, opening it
    (with the time bank's default credit limit, or none under its "flag" rule) if it does not
    exist yet. Safe to call twice."""
    if (person is None) == (organisation is None):
        raise ValueError(gettext("Open an account for exactly one person or one organisation."))
    if organisation is not None:
        if organisation.time_bank_id != time_bank.pk:
            raise AccountMismatch(organisation.pk)
        owner: dict[str, Any] = {"kind": AccountKind.ORGANISATION, "organisation": organisation}
    else:
        owner = {"kind": AccountKind.MEMBER, "person": person}
    # Under the bank's "flag" rule its limit is a line brokers watch, not one the ledger holds.
    hard_limit = (
        None if time_bank.limit_rule == LimitRule.FLAG else time_bank.default_credit_limit_minutes
    )
    account, _ = Account.objects.get_or_create(
        time_bank=time_bank, **owner, defaults={"credit_limit_minutes": hard_limit}
    )
    # The holder is the caller's own object (whoever shows it reads no row again).
    if person is not None:
        account.person = person
    else:
        account.organisation = organisation
    return account


def community_pot(*, time_bank: TimeBank) -> Account:
    """Return the time bank's community pot, opening it if needed. It has no credit limit."""
    account, _ = Account.objects.get_or_create(
        time_bank=time_bank, kind=AccountKind.POT, defaults={"credit_limit_minutes": None}
    )
    return account


def set_limits(
    *, account: Account, credit_limit_minutes: int | None, max_balance_minutes: int | None
) -> Account:
    """Give ``account`` a new credit limit and maximum balance (``None``: no limit).

    Refuses (``LimitsBelowBalance``) limits the account is already past, counting holds:
    settle or void first. Locks the account, so no posting slips in between check and change.
    """
    with transaction.atomic():
        locked = Account.objects.select_for_update().get(pk=account.pk)
        available = locked.posted_minutes - locked.pending_out_minutes
        incoming = locked.posted_minutes + locked.pending_in_minutes
        if credit_limit_minutes is not None and available < credit_limit_minutes:
            raise LimitsBelowBalance(account.pk, available, credit_limit_minutes)
        if max_balance_minutes is not None and incoming > max_balance_minutes:
            raise LimitsBelowBalance(account.pk, incoming, max_balance_minutes)
        locked.credit_limit_minutes = credit_limit_minutes
        locked.max_balance_minutes = max_balance_minutes
        locked.save(update_fields=["credit_limit_minutes", "max_balance_minutes"])
    return locked


# --- Posting --------------------------------------------------------------------------------


def post_journal(
    *,
    time_bank: TimeBank,
    legs: Sequence[tuple[Account, int]],
    idempotency_key: str,
    effective_date: date,
    recorded_by: Person | None,
    description: str,
    category: str = "",
    pending: bool = False,
    fingerprint: str | None = None,
) -> Journal:
    """Record an exchange of hours: two or more ``(account, minutes)`` legs summing to zero
    (positive: the account gains hours). ``pending=True`` holds the payers' hours until a
    broker posts or voids it.

    Replaying ``idempotency_key`` with the same details returns the original journal and
    changes nothing; with different details it raises ``IdempotencyConflict``. "The same
    details" are judged by ``fingerprint`` when the caller gives one (a digest of the request
    it was sent, so that a retry is not judged by what the caller derived from the time or its
    policy), else by a digest of the legs, date, recorder, description, category and state.
    Raises ``InsufficientHours``, ``MaximumBalanceReached``, ``AccountMismatch``,
    ``UnbalancedJournal`` / ``InvalidJournal``.
    """
    return _post(
        time_bank_id=time_bank.pk,
        time_bank=time_bank,
        legs=legs,
        idempotency_key=idempotency_key,
        effective_date=effective_date,
        recorded_by=recorded_by,
        description=description,
        category=category,
        pending=pending,
        reverses=None,
        fingerprint=fingerprint,
    )


def transfer(
    *,
    from_account: Account,
    to_account: Account,
    minutes: int,
    idempotency_key: str,
    effective_date: date,
    recorded_by: Person | None,
    description: str,
    category: str = "",
    pending: bool = False,
    fingerprint: str | None = None,
) -> Journal:
    """``from_account`` gives ``minutes`` to ``to_account``: a two-leg ``post_journal``."""
    if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes <= 0:
        raise InvalidJournal(gettext("An exchange must move a positive whole number of minutes."))
    # The bank by id only: loading it would cost a round trip on the hottest path.
    return _post(
        time_bank_id=from_account.time_bank_id,
        time_bank=None,
        legs=[(from_account, -minutes), (to_account, minutes)],
        idempotency_key=idempotency_key,
        effective_date=effective_date,
        recorded_by=recorded_by,
        description=description,
        category=category,
        pending=pending,
        reverses=None,
        fingerprint=fingerprint,
    )


def _post(
    *,
    time_bank_id: int,
    time_bank: TimeBank | None,
    legs: Sequence[tuple[Account, int]],
    idempotency_key: str,
    effective_date: date,
    recorded_by: Person | None,
    description: str,
    category: str,
    pending: bool,
    reverses: Journal | None,
    fingerprint: str | None = None,
) -> Journal:
    pairs = _validated_legs(time_bank_id, legs)
    if not idempotency_key:
        raise InvalidJournal(gettext("Every exchange needs an idempotency key."))
    args: _Posting = {
        "time_bank_id": time_bank_id,
        "key": idempotency_key,
        "fingerprint": fingerprint
        or _fingerprint(
            time_bank_id,
            pairs,
            effective_date,
            recorded_by.pk if recorded_by is not None else None,
            description,
            category,
            pending,
            reverses,
        ),
        "pairs": pairs,
        "effective_date": effective_date,
        "recorded_by_id": recorded_by.pk if recorded_by is not None else None,
        "description": description,
        "category": category,
        "pending": pending,
        "reverses_id": reverses.pk if reverses is not None else None,
    }
    if connection.vendor == "postgresql":
        journal_id, recorded_at, replayed = _post_on_postgresql(**args)
    else:
        journal_id, recorded_at, replayed = _post_in_python(**args)
    if replayed:
        return Journal.objects.get(pk=journal_id)
    # Built from what we sent rather than read back: saves a round trip on the hot path.
    journal = Journal(
        id=journal_id,
        time_bank_id=time_bank_id,
        state=JournalState.PENDING if pending else JournalState.POSTED,
        effective_date=effective_date,
        recorded_at=recorded_at,
        recorded_by=recorded_by,
        description=description,
        category=category,
        idempotency_key=idempotency_key,
        fingerprint=args["fingerprint"],
        reverses=reverses,
    )
    if time_bank is not None:
        journal.time_bank = time_bank
    journal._state.adding = False
    journal._state.db = connection.alias
    return journal


def _validated_legs(
    time_bank_id: int, legs: Sequence[tuple[Account, int]]
) -> list[tuple[int, int]]:
    pairs: list[tuple[int, int]] = []
    for account, minutes in legs:
        if isinstance(minutes, bool) or not isinstance(minutes, int):
            raise InvalidJournal(gettext("Hours are recorded in whole minutes."))
        if minutes == 0:
            raise InvalidJournal(gettext("An entry cannot be for zero minutes."))
        if account.pk is None:
            raise InvalidJournal(gettext("Every account must be opened before hours can move."))
        if account.time_bank_id != time_bank_id:
            raise AccountMismatch(account.pk)
        pairs.append((account.pk, minutes))
    if len(pairs) < 2:
        raise InvalidJournal(gettext("An exchange needs at least two accounts."))
    if len({account_id for account_id, _ in pairs}) != len(pairs):
        raise InvalidJournal(gettext("An account can appear only once in an exchange."))
    total = sum(minutes for _, minutes in pairs)
    if total != 0:
        raise UnbalancedJournal(total)
    return pairs


class _Posting(TypedDict):
    """What ``_post_on_postgresql`` and ``_post_in_python`` take: one journal to post."""

    time_bank_id: int
    key: str
    fingerprint: str
    pairs: list[tuple[int, int]]
    effective_date: date
    recorded_by_id: int | None
    description: str
    category: str
    pending: bool
    reverses_id: int | None


def _fingerprint(
    time_bank_id: int,
    pairs: list[tuple[int, int]],
    effective_date: date,
    recorded_by_id: int | None,
    description: str,
    category: str,
    pending: bool,
    reverses: Journal | None,
) -> str:
    payload = [
        time_bank_id,
        sorted(pairs),
        effective_date.isoformat(),
        recorded_by_id,
        description,
        category,
        pending,
        reverses.pk if reverses is not None else None,
    ]
    return hashlib.sha256(json.dumps(payload, separators=(",", ":")).encode()).hexdigest()


def _post_on_postgresql(
    *,
    time_bank_id: int,
    key: str,
    fingerprint: str,
    pairs: list[tuple[int, int]],
    effective_date: date,
    recorded_by_id: int | None,
    description: str,
    category: str,
    pending: bool,
    reverses_id: int | None,
) -> tuple[int, datetime, bool]:
    """One call to ``ledger_post_journal``. Outside a transaction the call is its own
    transaction (one round trip); inside the caller's, a savepoint keeps a refusal from
    spoiling it."""
    params: list[Any] = [
        time_bank_id,
        key,
        fingerprint,
        [account_id for account_id, _ in pairs],
        [minutes for _, minutes in pairs],
        effective_date,
        recorded_by_id,
        description,
        category,
        pending,
        reverses_id,
    ]
    sql = (
        "SELECT * FROM ledger_post_journal(%s::bigint, %s::text, %s::text, %s::bigint[], "
        "%s::bigint[], %s::date, %s::bigint, %s::text, %s::text, %s::boolean, %s::bigint)"
    )
    for attempt in range(_RETRIES + 1):
        try:
            if connection.in_atomic_block:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(sql, params)
                    row = cursor.fetchone()
            else:
                with connection.cursor() as cursor:
                    cursor.execute(sql, params)
                    row = cursor.fetchone()
            return row[0], row[1], row[2]
        except DatabaseError as error:
            state = getattr(error.__cause__, "sqlstate", None)
            # A lone call can be retried whole; inside the caller's transaction it cannot.
            if state in _SQLSTATE_RETRY and attempt < _RETRIES and not connection.in_atomic_block:
                logger.warning("ledger: retrying a posting after %s", state)
                continue
            raise _translated(error, key, pairs, reverses_id) from error
    raise AssertionError("unreachable")


def _translated(
    error: DatabaseError, key: str, pairs: list[tuple[int, int]], reverses_id: int | None
) -> Exception:
    """The domain error for a refusal raised inside ``ledger_post_journal``."""
    cause = error.__cause__
    state = getattr(cause, "sqlstate", None)
    diag = getattr(cause, "diag", None)
    detail = getattr(diag, "message_detail", None) or ""
    if state == _SQLSTATE_CONFLICT:
        return IdempotencyConflict(key, int(detail))
    if state in {_SQLSTATE_LIMIT, _SQLSTATE_MAXIMUM}:
        account_id = int(detail)
        return _refusal(account_id, dict(pairs)[account_id])
    if state == _SQLSTATE_MISMATCH:
        return AccountMismatch(int(detail))
    if state == _SQLSTATE_INVALID:
        return UnbalancedJournal(sum(minutes for _, minutes in pairs))
    if (
        isinstance(error, IntegrityError)
        and reverses_id is not None
        and getattr(diag, "constraint_name", None) == "journal_reversed_at_most_once"
    ):
        return AlreadyReversed(reverses_id)
    return error


def _post_in_python(
    *,
    time_bank_id: int,
    key: str,
    fingerprint: str,
    pairs: list[tuple[int, int]],
    effective_date: date,
    recorded_by_id: int | None,
    description: str,
    category: str,
    pending: bool,
    reverses_id: int | None,
) -> tuple[int, datetime, bool]:
    """The steps of ``ledger_post_journal`` through the ORM (SQLite; see the module docstring)."""
    with transaction.atomic():
        # 1. Claim the idempotency key.
        existing = (
            Journal.objects.filter(time_bank_id=time_bank_id, idempotency_key=key)
            .values_list("pk", "recorded_at", "fingerprint")
            .first()
        )
        if existing is not None:
            if existing[2] != fingerprint:
                raise IdempotencyConflict(key, existing[0])
            return existing[0], existing[1], True
        if reverses_id is not None and Journal.objects.filter(reverses_id=reverses_id).exists():
            raise AlreadyReversed(reverses_id)
        recorded_at = database_now()
        journal = Journal.objects.create(
            time_bank_id=time_bank_id,
            state=JournalState.PENDING if pending else JournalState.POSTED,
            effective_date=effective_date,
            recorded_at=recorded_at,
            recorded_by_id=recorded_by_id,
            description=description,
            category=category,
            idempotency_key=key,
            fingerprint=fingerprint,
            reverses_id=reverses_id,
        )
        # 2. Lock the accounts in ascending id order.
        accounts = Account.objects.select_for_update().filter(pk__in=[a for a, _ in pairs])
        locked = {account.pk: account for account in accounts.order_by("pk")}
        posted_at = database_now()
        # 3. Move each balance (or hold) within the limits, and write the entry.
        entries = []
        for account_id, minutes in pairs:
            account = locked.get(account_id)
            if account is None or account.time_bank_id != time_bank_id:
                raise AccountMismatch(account_id)
            if not _within_limits(account, minutes):
                raise _refusal(account_id, minutes)
            if pending:
                account.pending_out_minutes += max(-minutes, 0)
                account.pending_in_minutes += max(minutes, 0)
                account.save(update_fields=["pending_out_minutes", "pending_in_minutes"])
            else:
                account.posted_minutes += minutes
                account.version += 1
                account.save(update_fields=["posted_minutes", "version"])
            entries.append(
                Entry(
                    journal=journal,
                    account_id=account_id,
                    amount_minutes=minutes,
                    balance_after=None if pending else account.posted_minutes,
                    account_version=None if pending else account.version,
                    posted_at=None if pending else posted_at,
                )
            )
        Entry.objects.bulk_create(entries)
        return journal.pk, recorded_at, False


def _within_limits(account: Account, minutes: int) -> bool:
    """Whether adding ``minutes`` (posted or held) keeps ``account`` within its limits; the same
    test as the WHERE clause in ``ledger_post_journal``. Only the leg's direction is checked, so
    an account already past a limit that was tightened can still be paid."""
    if minutes < 0:
        limit = account.credit_limit_minutes
        return (
            limit is None or account.posted_minutes - account.pending_out_minutes + minutes >= limit
        )
    maximum = account.max_balance_minutes
    return (
        maximum is None or account.posted_minutes + account.pending_in_minutes + minutes <= maximum
    )


def _refusal(account_id: int, minutes: int) -> LedgerError:
    """The error for a leg that would take ``account_id`` past a limit, from its current row."""
    account = Account.objects.select_related("person", "organisation").get(pk=account_id)
    if minutes < 0:
        return InsufficientHours(
            account_id,
            account.holder_name,
            account.available_minutes + minutes,
            account.credit_limit_minutes or 0,
        )
    return MaximumBalanceReached(
        account_id,
        account.holder_name,
        account.posted_minutes + account.pending_in_minutes + minutes,
        account.max_balance_minutes or 0,
    )


# --- Pending journals (broker approval) -------------------------------------------------------


def post_pending(*, journal: Journal, decided_by: Person | None) -> Journal:
    """Post a pending journal: the held hours move for good. At most once."""
    return _resolve(journal=journal, state=JournalState.POSTED, decided_by=decided_by, reason="")


def void_pending(*, journal: Journal, decided_by: Person | None, reason: str) -> Journal:
    """Void a pending journal: the held hours are released. At most once; a reason is required."""
    if not reason.strip():
        raise ValueError(gettext("Say why the exchange is voided."))
    return _resolve(
        journal=journal, state=JournalState.VOIDED, decided_by=decided_by, reason=reason
    )


def expire_pending(*, journal: Journal) -> Journal:
    """Expire a pending journal nobody decided: the held hours are released. At most once."""
    return _resolve(journal=journal, state=JournalState.EXPIRED, decided_by=None, reason="")


def _resolve(*, journal: Journal, state: str, decided_by: Person | None, reason: str) -> Journal:
    """1. Claim the journal with a conditional UPDATE (pending -> ``state``); a second claim
    updates nothing and raises ``AlreadyResolved``. 2. Lock its accounts in ascending id order.
    3. Release the holds and, when posting, move the balances and fill in each entry's running
    balance. Available hours never drop here, so no limit can be crossed.
    Times are the database's (``database_now``); the entries' after the locks are held."""
    with transaction.atomic():
        decided_at = database_now()
        claimed = Journal.objects.filter(pk=journal.pk, state=JournalState.PENDING).update(
            state=state, decided_by=decided_by, decided_at=decided_at, decision_reason=reason
        )
        if not claimed:
            current = Journal.objects.values_list("state", flat=True).get(pk=journal.pk)
            raise AlreadyResolved(journal.pk, JournalState(current).label.lower())
        entries = list(Entry.objects.filter(journal_id=journal.pk))
        accounts = Account.objects.select_for_update().filter(
            pk__in=[e.account_id for e in entries]
        )
        locked = {account.pk: account for account in accounts.order_by("pk")}
        posted_at = database_now()
        for entry in sorted(entries, key=lambda e: e.account_id):
            account = locked[entry.account_id]
            account.pending_out_minutes -= max(-entry.amount_minutes, 0)
            account.pending_in_minutes -= max(entry.amount_minutes, 0)
            fields = ["pending_out_minutes", "pending_in_minutes"]
            if state == JournalState.POSTED:
                account.posted_minutes += entry.amount_minutes
                account.version += 1
                fields += ["posted_minutes", "version"]
                Entry.objects.filter(pk=entry.pk).update(
                    balance_after=account.posted_minutes,
                    account_version=account.version,
                    posted_at=posted_at,
                )
            account.save(update_fields=fields)
    journal.state = state
    journal.decided_by = decided_by
    journal.decided_at = decided_at
    journal.decision_reason = reason
    return journal


# --- Corrections ----------------------------------------------------------------------------


def reverse_journal(
    *,
    journal: Journal,
    recorded_by: Person | None,
    reason: str,
    idempotency_key: str,
    effective_date: date | None = None,
) -> Journal:
    """Undo a posted journal with a new journal of the opposite entries, pointing at it.

    At most once (``AlreadyReversed``); only posted journals (``NotPosted``); never a reversal
    itself (``ReversalNotReversible``: a correction is corrected by recording the right
    exchange; the database refuses it too). The reversal is subject to the same limits as any
    posting. ``effective_date`` defaults to today.
    """
    if not reason.strip():
        raise ValueError(gettext("Say why the exchange is reversed."))
    current = Journal.objects.select_related("time_bank").get(pk=journal.pk)
    if current.reverses_id is not None:
        raise ReversalNotReversible(current.pk)
    if current.state != JournalState.POSTED:
        raise NotPosted(journal.pk, JournalState(current.state).label.lower())
    entries = Entry.objects.filter(journal_id=journal.pk).select_related("account").order_by("pk")
    return _post(
        time_bank_id=current.time_bank_id,
        time_bank=current.time_bank,
        legs=[(entry.account, -entry.amount_minutes) for entry in entries],
        idempotency_key=idempotency_key,
        effective_date=effective_date or timezone.localdate(),
        recorded_by=recorded_by,
        description=reason,
        category=current.category,
        pending=False,
        reverses=current,
    )


# --- Reading balances -------------------------------------------------------------------------


@dataclass(frozen=True)
class Balance:
    """An account's hours in minutes. ``available`` = ``posted`` - ``pending_out``."""

    posted: int
    pending_out: int
    pending_in: int
    available: int


def balance(*, account: Account, at: datetime | None = None) -> Balance:
    """The balance now (from the account row, one indexed read), or as it stood at ``at``
    (the running balance of the latest entry posted at or before ``at``, one index probe).

    Holds are not kept historically: a point-in-time balance has no pending hours, so its
    ``available`` equals ``posted``.
    """
    if at is None:
        posted, pending_out, pending_in = (
            Account.objects.filter(pk=account.pk)
            .values_list("posted_minutes", "pending_out_minutes", "pending_in_minutes")
            .get()
        )
        return Balance(posted, pending_out, pending_in, posted - pending_out)
    latest = (
        Entry.objects.filter(account_id=account.pk, posted_at__lte=at)
        .order_by("-posted_at", "-account_version")
        .values_list("balance_after", flat=True)
        .first()
    )
    posted = latest or 0
    return Balance(posted, 0, 0, posted)


@dataclass(frozen=True)
class Statement:
    """An account's posted history over whole days: the balance before the first day, the
    entries posted from the first day to the end of the last (in posting order, each with its
    running balance), and the balance at the end."""

    opening: int
    closing: int
    lines: QuerySet[Entry]


def statement(*, account: Account, first_day: date, last_day: date) -> Statement:
    """Three indexed reads however long the history: two point-in-time balances and a range."""
    since = datetime.combine(first_day, time.min, tzinfo=timezone.get_current_timezone())
    until = datetime.combine(
        last_day + timedelta(days=1), time.min, tzinfo=timezone.get_current_timezone()
    )
    just_before = timedelta(microseconds=1)
    return Statement(
        opening=balance(account=account, at=since - just_before).posted,
        closing=balance(account=account, at=until - just_before).posted,
        lines=Entry.objects.filter(
            account=account, posted_at__gte=since, posted_at__lt=until
        ).order_by("account_version"),
    )


@dataclass(frozen=True)
class HelpStatement:
    """An account's posted history by the date the help happened (each journal's effective
    date), as members read it: the balance of everything dated before the first day, the lines
    dated from the first to the last day (newest first: the latest date first and, within a
    day, the latest posted first), and the balance of everything dated up to the last day.

    Unlike ``Statement`` (by posting time), a line's running balance is not stored: help
    recorded late sits at its own date. ``running_balances`` gives it for any run of lines."""

    opening: int
    closing: int
    lines: QuerySet[Entry]


def statement_by_date_of_help(
    *, account: Account, first_day: date, last_day: date
) -> HelpStatement:
    """One aggregate over the account's posted entries for the two balances; ``lines`` is a
    query (newest first) for the caller to page through."""
    posted = Entry.objects.filter(account=account, account_version__isnull=False)
    totals = posted.aggregate(
        opening=Sum("amount_minutes", filter=Q(journal__effective_date__lt=first_day)),
        closing=Sum("amount_minutes", filter=Q(journal__effective_date__lte=last_day)),
    )
    return HelpStatement(
        opening=totals["opening"] or 0,
        closing=totals["closing"] or 0,
        lines=posted.filter(
            journal__effective_date__gte=first_day, journal__effective_date__lte=last_day
        ).order_by("-journal__effective_date", "-account_version"),
    )


def newer_than(entry: Entry) -> Q:
    """Entries after ``entry`` in a ``HelpStatement``'s order (later date, or later posted
    within the same day): the lines listed above it."""
    day = entry.journal.effective_date
    return Q(journal__effective_date__gt=day) | Q(
        journal__effective_date=day, account_version__gt=entry.account_version
    )


def older_than(entry: Entry) -> Q:
    """Entries before ``entry`` in a ``HelpStatement``'s order: the lines listed below it."""
    day = entry.journal.effective_date
    return Q(journal__effective_date__lt=day) | Q(
        journal__effective_date=day, account_version__lt=entry.account_version
    )


def running_balances(statement: HelpStatement, lines: Sequence[Entry]) -> list[int]:
    """The balance after each of ``lines`` (consecutive lines of ``statement``, newest first),
    in the statement's order: the closing balance less every line listed above. One query."""
    if not lines:
        return []
    above = statement.lines.filter(newer_than(lines[0])).aggregate(total=Sum("amount_minutes"))
    balance = statement.closing - (above["total"] or 0)
    balances = []
    for line in lines:
        balances.append(balance)
        balance -= line.amount_minutes
    return balances


# --- Verification -----------------------------------------------------------------------------


def verify_ledger(*, time_bank: TimeBank | None = None) -> list[str]:
    """Check every invariant of the ledger (or of one time bank) with a few set-based queries.
    Returns one plain line per violation; an empty list means the ledger is sound."""
    from . import verification

    return verification.violations(time_bank_id=time_bank.pk if time_bank is not None else None)


# --- Historical journals (moving a time bank in) ----------------------------------------------

# Journals written per INSERT: a fixed number of statements per batch, whatever its size.
HISTORY_BATCH = 2000
# Ids per IN (...) list: well under SQLite's limit of bound parameters.
_ID_CHUNK = 5000


@dataclass(frozen=True, slots=True)
class HistoricalJournal:
    """One journal of a bank's past, as another system recorded it: ``legs`` are
    ``(account id, minutes)`` pairs summing to zero (positive: the account gains hours)."""

    idempotency_key: str
    legs: tuple[tuple[int, int], ...]
    effective_date: date
    recorded_at: datetime
    description: str
    category: str = ""
    recorded_by_id: int | None = None
    pending: bool = False


@dataclass(frozen=True)
class PostedHistory:
    """What ``post_history`` did: the journal id of every key (new or already there), how
    many journals it wrote, and the accounts whose limits it widened to fit their history
    (``(account id, old limit, new limit, old maximum, new maximum)``)."""

    journal_ids: dict[str, int]
    created: int
    replayed: int
    widened: list[tuple[int, int | None, int | None, int | None, int | None]]


def migration_account(*, time_bank: TimeBank) -> Account:
    """Return the time bank's migration account, opening it if needed: the other side of the
    opening balances it brought from another system. No limits: it holds whatever the old
    system's balances add up to, so the bank still sums to zero."""
    account, _ = Account.objects.get_or_create(
        time_bank=time_bank,
        kind=AccountKind.MIGRATION,
        defaults={"credit_limit_minutes": None, "max_balance_minutes": None},
    )
    return account


def mirror_account(*, time_bank: TimeBank, partner_bank: TimeBank) -> Account:
    """Return ``time_bank``'s mirror account for ``partner_bank``, opening it if needed: the
    other side, in this bank, of every exchange with the partner's members (``interbank``).
    Opened with a credit limit of zero: nothing moves until the bank sets its trust limit
    (``set_limits``). Safe to call twice."""
    if time_bank.pk == partner_bank.pk:
        raise ValueError("a time bank has no mirror account for itself")
    account, _ = Account.objects.get_or_create(
        time_bank=time_bank,
        kind=AccountKind.MIRROR,
        partner_bank=partner_bank,
        defaults={"credit_limit_minutes": 0, "max_balance_minutes": None},
    )
    return account


def open_accounts(
    *, time_bank: TimeBank, person_ids: Sequence[int] = (), organisation_ids: Sequence[int] = ()
) -> tuple[dict[int, Account], dict[int, Account]]:
    """``open_account`` for many at once: the accounts of ``person_ids`` and of
    ``organisation_ids`` (organisations of ``time_bank``) in ``time_bank``, opening those
    missing with the bank's default limit. Returns them by person id and by organisation id.
    A fixed number of queries per few thousand holders; safe to call twice."""
    hard_limit = (
        None if time_bank.limit_rule == LimitRule.FLAG else time_bank.default_credit_limit_minutes
    )
    with transaction.atomic():
        people = _accounts_of(time_bank, "person_id", person_ids)
        organisations = _accounts_of(time_bank, "organisation_id", organisation_ids)
        if organisation_ids:
            theirs: set[int] = set()
            for chunk in _chunks(sorted(set(organisation_ids))):
                theirs.update(
                    Organisation.objects.filter(pk__in=chunk, time_bank=time_bank).values_list(
                        "pk", flat=True
                    )
                )
            if stray := sorted(set(organisation_ids) - theirs):
                raise ValueError(f"organisations {stray[:5]} are not in {time_bank.slug}")
        missing = [
            Account(time_bank=time_bank, kind=AccountKind.MEMBER, person_id=pk)
            for pk in dict.fromkeys(person_ids)
            if pk not in people
        ] + [
            Account(time_bank=time_bank, kind=AccountKind.ORGANISATION, organisation_id=pk)
            for pk in dict.fromkeys(organisation_ids)
            if pk not in organisations
        ]
        for account in missing:
            account.credit_limit_minutes = hard_limit
        # A concurrent open of the same account is left to its unique constraint.
        Account.objects.bulk_create(missing, batch_size=HISTORY_BATCH)
        people.update(_accounts_of(time_bank, "person_id", [a.person_id for a in missing]))
        organisations.update(
            _accounts_of(time_bank, "organisation_id", [a.organisation_id for a in missing])
        )
    return people, organisations


def _accounts_of(time_bank: TimeBank, field: str, ids: Sequence[int | None]) -> dict[int, Account]:
    found: dict[int, Account] = {}
    for chunk in _chunks(sorted({pk for pk in ids if pk is not None})):
        for account in Account.objects.filter(time_bank=time_bank, **{f"{field}__in": chunk}):
            found[getattr(account, field)] = account
    return found


def _chunks(items: Sequence[Any], size: int = _ID_CHUNK) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def history_fingerprint(time_bank_id: int, journal: HistoricalJournal) -> str:
    """The fingerprint ``post_history`` stores for ``journal``: the same payload as a posting
    through ``post_journal`` (a replay through either compares equal)."""
    # Only the recorder's id goes into the payload: no need to build a Person for it.
    return _fingerprint(
        time_bank_id,
        list(journal.legs),
        journal.effective_date,
        journal.recorded_by_id or None,
        journal.description,
        journal.category,
        journal.pending,
        None,
    )


def post_history(
    *,
    time_bank: TimeBank,
    journals: Sequence[HistoricalJournal],
    widen_limits: bool = False,
    batch_size: int = HISTORY_BATCH,
    progress: Callable[[int, int], None] | None = None,
) -> PostedHistory:
    """Post a bank's past in bulk: many journals, with their original dates, in a fixed
    number of statements per ``batch_size`` journals (never one per journal).

    Preconditions: every account is open in ``time_bank``; recorded times are not in the
    future. Within the caller's transaction, or its own.

    1. Checks every journal as ``post_journal`` would (two or more non-zero legs summing to
       zero, each account once, a key, the bank's accounts only) before writing anything.
    2. Claims the keys: a key already in the bank with the same details is a replay (its
       journal id is returned, nothing is written); with other details, IdempotencyConflict.
    3. Locks the accounts in ascending id order, as every posting does.
    4. Orders the new journals by when they counted: their ``recorded_at``, or, for an
       account that already has later postings, the moment of its latest posting (a running
       balance never goes back in time, so ``balance(at=...)`` stays true). Running balances
       and versions follow that order; a pending journal holds its hours instead.
    5. Checks the accounts' final balances against their limits: past one, it raises
       ``InsufficientHours`` / ``MaximumBalanceReached``, or with ``widen_limits`` widens the
       limit to fit (another system's history may have gone further than this bank allows)
       and reports it.
    6. Inserts the journals and their entries in batches (``progress(done, total)`` after
       each), then stores each account's balance, version and holds. The database's own rules
       (entries summing to zero per journal, append-only rows) check the result as for any
       posting.
    """
    bank_id = time_bank.pk
    now = timezone.now()
    seen: set[str] = set()
    for journal in journals:
        _check_historical(bank_id, journal, now)
        if journal.idempotency_key in seen:
            raise InvalidJournal(
                gettext("The key %(key)s is used twice.") % {"key": journal.idempotency_key}
            )
        seen.add(journal.idempotency_key)
    with transaction.atomic():
        # 2. Claim the keys.
        existing: dict[str, tuple[int, str]] = {}
        for chunk in _chunks(sorted(seen)):
            for key, pk, fingerprint in Journal.objects.filter(
                time_bank_id=bank_id, idempotency_key__in=chunk
            ).values_list("idempotency_key", "pk", "fingerprint"):
                existing[key] = (pk, fingerprint)
        journal_ids: dict[str, int] = {}
        new: list[tuple[HistoricalJournal, str]] = []
        for journal in journals:
            fingerprint = history_fingerprint(bank_id, journal)
            found = existing.get(journal.idempotency_key)
            if found is None:
                new.append((journal, fingerprint))
            elif found[1] != fingerprint:
                raise IdempotencyConflict(journal.idempotency_key, found[0])
            else:
                journal_ids[journal.idempotency_key] = found[0]
        replayed = len(journal_ids)

        # 3. Lock the accounts in ascending id order.
        account_ids = sorted({account_id for journal, _ in new for account_id, _ in journal.legs})
        locked: dict[int, Account] = {}
        for chunk in _chunks(account_ids):
            for account in Account.objects.select_for_update().filter(pk__in=chunk).order_by("pk"):
                locked[account.pk] = account
        for account_id in account_ids:
            found_account = locked.get(account_id)
            if found_account is None or found_account.time_bank_id != bank_id:
                raise AccountMismatch(account_id)
        latest: dict[int, datetime] = {}
        for chunk in _chunks(account_ids):
            # An account's newest version is a posted entry's, so it has a posted_at.
            for account_id, when in Entry.objects.filter(
                account_id__in=chunk, account_version=F("account__version")
            ).values_list("account_id", "posted_at"):
                if when is not None:
                    latest[account_id] = when

        # 4. Order by the moment each journal counts, and run the balances forward.
        timeline = sorted(
            (
                (
                    max(
                        [journal.recorded_at, *(latest[a] for a, _ in journal.legs if a in latest)]
                    ),
                    i,
                )
                for i, (journal, _) in enumerate(new)
            ),
        )
        # Plain tuples, not model instances: a history of 200,000 journals stays small.
        rows: list[tuple[int, datetime, list[tuple[int, int, int | None, int | None]]]] = []
        for posted_at, i in timeline:
            journal = new[i][0]
            legs: list[tuple[int, int, int | None, int | None]] = []
            for account_id, minutes in journal.legs:
                account = locked[account_id]
                if journal.pending:
                    account.pending_out_minutes += max(-minutes, 0)
                    account.pending_in_minutes += max(minutes, 0)
                    legs.append((account_id, minutes, None, None))
                    continue
                account.posted_minutes += minutes
                account.version += 1
                legs.append((account_id, minutes, account.posted_minutes, account.version))
            rows.append((i, posted_at, legs))

        # 5. The final balances within the limits, or the limits widened to fit.
        widened = []
        for account_id in account_ids:
            account = locked[account_id]
            limit, maximum = account.credit_limit_minutes, account.max_balance_minutes
            available = account.posted_minutes - account.pending_out_minutes
            incoming = account.posted_minutes + account.pending_in_minutes
            too_low = limit is not None and available < limit
            too_high = maximum is not None and incoming > maximum
            if not (too_low or too_high):
                continue
            if not widen_limits:
                name = (
                    Account.objects.select_related("person", "organisation")
                    .get(pk=account_id)
                    .holder_name
                )
                if too_low:
                    raise InsufficientHours(account_id, name, available, limit or 0)
                raise MaximumBalanceReached(account_id, name, incoming, maximum or 0)
            if too_low:
                account.credit_limit_minutes = available
            if too_high:
                account.max_balance_minutes = incoming
            widened.append(
                (
                    account_id,
                    limit,
                    account.credit_limit_minutes,
                    maximum,
                    account.max_balance_minutes,
                )
            )

        # 6. Write, a batch at a time: ids from the journal table's own sequence, then the
        # rows streamed in (PostgreSQL's COPY; SQLite's executemany), then every account's
        # new balance in one UPDATE per thousand accounts.
        for start in range(0, len(rows), batch_size):
            batch = rows[start : start + batch_size]
            ids = bulk.next_ids(Journal, len(batch))
            journal_rows = []
            entry_rows: list[tuple[int, int, int, int | None, int | None, datetime | None]] = []
            for (i, posted_at, legs), journal_id in zip(batch, ids, strict=True):
                journal, fingerprint = new[i]
                journal_ids[journal.idempotency_key] = journal_id
                journal_rows.append(
                    (
                        journal_id,
                        bank_id,
                        JournalState.PENDING if journal.pending else JournalState.POSTED,
                        journal.effective_date,
                        journal.recorded_at,
                        journal.recorded_by_id,
                        journal.description,
                        journal.category,
                        journal.idempotency_key,
                        fingerprint,
                        "",
                    )
                )
                entry_rows.extend(
                    (
                        journal_id,
                        account_id,
                        minutes,
                        after,
                        version,
                        None if after is None else posted_at,
                    )
                    for account_id, minutes, after, version in legs
                )
            bulk.insert_rows(Journal, _JOURNAL_COLUMNS, journal_rows)
            bulk.insert_rows(Entry, _ENTRY_COLUMNS, entry_rows)
            if progress is not None:
                progress(start + len(batch), len(rows))
        for chunk in _chunks(account_ids, 1000):
            _store_balances([locked[account_id] for account_id in chunk])
    return PostedHistory(
        journal_ids=journal_ids, created=len(rows), replayed=replayed, widened=widened
    )


_JOURNAL_COLUMNS = (
    "id",
    "time_bank_id",
    "state",
    "effective_date",
    "recorded_at",
    "recorded_by_id",
    "description",
    "category",
    "idempotency_key",
    "fingerprint",
    "decision_reason",
)
_ENTRY_COLUMNS = (
    "journal_id",
    "account_id",
    "amount_minutes",
    "balance_after",
    "account_version",
    "posted_at",
)


def _store_balances(accounts: list[Account]) -> None:
    """Each account's balance, version, holds and limits, as computed: one UPDATE for all.
    Precondition: the caller holds the accounts' locks."""
    values = ", ".join(
        [
            "(CAST(%s AS bigint), CAST(%s AS bigint), CAST(%s AS bigint), CAST(%s AS bigint), "
            "CAST(%s AS bigint), CAST(%s AS integer), CAST(%s AS integer))"
        ]
        * len(accounts)
    )
    params: list[Any] = []
    for a in accounts:
        params += [
            a.pk,
            a.posted_minutes,
            a.version,
            a.pending_out_minutes,
            a.pending_in_minutes,
            a.credit_limit_minutes,
            a.max_balance_minutes,
        ]
    table = Account._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET posted_minutes = v.column2, version = v.column3, "
            "pending_out_minutes = v.column4, pending_in_minutes = v.column5, "
            "credit_limit_minutes = v.column6, max_balance_minutes = v.column7 "
            f"FROM (VALUES {values}) AS v WHERE {table}.id = v.column1",
            params,
        )


def _check_historical(bank_id: int, journal: HistoricalJournal, now: datetime) -> None:
    """The checks ``_validated_legs`` makes of a live posting, on account ids."""
    if not journal.idempotency_key:
        raise InvalidJournal(gettext("Every exchange needs an idempotency key."))
    if journal.recorded_at > now:
        raise InvalidJournal(
            gettext("Journal %(key)s is recorded in the future.") % {"key": journal.idempotency_key}
        )
    legs = journal.legs
    if len(legs) < 2:
        raise InvalidJournal(gettext("An exchange needs at least two accounts."))
    for _, minutes in legs:
        if isinstance(minutes, bool) or not isinstance(minutes, int):
            raise InvalidJournal(gettext("Hours are recorded in whole minutes."))
        if minutes == 0:
            raise InvalidJournal(gettext("An entry cannot be for zero minutes."))
    if len({account_id for account_id, _ in legs}) != len(legs):
        raise InvalidJournal(gettext("An account can appear only once in an exchange."))
    total = sum(minutes for _, minutes in legs)
    if total != 0:
        raise UnbalancedJournal(total)
