"""What brokers should follow up, for one time bank: the follow-up lists and the desk's queues
(on the broker's desk; the weekly digest, ``reminders.recipients``, reads them too). Reads only.

Each function makes a fixed number of queries, however many members the bank has
(pinned in ``tests/reminders/test_followups.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import (
    Count,
    F,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from exchanges.models import HELP, Exchange, State
from ledger.models import SYSTEM_KINDS, Account, AccountKind, Entry
from members.models import Membership, Person, Role, TimeBank
from timebank.dates import add_months

# A new member is followed up between these ages (days since approval) if they have not
# exchanged yet; after INACTIVE_MONTHS without an exchange anyone is.
NEW_MEMBER_FROM_DAYS = 30
NEW_MEMBER_UNTIL_DAYS = 60
INACTIVE_MONTHS = 6
RECIPROCITY_MONTHS = 12
# An exchange waiting this long for the other party is listed to the broker.
LONG_WAIT = timedelta(days=7)


def start_of(day: date) -> datetime:
    """Midnight at the start of ``day`` in the site's time zone."""
    return timezone.make_aware(datetime.combine(day, time.min))


def _members(time_bank: TimeBank) -> QuerySet[Membership]:
    """Approved members (not brokers or commissioners) of ``time_bank``, by name."""
    return (
        Membership.objects.filter(time_bank=time_bank, role=Role.MEMBER)
        .approved()
        .select_related("person")
        .order_by("person__display_name", "person_id")
    )


@dataclass(frozen=True)
class FollowUps:
    """Members a broker should get in touch with. Membership rows carry ``person``; account
    rows carry ``person`` or ``organisation`` and ``given``/``received`` minutes."""

    new_without_exchange: list[Membership]
    inactive: list[Membership]
    only_gave: list[Account]
    only_received: list[Account]
    past_limit: list[Account]

    def reasons_by_person(self) -> dict[int, tuple[Person, list[str]]]:
        """Each person in any list, with why they are there (no queries)."""
        found: dict[int, tuple[Person, list[str]]] = {}

        def add(person: Person | None, why: str) -> None:
            if person is not None:
                found.setdefault(person.pk, (person, []))[1].append(why)

        for membership in self.new_without_exchange:
            add(membership.person, _("new, with no exchange yet"))
        for membership in self.inactive:
            add(
                membership.person,
                _("no exchange for %(months)s months") % {"months": INACTIVE_MONTHS},
            )
        for account in self.only_gave:
            add(account.person, _("only gave help this year"))
        for account in self.only_received:
            add(account.person, _("only received help this year"))
        for account in self.past_limit:
            add(account.person, _("past their limit"))
        return found

    def __bool__(self) -> bool:
        return any(
            [
                self.new_without_exchange,
                self.inactive,
                self.only_gave,
                self.only_received,
                self.past_limit,
            ]
        )


def _windows(today: date) -> dict[str, object]:
    return {
        "new_from": start_of(today - timedelta(days=NEW_MEMBER_UNTIL_DAYS) + timedelta(days=1)),
        "new_until": start_of(today - timedelta(days=NEW_MEMBER_FROM_DAYS) + timedelta(days=1)),
        "inactive_since": add_months(today, -INACTIVE_MONTHS),
        "year_ago": add_months(today, -RECIPROCITY_MONTHS),
    }


def _conditions(today: date) -> dict[str, Q]:
    """What puts an approved member (a ``_members`` row) on each follow-up list but the last,
    read from the membership's own dates of help (``Membership.last_help_on`` and the rest,
    kept by ``exchanges.services.refresh_activity``), so no list reads anyone's history."""
    w = _windows(today)
    since, year_ago = w["inactive_since"], w["year_ago"]
    return {
        # 1. New members, approved 30 to 60 days ago, with no exchange.
        "new": Q(
            decided_at__gte=w["new_from"], decided_at__lt=w["new_until"], last_help_on__isnull=True
        ),
        # 2. Members of at least six months with no exchange dated in the last six months.
        "inactive": Q(decided_at__lt=start_of(since))  # type: ignore[arg-type]
        & (Q(last_help_on__isnull=True) | Q(last_help_on__lt=since)),
        # 3. Members who only gave, or only received, in completed exchanges dated in the
        #    last twelve months.
        "only-gave": Q(last_gave_on__gte=year_ago)
        & (Q(last_received_on__isnull=True) | Q(last_received_on__lt=year_ago)),
        "only-received": Q(last_received_on__gte=year_ago)
        & (Q(last_gave_on__isnull=True) | Q(last_gave_on__lt=year_ago)),
    }


