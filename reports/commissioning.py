"""Commissioner reports: aggregate figures for a date range and one or several time banks.

``commissioner_report`` builds the whole report as a list of tables (rows of cells) and the
definitions that go with them; the page, the CSV, the XLSX and the API all render that one
object, so every format shows the same figures. No table names a member.

Every figure comes from a set-based query (a handful of aggregates and GROUP BYs); Python
only walks the grouped rows (at most one per month, category, mix or co-production kind).

Definitions (printed as "About these figures" in every format):
- Help is a completed service or group exchange, counted once, in the period of the date the
  help happened (``effective_date``). Its hours are counted on the provider side: the positive
  ledger entries of its journal, leaving out the community pot.
- Donations, pot grants and reversals are separate lines, never help. A reversal is counted
  by the date of the correcting journal.
- New members' first exchange (median days, six-month retention) is worked out from one
  list of (approval time, first exchange date) pairs, one per member approved in the period,
  fetched in one query; the median is taken in Python so SQLite and PostgreSQL agree.
- Small numbers: a count from 1 to ``REPORT_SUPPRESSION_THRESHOLD`` - 1 is shown as
  ``suppressed`` (zero reveals no one and is shown). In a table whose rows add up to a
  published total, a single suppressed row would be revealed by subtraction, so the next
  smallest row is suppressed too (secondary suppression); hours and values of a suppressed
  row are suppressed with it.
- Demographics: active individuals by the answers they chose to give (``Person.age_band``,
  ``gender``, ``disability``, ``carer``; blank is "not given") and by area, normalised in SQL to
  an upper-case postcode district; districts under the threshold are added together as
  "other areas" so no rare free text is printed. One GROUP BY area, with a conditional count
  per answer of the four other dimensions.
- Closed months: when a month is reported, ``month_figures`` is stored in
  ``MonthlyReport.commissioner``. A period of whole reported months shows those stored figures
  (``_show_closed_months``) and a "revisions" table of what has changed since.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import reduce
from operator import or_
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import (
    Case,
    Count,
    F,
    Max,
    Min,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import StrIndex, Substr, Trim, TruncMonth, Upper
from django.db.models.lookups import Exact, GreaterThan
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from audit import services as audit
from audit.models import Action
from exchanges.models import CoProduction, Exchange, Kind, State
from ledger.models import Account, AccountKind, Entry
from listings.services import add_months as add_calendar_months
from members.access import person_for
from members.models import TRADING_ROLES, AgeBand, Gender, Membership, Status, TimeBank, YesNo

from .models import MonthlyReport, ReportDownload, ReportState, ValueRate
from .services import add_months, first_of

SUPPRESSED = "suppressed"
# Marked for the catalogue but kept a plain str: the XLSX writer takes it as a cell value.
NO_CASH_VALUE = gettext_noop("Equivalent value only: time credits have no cash value.")
HELP_KINDS = (Kind.SERVICE, Kind.GROUP)
# The summary's measures, in order.
SUMMARY = (
    "hours_exchanged",
    "exchanges",
    "group_sessions",
    "members_at_period_end",
    "new_members",
    "members_left",
    "median_days_to_first_exchange",
    "retention_6_months_share",
    "active_members",
    "active_individuals",
    "active_organisations",
    "givers",
    "receivers",
)
PENNY = Decimal("0.01")
# A report covers at most this many days (five years): beyond that, ask for the yearly ones.
LONGEST = 5 * 366
MIX = (
    "person_to_person",
    "person_to_organisation",
    "organisation_to_person",
    "organisation_to_organisation",
    "pot_funded",
)
TOP_CATEGORIES = 10
# The categories table's keys beside the categories' own names: help with no category, and the
# categories after the top ten, added up (a machine name, so it never reads as a category
# that is really called "Other").
UNCATEGORISED = "Uncategorised"
OTHER_CATEGORIES = "other_categories"

Cell = int | Decimal | date | str | None


# --- Periods ------------------------------------------------------------------------------------


def preset_period(preset: str, today: date | None = None) -> tuple[date, date]:
    """The month or the quarter just ended, as (first day, last day)."""
    this_month = first_of(today or timezone.localdate())
    if preset == "quarter":
        this_quarter = this_month.replace(month=(this_month.month - 1) // 3 * 3 + 1)
        start = add_months(this_quarter, -3)
        return start, this_quarter - timedelta(days=1)
    return add_months(this_month, -1), this_month - timedelta(days=1)


def check_period(start: date, end: date) -> None:
    """ValueError unless ``start`` <= ``end`` and the period is at most LONGEST days."""
    if start.year < 1900 or end.year > 2999:
        raise ValueError(gettext("Give dates between 1900 and 2999."))
    if end < start:
        raise ValueError(gettext("The end date is before the start date."))
    if (end - start).days >= LONGEST:
        raise ValueError(gettext("A report covers at most five years."))


def _year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def _aware(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


# --- Cells and tables ---------------------------------------------------------------------------

# Why a cell is withheld or empty: machine names (the JSON's ``why``), put in words for people
# by ``reports.reading``.
SMALL = "small"  # a count from 1 to the threshold - 1
REVEALS = "reveals"  # withheld so that a small number cannot be worked out from a total
FEW_BEHIND = "few_behind"  # worked out from a small count (hours of few exchanges, a median)
SMALL_CHANGE = "small_change"  # a revision made of fewer changes than the threshold
NO_NEW_MEMBERS = "no_new_members"
NONE_EXCHANGED_YET = "none_exchanged_yet"
NO_ONE_ACTIVE = "no_one_active"
NOT_DATED = "not_dated"  # a rate with no date (a custom one)
NO_SOURCE = "no_source"
NO_DATA = "no_data"  # a period to compare with in which nothing was recorded


class Withheld(str):
    """A withheld cell: equal to, and written everywhere as, ``SUPPRESSED``; ``why`` says why
    (``SMALL``, ``REVEALS``, ``FEW_BEHIND`` or ``SMALL_CHANGE``)."""

    why: str

    def __new__(cls, why: str) -> Withheld:
        cell = super().__new__(cls, SUPPRESSED)
        cell.why = why
        return cell

    def __reduce__(self) -> tuple[type, tuple[str]]:
        return (Withheld, (self.why,))


def hours(minutes: int) -> Decimal:
    """Minutes as hours, to the hundredth (half up)."""
    return (Decimal(minutes) / 60).quantize(PENNY, rounding=ROUND_HALF_UP)


def equivalent_value(minutes: int, pounds_per_hour: Decimal) -> Decimal:
    """Exact: minutes x rate / 60, rounded half up to the penny once, at the total."""
    return (Decimal(minutes) * pounds_per_hour / 60).quantize(PENNY, rounding=ROUND_HALF_UP)


def _small(n: int, threshold: int) -> bool:
    return 0 < n < threshold


def count_cell(n: int, threshold: int) -> Cell:
    return Withheld(SMALL) if _small(n, threshold) else n


def hidden_cell(n: int, threshold: int) -> Withheld:
    """A count withheld by ``protect``: small itself, or withheld to protect a small one."""
    return Withheld(SMALL if _small(n, threshold) else REVEALS)


def behind(count: Cell) -> Withheld:
    """A figure worked out from the withheld ``count`` (its hours, its value), withheld too."""
    assert isinstance(count, Withheld)
    return Withheld(FEW_BEHIND if count.why == SMALL else count.why)


def protect(counts: Sequence[int], threshold: int) -> set[int]:
    """The indexes of ``counts`` to suppress, when the counts add up to a published total.

    Primary: every small count. Secondary: if exactly one is suppressed, the smallest other
    non-zero count too, so the total minus the rest no longer reveals it.
    """
    hidden = {i for i, n in enumerate(counts) if _small(n, threshold)}
    if len(hidden) == 1:
        others = [(n, i) for i, n in enumerate(counts) if i not in hidden and n > 0]
        if others:
            hidden.add(min(others)[1])
    return hidden


@dataclass
class Table:
    """One table of the report: snake_case ``columns``; ``rows`` of cells (None or "": no
    value, e.g. a share with nobody to share, whose reason is in ``blanks``; ``SUPPRESSED``, a
    ``Withheld``: a small number withheld, with its reason)."""

    name: str
    title: str
    columns: list[str]
    rows: list[list[Cell]]
    note: str = ""
    # Why a cell is empty: {(the row's first cell, column): reason}.
    blanks: dict[tuple[Cell, str], str] = field(default_factory=dict)

    def column(self, name: str) -> list[Cell]:
        index = self.columns.index(name)
        return [row[index] for row in self.rows]

    def value(self, key: str, column: str | None = None) -> Cell:
        """The cell of the row whose first cell is ``key`` (the last column by default)."""
        index = self.columns.index(column) if column else -1
        for row in self.rows:
            if row[0] == key:
                return row[index]
        raise KeyError(key)

    def why(self, row: Sequence[Cell], column: str) -> str | None:
        """Why the cell of ``row`` in ``column`` is withheld or empty (None if it holds a value,
        or if no reason was given)."""
        cell = row[self.columns.index(column)]
        if isinstance(cell, Withheld):
            return cell.why
        if cell is None or cell == "":
            return self.blanks.get((row[0], column))
        return None

    def reasons(self) -> list[tuple[Cell, str, str | None]]:
        """(row key, column, reason) of every withheld or empty cell, in reading order."""
        return [
            (row[0], column, self.why(row, column))
            for row in self.rows
            for column, cell in zip(self.columns, row, strict=True)
            if cell is None or cell == "" or cell == SUPPRESSED
        ]


@dataclass
class Report:
    banks: list[TimeBank]
    start: date
    end: date
    threshold: int
    tables: list[Table] = field(default_factory=list)
    definitions: list[tuple[str, str]] = field(default_factory=list)

    def table(self, name: str) -> Table:
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(name)

    @property
    def slugs(self) -> list[str]:
        return [bank.slug for bank in self.banks]


# --- Queries ------------------------------------------------------------------------------------


def help_exchanges(bank_ids: Iterable[int], start: date, end: date) -> QuerySet[Exchange]:
    """Completed service and group exchanges dated from ``start`` to ``end`` (included)."""
    return Exchange.objects.filter(
        time_bank_id__in=list(bank_ids),
        state=State.COMPLETED,
        kind__in=HELP_KINDS,
        effective_date__gte=start,
        effective_date__lte=end,
    )


def help_entries(bank_ids: Iterable[int], start: date, end: date) -> QuerySet[Entry]:
    """The member and organisation legs (never the pot's) of the help in the period."""
    return Entry.objects.filter(
        journal__exchange__time_bank_id__in=list(bank_ids),
        journal__exchange__state=State.COMPLETED,
        journal__exchange__kind__in=HELP_KINDS,
        journal__exchange__effective_date__gte=start,
        journal__exchange__effective_date__lte=end,
        account__kind__in=[AccountKind.MEMBER, AccountKind.ORGANISATION],
    )


def movements(ids: list[int], start: date, end: date) -> dict[str, int | None]:
    """Donations and pot grants dated in the period, and exchanges reversed by a correction
    dated in it: count and minutes of each. One query; its WHERE keeps the scan to the rows
    that can count, not every exchange of the banks."""
    in_period = Q(effective_date__gte=start, effective_date__lte=end, state=State.COMPLETED)
    reversed_in_period = Q(
        state=State.REVERSED,
        reversal__effective_date__gte=start,
        reversal__effective_date__lte=end,
    )
    return (
        Exchange.objects.filter(time_bank_id__in=ids)
        .filter(in_period & Q(kind__in=[Kind.DONATION, Kind.GRANT]) | reversed_in_period)
        .aggregate(
            donations=Count("pk", filter=in_period & Q(kind=Kind.DONATION)),
            donation_minutes=Sum("minutes", filter=in_period & Q(kind=Kind.DONATION)),
            grants=Count("pk", filter=in_period & Q(kind=Kind.GRANT)),
            grant_minutes=Sum("minutes", filter=in_period & Q(kind=Kind.GRANT)),
            reversals=Count("pk", filter=reversed_in_period),
            reversal_minutes=Sum("minutes", filter=reversed_in_period),
        )
    )


def _mix(ids: list[int], start: date, end: date, exchanges: int, minutes: int) -> dict:
    """The period's help by mix: {mix: (exchanges, minutes of the exchanges)}. Pot-funded when
    the pot paid a provider, else by who gave (an organisation among the providers) and who
    received. One query over the pot and organisation legs only, grouped by journal (a few
    thousand rows); the rest of the period's help (``exchanges``, ``minutes``) is person to
    person."""
    pot, org = AccountKind.POT, AccountKind.ORGANISATION
    per_journal = (
        Entry.objects.filter(
            journal__exchange__time_bank_id__in=ids,
            journal__exchange__state=State.COMPLETED,
            journal__exchange__kind__in=HELP_KINDS,
            journal__exchange__effective_date__gte=start,
            journal__exchange__effective_date__lte=end,
            account__kind__in=[pot, org],
            # The ledger posts a journal only to accounts of its own bank: this keeps the scan
            # to the pot and organisations of ``ids``.
            account__time_bank_id__in=ids,
        )
        .order_by()
        .values("journal_id")
        .annotate(
            exchange_minutes=Max("journal__exchange__minutes"),
            pot_pays=Count("pk", filter=Q(account__kind=pot, amount_minutes__lt=0)),
            org_gives=Count("pk", filter=Q(account__kind=org, amount_minutes__gt=0)),
            org_receives=Count("pk", filter=Q(account__kind=org, amount_minutes__lt=0)),
        )
    )
    paid = Q(pot_pays__gt=0)
    gives, receives = Q(org_gives__gt=0), Q(org_receives__gt=0)
    flagged = {
        "pot_funded": paid,
        "organisation_to_organisation": ~paid & gives & receives,
        "organisation_to_person": ~paid & gives & ~receives,
        "person_to_organisation": ~paid & ~gives & receives,
    }
    counted = per_journal.aggregate(
        **{f"{key}_n": Count("journal_id", filter=q) for key, q in flagged.items()},
        **{f"{key}_m": Sum("exchange_minutes", filter=q) for key, q in flagged.items()},
    )
    mix = {key: (counted[f"{key}_n"], counted[f"{key}_m"] or 0) for key in flagged}
    mix["person_to_person"] = (
        exchanges - sum(n for n, _ in mix.values()),
        minutes - sum(m for _, m in mix.values()),
    )
    return mix


def account_figures(
    ids: list[int], start: date, end: date, months: list[date]
) -> dict[str, int | None]:
    """One pass over the member and organisation legs of the help from the earliest of
    ``start``, the 12 months to ``end`` and the first of ``months``, to ``end``: one row per
    account (what it did in the period, in the 12 months, and how many legs in each of
    ``months``), then the accounts counted. The period's hours, active members, givers and
    receivers; the reciprocity counts; the active accounts of each month (``a0``...). One
    query."""
    year_start = _year_before(end + timedelta(days=1))
    day = "journal__exchange__effective_date"
    period, year = Q(**{f"{day}__gte": start}), Q(**{f"{day}__gte": year_start})
    per_account = (
        help_entries(ids, min(start, year_start, *months), end)
        .annotate(account_kind=F("account__kind"))
        .order_by()
        .values("account_id", "account_kind")
        .annotate(
            gave=Max("amount_minutes", filter=period),
            received=Min("amount_minutes", filter=period),
            given=Sum("amount_minutes", filter=period & Q(amount_minutes__gt=0)),
            year_gave=Max("amount_minutes", filter=year),
            year_received=Min("amount_minutes", filter=year),
            **{
                f"m{i}": Count("pk", filter=Q(**{f"{day}__gte": m, f"{day}__lt": add_months(m, 1)}))
                for i, m in enumerate(months)
            },
        )
    )
    active = Q(gave__isnull=False)
    return per_account.aggregate(
        minutes=Sum("given"),
        individuals=Count("account_id", filter=active & Q(account_kind=AccountKind.MEMBER)),
        organisations=Count("account_id", filter=active & Q(account_kind=AccountKind.ORGANISATION)),
        givers=Count("account_id", filter=Q(gave__gt=0)),
        receivers=Count("account_id", filter=Q(received__lt=0)),
        year_active=Count("account_id", filter=Q(year_gave__isnull=False)),
        both=Count("account_id", filter=Q(year_gave__gt=0, year_received__lt=0)),
        only_gave=Count("account_id", filter=Q(year_received__gt=0)),
        only_received=Count("account_id", filter=Q(year_gave__lt=0)),
        **{f"a{i}": Count("account_id", filter=Q(**{f"m{i}__gt": 0})) for i in range(len(months))},
    )


def _members(bank_ids: list[int]) -> QuerySet[Membership]:
    return Membership.objects.filter(time_bank_id__in=bank_ids, role__in=TRADING_ROLES)


def rates_for(end: date, low: int | None, high: int | None) -> tuple[ValueRate | None, ...]:
    """The low and high value rates of a report ending on ``end``: the rates numbered ``low``
    and ``high`` (``ValueRate`` primary keys) if given, else the lowest and highest in force at
    ``end`` (``None, None`` when there is no rate). ValueError, with a message for the
    requester, if a rate asked for is not in force at ``end``. One query. Used by the report
    and to check an export's request before it is queued."""
    rates = list(
        ValueRate.objects.filter(Q(effective_from__isnull=True) | Q(effective_from__lte=end))
    )
    by_id = {rate.pk: rate for rate in rates}
    if (low is not None and low not in by_id) or (high is not None and high not in by_id):
        raise ValueError(gettext("That rate is not in force at the end of the period."))
    ranked = sorted(rates, key=lambda r: (r.pounds_per_hour, r.name))
    if not ranked:
        return None, None
    return (
        by_id[low] if low is not None else ranked[0],
        by_id[high] if high is not None else ranked[-1],
    )


# --- The report ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """What every table function is given: the banks combined (their ids), the period (both
    days included) and the suppression threshold."""

    ids: list[int]
    start: date
    end: date
    t: int

    @property
    def start_at(self) -> datetime:
        return _aware(self.start)

    @property
    def end_at(self) -> datetime:
        """The first moment after the period."""
        return _aware(self.end + timedelta(days=1))

    @property
    def year_start(self) -> date:
        """The first day of the 12 months to the end of the period."""
        return _year_before(self.end + timedelta(days=1))


@dataclass(frozen=True)
class Help:
    """The period's help, fetched once and shared by several tables (``period_help``)."""

    # The period's help exchanges by co-production kind: exchanges, group sessions, minutes.
    by_kind: list[dict[str, Any]]
    # ``account_figures`` over the period, the 12 months and each month of the trend.
    people: dict[str, int | None]

    def total(self, key: str) -> int:
        return sum(row[key] or 0 for row in self.by_kind)

    @property
    def exchanges(self) -> int:
        return self.total("exchanges")

    @property
    def given_minutes(self) -> int:
        """The hours exchanged, in minutes: the provider side of the entries."""
        return self.people["minutes"] or 0


