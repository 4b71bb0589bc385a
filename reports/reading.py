"""The commissioner report in words: everything a person reads, on the page, in the printed
pack and in the workbook, built from the one ``Report`` (``reports.commissioning``) so the words
and the figures can never disagree.

``read(report)`` returns a ``Reading``:

1. the headline sentences (who took part, the hours, giving and receiving, the comparisons,
   members, the value), quotable as they stand;
2. the key figures, each with its plain label, its definition's anchor and its comparisons
   with the period before and the same period a year before, in numbers and in words;
3. the sections (``SECTIONS``, in order): for each, what the figures mean in words, its
   charts (``reports.charts``: no total row, categories sorted, a withheld value shown as such
   and explained, each with a text alternative and a data table) and its tables;
4. the definitions with plain labels, and every table with plain headers, numbers written for
   people (thousands separated, hours without trailing zeros, shares as percentages, dates in
   words) and each withheld or empty cell saying why.

Machine names (snake_case keys, ISO dates, raw shares) appear only in the CSV and the JSON.
A new section of the report is a table in ``reports.commissioning`` and a function here,
listed in ``SECTIONS``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import TypeGuard

from django.utils import dateformat, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from exchanges.models import CoProduction
from members.models import AgeBand, Gender, YesNo

from . import charts
from .charts import Chart
from .commissioning import (
    FEW_BEHIND,
    MIX,
    NO_CASH_VALUE,
    NO_DATA,
    NO_NEW_MEMBERS,
    NO_ONE_ACTIVE,
    NO_SOURCE,
    NONE_EXCHANGED_YET,
    NOT_DATED,
    NOT_GIVEN,
    OTHER_AREAS,
    OTHER_CATEGORIES,
    REVEALS,
    SMALL,
    SMALL_CHANGE,
    SUPPRESSED,
    UNCATEGORISED,
    UNRECOGNISED_AREA,
    Cell,
    Report,
    Table,
    whole_months,
)

# Plain labels for the machine names of the tables: measures, columns and keys.
LABELS = {
    # Measures
    "hours_exchanged": gettext_lazy("Hours of help exchanged"),
    "exchanges": gettext_lazy("Exchanges"),
    "linked_bank": gettext_lazy("Linked time bank"),
    "exchanges_given": gettext_lazy("Exchanges: help given"),
    "hours_given": gettext_lazy("Hours out (given)"),
    "exchanges_received": gettext_lazy("Exchanges: help received"),
    "hours_received": gettext_lazy("Hours in (received)"),
    "balance_of_trade": gettext_lazy("Balance of trade (hours)"),
    "group_sessions": gettext_lazy("Group exchanges"),
    "members_at_period_end": gettext_lazy("Members at the end of the period"),
    "new_members": gettext_lazy("New members"),
    "members_left": gettext_lazy("Members who left"),
    "median_days_to_first_exchange": gettext_lazy("Days from joining to a first exchange"),
    "retention_6_months_share": gettext_lazy("New members who exchanged within 6 months"),
    "active_members": gettext_lazy("Members who took part"),
    "active_individuals": gettext_lazy("People who took part"),
    "active_organisations": gettext_lazy("Organisations that took part"),
    "givers": gettext_lazy("Members who gave help"),
    "receivers": gettext_lazy("Members who received help"),
    "gave_and_received": gettext_lazy("Members who both gave and received"),
    "only_gave": gettext_lazy("Members who only gave"),
    "only_received": gettext_lazy("Members who only received"),
    "active_members_12_months": gettext_lazy("Members who took part in the 12 months"),
    "reciprocity_share": gettext_lazy("Share who both gave and received"),
    "window_start": gettext_lazy("First day of the 12 months"),
    "window_end": gettext_lazy("Last day of the 12 months"),
    "period_start": gettext_lazy("First day"),
    "period_end": gettext_lazy("Last day"),
    "donations": gettext_lazy("Donations of hours"),
    "grants": gettext_lazy("Grants from the community pot"),
    "reversals": gettext_lazy("Exchanges reversed"),
    "donations_hours": gettext_lazy("Hours donated"),
    "grants_hours": gettext_lazy("Hours granted from the pot"),
    "reversals_hours": gettext_lazy("Hours reversed"),
    # Columns
    "measure": gettext_lazy("Figure"),
    "value": gettext_lazy("Value"),
    "line": gettext_lazy("Kind"),
    "transactions": gettext_lazy("Number"),
    "hours": gettext_lazy("Hours"),
    "mix": gettext_lazy("Who helped whom"),
    "category": gettext_lazy("Category"),
    "coproduction": gettext_lazy("Co-production"),
    "estimate": gettext_lazy("Estimate"),
    "rate_name": gettext_lazy("Rate"),
    "rate_per_hour": gettext_lazy("£ an hour"),
    "rate_from": gettext_lazy("In force from"),
    "rate_source": gettext_lazy("Source"),
    "equivalent_value": gettext_lazy("Equivalent value (£)"),
    "month": gettext_lazy("Month"),
    "age_band": gettext_lazy("Age"),
    "gender": gettext_lazy("Gender"),
    "disability": gettext_lazy("Disability or long-term condition"),
    "carer": gettext_lazy("Unpaid carer"),
    "area": gettext_lazy("Area"),
    "as_reported": gettext_lazy("As reported"),
    "today": gettext_lazy("Today"),
    "difference": gettext_lazy("Difference"),
    "this_period": gettext_lazy("This period"),
    "previous_period": gettext_lazy("The period before"),
    "same_period_last_year": gettext_lazy("A year before"),
    "combined": gettext_lazy("Combined"),
    # Keys
    "total": gettext_lazy("Total"),
    "low": gettext_lazy("Low"),
    "high": gettext_lazy("High"),
    "person_to_person": gettext_lazy("Person to person"),
    "person_to_organisation": gettext_lazy("Person to organisation"),
    "organisation_to_person": gettext_lazy("Organisation to person"),
    "organisation_to_organisation": gettext_lazy("Organisation to organisation"),
    "pot_funded": gettext_lazy("Paid from the community pot"),
    NOT_GIVEN: gettext_lazy("Not given"),
    OTHER_AREAS: gettext_lazy("Other areas (each under the threshold)"),
    UNRECOGNISED_AREA: gettext_lazy("Not a postcode district"),
    UNCATEGORISED: gettext_lazy("No category given"),
    OTHER_CATEGORIES: gettext_lazy("All other categories"),
    # Definitions that are not a measure or a column
    "other_movements": gettext_lazy("Donations, pot grants and reversals"),
    "reciprocity": gettext_lazy("Giving and receiving"),
    "exchange_mix": gettext_lazy("Who helped whom"),
    "categories": gettext_lazy("Categories of help"),
    "trend": gettext_lazy("The 12 months"),
    "comparisons": gettext_lazy("Comparisons"),
    "by_bank": gettext_lazy("Each time bank"),
    "suppressed": gettext_lazy("Numbers not shown"),
    "demographics": gettext_lazy("Who took part"),
    "demographics_area": gettext_lazy("Areas"),
    "closed_months": gettext_lazy("Closed months"),
    "revisions": gettext_lazy("Revisions"),
}
# Answers to the monitoring questions and the co-production kinds: their own labels.
CHOICES = {
    "age_band": dict(AgeBand.choices),
    "gender": dict(Gender.choices),
    "disability": dict(YesNo.choices),
    "carer": dict(YesNo.choices),
    "coproduction": dict(CoProduction.choices),
}
MONEY = ("rate_per_hour", "equivalent_value")


def label(key: object, column: str = "") -> str:
    """The plain label of a machine name (an answer's label for the ``column`` it answers);
    anything else (a category's or an area's name) as it is."""
    text = str(key)
    if column in CHOICES and text in CHOICES[column]:
        return str(CHOICES[column][text])
    return str(LABELS.get(text, text))


# --- Numbers and dates in words -----------------------------------------------------------------


def number(value: int | Decimal) -> str:
    """1,234; hours and days without trailing zeros: 34.5, 2, 25.25."""
    if isinstance(value, int):
        return f"{value:,}"
    text = f"{value:,.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def money(value: Decimal, *, pence: bool = True) -> str:
    if pence:
        return f"£{value:,.2f}"
    return f"£{value.quantize(Decimal(1), ROUND_HALF_UP):,}"


def percent(share: Decimal) -> str:
    return f"{(share * 100).quantize(Decimal(1), ROUND_HALF_UP)}%"


def day(value: date) -> str:
    return dateformat.format(value, "j F Y")


def month(value: date) -> str:
    return dateformat.format(value, "F Y")


def period_words(start: date, end: date) -> str:
    """ "July 2026", "July to September 2026", "November 2025 to January 2026",
    "1 to 15 June 2026", "1 April to 15 June 2026", "20 December 2025 to 15 January 2026"."""
    if whole_months(start, end):
        if (start.year, start.month) == (end.year, end.month):
            return month(start)
        if start.year == end.year:
            return _("%(start)s to %(end)s") % {
                "start": dateformat.format(start, "F"),
                "end": month(end),
            }
        return _("%(start)s to %(end)s") % {"start": month(start), "end": month(end)}
    if start == end:
        return day(start)
    if (start.year, start.month) == (end.year, end.month):
        first = dateformat.format(start, "j")
    elif start.year == end.year:
        first = dateformat.format(start, "j F")
    else:
        first = day(start)
    return _("%(start)s to %(end)s") % {"start": first, "end": day(end)}


def period_opening(start: date, end: date) -> str:
    """The start of a sentence about the period: "In July 2026", "From July to September
    2026"."""
    single = start == end or (
        whole_months(start, end) and (start.year, start.month) == (end.year, end.month)
    )
    words = period_words(start, end)
    return (
        _("In %(period)s") % {"period": words}
        if single
        else _("From %(period)s") % {"period": words}
    )


def and_list(words: Sequence[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    words = list(words)
    if len(words) <= 1:
        return "".join(words)
    return _("%(rest)s and %(last)s") % {"rest": ", ".join(words[:-1]), "last": words[-1]}


# --- Cells --------------------------------------------------------------------------------------


HOURS = ("hours_exchanged", "donations_hours", "grants_hours", "reversals_hours")


def reason_words(
    why: str | None, threshold: int, column: str = "", key: object = ""
) -> tuple[str, str]:
    """A withheld or empty cell's reason: (the short words shown in the cell, the full
    explanation). Hours and values withheld with their count of exchanges say so (by their
    ``column``, or the row's ``key``)."""
    fewer = _("fewer than %(n)s") % {"n": threshold}
    if why == FEW_BEHIND and (column in ("hours", "equivalent_value") or key in HOURS):
        behind = _("not shown (fewer than %(n)s exchanges)")
    else:
        behind = _("not shown (fewer than %(n)s behind it)")
    words = {
        SMALL: (
            fewer,
            _("A number from 1 to %(most)s is not shown, so that no one can be recognised."),
        ),
        REVEALS: (
            _("not shown (protects a small number)"),
            _(
                "Not shown so that a smaller number cannot be worked out from the total "
                "or from the other figures."
            ),
        ),
        FEW_BEHIND: (
            behind % {"n": threshold},
            _(
                "Not shown because it is worked out from fewer than %(n)s exchanges or "
                "people, or from a number that is not shown."
            ),
        ),
        SMALL_CHANGE: (
            _("not shown (a small change)"),
            _(
                "Fewer than %(n)s changes lie behind this revision, so only the fact that "
                "it changed is shown."
            ),
        ),
        NO_NEW_MEMBERS: (_("no new members"), _("No new members joined in this period.")),
        NONE_EXCHANGED_YET: (
            _("none yet"),
            _("None of the members who joined in this period has made an exchange yet."),
        ),
        NO_ONE_ACTIVE: (
            _("no one took part"),
            _("No one gave or received help in these 12 months."),
        ),
        NOT_DATED: (_("not dated"), _("A custom rate, with no date.")),
        NO_SOURCE: (_("none given"), _("No source was recorded for this rate.")),
        NO_DATA: (
            _("not enough data"),
            _(
                "Not enough data to compare: the time bank had no members or exchanges in that "
                "period (or, for a period longer than a year, a year before overlaps it)."
            ),
        ),
    }
    short, long = words.get(why or "", (_("no value"), _("There is no value to show.")))
    return short, long % {"n": threshold, "most": threshold - 1}


@dataclass
class Shown:
    """A cell as a person reads it: ``text``; ``number`` if it is one (aligned right);
    ``why``: the full reason of a withheld or empty cell."""

    text: str
    number: bool = False
    why: str = ""

    def __str__(self) -> str:
        return self.text

    @property
    def brief(self) -> str:
        """The words without their explanation in brackets, where room is short (a chart)."""
        return self.text.split(" (")[0] if self.why else self.text


def show(table: Table, row: Sequence[Cell], column: str, threshold: int) -> Shown:
    """One cell of ``table`` in words (see the module docstring, 4)."""
    cell = row[table.columns.index(column)]
    if cell is None or cell == "" or cell == SUPPRESSED:
        short, long = reason_words(table.why(row, column), threshold, column, row[0])
        return Shown(short, why=long)
    if isinstance(cell, int):
        return Shown(number(cell), number=True)
    if isinstance(cell, Decimal):
        if column in MONEY:
            return Shown(money(cell), number=True)
        if cell.as_tuple().exponent == -4:
            return Shown(percent(cell), number=True)
        return Shown(number(cell), number=True)
    if isinstance(cell, date):
        # Aligned with the numbers of its column (the comparisons' first and last days).
        return Shown(month(cell) if column == "month" else day(cell), number=True)
    if column == "measure" or column == table.columns[0]:
        return Shown(label(cell, column))
    return Shown(str(cell))


@dataclass
class ShownTable:
    """A table in words: ``headers``, ``rows`` (the first cell of each is the row's header)
    and ``notes``: the full reason of each kind of withheld or empty cell in it, once."""

    name: str
    title: str
    note: str
    headers: list[str]
    rows: list[list[Shown]]
    notes: list[str] = field(default_factory=list)

    @property
    def numeric(self) -> list[bool]:
        """Whether each column holds numbers (aligned right), judged by its shown cells."""
        return [
            i > 0 and all(row[i].number for row in self.rows if not row[i].why)
            for i in range(len(self.headers))
        ]

    @property
    def header_cells(self) -> list[tuple[str, bool]]:
        return list(zip(self.headers, self.numeric, strict=True))

    @property
    def body(self) -> list[list[tuple[Shown, bool]]]:
        """The rows, each cell with whether its column holds numbers (a withheld cell in such
        a column is aligned with them)."""
        numeric = self.numeric
        return [list(zip(row, numeric, strict=True)) for row in self.rows]


def show_table(
    table: Table, threshold: int, *, rows: Sequence[Sequence[Cell]] | None = None
) -> ShownTable:
    """``table`` in words (``rows``: some of its rows, in another order, for a chart)."""
    shown = [
        [show(table, row, column, threshold) for column in table.columns]
        for row in (table.rows if rows is None else rows)
    ]
    notes = list(dict.fromkeys(cell.why for row in shown for cell in row if cell.why))
    headers = [label(column) for column in table.columns]
    if table.name.startswith("demographics_"):
        # Only people are counted by their answers, never organisations.
        headers[1] = _("People who took part")
    return ShownTable(table.name, table.title, table.note, headers, shown, notes)


# --- Comparisons in words ----------------------------------------------------------------------


def _is_number(cell: Cell) -> TypeGuard[int | Decimal]:
    return isinstance(cell, int | Decimal) and not isinstance(cell, bool)


def change_words(now: Cell, then: Cell, why_then: str | None, *, unit: str = "") -> str:
    """The change from ``then`` to ``now`` in words: "up 12 hours (+11%)", "down 3 (−4%)",
    "no change", "up from none", "not enough data", "cannot be compared (a number is not
    shown)"."""
    if then is None or then == "":
        return _("not enough data") if why_then == NO_DATA else _("no value to compare")
    if not (_is_number(now) and _is_number(then)):
        return _("cannot be compared (a number is not shown)")
    assert isinstance(now, int | Decimal) and isinstance(then, int | Decimal)
    difference = now - then
    if difference == 0:
        return _("no change")
    size = number(-difference if difference < 0 else difference)
    amount = f"{size} {unit}".strip() if unit else size
    if then == 0:
        return _("up from none")
    change = (Decimal(difference) * 100 / Decimal(then)).quantize(Decimal(1), ROUND_HALF_UP)
    sign = "+" if change > 0 else "−"
    if difference > 0:
        return _("up %(amount)s (%(sign)s%(change)s%%)") % {
            "amount": amount,
            "sign": sign,
            "change": abs(change),
        }
    return _("down %(amount)s (%(sign)s%(change)s%%)") % {
        "amount": amount,
        "sign": sign,
        "change": abs(change),
    }


@dataclass
class Figure:
    """A key figure: its plain ``label`` (linked to its definition, ``term``), its value and
    its values in the period before and a year before, each with the change in words."""

    key: str
    term: str
    label: str
    value: Shown
    previous: Shown
    previous_change: str
    year: Shown
    year_change: str


# --- The reading --------------------------------------------------------------------------------


@dataclass
class Section:
    """One section: its heading, what its figures mean (``paragraphs``), its charts and its
    tables (in words)."""

    key: str
    title: str
    paragraphs: list[str]
    charts: list[Chart] = field(default_factory=list)
    tables: list[ShownTable] = field(default_factory=list)


@dataclass
class Definition:
    term: str
    label: str
    text: str


@dataclass
class Reading:
    banks: str
    period: str
    previous_period: str
    year_before: str
    produced: str
    threshold: int
    headline: list[str]
    figures: list[Figure]
    sections: list[Section]
    key_charts: list[Chart]
    definitions: list[Definition]
    tables: list[ShownTable]
    no_cash_value: str


class _Words:
    """The report's cells at hand, in words, for the sentences."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.t = report.threshold

    def cell(self, table: str, key: str, column: str | None = None) -> Cell:
        return self.report.table(table).value(key, column)

    def shown(self, table: str, key: str, column: str | None = None) -> Shown:
        found = self.report.table(table)
        column = column or found.columns[-1]
        row = next(r for r in found.rows if r[0] == key)
        return show(found, row, column, self.t)

    def count(self, table: str, key: str, one: str, many: str, column: str | None = None) -> str:
        """ "1 exchange", "79 exchanges", "fewer than 5 exchanges", "not shown exchanges"
        never: a withheld count reads "fewer than 5" or "an unshown number of"."""
        cell = self.cell(table, key, column)
        if isinstance(cell, int):
            return ngettext(one, many, cell) % {"n": number(cell)}
        shown = self.shown(table, key, column)
        if getattr(cell, "why", None) == SMALL:
            return many % {"n": shown.text}
        return many % {"n": _("an unshown number of")}


def _hours_phrase(w: _Words, table: str, key: str, column: str | None = None) -> str:
    cell = w.cell(table, key, column)
    if isinstance(cell, Decimal):
        return ngettext("%(n)s hour", "%(n)s hours", 1 if cell == 1 else 2) % {"n": number(cell)}
    return ""


def headline(report: Report) -> list[str]:
    """The headline sentences (the module docstring, 1), from the report's own tables."""
    w = _Words(report)
    opening = period_opening(report.start, report.end)
    banks = and_list([bank.name for bank in report.banks])
    exchanges = w.cell("summary", "exchanges")
    sentences = []
    if exchanges == 0:
        sentences.append(
            _("%(opening)s, no help was exchanged at %(banks)s.")
            % {"opening": opening, "banks": banks}
        )
    else:
        members = w.count("summary", "active_members", "%(n)s member", "%(n)s members")
        count = w.count("summary", "exchanges", "%(n)s exchange", "%(n)s exchanges")
        hours = _hours_phrase(w, "summary", "hours_exchanged")
        if hours:
            sentences.append(
                _("%(opening)s, %(members)s of %(banks)s exchanged %(hours)s of help in %(count)s.")
                % {
                    "opening": opening,
                    "members": members,
                    "banks": banks,
                    "hours": hours,
                    "count": count,
                }
            )
        else:
            sentences.append(
                _(
                    "%(opening)s, %(members)s of %(banks)s exchanged help in %(count)s (the "
                    "hours are not shown, so that no one can be recognised)."
                )
                % {"opening": opening, "members": members, "banks": banks, "count": count}
            )
        givers = w.shown("comparisons", "givers", "this_period").text
        receivers = w.shown("comparisons", "receivers", "this_period").text
        both = w.shown("comparisons", "gave_and_received", "this_period").text
        sentences.append(
            _("%(givers)s gave help and %(receivers)s received it; %(both)s did both.")
            % {"givers": _capital(givers), "receivers": receivers, "both": both}
        )
        comparison = _comparison_sentence(report, w)
        if comparison:
            sentences.append(comparison)
    sentences.append(_members_sentence(report, w))
    value = _value_sentence(report, w)
    if value:
        sentences.append(value)
    return sentences


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _lower(text: str) -> str:
    return text[:1].lower() + text[1:]


def _comparison_sentence(report: Report, w: _Words) -> str:
    """ "That is up 12 hours (+11%) on April to June 2026, and up 30 hours (+32%) on July to
    September 2025." with "not enough data" where a period had none."""
    table = report.table("comparisons")
    now = table.value("hours_exchanged", "this_period")
    if not _is_number(now):
        return ""
    compared, missing, hidden, none = [], [], [], []
    for column in ("previous_period", "same_period_last_year"):
        start, end = table.value("period_start", column), table.value("period_end", column)
        assert isinstance(start, date) and isinstance(end, date)
        words = period_words(start, end)
        then = table.value("hours_exchanged", column)
        if then is None:
            missing.append(words)
        elif then == 0:
            none.append(words)
        elif _is_number(then):
            compared.append(_compared(now, then, words))
        else:
            hidden.append(words)
    parts = []
    if compared:
        parts.append(_("That is %(changes)s.") % {"changes": and_list(compared)})
    if none:
        parts.append(_("No help was exchanged in %(periods)s.") % {"periods": and_list(none)})
    if missing:
        parts.append(
            (
                _(
                    "There are no figures to compare with for %(periods)s: the time banks had "
                    "no members or exchanges then."
                )
                if len(report.banks) > 1
                else _(
                    "There are no figures to compare with for %(periods)s: the time bank had "
                    "no members or exchanges then."
                )
            )
            % {"periods": and_list(missing)}
        )
    if hidden:
        parts.append(
            _(
                "The hours of %(periods)s are not shown (too few exchanges then), so they "
                "cannot be compared."
            )
            % {"periods": and_list(hidden)}
        )
    return " ".join(parts)


def _compared(now: Cell, then: Cell, period: str) -> str:
    """The hours of the period against those of ``period`` (both shown, the earlier not 0), to
    follow "That is": "12 hours more than in April to June 2026 (+11%)", "the same as in
    ..."."""
    assert isinstance(now, Decimal) and isinstance(then, Decimal)
    if now == then:
        return _("the same as in %(period)s") % {"period": period}
    percentage = ((now - then) * 100 / then).quantize(Decimal(1), ROUND_HALF_UP)
    words = {
        "amount": number(abs(now - then)),
        "period": period,
        "change": f"+{percentage}" if percentage > 0 else f"−{abs(percentage)}",
    }
    if now > then:
        return _("%(amount)s hours more than in %(period)s (%(change)s%%)") % words
    return _("%(amount)s hours fewer than in %(period)s (%(change)s%%)") % words


def _members_sentence(report: Report, w: _Words) -> str:
    members = w.count("summary", "members_at_period_end", "%(n)s member", "%(n)s members")
    new = _cell_words(report, "summary", "new_members", zero=_("no one"))
    left = _cell_words(report, "summary", "members_left", zero=_("no one"))
    bank = _("the time banks") if len(report.banks) > 1 else _("the time bank")
    return _(
        "At the end of the period %(bank)s had %(members)s; %(new)s joined and %(left)s left "
        "during it."
    ) % {"bank": bank, "members": members, "new": new, "left": left}


def _value_sentence(report: Report, w: _Words) -> str:
    table = report.table("equivalent_value")
    values = [row[table.columns.index("equivalent_value")] for row in table.rows]
    rates = [row[table.columns.index("rate_per_hour")] for row in table.rows]
    if not table.rows or not all(isinstance(v, Decimal) for v in values):
        return ""
    low, high = values[0], values[-1]
    low_rate, high_rate = rates[0], rates[-1]
    assert isinstance(low, Decimal) and isinstance(high, Decimal)
    assert isinstance(low_rate, Decimal) and isinstance(high_rate, Decimal)
    if low == high:
        return _(
            "Valued at %(rate)s an hour, the hours are worth %(value)s (an equivalent value "
            "only: time credits have no cash value)."
        ) % {"rate": money(low_rate), "value": money(low, pence=False)}
    return _(
        "Valued at %(low_rate)s to %(high_rate)s an hour, the hours are worth %(low)s to "
        "%(high)s (an equivalent value only: time credits have no cash value)."
    ) % {
        "low_rate": money(low_rate),
        "high_rate": money(high_rate),
        "low": money(low, pence=False),
        "high": money(high, pence=False),
    }


def key_figures(report: Report) -> list[Figure]:
    """The headline measures with their comparisons (the module docstring, 2)."""
    table = report.table("comparisons")
    t = report.threshold
    figures = []
    for row in table.rows[2:]:
        key = str(row[0])
        now, previous, year = (
            table.value(key, c) for c in ("this_period", "previous_period", "same_period_last_year")
        )
        unit = _("hours") if key == "hours_exchanged" else ""
        figures.append(
            Figure(
                key=key,
                term=key,
                label=label(key),
                value=show(table, row, "this_period", t),
                previous=show(table, row, "previous_period", t),
                previous_change=change_words(
                    now, previous, table.why(row, "previous_period"), unit=unit
                ),
                year=show(table, row, "same_period_last_year", t),
                year_change=change_words(
                    now, year, table.why(row, "same_period_last_year"), unit=unit
                ),
            )
        )
    return figures


# --- Sections ----------------------------------------------------------------------------------


def _value_of(cell: Cell) -> charts.Value:
    """A cell as a chart's value: a number, or None when withheld."""
    return cell if isinstance(cell, int | Decimal) else None


def breakdown_chart(
    report: Report,
    name: str,
    column: str,
    title: str,
    *,
    sort: bool = True,
    last: Sequence[str] = (),
    key: str = "",
    short: bool = False,
) -> Chart:
    """A bar chart of ``column`` of the breakdown ``name``: no total row; sorted by value,
    largest first (``sort``), with withheld rows and the keys in ``last`` (not given, the
    rest added up) after the others; its data table holds the same rows."""
    table = report.table(name)
    rows = [row for row in table.rows if row[0] != "total"]
    index = table.columns.index(column)
    if sort:
        rows.sort(
            key=lambda row: (
                row[0] in last,
                row[index] == SUPPRESSED,
                -(_value_of(row[index]) or 0),
            )
        )
    items = [
        (
            label(row[0], table.columns[0]).split(" (")[0]
            if short
            else label(row[0], table.columns[0]),
            _value_of(row[index]),
            show(table, row, column, report.threshold).brief,
        )
        for row in rows
    ]
    chart = charts.bar_chart(key or name, title, items)
    data = show_table(table, report.threshold, rows=rows)
    chart.headers, chart.rows = data.headers, [[c.text for c in r] for r in data.rows]
    chart.note = withheld_note(
        [
            (name, show(table, row, column, report.threshold))
            for (name, _v, _w), row in zip(items, rows, strict=True)
        ],
        report.threshold,
    )
    chart.description = _describe_bars(items, title, column_words(column))
    return chart


def withheld_note(cells: Sequence[tuple[str, Shown]], threshold: int) -> str:
    """Under a chart, why its bars without a value have none: "fewer than 5" explained once,
    and the bars "not shown" named with their reason ("Not shown, to protect a small number:
    Health."), or nothing."""
    # "fewer than 5" says itself; "not shown (protects a small number)" is shortened on the bar.
    shortened = [name for name, shown in cells if shown.why and shown.brief != shown.text]
    fewer = [name for name, shown in cells if shown.why and shown.brief == shown.text]
    notes = []
    if fewer:
        notes.append(
            _("Fewer than %(n)s: not shown, so that no one can be recognised.") % {"n": threshold}
        )
    by_reason: dict[str, list[str]] = {}
    for name, shown in cells:
        if name in shortened:
            reason = shown.text.split(" (", 1)[1].rstrip(")")
            by_reason.setdefault(reason, []).append(name)
    for reason, names in by_reason.items():
        notes.append(
            _("Not shown (%(reason)s): %(bars)s.") % {"reason": reason, "bars": and_list(names)}
        )
    return " ".join(notes)


def column_words(column: str) -> str:
    return {
        "hours": _("hours"),
        "exchanges": _("exchanges"),
        "active_members": _("members"),
        "value": _("members"),
    }.get(column, "")


def _describe_bars(items: list[tuple[str, charts.Value, str]], title: str, unit: str) -> str:
    """The text alternative of a bar chart: every bar in words, largest first as drawn."""
    parts = [f"{name}: {words}" for name, _value, words in items]
    return _("In %(unit)s: %(bars)s.") % {"unit": unit, "bars": "; ".join(parts)}


def trend_charts(report: Report) -> list[Chart]:
    """The 12 months: hours of help and members who took part, a column a month."""
    table = report.table("trend")
    t = report.threshold
    made = []
    for column, title, unit in (
        ("hours", _("Hours of help each month"), _("hours")),
        ("active_members", _("Members who took part each month"), _("members")),
    ):
        points = []
        for i, row in enumerate(table.rows):
            first = row[0]
            assert isinstance(first, date)
            year = str(first.year) if i == 0 or first.month == 1 else ""
            index = table.columns.index(column)
            points.append(
                (
                    dateformat.format(first, "M"),
                    year,
                    _value_of(row[index]),
                    show(table, row, column, t).text,
                )
            )
        chart = charts.column_chart(f"trend-{column}", title, points)
        data = show_table(table, t, rows=table.rows)
        keep = [0, table.columns.index(column)]
        chart.headers = [data.headers[i] for i in keep]
        chart.rows = [[r[i].text for i in keep] for r in data.rows]
        withheld = [r[0].text for r in data.rows if r[keep[1]].why]
        if withheld:
            chart.note = _("* Not shown: %(why)s (%(months)s).") % {
                "why": next(r[keep[1]].why for r in data.rows if r[keep[1]].why).rstrip("."),
                "months": and_list(withheld),
            }
        chart.description = _describe_months(table, column, title, unit, t)
        made.append(chart)
    return made


def _describe_months(table: Table, column: str, title: str, unit: str, t: int) -> str:
    """The text alternative of a 12-month chart: its span, the busiest month, the months with
    none, and the months not shown."""
    index = table.columns.index(column)
    months = [(row[0], row[index]) for row in table.rows]
    first, last = months[0][0], months[-1][0]
    assert isinstance(first, date) and isinstance(last, date)
    numbers = [(m, v) for m, v in months if _is_number(v)]
    sentences = [_("%(first)s to %(last)s.") % {"first": month(first), "last": month(last)}]
    if numbers and max(v for _m, v in numbers) > 0:
        top_month, top = max(numbers, key=lambda mv: (mv[1], mv[0]))
        assert isinstance(top_month, date) and isinstance(top, int | Decimal)
        sentences.append(
            _("The highest was %(month)s, with %(value)s %(unit)s.")
            % {"month": month(top_month), "value": number(top), "unit": unit}
        )
        latest = months[-1][1]
        if _is_number(latest) and top_month != last:
            assert isinstance(latest, int | Decimal)
            sentences.append(
                _("The last month, %(month)s, had %(value)s.")
                % {"month": month(last), "value": number(latest)}
            )
    none = [m for m, v in months if v == 0]
    if none:
        sentences.append(
            ngettext("%(n)s month had none.", "%(n)s months had none.", len(none))
            % {"n": len(none)}
        )
    hidden = [m for m, v in months if v == SUPPRESSED]
    if hidden:
        sentences.append(
            ngettext(
                "%(n)s month is not shown (fewer than %(t)s, or it would reveal such a number).",
                "%(n)s months are not shown (fewer than %(t)s, or they would reveal such a number).",
                len(hidden),
            )
            % {"n": len(hidden), "t": t}
        )
    return " ".join(sentences)


def _cell_words(
    report: Report, name: str, key: str, column: str | None = None, *, zero: str = ""
) -> str:
    """A cell in words for a sentence: its number, why it is not shown, or ``zero`` for 0
    ("none", "no one") when given."""
    table = report.table(name)
    column = column or table.columns[-1]
    row = next(r for r in table.rows if r[0] == key)
    if zero and row[table.columns.index(column)] == 0:
        return zero
    return show(table, row, column, report.threshold).text


def _kinds_sentence(
    report: Report,
    name: str,
    column: str,
    kinds: Sequence[tuple[str, str]],
    opening: str,
    *,
    noun: str = "",
) -> str:
    """``opening`` then each kind of ``name`` with its count in ``column`` in words ("20
    between two people, fewer than 5 between organisations"); those with none in a sentence of
    their own ("None was ..."), and those not shown in another ("Not shown, to protect a small
    number: ..."). When one kind has them all: "All 33 exchanges were ...". ``kinds`` are
    (key, words with %(n)s)."""
    table = report.table(name)
    t = report.threshold
    shown, none, hidden = [], [], []
    for key, words in kinds:
        row = next(r for r in table.rows if r[0] == key)
        cell = row[table.columns.index(column)]
        kind = " ".join((words % {"n": ""}).split())
        if cell == 0:
            none.append(kind)
        elif isinstance(cell, int) or table.why(row, column) == SMALL:
            shown.append(words % {"n": show(table, row, column, t).text})
        else:
            hidden.append(kind)
    total = table.value("total", column) if any(r[0] == "total" for r in table.rows) else None
    only = [key for key, _words in kinds if table.value(key, column) != 0]
    sentences = []
    if len(only) == 1 and not hidden and table.value(only[0], column) == total:
        kind = next(" ".join((w % {"n": ""}).split()) for k, w in kinds if k == only[0])
        sentences.append(
            _("All %(n)s %(noun)s were %(kind)s.")
            % {"n": _cell_words(report, name, "total", column), "noun": noun, "kind": kind}
        )
    elif shown:
        sentences.append(
            _("%(opening)s %(kinds)s.") % {"opening": opening, "kinds": and_list(shown)}
        )
    if hidden:
        sentences.append(
            _("Not shown, to protect a small number: %(kinds)s.") % {"kinds": and_list(hidden)}
        )
    if none:
        sentences.append(_("None was %(kinds)s.") % {"kinds": _or_list(none)})
    return " ".join(sentences)


def _or_list(words: Sequence[str]) -> str:
    words = list(words)
    if len(words) <= 1:
        return "".join(words)
    return _("%(rest)s or %(last)s") % {"rest": ", ".join(words[:-1]), "last": words[-1]}


def help_section(report: Report) -> Section:
    """The 12 months to the end of the period."""
    paragraphs = [
        _(
            "The charts show the 12 months to the end of the period, so a season or a "
            "change can be seen; each month counts by the same definitions as the period."
        )
    ]
    charts_made = trend_charts(report)
    return Section(
        "help",
        _("Help exchanged, month by month"),
        paragraphs,
        charts=charts_made,
    )


def reciprocity_section(report: Report) -> Section:
    """Who gave, who received, and why it matters."""
    w = lambda key: _cell_words(report, "reciprocity", key)  # noqa: E731
    table = report.table("reciprocity")
    start, end = table.value("window_start"), table.value("window_end")
    assert isinstance(start, date) and isinstance(end, date)
    active = table.value("active_members_12_months")
    if active == 0:
        first = _("No one gave or received help in the 12 months to %(end)s.") % {"end": day(end)}
    else:
        share = table.value("reciprocity_share")
        parts = _kinds_sentence(
            report,
            "reciprocity",
            "value",
            [
                ("gave_and_received", _("%(n)s both gave and received help")),
                ("only_gave", _("%(n)s only gave")),
                ("only_received", _("%(n)s only received")),
            ],
            _("Of them:"),
            noun=_("members"),
        ).replace(_("None was"), _("No one"))
        first = _("Over the 12 months to %(end)s, %(active)s members took part.") % {
            "end": day(end),
            "active": w("active_members_12_months"),
        }
        first = f"{first} {parts}"
        if isinstance(share, Decimal):
            first += " " + _("That is %(share)s who both gave and received.") % {
                "share": percent(share)
            }
    why = _(
        "A time bank works when help flows both ways: everyone has something to give and "
        "something they could use. Members who only give may not feel able to ask for help; "
        "members who only receive may not yet have been asked what they could offer. Both are "
        "worth a broker's call."
    )
    chart_rows = [
        r for r in table.rows if r[0] in ("gave_and_received", "only_gave", "only_received")
    ]
    items = [
        (label(r[0]), _value_of(r[1]), show(table, r, "value", report.threshold).brief)
        for r in chart_rows
    ]
    chart = charts.bar_chart("reciprocity", _("Members who took part in the 12 months"), items)
    data = show_table(table, report.threshold, rows=chart_rows)
    chart.headers, chart.rows = data.headers, [[c.text for c in r] for r in data.rows]
    chart.note = withheld_note(
        [(label(r[0]), show(table, r, "value", report.threshold)) for r in chart_rows],
        report.threshold,
    )
    chart.description = _describe_bars(items, chart.title, _("members"))
    return Section("reciprocity", _("Giving and receiving"), [first, why], charts=[chart])


def mix_section(report: Report) -> Section:
    """Who helped whom, in words."""
    table = report.table("exchange_mix")
    total = table.value("total", "exchanges")
    if total == 0:
        words = _("No help was exchanged in the period.")
    else:
        words = _kinds_sentence(
            report,
            "exchange_mix",
            "exchanges",
            [
                ("person_to_person", _("%(n)s between two people")),
                ("person_to_organisation", _("%(n)s a person helping an organisation")),
                ("organisation_to_person", _("%(n)s an organisation helping people")),
                ("organisation_to_organisation", _("%(n)s between organisations")),
                ("pot_funded", _("%(n)s paid for from the community pot")),
            ],
            _("Of the %(total)s exchanges:")
            % {"total": _cell_words(report, "exchange_mix", "total", "exchanges")},
            noun=_("exchanges"),
        )
    why = _(
        "Exchanges between people build neighbourliness; those with organisations show the "
        "time bank working alongside local services."
    )
    chart = breakdown_chart(report, "exchange_mix", "exchanges", _("Exchanges by who helped whom"))
    assert len(MIX) == len(table.rows) - 1
    return Section("exchange_mix", _("Who helped whom"), [words, why], charts=[chart])


def categories_section(report: Report) -> Section:
    table = report.table("categories")
    rows = [r for r in table.rows if r[0] not in ("total", OTHER_CATEGORIES, UNCATEGORISED)]
    # The categories table is ordered by hours: the first shown ones had the most.
    shown = [
        (r[0], hours, count)
        for r in rows
        if isinstance(hours := r[2], Decimal) and isinstance(count := r[1], int)
    ][:3]
    paragraphs = []
    if shown:
        paragraphs.append(
            _("The categories with the most hours were %(top)s.")
            % {
                "top": and_list(
                    [
                        _("\u201c%(category)s\u201d (%(hours)s hours in %(exchanges)s exchanges)")
                        % {"category": category, "hours": number(hours), "exchanges": number(count)}
                        for category, hours, count in shown
                    ]
                )
            }
        )
    others = [r for r in table.rows if r[0] == OTHER_CATEGORIES]
    if others:
        paragraphs.append(
            _('"All other categories" adds up every category after the ten with the most hours.')
        )
    chart = breakdown_chart(
        report,
        "categories",
        "hours",
        _("Hours of help by category"),
        last=(OTHER_CATEGORIES, UNCATEGORISED),
    )
    return Section("categories", _("What the help was"), paragraphs, charts=[chart])


def coproduction_section(report: Report) -> Section:
    """The Four Co's, explained, and the period's exchanges by each."""
    what = _(
        "Co-production means people who use services working with those who provide them, "
        "as equals. Each exchange is recorded with one of the Four Co's: co-delivery (helping "
        "to deliver a service), co-design (shaping a service), co-commissioning (deciding what "
        "is needed) and co-assessment (checking how well it works)."
    )
    counts = _kinds_sentence(
        report,
        "coproduction",
        "exchanges",
        [
            (CoProduction.DELIVERY, _("%(n)s co-delivery")),
            (CoProduction.DESIGN, _("%(n)s co-design")),
            (CoProduction.COMMISSIONING, _("%(n)s co-commissioning")),
            (CoProduction.ASSESSMENT, _("%(n)s co-assessment")),
        ],
        _("Of the exchanges in this period:"),
        noun=_("exchanges"),
    )
    chart = breakdown_chart(
        report,
        "coproduction",
        "exchanges",
        _("Exchanges by co-production kind"),
        sort=False,
        short=True,
    )
    return Section("coproduction", _("The Four Co's"), [what, counts], charts=[chart])


def value_section(report: Report) -> Section:
    """The value of the hours: the rates, their sources and dates, low and high."""
    table = report.table("equivalent_value")
    t = report.threshold
    paragraphs = []
    if not table.rows:
        paragraphs.append(_("No hourly rate has been set up, so no value is given."))
    for row in table.rows:
        cells = {c: show(table, row, c, t) for c in table.columns}
        dated = row[table.columns.index("rate_from")]
        source = str(row[table.columns.index("rate_source")] or "").strip().rstrip(".")
        rate = (
            _(
                "The %(estimate)s estimate uses the rate \u201c%(name)s\u201d: %(rate)s an hour, "
                "%(dated)s (source: %(source)s)."
            )
            if source
            else _(
                "The %(estimate)s estimate uses the rate \u201c%(name)s\u201d: %(rate)s an hour, "
                "%(dated)s (no source given)."
            )
        ) % {
            "estimate": label(row[0]).lower(),
            "name": row[table.columns.index("rate_name")],
            "rate": cells["rate_per_hour"].text,
            "dated": _("in force from %(day)s") % {"day": day(dated)}
            if isinstance(dated, date)
            else _("not dated"),
            "source": source,
        }
        value = cells["equivalent_value"]
        if value.why:
            worth = _("The value is not shown: %(why)s") % {"why": value.why}
        else:
            worth = _("At that rate the %(hours)s hours are worth %(value)s.") % {
                "hours": cells["hours"].text,
                "value": value.text,
            }
        paragraphs.append(f"{rate} {worth}")
    paragraphs.append(
        _(
            "%(note)s The estimates show what the hours would cost if they were paid at each "
            "rate: a range, not money the time bank holds or saves."
        )
        % {"note": _(NO_CASH_VALUE)}
    )
    return Section(
        "equivalent_value",
        _("What the hours are worth"),
        paragraphs,
        tables=[show_table(table, t)],
    )


def members_section(report: Report) -> Section:
    w = lambda key: _cell_words(report, "summary", key)  # noqa: E731
    summary = report.table("summary")
    paragraphs = [
        _(
            "At the end of the period there were %(members)s members; %(new)s joined during "
            "the period and %(left)s left."
        )
        % {
            "members": w("members_at_period_end"),
            "new": _cell_words(report, "summary", "new_members", zero=_("no one")),
            "left": _cell_words(report, "summary", "members_left", zero=_("no one")),
        }
    ]
    median = summary.value("median_days_to_first_exchange")
    row = next(r for r in summary.rows if r[0] == "median_days_to_first_exchange")
    if isinstance(median, Decimal):
        paragraphs.append(
            _(
                "New members made their first exchange a median of %(days)s days after joining "
                "(half took longer, half less)."
            )
            % {"days": number(median)}
        )
    else:
        paragraphs.append(
            _("Time to a first exchange: %(why)s")
            % {"why": _lower(show(summary, row, "value", report.threshold).why)}
        )
    retention = summary.value("retention_6_months_share")
    if isinstance(retention, Decimal):
        paragraphs.append(
            _(
                "%(share)s of new members made an exchange within 6 months of joining (so far: "
                "this can rise until six months after the period ends)."
            )
            % {"share": percent(retention)}
        )
    split = [summary.value("active_individuals"), summary.value("active_organisations")]
    if all(isinstance(n, int) or getattr(n, "why", "") == SMALL for n in split):
        took_part = _(
            "%(active)s members took part: %(people)s people and %(organisations)s organisations."
        ) % {
            "active": w("active_members"),
            "people": w("active_individuals"),
            "organisations": _cell_words(report, "summary", "active_organisations", zero=_("no")),
        }
    else:
        took_part = _(
            "%(active)s members took part; how many were people and how many organisations "
            "is not shown, to protect a small number."
        ) % {"active": w("active_members")}
    sessions = _("Group exchanges (one session with several people): %(sessions)s.") % {
        "sessions": _cell_words(report, "summary", "group_sessions", zero=_("none"))
    }
    paragraphs.append(f"{took_part} {sessions}")
    return Section("members", _("Members joining, leaving and taking part"), paragraphs)


DEMOGRAPHIC_LAST = (NOT_GIVEN, "prefer_not_to_say", OTHER_AREAS, UNRECOGNISED_AREA)


def demographics_section(report: Report) -> Section:
    made = []
    for dimension in ("age_band", "gender", "disability", "carer", "area"):
        table = report.table(f"demographics_{dimension}")
        made.append(
            breakdown_chart(
                report,
                table.name,
                "active_members",
                table.title,
                # Age bands and yes/no keep their own order; genders and areas by size.
                sort=dimension in ("gender", "area"),
                last=DEMOGRAPHIC_LAST,
            )
        )
    people = report.table("summary").value("active_individuals")
    counted = (
        _("These charts count the %(people)s people who took part (not organisations),")
        % {"people": _cell_words(report, "summary", "active_individuals")}
        if isinstance(people, int)
        else _(
            "These charts count the people who took part (not organisations; their number is "
            "not shown, to protect a small number),"
        )
    )
    words = _(
        '%(counted)s by the answers they chose to give on their profile. "Not given" means '
        "they were not asked or chose not to answer."
    ) % {"counted": counted}
    return Section("demographics", _("Who took part"), [words], charts=made)


def movements_section(report: Report) -> Section:
    table = report.table("other_movements")
    t = report.threshold
    w = lambda key, column: _cell_words(report, "other_movements", key, column)  # noqa: E731
    if all(n == 0 for n in table.column("transactions")):
        return Section(
            "other_movements",
            _("Donations, pot grants and reversals"),
            [
                _(
                    "No hours were donated or granted from the community pot, and no exchange "
                    "was reversed, in this period. None of these would count as help."
                )
            ],
            tables=[show_table(table, t)],
        )
    parts = []
    for key, words in (
        ("donations", _("%(n)s donations of hours")),
        ("grants", _("%(n)s grants from the community pot")),
        ("reversals", _("%(n)s exchanges reversed by a broker")),
    ):
        part = words % {"n": w(key, "transactions")}
        if isinstance(table.value(key, "hours"), Decimal):
            part += " " + _("(%(hours)s hours)") % {"hours": w(key, "hours")}
        parts.append(part)
    words = _("Apart from help: %(parts)s. None of these counts as help.") % {
        "parts": and_list(parts)
    }
    return Section(
        "other_movements",
        _("Donations, pot grants and reversals"),
        [words],
        tables=[show_table(table, t)],
    )


def by_bank_section(report: Report) -> Section | None:
    if "by_bank" not in {t.name for t in report.tables}:
        return None
    table = report.table("by_bank")
    shown = show_table(table, report.threshold)
    names = {bank.slug: bank.name for bank in report.banks}
    shown.headers = [label("measure"), *(names[s] for s in table.columns[1:-1]), label("combined")]
    words = _(
        "Each time bank's figures beside the combined ones. A bank's small numbers are not "
        "shown, nor the next smallest in the row, so they cannot be worked out from the total."
    )
    return Section("by_bank", _("Each time bank"), [words], tables=[shown])


def between_banks_section(report: Report) -> Section:
    table = report.table("between_banks")
    if not table.rows:
        words = _("No exchanges with members of other time banks in this period.")
        return Section("between_banks", _("Exchanges with other time banks"), [words])
    words = _(
        "Help given by the members of this report to members of linked time banks (hours out) "
        "and received from them (hours in). The balance of trade is the hours in less the "
        "hours out: below zero, these members gave more than they received."
    )
    # The table's own note (each exchange counts in its bank's figures too) is shown with it.
    return Section(
        "between_banks",
        _("Exchanges with other time banks"),
        [words],
        tables=[show_table(table, report.threshold)],
    )


def revisions_section(report: Report) -> Section | None:
    if "revisions" not in {t.name for t in report.tables}:
        return None
    table = report.table("revisions")
    words = _(
        "These months were closed when their monthly report was made, so this report shows "
        "the figures as reported then. Changes dated in them but recorded later are listed "
        "here."
    )
    return Section(
        "revisions",
        _("Revisions since the months were reported"),
        [words, table.note],
        tables=[show_table(table, report.threshold)] if table.rows else [],
    )


# The sections, in the order they are read; a function returning None leaves its section out.
SECTIONS: list[Callable[[Report], Section | None]] = [
    help_section,
    reciprocity_section,
    mix_section,
    categories_section,
    coproduction_section,
    value_section,
    members_section,
    demographics_section,
    movements_section,
    between_banks_section,
    by_bank_section,
    revisions_section,
]


# Definitions of what only some reports show: read only with the table named.
ONLY_WITH = {"by_bank": "by_bank", "closed_months": "revisions", "revisions": "revisions"}


def _day(cell: Cell) -> date:
    assert isinstance(cell, date), cell
    return cell


def read(report: Report) -> Reading:
    """The whole report in words (see the module docstring)."""
    comparisons = report.table("comparisons")
    periods = {
        column: period_words(
            _day(comparisons.value("period_start", column)),
            _day(comparisons.value("period_end", column)),
        )
        for column in ("previous_period", "same_period_last_year")
    }
    sections = [s for s in (make(report) for make in SECTIONS) if s is not None]
    names = {table.name for table in report.tables}
    by_key = {s.key: s for s in sections}
    # The summary's charts: the 12 months, who helped whom, and giving and receiving.
    key_charts = [
        *by_key["help"].charts,
        *by_key["exchange_mix"].charts,
        *by_key["reciprocity"].charts,
    ]
    return Reading(
        banks=and_list([bank.name for bank in report.banks]),
        period=period_words(report.start, report.end),
        previous_period=periods["previous_period"],
        year_before=periods["same_period_last_year"],
        produced=day(timezone.localdate()),
        threshold=report.threshold,
        headline=headline(report),
        figures=key_figures(report),
        sections=sections,
        key_charts=key_charts,
        definitions=[
            Definition(term, label(term), text)
            for term, text in report.definitions
            if term not in ONLY_WITH or ONLY_WITH[term] in names
        ],
        tables=[show_table(table, report.threshold) for table in report.tables],
        no_cash_value=_(NO_CASH_VALUE),
    )


# The workbook's sheet names (at most 31 characters, none of []:*?/\).
SHEETS = {
    "summary": gettext_lazy("Summary"),
    "comparisons": gettext_lazy("Comparisons"),
    "by_bank": gettext_lazy("Each time bank"),
    "other_movements": gettext_lazy("Donations, grants, reversals"),
    "reciprocity": gettext_lazy("Giving and receiving"),
    "exchange_mix": gettext_lazy("Who helped whom"),
    "categories": gettext_lazy("Categories"),
    "coproduction": gettext_lazy("The Four Co's"),
    "equivalent_value": gettext_lazy("Equivalent value"),
    "trend": gettext_lazy("The 12 months"),
    "demographics_age_band": gettext_lazy("Age"),
    "demographics_gender": gettext_lazy("Gender"),
    "demographics_disability": gettext_lazy("Disability"),
    "demographics_carer": gettext_lazy("Unpaid carers"),
    "demographics_area": gettext_lazy("Area"),
    "revisions": gettext_lazy("Revisions"),
}


def sheet_name(table: Table, taken: Sequence[str]) -> str:
    """A table's sheet name in the workbook: its short name (``SHEETS``), or its title made
    fit (a table added later), never one already ``taken``."""
    name = str(SHEETS.get(table.name, table.title))
    name = "".join(" " if c in "[]:*?/\\" else c for c in name)[:31].strip()
    candidate, n = name, 2
    while candidate in taken:
        candidate = f"{name[:28]} {n}"
        n += 1
    return candidate
