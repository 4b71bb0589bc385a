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
from members.access import person_for
from members.models import TRADING_ROLES, AgeBand, Gender, Membership, Status, TimeBank, YesNo
from members.services import add_months as add_calendar_months

from .models import MonthlyReport, ReportDownload, ReportState, ValueRate
from .services import add_months, first_of

SUPPRESSED = "suppressed"
# Marked for the catalogue but kept a plain str: the XLSX writer takes it as a cell value.
NO_CASH_VALUE = gettext_noop("Equivalent value only: time credits have no cash value.")
HELP_KINDS = (Kind.SERVICE, Kind.GROUP)
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


def hours(minutes: int) -> Decimal:
    """Minutes as hours, to the hundredth (half up)."""
    return (Decimal(minutes) / 60).quantize(PENNY, rounding=ROUND_HALF_UP)


def equivalent_value(minutes: int, pounds_per_hour: Decimal) -> Decimal:
    """Exact: minutes x rate / 60, rounded half up to the penny once, at the total."""
    return (Decimal(minutes) * pounds_per_hour / 60).quantize(PENNY, rounding=ROUND_HALF_UP)


def _small(n: int, threshold: int) -> bool:
    return 0 < n < threshold


def count_cell(n: int, threshold: int) -> Cell:
    return SUPPRESSED if _small(n, threshold) else n


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
    """One table of the report: snake_case ``columns``; ``rows`` of cells (None: no value,
    e.g. a share with nobody to share; ``SUPPRESSED``: a small number withheld)."""

    name: str
    title: str
    columns: list[str]
    rows: list[list[Cell]]
    note: str = ""
    # The column drawn as a bar on the page (its cells are numbers or suppressed).
    bar: str | None = None

    def bars(self) -> list[tuple[list[Cell], int | None]]:
        """Each row with its bar width (0-100, relative to the largest), for the page."""
        if self.bar is None:
            return [(row, None) for row in self.rows]
        index = self.columns.index(self.bar)
        numbers = [row[index] for row in self.rows]
        largest = max((n for n in numbers if isinstance(n, int | Decimal)), default=0)
        return [
            (row, round(n * 100 / largest) if isinstance(n, int | Decimal) and largest else None)
            for row, n in zip(self.rows, numbers, strict=True)
        ]

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
    _show_closed_months(report, scope.ids, t)
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
    exchanges = help.exchanges
    members = member_counts(scope.ids, scope.start_at, scope.end_at)
    first_days, retention = _first_exchanges(
        scope.ids, scope.start_at, scope.end_at, members["new_members"], t
    )
    active = people["individuals"] + people["organisations"]
    split = protect([people["individuals"], people["organisations"]], t)
    return Table(
        "summary",
        gettext("Summary"),
        ["measure", "value"],
        [
            ["hours_exchanged", SUPPRESSED if _small(exchanges, t) else hours(help.given_minutes)],
            ["exchanges", count_cell(exchanges, t)],
            ["group_sessions", count_cell(help.total("sessions"), t)],
            ["members_at_period_end", count_cell(members["members_at_period_end"], t)],
            ["new_members", count_cell(members["new_members"], t)],
            ["members_left", count_cell(members["members_left"], t)],
            ["median_days_to_first_exchange", first_days],
            ["retention_6_months_share", retention],
            ["active_members", count_cell(active, t)],
            [
                "active_individuals",
                SUPPRESSED if 0 in split else count_cell(people["individuals"], t),
            ],
            [
                "active_organisations",
                SUPPRESSED if 1 in split else count_cell(people["organisations"], t),
            ],
            ["givers", count_cell(people["givers"], t)],
            ["receivers", count_cell(people["receivers"], t)],
        ],
    )


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
    cells = [SUPPRESSED if i in hidden else n for i, n in enumerate(parts)]
    share: Cell = (
        None
        if not active
        else SUPPRESSED
        if 0 in hidden or _small(active, t)
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
        (row["category__name"] or "Uncategorised", row["exchanges"], row["minutes"] or 0)
        for row in by_category[:TOP_CATEGORIES]
    ]
    rest = by_category[TOP_CATEGORIES:]
    if rest:
        top.append(
            (
                "Other",
                sum(row["exchanges"] for row in rest),
                sum(row["minutes"] or 0 for row in rest),
            )
        )
    return _breakdown(
        "categories",
        gettext("Categories (top %(top)s and other)") % {"top": TOP_CATEGORIES},
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
                SUPPRESSED
                if hours_cell == SUPPRESSED
                else equivalent_value(minutes, rate.pounds_per_hour),
            ]
            for estimate, rate in (("low", low), ("high", high))
            if rate is not None
        ],
        note=NO_CASH_VALUE,
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
        else SUPPRESSED
        if _small(len(days), t)
        else Decimal(str(statistics.median(days))).quantize(Decimal("0.1"), ROUND_HALF_UP)
    )
    share: Cell = (
        None
        if not new
        else SUPPRESSED
        if protect([retained, new - retained], t)
        else (Decimal(retained) / new).quantize(Decimal("0.0001"), ROUND_HALF_UP)
    )
    return [median, share]