def period_help(scope: Scope) -> Help:
    """Two queries: the period's help by co-production kind, and one pass over the accounts'
    legs of the window (``account_figures``)."""
    by_kind = list(
        help_exchanges(scope.ids, scope.start, scope.end)
        .order_by()
        .values("coproduction")
        .annotate(
            exchanges=Count("pk"),
            sessions=Count("pk", filter=Q(kind=Kind.GROUP)),
            minutes=Sum("minutes"),
        )
    )
    people = account_figures(scope.ids, scope.start, scope.end, _trend_months(scope.end))
    return Help(by_kind=by_kind, people=people)


def commissioner_report(
    *,
    banks: Sequence[TimeBank],
    start: date,
    end: date,
    low_rate: int | None = None,
    high_rate: int | None = None,
    threshold: int | None = None,
) -> Report:
    """The report for ``banks`` combined, from ``start`` to ``end`` (both included).

    Preconditions: the caller may see every bank (``reports.access``); the period passed
    ``check_period``. ``low_rate``/``high_rate`` pick value rates by id (ValueError if not in
    force at ``end``). Read-only; a fixed number of queries whatever the size of the banks.

    The tables, in order, each built by its own function from what ``period_help`` fetched
    once (the tables that share it) or by its own queries:

    1. ``summary_table``: help, members and the people who took part in the period.
    2. ``movements_table``: donations, pot grants and reversals, apart from help.
    3. ``reciprocity_table``: who gave and who received over the 12 months to the end.
    4. ``mix_table``, ``categories_table``, ``coproduction_table``: the period's help by kind.
    5. ``value_table``: the equivalent value of the hours, low and high.
    6. ``trend_table``: the 12 months to the end of the period.
    7. ``demographic_tables``: active individuals by the answers they chose to give.
    8. ``_show_closed_months``: for a period of closed months, the figures as reported and a
       revisions table.
    9. ``comparisons_table`` (after the summary): the headline figures against the period
       before and the same period a year before; ``by_bank_table`` (banks combined): each
       bank's headline figures beside the combined ones. Both from ``activity_by_bank``.

    A new section is a new table function here (its definitions in ``definitions``) and its
    words in ``reports.reading.SECTIONS``; every format then shows it.
    """
    check_period(start, end)
    t = settings.REPORT_SUPPRESSION_THRESHOLD if threshold is None else threshold
    scope = Scope(ids=[bank.pk for bank in banks], start=start, end=end, t=t)
    help = period_help(scope)
    summary = summary_table(scope, help)
    report = Report(banks=list(banks), start=start, end=end, threshold=t)
    report.tables = [
        summary,
        movements_table(scope),
        reciprocity_table(scope, help.people),
        mix_table(scope, help),
        categories_table(scope),
        coproduction_table(scope, help),
        value_table(scope, summary, help.given_minutes, low_rate, high_rate),
        trend_table(scope, help.people),
        *demographic_tables(scope, hide_total=summary.value("active_individuals") == SUPPRESSED),
    ]
    periods = [(start, end), *comparison_periods(start, end)]
    reported = reported_months(scope.ids, periods)
    _show_closed_months(report, scope.ids, t, closed_snapshots(reported, scope.ids, start, end))
    # 9. The headline figures of each bank in each period, as the report shows them.
    shown = _shown_by_bank(scope.ids, periods, reported)
    report.tables[1:1] = [comparisons_table(scope, summary, periods, shown)]
    if len(banks) > 1:
        report.tables[2:2] = [by_bank_table(scope, list(banks), report.tables[1], shown)]
    # Marked with gettext_noop at import time; translated here, for the request's language.
    report.definitions = definitions(t) + [
        (term, gettext(text)) for term, text in DEMOGRAPHIC_DEFINITIONS + CLOSED_MONTH_DEFINITIONS
    ]
    return report


