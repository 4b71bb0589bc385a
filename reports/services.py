"""Monthly reciprocity reports and member statements: every write of the reports app.

``build_monthly_report`` is the one way a report is made: the Celery task (one per time bank,
fanned out by ``schedule_monthly_reports``) and ``manage.py monthly_reports`` both call it.

Every figure comes from set-based queries over ledger entries joined to their exchanges.
"Help" is a completed service or group exchange, counted by the date the help happened
(``effective_date``); donations and grants are not help. Members are approved memberships
with a trading role (member, broker, admin) approved before the end of the month.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, F, Max, Min, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from exchanges.models import Exchange, Kind, State
from ledger.models import Account, AccountKind, Entry
from listings.models import Listing
from members.models import TRADING_ROLES, Membership, Status, TimeBank
from reminders.models import Kind as EmailKind
from reminders.services import may_email, unsubscribe_url
from timebank.dates import add_months, first_of

from . import emails
from .models import BUILD_TIMEOUT, MonthlyReport, Nudge, ReportState, Statement

logger = logging.getLogger(__name__)

HELP_KINDS = (Kind.SERVICE, Kind.GROUP)
# Members per statement batch: each batch costs a fixed number of queries (see write_statements).
BATCH_SIZE = 500
SUGGESTIONS = 3
# Open listings considered for nudges, newest first, per kind.
LISTING_POOL = 2000
# The figures compared for revisions: everything that a late exchange or a reversal can move.
HEADLINE = (
    "members",
    "active",
    "givers_only",
    "receivers_only",
    "both",
    "inactive",
    "reciprocity",
    "new_members",
    "exchanges",
    "hours_minutes",
)

Outcome = Literal["built", "done_already", "in_progress"]
Delivery = Literal["queue", "now"]


# --- Months -----------------------------------------------------------------------------------


def parse_month(text: str) -> date:
    """ "2026-03" (or "2026-03-01") as the first day of that month; ValueError otherwise."""
    year, month = text.strip()[:7].split("-")
    return date(int(year), int(month), 1)


def month_just_ended(today: date | None = None) -> date:
    return add_months(first_of(today or timezone.localdate()), -1)


@dataclass(frozen=True)
class Window:
    """A month and the 12 months ending with it."""

    month: date
    end: date
    year_start: date

    @classmethod
    def of(cls, month: date) -> Window:
        month = first_of(month)
        return cls(month=month, end=add_months(month, 1), year_start=add_months(month, -11))

    @property
    def start_at(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.month, time.min))

    @property
    def end_at(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.end, time.min))


# --- Set-based building blocks ----------------------------------------------------------------


def _help(bank_id: int, start: date, end: date) -> QuerySet[Entry]:
    """Member legs of completed help dated in [start, end)."""
    return Entry.objects.filter(
        journal__time_bank_id=bank_id,
        account__kind=AccountKind.MEMBER,
        journal__exchange__state=State.COMPLETED,
        journal__exchange__kind__in=HELP_KINDS,
        journal__effective_date__gte=start,
        journal__effective_date__lt=end,
    )


def _members(bank_id: int, window: Window) -> QuerySet[Membership]:
    return Membership.objects.filter(
        time_bank_id=bank_id,
        status=Status.APPROVED,
        role__in=TRADING_ROLES,
        decided_at__lt=window.end_at,
    )


def _classified(bank_id: int, window: Window) -> QuerySet[Membership]:
    """Members annotated with whether they gave / received help in the 12-month window."""
    year = _help(bank_id, window.year_start, window.end)
    mine = year.filter(account__person_id=OuterRef("person_id"))
    return _members(bank_id, window).annotate(
        gave=Exists(mine.filter(amount_minutes__gt=0)),
        received=Exists(mine.filter(amount_minutes__lt=0)),
    )


CLASSES: dict[str, Q] = {
    "givers_only": Q(gave=True, received=False),
    "receivers_only": Q(gave=False, received=True),
    "both": Q(gave=True, received=True),
    "inactive": Q(gave=False, received=False),
}


def headline(*, time_bank_id: int, month: date) -> dict[str, Any]:
    """The figures of ``month`` as the ledger stands now. Four queries."""
    window = Window.of(month)
    members = _members(time_bank_id, window)
    # One pass over the window's help, grouped per member (faster than two EXISTS per member).
    per_member = (
        _help(time_bank_id, window.year_start, window.end)
        .filter(account__person_id__in=members.values("person_id"))
        .order_by()
        .values("account__person_id")
        .annotate(gave=Max("amount_minutes"), received=Min("amount_minutes"))
    )
    counts = per_member.aggregate(
        active=Count("account__person_id"),
        givers_only=Count("account__person_id", filter=Q(received__gt=0)),
        receivers_only=Count("account__person_id", filter=Q(gave__lt=0)),
        both=Count("account__person_id", filter=Q(gave__gt=0, received__lt=0)),
    )
    counts["members"] = members.count()
    counts["inactive"] = counts["members"] - counts["active"]
    active = counts["active"]
    done = Exchange.objects.filter(
        time_bank_id=time_bank_id,
        state=State.COMPLETED,
        kind__in=HELP_KINDS,
        effective_date__gte=window.month,
        effective_date__lt=window.end,
    ).aggregate(exchanges=Count("pk"), minutes=Sum("minutes"))
    new_members = _members(time_bank_id, window).filter(decided_at__gte=window.start_at).count()
    return {
        **counts,
        "active": active,
        "reciprocity": round(counts["both"] / active, 4) if active else None,
        "new_members": new_members,
        "exchanges": done["exchanges"],
        "hours_minutes": done["minutes"] or 0,
    }


def trade_with_linked_banks(*, time_bank_id: int, month: date) -> list[dict[str, Any]]:
    """For each linked time bank (``interbank``), the month's completed help between this
    bank's members and its members: hours given (out), received (in) and the balance of trade
    (in minus out), in minutes, by the bank's name. From the legs on the mirror accounts
    (a negative leg: a member here gave). One query."""
    window = Window.of(month)
    rows = (
        Entry.objects.filter(
            account__time_bank_id=time_bank_id,
            account__kind=AccountKind.MIRROR,
            journal__exchange__state=State.COMPLETED,
            journal__exchange__effective_date__gte=window.month,
            journal__exchange__effective_date__lt=window.end,
        )
        .order_by()
        .values("account__partner_bank__name")
        .annotate(
            exchanges=Count("pk"),
            out=Sum("amount_minutes", filter=Q(amount_minutes__lt=0)),
            into=Sum("amount_minutes", filter=Q(amount_minutes__gt=0)),
        )
        .order_by("account__partner_bank__name")
    )
    return [
        {
            "bank": row["account__partner_bank__name"],
            "exchanges": row["exchanges"],
            "given_minutes": -(row["out"] or 0),
            "received_minutes": row["into"] or 0,
            "balance_minutes": (row["into"] or 0) + (row["out"] or 0),
        }
        for row in rows
    ]


@dataclass(frozen=True)
class Band:
    key: str
    label: str
    low: int | None  # minutes, exclusive unless low_inclusive
    high: int | None  # minutes, inclusive unless high_exclusive
    low_inclusive: bool = False
    high_exclusive: bool = False

    def q(self, field: str) -> Q:
        q = Q()
        if self.low is not None:
            q &= Q(**{f"{field}__{'gte' if self.low_inclusive else 'gt'}": self.low})
        if self.high is not None:
            q &= Q(**{f"{field}__{'lt' if self.high_exclusive else 'lte'}": self.high})
        return q


BANDS = (
    Band("below_minus_10h", "below -10 hours", None, -600, high_exclusive=True),
    Band("minus_10h_to_minus_5h", "-10 to -5 hours", -600, -300, True, True),
    Band("minus_5h_to_0h", "-5 hours to 0", -300, 0, True, True),
    Band("zero", "0 hours", None, None),
    Band("0h_to_5h", "0 to 5 hours", 0, 300),
    Band("5h_to_10h", "5 to 10 hours", 300, 600),
    Band("over_10h", "over 10 hours", 600, None),
)


def _closing_balance(window: Window) -> Coalesce:
    """An account's balance at the end of the month: its posted entries whose journals are
    dated (by when the help happened) before the month's end. By date, like every other
    figure here, so an exchange recorded on the 1st for the 31st counts in the month."""
    total = (
        Entry.objects.filter(
            account_id=OuterRef("pk"),
            posted_at__isnull=False,
            journal__effective_date__lt=window.end,
        )
        .order_by()
        .values("account_id")
        .annotate(total=Sum("amount_minutes"))
        .values("total")
    )
    return Coalesce(Subquery(total), 0)


def balance_bands(*, time_bank_id: int, month: date, members: int) -> list[dict[str, Any]]:
    """How many members' balances fall in each band at the end of the month. One query;
    a member with no account (or no entries) is in the zero band."""
    window = Window.of(month)
    accounts = Account.objects.filter(
        time_bank_id=time_bank_id,
        kind=AccountKind.MEMBER,
        person_id__in=_members(time_bank_id, window).values("person_id"),
    ).annotate(closing=_closing_balance(window))
    banded = [b for b in BANDS if b.key != "zero"]
    counts = accounts.aggregate(**{b.key: Count("pk", filter=b.q("closing")) for b in banded})
    counts["zero"] = members - sum(counts.values())
    return [{"band": b.key, "label": b.label, "members": counts[b.key]} for b in BANDS]


def member_lists(*, time_bank_id: int, month: date) -> dict[str, list[str]]:
    """Display names in each class, for brokers. One query per class."""
    classified = _classified(time_bank_id, Window.of(month))
    return {
        name: list(
            classified.filter(q)
            .order_by("person__display_name", "pk")
            .values_list("person__display_name", flat=True)
        )
        for name, q in CLASSES.items()
    }


# --- Nudges -----------------------------------------------------------------------------------


class Suggestions:
    """The bank's open offers and requests, loaded once per build (two queries), indexed by
    area so each member's pick costs no query: same area first, then the newest."""

    def __init__(self, time_bank_id: int) -> None:
        self.pools = {
            Nudge.SPEND: self._load(Listing.objects.open_offers(), time_bank_id),
            Nudge.HELP: self._load(Listing.objects.open_requests(), time_bank_id),
        }

    @staticmethod
    def _load(listings: QuerySet[Listing], time_bank_id: int) -> tuple[dict, list]:
        rows = (
            listings.filter(time_bank_id=time_bank_id)
            .order_by("-created_at", "-pk")
            .values(
                "pk",
                "title",
                "area",
                "person_id",
                "person__display_name",
                "person__area",
                "organisation__name",
                "organisation__area",
            )[:LISTING_POOL]
        )
        by_area: dict[str, list[dict]] = defaultdict(list)
        everything = []
        for row in rows:
            area = row["area"] or row["person__area"] or row["organisation__area"] or ""
            item = {
                "id": row["pk"],
                "title": row["title"],
                "owner": row["person__display_name"] or row["organisation__name"],
                "area": area,
                "person_id": row["person_id"],
            }
            by_area[area.strip().upper()].append(item)
            everything.append(item)
        return by_area, everything

    def pick(self, nudge: str, *, person_id: int, area: str) -> list[dict]:
        by_area, everything = self.pools[Nudge(nudge)]
        chosen: list[dict] = []
        seen: set[int] = set()
        nearby = by_area.get(area.strip().upper(), []) if area.strip() else []
        for item in [*nearby[:10], *everything[: 10 + SUGGESTIONS]]:
            if len(chosen) == SUGGESTIONS:
                break
            if item["person_id"] == person_id or item["id"] in seen:
                continue
            seen.add(item["id"])
            chosen.append({k: v for k, v in item.items() if k != "person_id"})
        return chosen