def _only_one_way(time_bank: TimeBank, today: date, *, gave: bool) -> QuerySet[Account]:
    """The accounts of the members who only gave (``gave``) or only received help in the last
    twelve months, by name, each with the minutes as ``given`` or ``received`` (positive):
    summed from the account's entries of the year, only for the rows read."""
    which = "only-gave" if gave else "only-received"
    year_ago = _windows(today)["year_ago"]
    legs = Entry.objects.filter(
        account_id=OuterRef("pk"),
        # Redundant with the date of help (help is recorded, and posted, on or after the day it
        # happened), but it keeps the sum to the account's last year on its index.
        posted_at__gte=start_of(year_ago),  # type: ignore[arg-type]
        journal__effective_date__gte=year_ago,
        journal__exchange__state=State.COMPLETED,
        journal__exchange__kind__in=HELP,
    )
    legs = legs.filter(amount_minutes__gt=0) if gave else legs.filter(amount_minutes__lt=0)
    total = Subquery(
        legs.order_by()
        .values("account_id")
        .annotate(total=Func(Sum("amount_minutes"), function="ABS"))
        .values("total")
    )
    people = _members(time_bank).filter(_conditions(today)[which]).values("person_id")
    return (
        Account.objects.filter(time_bank=time_bank, kind=AccountKind.MEMBER, person_id__in=people)
        .annotate(**{"given" if gave else "received": total})
        .select_related("person")
        .order_by("person__display_name", "pk")
    )


def _past_limit(time_bank: TimeBank, today: date) -> QuerySet[Account]:
    return (
        Account.objects.filter(time_bank=time_bank)
        .exclude(kind__in=SYSTEM_KINDS)
        .filter(
            posted_minutes__lt=Coalesce(
                F("credit_limit_minutes"), Value(time_bank.default_credit_limit_minutes)
            )
        )
        .select_related("person", "organisation")
        .order_by("posted_minutes", "pk")
    )


def follow_ups(*, time_bank: TimeBank, today: date | None = None) -> FollowUps:
    """The follow-up lists of ``time_bank`` as of ``today``, in full (for the weekly digest).
    Five queries, one a list: the four in ``_conditions``, and the accounts (members and
    organisations) whose posted balance is below their limit, or the bank's limit where the
    account has none (the "flag" rule)."""
    today = today or timezone.localdate()
    return FollowUps(
        new_without_exchange=list(follow_up_list("new", time_bank=time_bank, today=today)),
        inactive=list(follow_up_list("inactive", time_bank=time_bank, today=today)),
        only_gave=list(follow_up_list("only-gave", time_bank=time_bank, today=today)),
        only_received=list(follow_up_list("only-received", time_bank=time_bank, today=today)),
        past_limit=list(follow_up_list("past-limit", time_bank=time_bank, today=today)),
    )


# --- One list at a time: the desk's counts and first few, and the full list pages ------------------

# The follow-up lists by the name in their page's address, with their headings.
LISTS = {
    "new": gettext_lazy("New, with no exchange after a month"),
    "inactive": gettext_lazy("No exchange for six months"),
    "only-gave": gettext_lazy("Only gave help this year"),
    "only-received": gettext_lazy("Only received help this year"),
    "past-limit": gettext_lazy("Past their limit"),
}
# How many of each list the broker's desk shows (the rest are on the list's own page).
DESK_FIRST = 5


def follow_up_list(which: str, *, time_bank: TimeBank, today: date | None = None) -> QuerySet:
    """One follow-up list (a name in ``LISTS``), in full and in its order, as a query to page
    through. Rows as in ``FollowUps``: memberships for "new" and "inactive", accounts for the
    rest."""
    today = today or timezone.localdate()
    if which in {"new", "inactive"}:
        return _members(time_bank).filter(_conditions(today)[which])
    if which in {"only-gave", "only-received"}:
        return _only_one_way(time_bank, today, gave=which == "only-gave")
    if which == "past-limit":
        return _past_limit(time_bank, today)
    raise KeyError(which)