def summary_table(scope: Scope, help: Help) -> Table:
    """1. Help (exchanges and group sessions by date; hours and people from the entries),
    members at the end, joining and leaving, and new members' first exchanges. Two queries
    of its own (``member_counts``, ``_first_exchanges``)."""
    t, people = scope.t, help.people
    members = member_counts(scope.ids, scope.start_at, scope.end_at)
    first_days, retention = _first_exchanges(
        scope.ids, scope.start_at, scope.end_at, members["new_members"], t
    )
    cells = _headline_cells(
        {
            "exchanges": help.exchanges,
            "group_sessions": help.total("sessions"),
            "hours_minutes": help.given_minutes,
            **members,
            "active_individuals": people["individuals"] or 0,
            "active_organisations": people["organisations"] or 0,
            "givers": people["givers"] or 0,
            "receivers": people["receivers"] or 0,
        },
        t,
    )
    cells.update(median_days_to_first_exchange=first_days, retention_6_months_share=retention)
    table = Table("summary", gettext("Summary"), ["measure", "value"], [])
    table.rows = [[key, cells[key]] for key in SUMMARY]
    if members["new_members"] == 0:
        table.blanks[("median_days_to_first_exchange", "value")] = NO_NEW_MEMBERS
        table.blanks[("retention_6_months_share", "value")] = NO_NEW_MEMBERS
    else:
        table.blanks[("median_days_to_first_exchange", "value")] = NONE_EXCHANGED_YET
    return table


def movements_table(scope: Scope) -> Table:
    """2. Donations, pot grants and reversals: one query, separate lines, never help."""
    moves = movements(scope.ids, scope.start, scope.end)
    return Table(
        "other_movements",
        gettext("Donations, pot grants and reversals"),
        ["line", "transactions", "hours"],
        [
            _count_and_hours(line, moves[line], moves[f"{stem}_minutes"] or 0, scope.t)
            for line, stem in MOVEMENTS
        ],
        note=gettext("Not help: shown apart from the hours exchanged."),
    )


def reciprocity_table(scope: Scope, people: dict[str, int | None]) -> Table:
    """3. Reciprocity over the 12 months to the end of the period, per account (from
    ``account_figures``: no query of its own)."""
    t = scope.t
    active = people["year_active"] or 0
    parts = [people["both"] or 0, people["only_gave"] or 0, people["only_received"] or 0]
    hidden = protect(parts, t)
    cells: list[Cell] = [hidden_cell(n, t) if i in hidden else n for i, n in enumerate(parts)]
    share: Cell = (
        None
        if not active
        else Withheld(FEW_BEHIND)
        if _small(active, t) or _small(parts[0], t)
        else Withheld(REVEALS)
        if 0 in hidden
        else (Decimal(parts[0]) / active).quantize(Decimal("0.0001"), ROUND_HALF_UP)
    )
    return Table(
        "reciprocity",
        gettext("Reciprocity over the 12 months to the end of the period"),
        ["measure", "value"],
        [
            ["window_start", scope.year_start],
            ["window_end", scope.end],
            ["active_members_12_months", count_cell(active, t)],
            ["gave_and_received", cells[0]],
            ["only_gave", cells[1]],
            ["only_received", cells[2]],
            ["reciprocity_share", share],
        ],
        blanks={("reciprocity_share", "value"): NO_ONE_ACTIVE},
    )