def _count_and_hours(key: str, count: int, minutes: int, t: int) -> list[Cell]:
    if _small(count, t):
        return [key, SUPPRESSED, SUPPRESSED]
    return [key, count, hours(minutes)]


def _breakdown(name: str, title: str, key: str, rows: list[tuple[str, int, int]], t: int) -> Table:
    """A table of rows adding up to a total row, with secondary suppression."""
    hidden = protect([n for _, n, _ in rows], t)
    total_n = sum(n for _, n, _ in rows)
    total_minutes = sum(m for _, _, m in rows)
    cells: list[list[Cell]] = [
        [k, SUPPRESSED, SUPPRESSED] if i in hidden else [k, n, hours(m)]
        for i, (k, n, m) in enumerate(rows)
    ]
    cells.append(_count_and_hours("total", total_n, total_minutes, t))
    return Table(name, title, [key, "exchanges", "hours"], cells, bar="hours")


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
        hide = i in hidden_exchanges or _small(exchanges[i], t)
        rows.append(
            [
                month,
                SUPPRESSED if hide else hours(done.get(month, {}).get("minutes") or 0),
                SUPPRESSED if hide else exchanges[i],
                count_cell(active.get(month, 0), t),
                SUPPRESSED if i in hidden_new or _small(joined[i], t) else joined[i],
            ]
        )
    return Table(
        "trend",
        gettext("The 12 months to the end of the period"),
        ["month", "hours", "exchanges", "active_members", "new_members"],
        rows,
        note=gettext("Each month is shown by its first day; the last month ends with the period."),
        bar="hours",
    )


def definitions(threshold: int) -> list[tuple[str, str]]:
    return [
        (
            "hours_exchanged",
            gettext(
                "Hours of help in completed service and group exchanges dated in the period (the "
                "date the help happened), counted once, on the provider side: the hours credited "
                "to the members and organisations who helped, not the community pot."
            ),
        ),
        (
            "exchanges",
            gettext(
                "Completed service and group exchanges dated in the period; a group exchange "
                "counts once (group_sessions counts them apart)."
            ),
        ),
        (
            "members_at_period_end",
            gettext(
                "Approved members (members, brokers and administrators; not commissioners) "
                "approved before the end of the period and still approved today, or who have "
                "left since the period ended."
            ),
        ),
        ("new_members", gettext("Members approved during the period.")),
        (
            "members_left",
            gettext(
                "Members who left the time bank during the period (they left, or a broker marked "
                "them as left), each counted once."
            ),
        ),
        (
            "median_days_to_first_exchange",
            gettext(
                "For members approved in the period who have made an exchange so far: the median "
                "number of days from approval to their first completed service or group exchange "
                "(as giver or receiver; an exchange dated before approval counts as day 0)."
            ),
        ),
        (
            "retention_6_months_share",
            gettext(
                "The share (0 to 1) of members approved in the period who made at least one "
                "exchange within 6 months of approval (so far): it can rise until six months "
                "after the period ends."
            ),
        ),
        (
            "active_members",
            gettext(
                "Member and organisation accounts with at least one exchange as giver or receiver "
                "in the period; individuals and organisations apart."
            ),
        ),
        ("givers", gettext("Distinct accounts that gave help in the period.")),
        ("receivers", gettext("Distinct accounts that received help in the period.")),
        (
            "donations, grants, reversals",
            gettext(
                "Hours given to the community pot or another member; hours granted from the pot; "
                "exchanges reversed by a broker (counted by the date of the correction). Shown "
                "apart: none of them is help."
            ),
        ),
        (
            "reciprocity_share",
            gettext(
                "Of the accounts active in the 12 months to the end of the period, the share that "
                "both gave and received (0 to 1); only_gave and only_received count the others."
            ),
        ),
        (
            "exchange_mix",
            gettext(
                "pot_funded: the community pot paid (part of) the providers' hours. Otherwise by "
                "who gave and who received: an organisation among the givers makes it "
                "organisation_to_..., among the receivers ..._to_organisation."
            ),
        ),
        (
            "categories",
            gettext("The ten categories with the most hours in the period; the rest as Other."),
        ),
        ("coproduction", gettext("The co-production kind recorded with each exchange.")),
        (
            "equivalent_value",
            gettext(
                "Hours exchanged times a named, dated rate from the rate table, low and high, "
                "worked exactly and rounded half up to the penny once, at the total. "
            )
            + NO_CASH_VALUE,
        ),
        (
            "trend",
            gettext(
                "Hours, exchanges, active and new members in each of the 12 months to the end of "
                "the period, by the same definitions."
            ),
        ),
        (
            "suppressed",
            gettext(
                "A count from 1 to %(most)s is not shown, so no one can be recognised; "
                "nor are hours or values of such a row. Where rows add up to a total, the next "
                "smallest row is withheld too, so the suppressed one cannot be worked out."
            )
            % {"most": threshold - 1},
        ),
    ]


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
    "age_band": gettext_noop("Active members by age"),
    "gender": gettext_noop("Active members by gender"),
    "disability": gettext_noop("Active members with a disability or long-term condition"),
    "carer": gettext_noop("Active members who are unpaid carers"),
    "area": gettext_noop("Active members by area (postcode district)"),
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
            [key, SUPPRESSED if i in hidden else n]
            for i, (key, n) in enumerate(zip(keys, values, strict=True))
        ]
        rows.append(["total", SUPPRESSED if hide_total else count_cell(sum(values), t)])
        tables.append(
            Table(
                f"demographics_{dimension}",
                gettext(title),
                [dimension, "active_members"],
                rows,
                note=note,
                bar="active_members",
            )
        )
    return tables