# --- Statements, in batches -------------------------------------------------------------------


class LostClaim(Exception):
    """Another builder reclaimed this report (ours was presumed dead): stop writing."""


def write_statements(
    *,
    report: MonthlyReport,
    after: int = 0,
    batch_size: int = BATCH_SIZE,
    suggestions: Suggestions,
    deliver: Delivery = "queue",
) -> int | None:
    """Write the statements of the next ``batch_size`` members (membership id > ``after``) in
    one transaction, and queue their emails after commit. Returns the last membership id of
    the batch, or None when there are no members left.

    A fixed number of queries per batch, whatever its size: the members; their help totals;
    their closing balances; whom they exchanged with; the heartbeat (which also checks the
    claim); the insert (ON CONFLICT DO NOTHING, so a retried build skips written rows); the
    statements still to email.
    """
    window = Window.of(report.month)
    bank_id = report.time_bank_id
    with transaction.atomic():
        members = list(
            _members(bank_id, window)
            .filter(pk__gt=after)
            .order_by("pk")
            .values_list("pk", "person_id", "person__area")[:batch_size]
        )
        if not members:
            return None
        person_ids = [person_id for _, person_id, _ in members]
        year = _help(bank_id, window.year_start, window.end).filter(
            account__person_id__in=person_ids
        )
        in_month = Q(journal__effective_date__gte=window.month)
        gave, received = Q(amount_minutes__gt=0), Q(amount_minutes__lt=0)
        totals = {
            row["account__person_id"]: row
            for row in year.order_by()
            .values("account__person_id")
            .annotate(
                given=Sum("amount_minutes", filter=gave & in_month),
                received=Sum("amount_minutes", filter=received & in_month),
                given_year=Sum("amount_minutes", filter=gave),
                received_year=Sum("amount_minutes", filter=received),
            )
        }
        balances = dict(
            Account.objects.filter(
                time_bank_id=bank_id, kind=AccountKind.MEMBER, person_id__in=person_ids
            )
            .annotate(closing=_closing_balance(window))
            .order_by()
            .values_list("person_id", "closing")
        )
        partners: dict[int, set[str]] = defaultdict(set)
        legs = (
            year.filter(in_month)
            .order_by()
            .filter(
                journal__entries__account__kind__in=[AccountKind.MEMBER, AccountKind.ORGANISATION]
            )
            .values_list(
                "account__person_id",
                "amount_minutes",
                "journal__entries__amount_minutes",
                "journal__entries__account__person__display_name",
                "journal__entries__account__organisation__name",
            )
        )
        for person_id, mine, theirs, name, organisation in legs:
            # Only the other side of the help: a leg with the opposite sign (never one's own).
            if (mine > 0) != (theirs > 0):
                partners[person_id].add(name or organisation)

        if not MonthlyReport.objects.filter(
            pk=report.pk, claim_token=report.claim_token, state=ReportState.BUILDING
        ).update(heartbeat_at=timezone.now()):
            raise LostClaim(report.pk)

        statements = []
        for membership_id, person_id, area in members:
            row = totals.get(person_id, {})
            given_year = row.get("given_year") or 0
            received_year = -(row.get("received_year") or 0)
            balance = balances.get(person_id, 0)
            if not (given_year or received_year or balance):
                continue
            nudge = (
                Nudge.SPEND
                if given_year and not received_year
                else Nudge.HELP
                if received_year and not given_year
                else Nudge.NONE
            )
            statements.append(
                Statement(
                    report=report,
                    membership_id=membership_id,
                    month=report.month,
                    given_minutes=row.get("given") or 0,
                    received_minutes=-(row.get("received") or 0),
                    given_year_minutes=given_year,
                    received_year_minutes=received_year,
                    balance_minutes=balance,
                    exchanged_with=sorted(partners.get(person_id, ())),
                    nudge=nudge,
                    suggestions=suggestions.pick(nudge, person_id=person_id, area=area or "")
                    if nudge
                    else [],
                )
            )
        Statement.objects.bulk_create(statements, ignore_conflicts=True)
        _queue_emails(
            Statement.objects.filter(report=report, membership_id__in=[m for m, _, _ in members]),
            deliver=deliver,
        )
    return members[-1][0]