def mix_table(scope: Scope, help: Help) -> Table:
    """4. The period's help by exchange mix (``_mix``: one query)."""
    mix = _mix(scope.ids, scope.start, scope.end, help.exchanges, help.total("minutes"))
    return _breakdown(
        "exchange_mix", gettext("Exchange mix"), "mix", [(key, *mix[key]) for key in MIX], scope.t
    )


def categories_table(scope: Scope) -> Table:
    """4. The period's help by category: the ``TOP_CATEGORIES`` with the most hours, then the
    rest added up. One query."""
    by_category = list(
        help_exchanges(scope.ids, scope.start, scope.end)
        .order_by()
        .values("category__name")
        .annotate(exchanges=Count("pk"), minutes=Sum("minutes"))
        .order_by("-minutes", "-exchanges", "category__name")
    )
    top = [
        (row["category__name"] or UNCATEGORISED, row["exchanges"], row["minutes"] or 0)
        for row in by_category[:TOP_CATEGORIES]
    ]
    rest = by_category[TOP_CATEGORIES:]
    if rest:
        top.append(
            (
                OTHER_CATEGORIES,
                sum(row["exchanges"] for row in rest),
                sum(row["minutes"] or 0 for row in rest),
            )
        )
    return _breakdown(
        "categories",
        gettext("Categories of help (the %(top)s with the most hours, then the rest)")
        % {"top": TOP_CATEGORIES},
        "category",
        top,
        scope.t,
    )


def coproduction_table(scope: Scope, help: Help) -> Table:
    """4. The period's help by co-production kind (from ``period_help``: no query of its own)."""
    kinds = {row["coproduction"]: row for row in help.by_kind}
    return _breakdown(
        "coproduction",
        gettext("Co-production kind"),
        "coproduction",
        [
            (
                kind.value,
                kinds.get(kind.value, {}).get("exchanges", 0),
                kinds.get(kind.value, {}).get("minutes") or 0,
            )
            for kind in CoProduction
        ],
        scope.t,
    )


def value_table(
    scope: Scope, summary: Table, minutes: int, low_rate: int | None, high_rate: int | None
) -> Table:
    """5. The equivalent value of the hours exchanged (``minutes``, shown as the summary shows
    them), low and high (``rates_for``: one query)."""
    low, high = rates_for(scope.end, low_rate, high_rate)
    hours_cell = summary.value("hours_exchanged")
    return Table(
        "equivalent_value",
        gettext("Equivalent value"),
        [
            "estimate",
            "rate_name",
            "rate_per_hour",
            "rate_from",
            "rate_source",
            "hours",
            "equivalent_value",
        ],
        [
            [
                estimate,
                rate.name,
                rate.pounds_per_hour,
                rate.effective_from,
                rate.source,
                hours_cell,
                Withheld(FEW_BEHIND)
                if hours_cell == SUPPRESSED
                else equivalent_value(minutes, rate.pounds_per_hour),
            ]
            for estimate, rate in (("low", low), ("high", high))
            if rate is not None
        ],
        note=NO_CASH_VALUE,
        blanks={
            (estimate, column): why
            for estimate in ("low", "high")
            for column, why in (("rate_from", NOT_DATED), ("rate_source", NO_SOURCE))
        },
    )


def trend_table(scope: Scope, people: dict[str, int | None]) -> Table:
    """6. The 12 months to the end of the period: two GROUP BY month queries (``_trend``),
    and the active accounts of each month from ``account_figures``."""
    months = _trend_months(scope.end)
    active = {m: people[f"a{i}"] or 0 for i, m in enumerate(months)}
    return _trend(scope.ids, scope.start, scope.end, scope.t, active)


def demographic_tables(scope: Scope, *, hide_total: bool) -> list[Table]:
    """7. Demographics, given by choice: one grouped query (``demographic_counts``) for the
    five tables. ``hide_total``: the summary withholds the number of active individuals."""
    counts = demographic_counts(scope.ids, scope.start, scope.end)
    return _demographic_tables(counts, scope.t, "", hide_total=hide_total)


def _first_exchanges(
    ids: list[int], start_at: datetime, end_at: datetime, new: int, t: int
) -> list[Cell]:
    """For the ``new`` members approved from ``start_at`` to ``end_at``: the median days from
    approval to their first completed help exchange so far, and the share who made one within
    six months of approval (so far). One query: the approval time and first exchange date of
    each new member who has made one (a grouped MIN over their legs in their bank, not a
    correlated subquery); the others are ``new`` less those.

    The median is suppressed when fewer than ``t`` new members have exchanged; the share when
    either those who did or those who did not are a small number (either would reveal the
    other). Both are None when there is no one to count.
    """
    leg = "person__accounts__entries__journal__exchange__"
    pairs = list(
        _members(ids)
        .filter(
            status__in=[Status.APPROVED, Status.SUSPENDED, Status.LEFT],
            decided_at__gte=start_at,
            decided_at__lt=end_at,
            person__accounts__time_bank_id=F("time_bank_id"),
            **{f"{leg}state": State.COMPLETED, f"{leg}kind__in": HELP_KINDS},
        )
        .annotate(first=Min(f"{leg}effective_date"))
        .values_list("decided_at", "first")
    )
    # An exchange back-dated to before the approval counts as on the day of approval.
    days = [max((first - timezone.localtime(decided).date()).days, 0) for decided, first in pairs]
    retained = sum(
        1
        for decided, first in pairs
        if first <= add_calendar_months(timezone.localtime(decided).date(), 6)
    )
    median: Cell = (
        None
        if not days
        else Withheld(FEW_BEHIND)
        if _small(len(days), t)
        else Decimal(str(statistics.median(days))).quantize(Decimal("0.1"), ROUND_HALF_UP)
    )
    share: Cell = (
        None
        if not new
        else Withheld(FEW_BEHIND)
        if protect([retained, new - retained], t)
        else (Decimal(retained) / new).quantize(Decimal("0.0001"), ROUND_HALF_UP)
    )
    return [median, share]


def _count_and_hours(key: str, count: int, minutes: int, t: int) -> list[Cell]:
    if _small(count, t):
        return [key, Withheld(SMALL), Withheld(FEW_BEHIND)]
    return [key, count, hours(minutes)]


def _breakdown(name: str, title: str, key: str, rows: list[tuple[str, int, int]], t: int) -> Table:
    """A table of rows adding up to a total row, with secondary suppression."""
    hidden = protect([n for _, n, _ in rows], t)
    total_n = sum(n for _, n, _ in rows)
    total_minutes = sum(m for _, _, m in rows)
    cells: list[list[Cell]] = []
    for i, (k, n, m) in enumerate(rows):
        count = hidden_cell(n, t) if i in hidden else n
        cells.append([k, count, behind(count) if i in hidden else hours(m)])
    cells.append(_count_and_hours("total", total_n, total_minutes, t))
    return Table(name, title, [key, "exchanges", "hours"], cells)


def _trend_months(end: date) -> list[date]:
    """The first days of the 12 months to ``end``."""
    first = add_months(first_of(end), -11)
    return [add_months(first, n) for n in range(12)]


def _trend(ids: list[int], start: date, end: date, t: int, active: dict[date, int]) -> Table:
    """``active``: the active accounts of each month (``account_figures``)."""
    months = _trend_months(end)
    first = months[0]

    def month_of(value: date | datetime) -> date:
        if isinstance(value, datetime):
            value = timezone.localtime(value).date()
        return first_of(value)

    done = {
        month_of(row["month"]): row
        for row in help_exchanges(ids, first, end)
        .annotate(month=TruncMonth("effective_date"))
        .order_by()
        .values("month")
        .annotate(exchanges=Count("pk"), minutes=Sum("minutes"))
    }
    new = {
        month_of(row["month"]): row["new"]
        for row in _members(ids)
        .filter(
            status__in=[Status.APPROVED, Status.SUSPENDED, Status.LEFT],
            decided_at__gte=_aware(first),
            decided_at__lt=_aware(end + timedelta(days=1)),
        )
        .annotate(month=TruncMonth("decided_at"))
        .order_by()
        .values("month")
        .annotate(new=Count("pk"))
    }
    exchanges = [done.get(m, {}).get("exchanges", 0) for m in months]
    joined = [new.get(m, 0) for m in months]
    # The months inside the period add up to its published totals: protect them together.
    inside = [i for i, m in enumerate(months) if m >= first_of(start)]
    hidden_exchanges = {inside[i] for i in protect([exchanges[i] for i in inside], t)}
    hidden_new = {inside[i] for i in protect([joined[i] for i in inside], t)}
    rows: list[list[Cell]] = []
    for i, month in enumerate(months):
        count = (
            hidden_cell(exchanges[i], t) if i in hidden_exchanges else count_cell(exchanges[i], t)
        )
        rows.append(
            [
                month,
                behind(count)
                if count == SUPPRESSED
                else hours(done.get(month, {}).get("minutes") or 0),
                count,
                count_cell(active.get(month, 0), t),
                hidden_cell(joined[i], t) if i in hidden_new else count_cell(joined[i], t),
            ]
        )
    return Table(
        "trend",
        gettext("The 12 months to the end of the period"),
        ["month", "hours", "exchanges", "active_members", "new_members"],
        rows,
        note=gettext("The last month counts up to the end of the period."),
    )