@dataclass(frozen=True)
class FollowUpSummary:
    """One follow-up list on the desk: its first few rows, whether there are more, and its
    exact size."""

    which: str
    title: str
    first: list
    more: bool
    total: int


def follow_up_summaries(
    *, time_bank: TimeBank, today: date | None = None, first: int = DESK_FIRST
) -> list[FollowUpSummary]:
    """The first ``first`` rows of each follow-up list (one query each, which stops once it
    has them) and the size of every list: the four on memberships counted together in one
    pass over the bank's members, the accounts past their limit on their index. Seven
    queries, however many members the lists hold."""
    today = today or timezone.localdate()
    totals = (
        _members(time_bank)
        .order_by()
        .aggregate(
            **{which: Count("pk", filter=q) for which, q in _conditions(today).items()},
        )
    )
    totals["past-limit"] = _past_limit(time_bank, today).count()
    summaries = []
    for which, title in LISTS.items():
        found = list(follow_up_list(which, time_bank=time_bank, today=today)[: first + 1])
        summaries.append(
            FollowUpSummary(
                which=which,
                title=str(title),
                first=found[:first],
                more=len(found) > first,
                total=totals[which],
            )
        )
    return summaries


@dataclass(frozen=True)
class DeskQueues:
    """The desk's exchange queues, each its first rows (all of them when the desk is asked
    for everything) and, for the two a broker works through, the exact size."""

    to_approve: list[Exchange]
    to_approve_total: int
    long_unconfirmed: list[Exchange]
    long_unconfirmed_total: int
    flagged: list[Exchange]


# How many of each exchange queue the desk shows: the oldest waiting for a broker, the
# longest waiting for the other party, the latest recorded past a limit. A broker works
# through them from the top; the rest are a click away (the desk with ``?all=1``).
DESK_TO_APPROVE = 10
DESK_LONG_UNCONFIRMED = 10
DESK_FLAGGED = 10
# And of the applications waiting, the oldest (the applications' page has them all).
DESK_APPLICATIONS = 10


def first_with_total(rows: QuerySet, first: int | None) -> tuple[list, int]:
    """The first ``first`` of ``rows`` (all of them with None), rows of one time bank, and how
    many there are in all, in one query: each row carries the count as an uncorrelated
    subquery, which the database runs once (on the queue's index) before reading the rows. A
    window (``COUNT(*) OVER ()``) would join every row of the queue first."""
    size = rows.order_by().values("time_bank").annotate(n=Count("pk")).values("n")
    found = list(rows.annotate(queue_total=Subquery(size))[:first])
    return found, found[0].queue_total if found else 0


def desk_queues(
    *,
    time_bank: TimeBank,
    now: datetime | None = None,
    to_approve: int | None = DESK_TO_APPROVE,
    long_unconfirmed: int | None = DESK_LONG_UNCONFIRMED,
    flagged: int = DESK_FLAGGED,
) -> DeskQueues:
    """The desk's three exchange queues: the oldest ``to_approve`` exchanges waiting for a
    broker, the ``long_unconfirmed`` that have waited longest (``LONG_WAIT`` or more) for the
    other party, each with the size of the whole queue (None: all of them), and the latest
    ``flagged`` recorded past a limit. Three queries, however long the queues are."""
    since = (now or timezone.now()) - LONG_WAIT
    in_bank = Exchange.objects.filter(time_bank=time_bank)
    # Each queue joins only what its rows show: on a warm page, planning the joins costs more
    # than running them.
    approvals, approvals_total = first_with_total(
        in_bank.awaiting_broker().select_related(
            "recorded_by",
            "giver__person",
            "giver__organisation",
            "receiver__person",
            "receiver__organisation",
        ),
        to_approve,
    )
    waiting, waiting_total = first_with_total(
        in_bank.unconfirmed_since(since).select_related("awaiting_confirmation_from"),
        long_unconfirmed,
    )
    return DeskQueues(
        to_approve=approvals,
        to_approve_total=approvals_total,
        long_unconfirmed=waiting,
        long_unconfirmed_total=waiting_total,
        flagged=list(
            in_bank.filter(flagged_over_limit=True)
            .order_by("-recorded_at")
            .select_related("receiver__person", "receiver__organisation")[:flagged]
        ),
    )


# --- Who is due a reminder (also read by the digest, for offline members) --------------------------


# --- The weekly broker digest ------------------------------------------------------------------------
