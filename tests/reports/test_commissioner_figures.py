"""The commissioner report matches a generated quarter whose true totals are known (see
``commissioning_data``), identically on the page, in the JSON, the CSV and the XLSX; the
valuation is exact; small numbers are suppressed, with secondary suppression."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.test import TestCase, override_settings
from django.urls import reverse
from openpyxl import load_workbook

from reports.commissioning import SUPPRESSED, commissioner_report, equivalent_value, protect
from reports.models import ValueRate
from tests.support import user_of

from .commissioning_data import END, START, KnownQuarter, Tables, frozen

PERIOD: dict[str, Any] = {"start": START.isoformat(), "end": END.isoformat()}

# Every table as the CSV writes it (and the page shows it), with nothing suppressed.
KNOWN = {
    "summary": [
        ["measure", "value"],
        ["hours_exchanged", "34.50"],
        ["exchanges", "33"],
        ["group_sessions", "1"],
        ["members_at_period_end", "14"],
        ["new_members", "0"],
        ["members_left", "0"],
        ["median_days_to_first_exchange", ""],
        ["retention_6_months_share", ""],
        ["active_members", "12"],
        ["active_individuals", "10"],
        ["active_organisations", "2"],
        ["givers", "11"],
        ["receivers", "12"],
    ],
    "other_movements": [
        ["line", "transactions", "hours"],
        ["donations", "1", "1.00"],
        ["grants", "1", "0.50"],
        ["reversals", "1", "1.50"],
    ],
    "reciprocity": [
        ["measure", "value"],
        ["window_start", "2025-06-16"],
        ["window_end", "2026-06-15"],
        ["active_members_12_months", "12"],
        ["gave_and_received", "11"],
        ["only_gave", "0"],
        ["only_received", "1"],
        ["reciprocity_share", "0.9167"],
    ],
    "exchange_mix": [
        ["mix", "exchanges", "hours"],
        ["person_to_person", "20", "25.50"],
        ["person_to_organisation", "6", "4.50"],
        ["organisation_to_person", "5", "2.50"],
        ["organisation_to_organisation", "2", "2.00"],
        ["pot_funded", "0", "0.00"],
        ["total", "33", "34.50"],
    ],
    "coproduction": [
        ["coproduction", "exchanges", "hours"],
        ["co-delivery", "33", "34.50"],
        ["co-design", "0", "0.00"],
        ["co-commissioning", "0", "0.00"],
        ["co-assessment", "0", "0.00"],
        ["total", "33", "34.50"],
    ],
    "categories": [
        ["category", "exchanges", "hours"],
        ["Gardening", "32", "32.50"],
        ["Uncategorised", "1", "2.00"],
        ["total", "33", "34.50"],
    ],
    "trend": [
        ["month", "hours", "exchanges", "active_members", "new_members"],
        *[
            [f"{m}-01", "0.00", "0", "0", "0"]
            for m in (
                "2025-07",
                "2025-08",
                "2025-09",
                "2025-10",
                "2025-11",
                "2025-12",
                "2026-01",
                "2026-02",
                "2026-03",
            )
        ],
        ["2026-04-01", "23.50", "19", "10", "0"],
        ["2026-05-01", "6.50", "7", "7", "0"],
        ["2026-06-01", "4.50", "7", "7", "0"],
    ],
}
# The same tables as the page shows them (threshold 1): plain labels, numbers for people.
SHOWN = {
    "summary": [
        ["Figure", "Value"],
        ["Hours of help exchanged", "34.5"],
        ["Exchanges", "33"],
        ["Group exchanges", "1"],
        ["Members at the end of the period", "14"],
        ["New members", "0"],
        ["Members who left", "0"],
        ["Days from joining to a first exchange", "no new members"],
        ["New members who exchanged within 6 months", "no new members"],
        ["Members who took part", "12"],
        ["People who took part", "10"],
        ["Organisations that took part", "2"],
        ["Members who gave help", "11"],
        ["Members who received help", "12"],
    ],
    "other_movements": [
        ["Kind", "Number", "Hours"],
        ["Donations of hours", "1", "1"],
        ["Grants from the community pot", "1", "0.5"],
        ["Exchanges reversed", "1", "1.5"],
    ],
    "reciprocity": [
        ["Figure", "Value"],
        ["First day of the 12 months", "16 June 2025"],
        ["Last day of the 12 months", "15 June 2026"],
        ["Members who took part in the 12 months", "12"],
        ["Members who both gave and received", "11"],
        ["Members who only gave", "0"],
        ["Members who only received", "1"],
        ["Share who both gave and received", "92%"],
    ],
    "exchange_mix": [
        ["Who helped whom", "Exchanges", "Hours"],
        ["Person to person", "20", "25.5"],
        ["Person to organisation", "6", "4.5"],
        ["Organisation to person", "5", "2.5"],
        ["Organisation to organisation", "2", "2"],
        ["Paid from the community pot", "0", "0"],
        ["Total", "33", "34.5"],
    ],
    "coproduction": [
        ["Co-production", "Exchanges", "Hours"],
        ["Co-delivery (helping to deliver a service)", "33", "34.5"],
        ["Co-design (shaping a service)", "0", "0"],
        ["Co-commissioning (deciding what is needed)", "0", "0"],
        ["Co-assessment (checking how well it works)", "0", "0"],
        ["Total", "33", "34.5"],
    ],
    "categories": [
        ["Category", "Exchanges", "Hours"],
        ["Gardening", "32", "32.5"],
        ["No category given", "1", "2"],
        ["Total", "33", "34.5"],
    ],
}
SHOWN_TREND_END = [
    ["April 2026", "23.5", "19", "10", "0"],
    ["May 2026", "6.5", "7", "7", "0"],
    ["June 2026", "4.5", "7", "7", "0"],
]
SHOWN_VALUE = [
    ["Estimate", "Rate", "£ an hour", "In force from", "Source", "Hours", "Equivalent value (£)"],
    [
        "Low",
        "Custom £8.00",
        "£8.00",
        "not dated",
        "A custom rate, to reproduce older reports.",
        "34.5",
        "£276.00",
    ],
    [
        "High",
        "Real Living Wage 2025-26",
        "£13.45",
        "22 October 2025",
        "Living Wage Foundation, UK rate announced 22 October 2025 (outside London).",
        "34.5",
        "£464.03",
    ],
]
# Low and high: the cheapest and dearest rates in force on 15 June 2026.
VALUE = [
    ["low", "Custom £8.00", "8.00", "", "34.50", "276.00"],
    ["high", "Real Living Wage 2025-26", "13.45", "2025-10-22", "34.50", "464.03"],
]
# The workbook's sheet of each table.
SHEET = {
    "summary": "Summary",
    "other_movements": "Donations, grants, reversals",
    "reciprocity": "Giving and receiving",
    "exchange_mix": "Who helped whom",
    "categories": "Categories",
    "coproduction": "The Four Co's",
    "trend": "The 12 months",
}
VALUE_COLUMNS = ["estimate", "rate_name", "rate_per_hour", "rate_from", "hours", "equivalent_value"]


TREND_HEADERS = ["Month", "Hours", "Exchanges", "Members who took part", "New members"]


def sheet_rows(book: Any, name: str) -> list[list[str]]:
    """The table ``name`` in the workbook: its headers and rows, after its title, numbers
    normalised (``numbers``)."""
    rows = KNOWN[name]
    sheet = list(book[SHEET[name]].iter_rows(values_only=True))
    return numbers([list(row[: len(rows[0])]) for row in sheet[1 : 1 + len(rows)]])


def expected_sheet_rows(name: str) -> list[list[str]]:
    """``KNOWN[name]`` as the workbook writes it: plain headers and labels (``SHOWN``), numbers
    as numbers, and an empty cell's reason in words."""
    rows = KNOWN[name]
    if name == "trend":
        return numbers([TREND_HEADERS, *rows[1:]])
    shown = SHOWN[name]
    return numbers(
        [
            shown[0],
            *(
                [shown[i][0], *(cell or shown[i][j] for j, cell in enumerate(row[1:], 1))]
                for i, row in enumerate(rows[1:], 1)
            ),
        ]
    )