def definitions(threshold: int) -> list[tuple[str, str]]:
    """(term, definition) for the report's measures and tables, in plain words: the term is the
    machine name (as in the CSV and the JSON), put in words by ``reports.reading``."""
    return [
        (
            "hours_exchanged",
            gettext(
                "The hours of help given in completed exchanges (one to one or in a group) "
                "that took place in the period, counted once, on the side of those who "
                "helped. Hours from the community pot are not counted twice."
            ),
        ),
        (
            "exchanges",
            gettext(
                "Completed exchanges of help that took place in the period. A group exchange "
                "(one session with several people) counts once; group exchanges are also "
                "counted on their own."
            ),
        ),
        (
            "members_at_period_end",
            gettext(
                "Members, brokers and administrators (not commissioners) who had been approved "
                "by the end of the period and were still members then."
            ),
        ),
        ("new_members", gettext("Members approved during the period.")),
        (
            "members_left",
            gettext(
                "Members who left the time bank during the period (they left, or a broker "
                "marked them as left), each counted once."
            ),
        ),
        (
            "median_days_to_first_exchange",
            gettext(
                "For members approved in the period who have made an exchange so far: the "
                "middle value (median) of the days from approval to their first completed "
                "exchange, giving or receiving. An exchange dated before approval counts as "
                "day 0."
            ),
        ),
        (
            "retention_6_months_share",
            gettext(
                "Of the members approved in the period, the percentage who made at least one "
                "exchange within 6 months of approval, so far: it can still rise until six "
                "months after the period ends."
            ),
        ),
        (
            "active_members",
            gettext(
                "Members who took part: people and organisations who gave or received help "
                "in at least one completed exchange in the period."
            ),
        ),
        ("givers", gettext("Members (people or organisations) who gave help in the period.")),
        (
            "receivers",
            gettext("Members (people or organisations) who received help in the period."),
        ),
        (
            "gave_and_received",
            gettext(
                "Members who both gave and received help in the period. Everyone who took "
                "part did one or the other, so this is the givers and the receivers less "
                "those who took part."
            ),
        ),
        (
            "comparisons",
            gettext(
                "Each headline figure beside the same figure for the period just before (as "
                "long: as many whole months, or days) and for the same period a year before, "
                "by the same definitions. A change is given in numbers and as a percentage of "
                "the earlier figure. Where nothing was recorded in the earlier period, it says "
                "there is not enough data to compare."
            ),
        ),
        (
            "by_bank",
            gettext(
                "When time banks are combined, each bank's headline figures beside the "
                "combined ones; the banks add up to the combined figure."
            ),
        ),
        (
            "other_movements",
            gettext(
                "Hours given to the community pot or to another member, hours granted from the "
                "pot, and exchanges reversed by a broker (counted on the date of the "
                "correction). None of them is help, so they are shown apart."
            ),
        ),
        (
            "reciprocity",
            gettext(
                "Of the members who took part in the 12 months to the end of the period, "
                "how many both gave and received help, only gave, or only received, and the "
                "percentage who did both."
            ),
        ),
        (
            "exchange_mix",
            gettext(
                "Who helped whom: between two people, a person helping an organisation, an "
                "organisation helping people, or between organisations. An exchange for which "
                "the community pot paid the helpers' hours is counted as paid from the pot."
            ),
        ),
        (
            "categories",
            gettext(
                "The ten categories of help with the most hours in the period, then all the "
                "others added up. An exchange recorded without a category is shown as no "
                "category given."
            ),
        ),
        (
            "coproduction",
            gettext(
                "The Four Co's of co-production, recorded with each exchange: co-delivery "
                "(helping to deliver a service), co-design (shaping a service), "
                "co-commissioning (deciding what is needed) and co-assessment (checking how "
                "well it works)."
            ),
        ),
        (
            "equivalent_value",
            gettext(
                "The hours of help times a named, dated hourly rate, a low and a high one, "
                "worked out exactly and rounded to the penny once, at the total. "
            )
            + gettext(NO_CASH_VALUE),
        ),
        (
            "trend",
            gettext(
                "Hours, exchanges, members who took part and new members in each of the 12 "
                "months to the end of the period, by the same definitions."
            ),
        ),
        (
            "suppressed",
            gettext(
                "A number from 1 to %(most)s is not shown, so that no one can be recognised, "
                "and nor are the hours or values worked out from it. Where figures add up to a "
                "total, the next smallest one is not shown either, so the small one cannot be "
                "worked out by subtraction. Zero is shown: it reveals no one."
            )
            % {"most": threshold - 1},
        ),
    ]


# --- Comparisons and banks side by side ----------------------------------------------------------

# The headline measures compared over periods and shown bank by bank, in order.
HEADLINE = (
    "hours_exchanged",
    "exchanges",
    "active_members",
    "givers",
    "receivers",
    "gave_and_received",
    "new_members",
    "members_at_period_end",
    "members_left",
)
COMPARED = ("this_period", "previous_period", "same_period_last_year")


def comparison_periods(start: date, end: date) -> list[tuple[date, date]]:
    """The period just before ``start``..``end`` (as many whole months when it is whole
    months, else as many days) and the same period a year before."""
    if whole_months(start, end):
        months = len(_months(start, end))
        previous = (add_months(start, -months), start - timedelta(days=1))
        year_end = add_months(first_of(end), -11) - timedelta(days=1)
        return [previous, (add_months(start, -12), year_end)]
    days = end - start + timedelta(days=1)
    return [(start - days, start - timedelta(days=1)), (_year_before(start), _year_before(end))]


def _shown_by_bank(
    ids: list[int], periods: list[tuple[date, date]], reported: Snapshots
) -> dict[int, list[dict[str, Any]]]:
    """Each bank's ``ACTIVITY`` figures in each period (``activity_by_bank``: three queries)
    as the report shows them: as snapshotted where the banks combined have closed the whole
    period (``_as_reported``), as the ledger stands today otherwise."""
    raw = activity_by_bank(ids, periods)
    shown: dict[int, list[dict[str, Any]]] = {bank: [] for bank in ids}
    for i, (start, end) in enumerate(periods):
        closed = closed_snapshots(reported, ids, start, end) is not None
        for bank in ids:
            mine = closed_snapshots(reported, [bank], start, end) if closed else None
            shown[bank].append(_as_reported(raw[bank][i], mine))
    return shown


def comparisons_table(
    scope: Scope,
    summary: Table,
    periods: list[tuple[date, date]],
    shown: dict[int, list[dict[str, Any]]],
) -> Table:
    """9. The ``HEADLINE`` figures of the period (as the summary shows them) beside those of
    the period before and of the same period a year before (``comparison_periods``),
    suppressed alike. A period in which the banks had no members and no exchanges is blank
    (``NO_DATA``), and so is the year before of a period longer than a year (they overlap)."""
    combined = [added_up(figures[i] for figures in shown.values()) for i in range(len(periods))]
    columns: list[dict[str, Cell]] = []
    blanks: dict[tuple[Cell, str], str] = {}
    for i, (column, figures) in enumerate(zip(COMPARED, combined, strict=True)):
        overlaps = i == 2 and periods[2][1] >= scope.start
        if i and (overlaps or not (figures["exchanges"] or figures["members_at_period_end"])):
            columns.append(dict.fromkeys(HEADLINE))
            blanks.update({(key, column): NO_DATA for key in HEADLINE})
            continue
        cells = _headline_cells(figures, scope.t)
        if i == 0:
            cells.update({key: summary.value(key) for key in HEADLINE if key in SUMMARY})
        columns.append(cells)
    return Table(
        "comparisons",
        gettext("Compared with the period before and a year before"),
        ["measure", *COMPARED],
        [
            ["period_start", *(start for start, _ in periods)],
            ["period_end", *(end for _, end in periods)],
            *([key, *(cells[key] for cells in columns)] for key in HEADLINE),
        ],
        blanks=blanks,
    )