def _queue_emails(statements: QuerySet[Statement], *, deliver: Delivery) -> None:
    """After commit, send (or queue) the statements not yet emailed whose members can be
    emailed and still want statements. One query; ``send_statement`` checks again."""
    ids = list(
        statements.filter(emailed_at__isnull=True, membership__person__user__isnull=False)
        .exclude(membership__person__email_preference__statement=False)
        .order_by()
        .values_list("pk", flat=True)
    )
    if not ids:
        return
    if deliver == "now":
        transaction.on_commit(lambda: _send_now(ids))
        return
    from . import tasks

    for pk in ids:
        tasks.send_statement_email.delay_on_commit(pk)


def _send_now(ids: list[int]) -> None:
    """Without a worker: send each in turn; a refusal is logged and left for the next run."""
    for pk in ids:
        try:
            send_statement(statement_id=pk)
        except Exception:
            logger.exception("statement %s: email failed; the next run retries it", pk)


def send_statement(*, statement_id: int) -> bool:
    """Email one statement, at most once. Returns True if it was sent now.

    1. Skips members who cannot be emailed (offline) or turned statements off.
    2. Claims the row: ``emailed_at IS NULL -> now`` (a committed conditional update), so two
       workers, or a task and its retry, never both send.
    3. Sends; if the mail server refuses, releases the claim and re-raises, so the task's
       retry (with back-off) can try again.
    """
    statement = Statement.objects.select_related(
        "membership__person__user", "membership__time_bank"
    ).get(pk=statement_id)
    person = statement.membership.person
    if statement.emailed_at is not None or not may_email(person, EmailKind.STATEMENT):
        return False
    unsubscribe = unsubscribe_url(person, EmailKind.STATEMENT)
    claimed_at = timezone.now()
    if not Statement.objects.filter(pk=statement.pk, emailed_at__isnull=True).update(
        emailed_at=claimed_at
    ):
        return False
    try:
        emails.statement(statement, unsubscribe_url=unsubscribe)
    except Exception:
        Statement.objects.filter(pk=statement.pk, emailed_at=claimed_at).update(emailed_at=None)
        raise
    return True