def value_rows(rows: list[list[str]], columns: list[str]) -> list[list[str]]:
    return [[row[columns.index(c)] for c in VALUE_COLUMNS] for row in rows]


def as_text(cell: object) -> str:
    """A JSON cell as the CSV writes it."""
    return "" if cell is None else str(cell)


def same_number(cell: object) -> str:
    """An XLSX cell (numbers come back as int or float) or a CSV text, for comparison:
    numbers without trailing zeros, dates as ISO, text as it is."""
    if cell is None:
        return ""
    if isinstance(cell, datetime):
        return cell.date().isoformat()
    try:
        return str(Decimal(str(cell)).normalize())
    except ArithmeticError:
        return str(cell)


def numbers(rows: Sequence[Sequence[object]]) -> list[list[str]]:
    return [[same_number(c) for c in row] for row in rows]


@override_settings(REPORT_SUPPRESSION_THRESHOLD=1)
class KnownTotals(KnownQuarter, TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.build_quarter()

    def setUp(self) -> None:
        traveller = frozen()
        traveller.start()
        self.addCleanup(traveller.stop)
        self.client.force_login(user_of(self.cora))

    def url(self, name: str) -> str:
        return reverse(name, args=["riverside"])

    def test_the_page_shows_the_true_totals_in_words(self):
        response = self.client.get(self.url("commissioner-report"), PERIOD)
        self.assertEqual(response.status_code, 200)
        tables = Tables(response.content.decode()).tables
        for name, rows in SHOWN.items():
            with self.subTest(table=name):
                self.assertEqual(tables[name], rows)
        self.assertEqual(tables["trend"][1], ["July 2025", "0", "0", "0", "0"])
        self.assertEqual(tables["trend"][-3:], SHOWN_TREND_END)
        self.assertEqual(tables["equivalent_value"], SHOWN_VALUE)
        self.assertContains(response, "Equivalent value only: time credits have no cash value")
        self.assertContains(response, "What each figure counts")

    def test_each_csv_holds_one_table_with_the_true_totals(self):
        for name, rows in KNOWN.items():
            with self.subTest(table=name):
                response = self.client.get(
                    self.url("commissioner-report-csv"), {**PERIOD, "table": name}
                )
                self.assertEqual(response["Content-Type"], "text/csv; charset=utf-8")
                self.assertEqual(list(csv.reader(io.StringIO(response.content.decode()))), rows)
        response = self.client.get(
            self.url("commissioner-report-csv"), {**PERIOD, "table": "equivalent_value"}
        )
        parsed = list(csv.reader(io.StringIO(response.content.decode())))
        self.assertEqual(value_rows(parsed[1:], parsed[0]), VALUE)

    def test_the_json_holds_the_true_totals(self):
        response = self.client.get(reverse("api-report"), {**PERIOD, "banks": "riverside"})
        self.assertEqual(response.status_code, 200)
        body = json.loads(response.content)
        tables = {t["name"]: [t["columns"], *t["rows"]] for t in body["tables"]}
        for name, rows in KNOWN.items():
            with self.subTest(table=name):
                self.assertEqual([[as_text(c) for c in row] for row in tables[name]], rows)
        self.assertEqual(tables["summary"][2], ["exchanges", 33])
        self.assertEqual(tables["summary"][1], ["hours_exchanged", "34.50"])
        value = tables["equivalent_value"]
        self.assertEqual(value_rows([[as_text(c) for c in r] for r in value[1:]], value[0]), VALUE)
        self.assertEqual(body["note"], "Equivalent value only: time credits have no cash value.")
        self.assertIn("hours_exchanged", [d["term"] for d in body["definitions"]])

    def test_the_xlsx_has_a_sheet_per_table_with_plain_headers_and_the_true_totals(self):
        response = self.client.get(self.url("commissioner-report-xlsx"), PERIOD)
        book = load_workbook(io.BytesIO(response.content))
        self.assertEqual(
            book.sheetnames,
            [
                "About this report",
                "Summary",
                "Comparisons",
                "Donations, grants, reversals",
                "Giving and receiving",
                "Who helped whom",
                "Categories",
                "The Four Co's",
                "Equivalent value",
                "The 12 months",
                "Age",
                "Gender",
                "Disability",
                "Unpaid carers",
                "Area",
                "Exchanges with other time banks",
                "Definitions",
            ],
        )
        for name in KNOWN:
            with self.subTest(table=name):
                self.assertEqual(sheet_rows(book, name), expected_sheet_rows(name))
        value = list(book["Equivalent value"].iter_rows(values_only=True))
        self.assertEqual(value[2][:4], ("Low", "Custom £8.00", 8, "not dated"))
        self.assertEqual(value[3][6], 464.03)
        self.assertEqual(book["Equivalent value"]["G4"].number_format, "£#,##0.00")
        self.assertEqual(book["Giving and receiving"]["B9"].number_format, "0%")
        self.assertEqual(book["The 12 months"]["A3"].number_format, "mmmm yyyy")
        definitions = [row[0] for row in book["Definitions"].iter_rows(values_only=True)]
        self.assertIn("Hours of help exchanged", definitions)
        about = [row[1] for row in book["About this report"].iter_rows(values_only=True)]
        self.assertIn(
            "From 1 April to 15 June 2026, 12 members of Riverside Time Bank exchanged 34.5 "
            "hours of help in 33 exchanges.",
            about,
        )

    def test_other_rates_can_be_chosen_and_are_exact(self):
        living = ValueRate.objects.get(name="National Living Wage 2026")
        custom = ValueRate.objects.get(name="Custom £8.00")
        response = self.client.get(
            reverse("api-report"),
            {**PERIOD, "banks": "riverside", "low": custom.pk, "high": living.pk},
        )
        value = next(t for t in response.json()["tables"] if t["name"] == "equivalent_value")
        self.assertEqual([row[-1] for row in value["rows"]], ["276.00", "438.50"])

    def test_the_figures_take_a_fixed_number_of_queries(self):
        # 10 for the figures, one for exchanges with other time banks, one grouped query for the five demographic tables, and three
        # for the comparisons' figures of the three periods (a period of whole months adds
        # one for the months' snapshots).
        with self.assertNumQueries(15):
            commissioner_report(banks=[self.riverside], start=START, end=END)


class Valuation(TestCase):
    def test_the_worked_example_of_the_research_notes(self):
        minutes = 14_076 * 60
        self.assertEqual(equivalent_value(minutes, Decimal("8.00")), Decimal("112608.00"))
        self.assertEqual(equivalent_value(minutes, Decimal("13.45")), Decimal("189322.20"))
        self.assertEqual(equivalent_value(minutes, Decimal("12.71")), Decimal("178905.96"))

    def test_it_rounds_half_up_once_at_the_total(self):
        # 20 minutes at £13.45 is £4.48333...; three of them are £13.45, not 3 x £4.48.
        self.assertEqual(equivalent_value(60, Decimal("13.45")), Decimal("13.45"))
        self.assertEqual(equivalent_value(2070, Decimal("13.45")), Decimal("464.03"))

    def test_the_rates_of_the_notes_are_in_the_table(self):
        rates = {r.name: (r.pounds_per_hour, r.effective_from) for r in ValueRate.objects.all()}
        self.assertEqual(rates["Custom £8.00"], (Decimal("8.00"), None))
        self.assertEqual(rates["National Living Wage 2026"], (Decimal("12.71"), date(2026, 4, 1)))
        self.assertEqual(rates["Real Living Wage 2025-26"], (Decimal("13.45"), date(2025, 10, 22)))


class Suppression(KnownQuarter, TestCase):
    """The same quarter at the default threshold of 5."""

    @classmethod
    def setUpTestData(cls) -> None:
        cls.build_quarter()

    def setUp(self) -> None:
        traveller = frozen()
        traveller.start()
        self.addCleanup(traveller.stop)
        self.report = commissioner_report(banks=[self.riverside], start=START, end=END)

    def test_it_suppresses_a_small_mix_cell_and_a_second_one_that_would_reveal_it(self):
        mix = self.report.table("exchange_mix")
        self.assertEqual(
            mix.rows,
            [
                ["person_to_person", 20, Decimal("25.50")],
                ["person_to_organisation", 6, Decimal("4.50")],
                # 5 is not small, but with the total of 33 it would reveal the 2 below.
                ["organisation_to_person", SUPPRESSED, SUPPRESSED],
                ["organisation_to_organisation", SUPPRESSED, SUPPRESSED],
                ["pot_funded", 0, Decimal("0.00")],
                ["total", 33, Decimal("34.50")],
            ],
        )

    def test_it_suppresses_small_counts_of_people_and_their_complements(self):
        summary = self.report.table("summary")
        self.assertEqual(summary.value("active_members"), 12)
        self.assertEqual(summary.value("active_organisations"), SUPPRESSED)
        self.assertEqual(summary.value("active_individuals"), SUPPRESSED)
        reciprocity = self.report.table("reciprocity")
        self.assertEqual(reciprocity.value("only_received"), SUPPRESSED)
        self.assertEqual(reciprocity.value("gave_and_received"), SUPPRESSED)
        self.assertEqual(reciprocity.value("reciprocity_share"), SUPPRESSED)
        self.assertEqual(
            self.report.table("other_movements").rows[2], ["reversals", SUPPRESSED, SUPPRESSED]
        )

    def test_the_suppressed_cells_reach_the_csv_as_the_word_suppressed(self):
        self.client.force_login(user_of(self.brenda))
        response = self.client.get(
            reverse("commissioner-report-csv", args=["riverside"]),
            {**PERIOD, "table": "exchange_mix"},
        )
        rows = list(csv.reader(io.StringIO(response.content.decode())))
        self.assertEqual(rows[4], ["organisation_to_organisation", "suppressed", "suppressed"])

    def test_protect_adds_the_smallest_other_cell_when_one_is_small(self):
        self.assertEqual(protect([10, 3, 0, 8], 5), {1, 3})
        self.assertEqual(protect([10, 3, 2, 8], 5), {1, 2})
        self.assertEqual(protect([10, 0, 8], 5), set())