def by_bank_table(
    scope: Scope, banks: list[TimeBank], comparisons: Table, shown: dict[int, list[dict[str, Any]]]
) -> Table:
    """9. Banks combined: each bank's ``HEADLINE`` figures of the period (a column per bank,
    named by its slug) beside the combined ones (the comparisons' ``this_period``). The banks'
    counts add up to the combined one, so each row is protected as a table's rows are: a small
    count and, if it is the only one, the next smallest (hours go with the exchanges)."""
    t = scope.t
    per_bank = [headline_counts(shown[bank.pk][0]) for bank in banks]
    rows: list[list[Cell]] = []
    hidden_exchanges: set[int] = set()
    for key in HEADLINE:
        combined = comparisons.value(key, "this_period")
        if key == "hours_exchanged":
            # Filled in below, once the exchanges are protected.
            rows.append([key, *(None for _ in banks), combined])
            continue
        values = [figures[key] for figures in per_bank]
        hidden = protect(values, t)
        if key == "exchanges":
            hidden_exchanges = hidden
        cells: list[Cell] = [hidden_cell(n, t) if i in hidden else n for i, n in enumerate(values)]
        rows.append([key, *cells, combined])
    # The hours of a bank go with its exchanges (the second row).
    rows[0][1:-1] = [
        behind(rows[1][1 + i]) if i in hidden_exchanges else hours(figures["hours_minutes"])
        for i, figures in enumerate(per_bank)
    ]
    return Table(
        "by_bank",
        gettext("Each time bank and the banks combined"),
        ["measure", *(bank.slug for bank in banks), "combined"],
        rows,
    )


# --- The audit log -----------------------------------------------------------------------------


@transaction.atomic
def record_download(
    *, user: Any, banks: Sequence[TimeBank], start: date, end: date, format: str, table: str = ""
) -> ReportDownload:
    """Write the audit row of one report download (and its banks)."""
    download = ReportDownload.objects.create(
        user=user,
        bank_slugs=",".join(bank.slug for bank in banks),
        start=start,
        end=end,
        format=format,
        table=table,
    )
    download.time_banks.set(banks)
    # One event per bank, so each bank's own log shows who downloaded its figures.
    actor = person_for(user)
    for bank in banks:
        audit.record(
            action=Action.REPORT_DOWNLOADED,
            actor=actor,
            time_bank=bank,
            obj=download,
            details={
                "format": format,
                "table": table,
                "start": start.isoformat(),
                "end": end.isoformat(),
            },
        )
    return download


# --- Demographics, given by choice ---------------------------------------------------------------

NOT_GIVEN = "not_given"
OTHER_AREAS = "other_areas"
UNRECOGNISED_AREA = "not_a_postcode_district"
# A UK outward code (postcode district): GL50, SW1A, M1, B33. Anything else is unrecognised.
OUTWARD_CODE = r"^[A-Z]{1,2}[0-9][A-Z0-9]?$"
DIMENSIONS: dict[str, tuple[str, ...]] = {
    "age_band": tuple(AgeBand.values),
    "gender": tuple(Gender.values),
    "disability": tuple(YesNo.values),
    "carer": tuple(YesNo.values),
}
DIMENSION_TITLES = {
    "age_band": gettext_noop("People who took part, by age"),
    "gender": gettext_noop("People who took part, by gender"),
    "disability": gettext_noop("People who took part with a disability or long-term condition"),
    "carer": gettext_noop("People who took part who are unpaid carers"),
    "area": gettext_noop("People who took part, by area (postcode district)"),
}


def _outward_code(field: str) -> Case:
    """The area as an upper-cased outward code ("gl50 2ab" -> "GL50"); blank -> not given;
    text that is not a postcode district -> ``UNRECOGNISED_AREA`` (free text never appears)."""
    upper = Upper(Trim(field))
    space = StrIndex(upper, Value(" "))
    return Case(
        When(Exact(upper, Value("")), then=Value(NOT_GIVEN)),
        When(GreaterThan(space, 0), then=Substr(upper, 1, space - 1)),
        default=upper,
    )


def demographic_counts(ids: list[int], start: date, end: date) -> dict[str, dict[str, int]]:
    """For each dimension, the number of member accounts active in the period (as for
    ``active_individuals``) by their answer today: {dimension: {answer or "not_given": n}}.
    One query over the active accounts (a semi-join, no DISTINCT), grouped by area (normalised
    to an outward code in SQL: a few dozen rows), with a conditional count per answer of each
    of the four other dimensions; the area rows are added up per answer here. Answers outside
    the choices are not counted (no table shows them)."""
    active = help_entries(ids, start, end).filter(account__kind=AccountKind.MEMBER)
    accounts = Account.objects.filter(pk__in=active.values("account_id")).order_by()
    per_answer = {
        (dimension, answer): Q(**{f"person__{dimension}": answer})
        for dimension, answers in DIMENSIONS.items()
        for answer in answers
    }
    per_answer.update(
        {
            (dimension, NOT_GIVEN): Q(**{f"person__{dimension}": ""})
            | Q(**{f"person__{dimension}__isnull": True})
            for dimension in DIMENSIONS
        }
    )
    names = {key: f"n{i}" for i, key in enumerate(per_answer)}
    areas = (
        accounts.annotate(code=_outward_code("person__area"))
        .annotate(
            answer=Case(
                When(code=NOT_GIVEN, then=Value(NOT_GIVEN)),
                When(code__regex=OUTWARD_CODE, then=F("code")),
                default=Value(UNRECOGNISED_AREA),
            )
        )
        .values("answer")
        .annotate(n=Count("pk"), **{names[k]: Count("pk", filter=q) for k, q in per_answer.items()})
    )
    counts: dict[str, dict[str, int]] = {dimension: {} for dimension in (*DIMENSIONS, "area")}
    for row in areas:
        counts["area"][row["answer"]] = row["n"]
        for (dimension, answer), name in names.items():
            if row[name]:
                mine = counts[dimension]
                mine[answer] = mine.get(answer, 0) + row[name]
    return counts


def _demographic_tables(
    counts: dict[str, dict[str, int]], t: int, note: str, *, hide_total: bool
) -> list[Table]:
    """One table per dimension: every answer (with "prefer not to say" and "not given" as
    rows of their own) and a total, with small counts suppressed (and a second count where
    the total would reveal the first). Areas under the threshold are folded into "other
    areas" before suppression, so a rare area's name is never printed.

    Each total is the number of active individuals. When the summary withholds that number
    (``hide_total``: it would reveal a small number of active organisations), the totals are
    withheld too, and every table withholds at least one count, or its rows would add up to
    it."""
    tables = []
    for dimension, title in DIMENSION_TITLES.items():
        given = counts.get(dimension, {})
        if dimension == "area":
            named = sorted(
                (k for k, n in given.items() if n >= t and k not in (NOT_GIVEN, UNRECOGNISED_AREA))
            )
            folded = sum(
                n for k, n in given.items() if k not in (*named, NOT_GIVEN, UNRECOGNISED_AREA)
            )
            keys = [*named, OTHER_AREAS, UNRECOGNISED_AREA, NOT_GIVEN]
            values = [*(given[k] for k in named), folded, given.get(UNRECOGNISED_AREA, 0)]
            values.append(given.get(NOT_GIVEN, 0))
        else:
            keys = [*DIMENSIONS[dimension], NOT_GIVEN]
            values = [given.get(k, 0) for k in keys]
        hidden = protect(values, t)
        if hide_total and not hidden:
            shown = [(n, i) for i, n in enumerate(values) if n > 0]
            hidden = {min(shown)[1]} if shown else set()
        rows: list[list[Cell]] = [
            [key, hidden_cell(n, t) if i in hidden else n]
            for i, (key, n) in enumerate(zip(keys, values, strict=True))
        ]
        rows.append(["total", Withheld(REVEALS) if hide_total else count_cell(sum(values), t)])
        tables.append(
            Table(
                f"demographics_{dimension}",
                gettext(title),
                [dimension, "active_members"],
                rows,
                note=note,
            )
        )
    return tables


DEMOGRAPHIC_DEFINITIONS = [
    (
        "demographics",
        gettext_noop(
            "The people (not organisations) who took part in the period, counted by the "
            "answers they chose to give on their profile: age band (the Office for National "
            "Statistics' bands), gender, disability or long-term condition (lasting or expected "
            'to last 12 months or more), and unpaid carer. "Prefer not to say" counts those '
            'who chose that answer; "not given" those who were not asked or did not answer '
            "(and anyone whose data was erased). Answers are as they stand today, except for a "
            "period of one closed month: then as they stood when the month was reported."
        ),
    ),
    (
        "demographics_area",
        gettext_noop(
            "The area on the member's profile as a postcode district (the first half of a "
            "postcode, such as GL50). Districts with fewer people than the threshold for "
            "showing a number are added together as other areas, so their names are not "
            "shown; anything that is not a postcode district is counted apart."
        ),
    ),
]


# --- Closed months: snapshots and revisions ------------------------------------------------------