# --- The monthly build ------------------------------------------------------------------------


def _claim(time_bank: TimeBank, month: date) -> tuple[MonthlyReport, bool]:
    """The report row and whether this caller holds the claim to build it.

    Inserting the row is the claim (unique per bank and month), in its own transaction so the
    claim is visible at once. A row still ``building`` whose heartbeat is older than
    ``BUILD_TIMEOUT`` belonged to a worker that died: it is taken over by a conditional update
    that swaps the claim token.
    """
    try:
        with transaction.atomic():
            return MonthlyReport.objects.create(time_bank=time_bank, month=month), True
    except IntegrityError:
        pass
    report = MonthlyReport.objects.get(time_bank=time_bank, month=month)
    if report.is_done:
        return report, False
    now = timezone.now()
    token = uuid.uuid4()
    taken = MonthlyReport.objects.filter(
        pk=report.pk, state=ReportState.BUILDING, heartbeat_at__lt=now - BUILD_TIMEOUT
    ).update(claim_token=token, heartbeat_at=now, attempts=F("attempts") + 1)
    if taken:
        report.refresh_from_db()
    return report, bool(taken)


def build_monthly_report(
    *,
    time_bank: TimeBank,
    month: date,
    batch_size: int = BATCH_SIZE,
    deliver: Delivery = "queue",
) -> Outcome:
    """Build ``time_bank``'s report and statements for ``month``, exactly once.

    1. Claim the report (see ``_claim``). Already done: only re-queue statement emails that
       were never sent (a refused email), and return "done_already". Someone else building
       it: return "in_progress" (the task retries later; a dead builder's claim expires).
    2. Write the statements in batches of ``batch_size`` members, one transaction each, each
       queueing its emails after commit.
    3. Compute the figures, lists, trend, revisions and the commissioner report's snapshot
       of the month, and store them with the conditional
       update building -> done that only the current claim holder can make.
    """
    month = first_of(month)
    report, claimed = _claim(time_bank, month)
    if report.is_done:
        _queue_emails(report.statements.all(), deliver=deliver)
        return "done_already"
    if not claimed:
        return "in_progress"
    suggestions = Suggestions(time_bank.pk)
    after: int | None = 0
    try:
        while after is not None:
            after = write_statements(
                report=report,
                after=after,
                batch_size=batch_size,
                suggestions=suggestions,
                deliver=deliver,
            )
    except LostClaim:
        return "in_progress"
    return "built" if _finish(report) else "in_progress"