DEMOGRAPHIC_DEFINITIONS = [
    (
        "demographics",
        gettext_noop(
            "Individual members active in the period (as for active_individuals: each member "
            "account with an exchange as giver or receiver), counted by the answers they chose to "
            "give on their profile: age band (ONS bands), gender, disability or long-term condition "
            "(lasting or expected to last 12 months or more), and unpaid carer. 'prefer_not_to_say' "
            "counts those who chose that answer; 'not_given' those who were not asked or did not "
            "answer (and anyone whose data was erased). Organisations are not counted. Answers "
            "are as they stand today, except for a period of one closed month (see closed months)."
        ),
    ),
    (
        "demographics_area",
        gettext_noop(
            "The area on the member's profile, normalised to an upper-case postcode district "
            "(outward code, e.g. GL50). Districts with fewer active members than the "
            "suppression threshold are added together as other_areas, so their names are not "
            "shown; text that is not a postcode district is counted as not_a_postcode_district."
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


def member_counts(ids: list[int], start_at: datetime, end_at: datetime) -> dict[str, int]:
    """Members at the end of ``start_at``..``end_at``, new in it and left in it, by the
    definitions of ``members_at_period_end``, ``new_members`` and ``members_left``; one query,
    for the report and for the closed-month figures alike."""
    return _members(ids).aggregate(
        # Still approved, or approved then and left since the period ended.
        members_at_period_end=Count(
            "pk",
            filter=(Q(status=Status.APPROVED) | Q(status=Status.LEFT, left_at__gte=end_at))
            & Q(decided_at__lt=end_at),
        ),
        new_members=Count(
            "pk",
            filter=Q(
                status__in=[Status.APPROVED, Status.SUSPENDED, Status.LEFT],
                decided_at__gte=start_at,
                decided_at__lt=end_at,
            ),
        ),
        members_left=Count(
            "pk", filter=Q(status=Status.LEFT, left_at__gte=start_at, left_at__lt=end_at)
        ),
    )


def month_figures(ids: list[int], start: date, end: date) -> dict[str, Any]:
    """The raw (unsuppressed) figures of ``start``..``end`` as the ledger stands now, by the
    report's definitions: ``SNAPSHOT_FIGURES`` and ``demographics``. Stored as the snapshot
    when a month is reported; compared with the snapshot for revisions. Five queries."""
    start_at, end_at = _aware(start), _aware(end + timedelta(days=1))
    done = help_exchanges(ids, start, end).aggregate(
        exchanges=Count("pk"), group_sessions=Count("pk", filter=Q(kind=Kind.GROUP))
    )
    given = Q(amount_minutes__gt=0)
    people = help_entries(ids, start, end).aggregate(
        hours_minutes=Sum("amount_minutes", filter=given),
        active_individuals=Count(
            "account_id", distinct=True, filter=Q(account__kind=AccountKind.MEMBER)
        ),
        active_organisations=Count(
            "account_id", distinct=True, filter=Q(account__kind=AccountKind.ORGANISATION)
        ),
        givers=Count("account_id", distinct=True, filter=given),
        receivers=Count("account_id", distinct=True, filter=Q(amount_minutes__lt=0)),
    )
    members = member_counts(ids, start_at, end_at)
    moves = movements(ids, start, end)
    figures = {k: v or 0 for k, v in {**done, **people, **members, **moves}.items()}
    figures["demographics"] = demographic_counts(ids, start, end)
    return figures


def _months(start: date, end: date) -> list[date]:
    months, month = [], first_of(start)
    while month <= end:
        months.append(month)
        month = add_months(month, 1)
    return months


def closed_snapshots(ids: list[int], start: date, end: date) -> dict[date, dict[str, Any]] | None:
    """If the period is whole months, each reported (with a snapshot) for every bank: each
    month's snapshot, added up over the banks. Otherwise None. One query."""
    if start != first_of(start) or add_months(first_of(end), 1) - timedelta(days=1) != end:
        return None
    months = _months(start, end)
    reports = list(
        MonthlyReport.objects.filter(
            time_bank_id__in=ids, month__gte=start, month__lte=end, state=ReportState.DONE
        )
        .exclude(commissioner={})
        .values_list("month", "commissioner")
    )
    if len(reports) != len(ids) * len(months):
        return None
    combined: dict[date, dict[str, Any]] = {
        m: {**dict.fromkeys(SNAPSHOT_FIGURES, 0), "demographics": {}} for m in months
    }
    for month, snapshot in reports:
        into = combined[month]
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


def _headline_cells(figures: dict[str, Any], t: int) -> dict[str, Cell]:
    """The summary's cells for raw ``figures``, suppressed as the summary suppresses them."""
    split = protect([figures["active_individuals"], figures["active_organisations"]], t)
    return {
        "hours_exchanged": SUPPRESSED
        if _small(figures["exchanges"], t)
        else hours(figures["hours_minutes"]),
        "exchanges": count_cell(figures["exchanges"], t),
        "group_sessions": count_cell(figures["group_sessions"], t),
        "members_at_period_end": count_cell(figures["members_at_period_end"], t),
        "new_members": count_cell(figures["new_members"], t),
        "members_left": count_cell(figures["members_left"], t),
        "active_members": count_cell(
            figures["active_individuals"] + figures["active_organisations"], t
        ),
        "active_individuals": SUPPRESSED
        if 0 in split
        else count_cell(figures["active_individuals"], t),
        "active_organisations": SUPPRESSED
        if 1 in split
        else count_cell(figures["active_organisations"], t),
        "givers": count_cell(figures["givers"], t),
        "receivers": count_cell(figures["receivers"], t),
    }


def _show_closed_months(report: Report, ids: list[int], t: int) -> None:
    """For a period of closed months: the headline figures from the snapshots, and the
    revisions since. A no-op for any other period."""
    snapshots = closed_snapshots(ids, report.start, report.end)
    if snapshots is None:
        return
    months = sorted(snapshots)
    period = {key: sum(snapshots[m][key] for m in months) for key in ADDITIVE}
    period.update({key: snapshots[months[-1]][key] for key in AT_END})
    one_month = len(months) == 1
    # Distinct counts do not add up over months: for one month they come from its snapshot;
    # for several, as the ledger stands today (like the breakdowns).
    summary = report.table("summary")
    if one_month:
        period.update({key: snapshots[months[0]][key] for key in DISTINCT})
        cells = _headline_cells(period, t)
    else:
        cells = {
            key: cell
            for key, cell in _headline_cells({**period, **dict.fromkeys(DISTINCT, 0)}, t).items()
            if key not in (*DISTINCT, "active_members")
        }
    for key, cell in cells.items():
        _set(summary, key, cell)
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
            SUPPRESSED
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
        lines = [(key, was_cells[key], now_cells[key]) for key in was_cells]
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
                is_ = SUPPRESSED
            difference: Cell = SUPPRESSED
            if isinstance(was, int | Decimal) and isinstance(is_, int | Decimal):
                difference = is_ - was
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
            "reported, so a board paper's figures never shift. Active members, givers and "
            "receivers (and the demographic tables) come from the snapshot when the period is one "
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
            "month reversed later, a member who left or was approved with an earlier date. "
            "difference = today - as_reported. Suppressed when either value is. When fewer "
            "changes than the suppression threshold lie behind a figure (for hours, fewer "
            "exchanges or movements), today and the difference are both suppressed and only "
            "the fact of a revision is shown, so a small change cannot be read or worked out."
        ),
    ),
]