# Figures stored in ``MonthlyReport.commissioner`` when a month is reported. Counted over the
# month, they add up over banks; those marked additive also add up over months.
ADDITIVE = (
    "hours_minutes",
    "exchanges",
    "group_sessions",
    "new_members",
    "members_left",
    "donations",
    "donation_minutes",
    "grants",
    "grant_minutes",
    "reversals",
    "reversal_minutes",
)
DISTINCT = ("active_individuals", "active_organisations", "givers", "receivers")
AT_END = ("members_at_period_end",)
SNAPSHOT_FIGURES = (*ADDITIVE, *DISTINCT, *AT_END)
MOVEMENTS = (("donations", "donation"), ("grants", "grant"), ("reversals", "reversal"))


def _member_filters(start_at: datetime, end_at: datetime) -> dict[str, Q]:
    """The memberships counted as ``members_at_period_end``, ``new_members`` and
    ``members_left`` of the period ``start_at``..``end_at``."""
    return {
        # Still approved, or approved then and left since the period ended.
        "members_at_period_end": (
            Q(status=Status.APPROVED) | Q(status=Status.LEFT, left_at__gte=end_at)
        )
        & Q(decided_at__lt=end_at),
        "new_members": Q(
            status__in=[Status.APPROVED, Status.SUSPENDED, Status.LEFT],
            decided_at__gte=start_at,
            decided_at__lt=end_at,
        ),
        "members_left": Q(status=Status.LEFT, left_at__gte=start_at, left_at__lt=end_at),
    }


def member_counts(ids: list[int], start_at: datetime, end_at: datetime) -> dict[str, int]:
    """Members at the end of ``start_at``..``end_at``, new in it and left in it, by the
    definitions of ``members_at_period_end``, ``new_members`` and ``members_left``; one query."""
    return _members(ids).aggregate(
        **{key: Count("pk", filter=q) for key, q in _member_filters(start_at, end_at).items()}
    )


# The figures of a period that ``activity_by_bank`` counts, by the summary's definitions.
ACTIVITY = (
    "exchanges",
    "group_sessions",
    "hours_minutes",
    "active_individuals",
    "active_organisations",
    "givers",
    "receivers",
    "members_at_period_end",
    "new_members",
    "members_left",
)


def activity_by_bank(
    ids: list[int], periods: Sequence[tuple[date, date]]
) -> dict[int, list[dict[str, int]]]:
    """The raw (unsuppressed) ``ACTIVITY`` figures of each bank of ``ids`` in each period
    (first day, last day), as the ledger stands now: {bank id: [figures of each period]}.

    Three queries whatever the number of banks and periods (help exchanges, their member and
    organisation legs, memberships), each grouped by bank with a conditional aggregate per
    period. Every figure adds up over banks (an account, like a membership, is of one bank),
    so the banks' figures added up are those of the banks combined."""
    first, last = min(s for s, _ in periods), max(e for _, e in periods)
    found: dict[int, list[dict[str, int]]] = {
        bank: [dict.fromkeys(ACTIVITY, 0) for _ in periods] for bank in ids
    }

    def dated(field: str) -> list[Q]:
        return [Q(**{f"{field}__gte": s, f"{field}__lte": e}) for s, e in periods]

    def gather(rows: Iterable[dict[str, Any]], bank: str) -> None:
        for row in rows:
            for i, figures in enumerate(found[row[bank]]):
                for key in figures:
                    figures[key] += row.get(f"{key}_{i}") or 0

    within = dated("effective_date")
    gather(
        help_exchanges(ids, first, last)
        .filter(reduce(or_, within))
        .order_by()
        .values("time_bank_id")
        .annotate(
            **{f"exchanges_{i}": Count("pk", filter=q) for i, q in enumerate(within)},
            **{
                f"group_sessions_{i}": Count("pk", filter=q & Q(kind=Kind.GROUP))
                for i, q in enumerate(within)
            },
        ),
        "time_bank_id",
    )
    within = dated("journal__exchange__effective_date")
    given, received = Q(amount_minutes__gt=0), Q(amount_minutes__lt=0)
    member, organisation = (
        Q(account__kind=AccountKind.MEMBER),
        Q(account__kind=AccountKind.ORGANISATION),
    )
    per_period = {
        "hours_minutes": lambda q: Sum("amount_minutes", filter=q & given),
        "active_individuals": lambda q: Count("account_id", distinct=True, filter=q & member),
        "active_organisations": lambda q: Count(
            "account_id", distinct=True, filter=q & organisation
        ),
        "givers": lambda q: Count("account_id", distinct=True, filter=q & given),
        "receivers": lambda q: Count("account_id", distinct=True, filter=q & received),
    }
    gather(
        help_entries(ids, first, last)
        .filter(reduce(or_, within))
        .order_by()
        .values(bank=F("journal__exchange__time_bank_id"))
        .annotate(
            **{
                f"{key}_{i}": aggregate(q)
                for key, aggregate in per_period.items()
                for i, q in enumerate(within)
            }
        ),
        "bank",
    )
    gather(
        _members(ids)
        .order_by()
        .values("time_bank_id")
        .annotate(
            **{
                f"{key}_{i}": Count("pk", filter=q)
                for i, (s, e) in enumerate(periods)
                for key, q in _member_filters(_aware(s), _aware(e + timedelta(days=1))).items()
            }
        ),
        "time_bank_id",
    )
    return found


def added_up(figures: Iterable[dict[str, int]]) -> dict[str, int]:
    """Figures of several banks (or months) added up, key by key."""
    total: dict[str, int] = {}
    for one in figures:
        for key, n in one.items():
            total[key] = total.get(key, 0) + n
    return total


def month_figures(ids: list[int], start: date, end: date) -> dict[str, Any]:
    """The raw (unsuppressed) figures of ``start``..``end`` as the ledger stands now, by the
    report's definitions: ``SNAPSHOT_FIGURES`` and ``demographics``. Stored as the snapshot
    when a month is reported; compared with the snapshot for revisions. Five queries."""
    figures: dict[str, Any] = added_up(
        periods[0] for periods in activity_by_bank(ids, [(start, end)]).values()
    )
    figures.update({k: v or 0 for k, v in movements(ids, start, end).items()})
    figures["demographics"] = demographic_counts(ids, start, end)
    return figures


def _months(start: date, end: date) -> list[date]:
    months, month = [], first_of(start)
    while month <= end:
        months.append(month)
        month = add_months(month, 1)
    return months


def whole_months(start: date, end: date) -> bool:
    """Whether ``start``..``end`` begins on a first and ends on a last day of a month."""
    return start == first_of(start) and add_months(first_of(end), 1) - timedelta(days=1) == end


Snapshots = dict[int, dict[date, dict[str, Any]]]


def reported_months(ids: list[int], periods: Sequence[tuple[date, date]]) -> Snapshots:
    """The stored figures (``MonthlyReport.commissioner``) of every reported month of the banks
    ``ids`` in those of ``periods`` that are whole months: {bank id: {month: figures}}. One
    query; none when no period is whole months."""
    months = [(s, e) for s, e in periods if whole_months(s, e)]
    found: Snapshots = {bank: {} for bank in ids}
    if not months:
        return found
    rows = (
        MonthlyReport.objects.filter(time_bank_id__in=ids, state=ReportState.DONE)
        .filter(reduce(or_, [Q(month__gte=s, month__lte=e) for s, e in months]))
        .exclude(commissioner={})
        .values_list("time_bank_id", "month", "commissioner")
    )
    for bank, month, snapshot in rows:
        found[bank][month] = snapshot
    return found


def closed_snapshots(
    reported: Snapshots, ids: list[int], start: date, end: date
) -> dict[date, dict[str, Any]] | None:
    """If the period is whole months, each reported (with a snapshot) for every bank of
    ``ids``: each month's snapshot (from ``reported``), added up over the banks. Otherwise
    None."""
    if not whole_months(start, end):
        return None
    months = _months(start, end)
    if any(m not in reported.get(bank, {}) for bank in ids for m in months):
        return None
    combined: dict[date, dict[str, Any]] = {
        m: {**dict.fromkeys(SNAPSHOT_FIGURES, 0), "demographics": {}} for m in months
    }
    for bank in ids:
        for month in months:
            snapshot, into = reported[bank][month], combined[month]
            for key in SNAPSHOT_FIGURES:
                into[key] += snapshot.get(key, 0)
            for dimension, answers in snapshot.get("demographics", {}).items():
                mine = into["demographics"].setdefault(dimension, {})
                for answer, n in answers.items():
                    mine[answer] = mine.get(answer, 0) + n
    return combined


def _set(table: Table, key: str, value: Cell) -> None:
    for row in table.rows:
        if row[0] == key:
            row[-1] = value
            return
    raise KeyError(key)