def _finish(report: MonthlyReport) -> bool:
    """Compute and store the report's figures; False if the claim was lost meanwhile."""
    bank_id, month = report.time_bank_id, report.month
    figures = headline(time_bank_id=bank_id, month=month)
    window = Window.of(month)
    figures.update(
        month=month.isoformat(),
        window_start=window.year_start.isoformat(),
        window_end=(window.end - timedelta(days=1)).isoformat(),
    )
    figures["balance_bands"] = balance_bands(
        time_bank_id=bank_id, month=month, members=figures["members"]
    )
    figures["between_banks"] = trade_with_linked_banks(time_bank_id=bank_id, month=month)
    # The 11 months before, as they stand now: also what revisions compare against.
    earlier = {
        add_months(month, -n): headline(time_bank_id=bank_id, month=add_months(month, -n))
        for n in range(11, 0, -1)
    }
    figures["trend"] = [
        {"month": m.isoformat(), "reciprocity": f["reciprocity"]} for m, f in earlier.items()
    ] + [{"month": month.isoformat(), "reciprocity": figures["reciprocity"]}]
    revisions = _revisions(bank_id, month, earlier)
    lists = member_lists(time_bank_id=bank_id, month=month)
    # Imported here: commissioning builds on this module's month helpers.
    from .commissioning import month_figures

    commissioner = month_figures([bank_id], month, window.end - timedelta(days=1))
    with transaction.atomic():
        return bool(
            MonthlyReport.objects.filter(
                pk=report.pk, claim_token=report.claim_token, state=ReportState.BUILDING
            ).update(
                state=ReportState.DONE,
                completed_at=timezone.now(),
                figures=figures,
                lists=lists,
                revisions=revisions,
                commissioner=commissioner,
            )
        )


def _revisions(bank_id: int, month: date, now: dict[date, dict[str, Any]]) -> list[dict[str, Any]]:
    """Differences between what earlier reports said (their snapshot, as amended by the
    revisions of later reports) and the figures now, for the reported months among ``now``."""
    reports = list(
        MonthlyReport.objects.filter(
            time_bank_id=bank_id,
            state=ReportState.DONE,
            month__gte=min(now, default=month),
            month__lt=month,
        ).order_by("month")
    )
    said: dict[date, dict[str, Any]] = {
        r.month: {k: r.figures.get(k) for k in HEADLINE} for r in reports
    }
    for r in reports:
        for revision in r.revisions:
            earlier = date.fromisoformat(revision["month"])
            if earlier in said:
                said[earlier][revision["figure"]] = revision["now"]
    return [
        {"month": reported.isoformat(), "figure": key, "was": was, "now": now[reported][key]}
        for reported, figures in said.items()
        if reported in now
        for key, was in figures.items()
        if now[reported][key] != was
    ]


def schedule_monthly_reports(*, month: date | None = None) -> int:
    """Queue one build task per time bank for ``month`` (default: the month just ended),
    after commit. Safe to run twice: each build claims its report. Returns the number queued."""
    from . import tasks

    month = first_of(month or month_just_ended())
    bank_ids = list(TimeBank.objects.order_by("pk").values_list("pk", flat=True))
    for bank_id in bank_ids:
        tasks.build_monthly_report.delay_on_commit(bank_id, f"{month:%Y-%m}")
    return len(bank_ids)