def headline_counts(figures: dict[str, Any]) -> dict[str, Any]:
    """Raw ``figures`` (``ACTIVITY``) with the counts worked out from them: active members
    (individuals and organisations), and those who both gave and received in the period
    (every active account gave or received: the ledger has no entry of zero)."""
    active = figures["active_individuals"] + figures["active_organisations"]
    both = figures["givers"] + figures["receivers"] - active
    return {**figures, "active_members": active, "gave_and_received": both}


def _headline_cells(figures: dict[str, Any], t: int) -> dict[str, Cell]:
    """The summary's cells for raw ``figures`` (``ACTIVITY``), suppressed as the summary
    suppresses them, and ``gave_and_received`` (``headline_counts``)."""
    individuals, organisations = figures["active_individuals"], figures["active_organisations"]
    split = protect([individuals, organisations], t)
    exchanges = count_cell(figures["exchanges"], t)
    both = headline_counts(figures)["gave_and_received"]
    return {
        "hours_exchanged": behind(exchanges)
        if exchanges == SUPPRESSED
        else hours(figures["hours_minutes"]),
        "exchanges": exchanges,
        "group_sessions": count_cell(figures["group_sessions"], t),
        "members_at_period_end": count_cell(figures["members_at_period_end"], t),
        "new_members": count_cell(figures["new_members"], t),
        "members_left": count_cell(figures["members_left"], t),
        "active_members": count_cell(individuals + organisations, t),
        "active_individuals": hidden_cell(individuals, t)
        if 0 in split
        else count_cell(individuals, t),
        "active_organisations": hidden_cell(organisations, t)
        if 1 in split
        else count_cell(organisations, t),
        "givers": count_cell(figures["givers"], t),
        "receivers": count_cell(figures["receivers"], t),
        "gave_and_received": count_cell(both, t),
    }


def _as_reported(
    figures: dict[str, Any], snapshots: dict[date, dict[str, Any]] | None
) -> dict[str, Any]:
    """``figures`` (``SNAPSHOT_FIGURES`` of a period, as the ledger stands today) as the report
    shows them. For a period of closed months (``snapshots``: each month's, added up over the
    banks; see ``closed_snapshots``): the additive figures added up over the months, those at
    the end from the last month, and the distinct ones from the snapshot when it is one month
    (over several they do not add up, so they stay as today)."""
    if snapshots is None:
        return figures
    months = sorted(snapshots)
    shown = {**figures, **{key: sum(snapshots[m][key] for m in months) for key in ADDITIVE}}
    shown.update({key: snapshots[months[-1]][key] for key in AT_END})
    if len(months) == 1:
        shown.update({key: snapshots[months[0]][key] for key in DISTINCT})
    return shown


def _show_closed_months(
    report: Report, ids: list[int], t: int, snapshots: dict[date, dict[str, Any]] | None
) -> None:
    """For a period of closed months (``snapshots``, from ``closed_snapshots``): the headline
    figures from the snapshots, and the revisions since. A no-op for any other period."""
    if snapshots is None:
        return
    months = sorted(snapshots)
    one_month = len(months) == 1
    period = _as_reported(dict.fromkeys(SNAPSHOT_FIGURES, 0), snapshots)
    cells = _headline_cells(period, t)
    # Distinct counts do not add up over months: for several, the summary keeps them as the
    # ledger stands today (like the breakdowns).
    kept = () if one_month else (*DISTINCT, "active_members")
    summary = report.table("summary")
    for key in SUMMARY:
        if key in cells and key not in kept:
            _set(summary, key, cells[key])
    summary.note = gettext(
        "Closed months: these figures are as snapshotted when each month was reported; "
        "later changes are listed under revisions."
    )
    movements = report.table("other_movements")
    movements.rows = [
        _count_and_hours(line, period[line], period[f"{stem}_minutes"], t)
        for line, stem in MOVEMENTS
    ]
    value = report.table("equivalent_value")
    index = value.columns.index("equivalent_value")
    for row in value.rows:
        row[value.columns.index("hours")] = cells["hours_exchanged"]
        rate = row[value.columns.index("rate_per_hour")]
        assert isinstance(rate, Decimal)
        row[index] = (
            cells["hours_exchanged"]
            if cells["hours_exchanged"] == SUPPRESSED
            else equivalent_value(period["hours_minutes"], rate)
        )
    if one_month:
        note = gettext("As snapshotted when the month was reported.")
        hide = cells["active_individuals"] == SUPPRESSED
        demographics = snapshots[months[0]]["demographics"]
        for table in _demographic_tables(demographics, t, note, hide_total=hide):
            index = next(i for i, old in enumerate(report.tables) if old.name == table.name)
            report.tables[index] = table
    report.tables.append(_revisions_table(ids, snapshots, t))


def _revision_counts(figures: dict[str, Any]) -> dict[str, int]:
    """The count behind each measure of the revisions table: its own number, or for hours
    the number of exchanges (or movements) they are the hours of."""
    counts = {key: figures[key] for key in (*ADDITIVE, *DISTINCT, *AT_END)}
    counts["active_members"] = figures["active_individuals"] + figures["active_organisations"]
    counts["hours_exchanged"] = figures["exchanges"]
    for line, _stem in MOVEMENTS:
        counts[f"{line}_hours"] = figures[line]
    return counts


def _revisions_table(ids: list[int], snapshots: dict[date, dict[str, Any]], t: int) -> Table:
    """Each closed month's headline figures whose value today differs from its snapshot:
    month, measure, as snapshotted, today, difference (a suppressed cell hides the
    difference too). A change of fewer than ``t`` (in the count behind the measure) hides
    today's value and the difference, which would otherwise publish a small number and
    pinpoint a late change; as reported stays, as it was published. ``month_figures`` per
    month: a fixed number of queries per month."""
    rows: list[list[Cell]] = []
    for month, said in sorted(snapshots.items()):
        end = add_months(month, 1) - timedelta(days=1)
        now = month_figures(ids, month, end)
        was_cells, now_cells = _headline_cells(said, t), _headline_cells(now, t)
        was_counts, now_counts = _revision_counts(said), _revision_counts(now)
        lines = [(key, was_cells[key], now_cells[key]) for key in SUMMARY if key in was_cells]
        for line, stem in MOVEMENTS:
            was = _count_and_hours(line, said[line], said[f"{stem}_minutes"], t)
            is_ = _count_and_hours(line, now[line], now[f"{stem}_minutes"], t)
            lines.append((line, was[1], is_[1]))
            lines.append((f"{line}_hours", was[2], is_[2]))
        for measure, was, is_ in lines:
            if was == is_:
                continue
            # At least one change lies behind a row even when the counts net to nothing (an
            # exchange reversed and another recorded changes the hours only).
            change = max(abs(now_counts[measure] - was_counts[measure]), 1)
            if _small(change, t):
                is_ = Withheld(SMALL_CHANGE)
            difference: Cell
            if isinstance(was, int | Decimal) and isinstance(is_, int | Decimal):
                difference = is_ - was
            else:
                withheld = is_ if isinstance(is_, Withheld) else was
                difference = Withheld(
                    withheld.why if isinstance(withheld, Withheld) else FEW_BEHIND
                )
            rows.append([month, measure, was, is_, difference])
    return Table(
        "revisions",
        gettext("Revisions since the month was closed"),
        ["month", "measure", "as_reported", "today", "difference"],
        rows,
        note=gettext("Changes dated in a closed month but recorded after it was reported.")
        if rows
        else gettext("No changes since the months were reported."),
    )


CLOSED_MONTH_DEFINITIONS = [
    (
        "closed_months",
        gettext_noop(
            "A month is closed once its monthly report has been made (early in the next month). "
            "For a period made of whole closed months, the summary, the donations, grants and "
            "reversals, and the equivalent value show the figures stored when each month was "
            "reported, so a board paper's figures never shift. Members who took part, gave and "
            "received (and who took part by their answers) come from the snapshot when the period is one "
            "month; over several months they cannot be added up, so they are as the ledger "
            "stands today. The breakdowns (reciprocity, mix, categories, co-production, trend, "
            "time to first exchange and retention) are always as the ledger stands today."
        ),
    ),
    (
        "revisions",
        gettext_noop(
            "For each closed month in the period, every headline figure whose value today differs "
            "from the one reported: an exchange recorded late but dated in the month, help in the "
            "month reversed later, a member who left or was approved with an earlier date. The "
            "difference is today's figure less the one reported. It is not shown when either "
            "figure is not. When fewer changes than the threshold for showing a number lie "
            "behind a figure (for hours, fewer exchanges or movements), today's figure and the "
            "difference are both not shown and only the fact of a revision is, so a small "
            "change cannot be read or worked out."
        ),
    ),
]
