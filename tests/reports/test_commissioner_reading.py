"""The commissioner report reads as evidence (issue 23): headline sentences and comparisons with
exact numbers on a known dataset (``reading_data``), including a period with nothing before it
and a number too small to show; banks side by side; and no machine name (snake_case, a raw
share, an ISO date, "suppressed") in anything a person reads, on the page or in the PDF, while
the CSV and the JSON keep them."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal

from django.test import SimpleTestCase, TestCase
from django.urls import reverse

from members.models import TimeBank
from reports import reading
from reports.commissioning import NO_DATA, SMALL, SUPPRESSED, Report, commissioner_report
from tests.support import user_of

from .reading_data import FIRST_QUARTER, QUARTER, KnownYear, VisibleText, frozen, machine_names
from .test_commissioner_formats import pdf_text

PERIOD = {"start": QUARTER[0].isoformat(), "end": QUARTER[1].isoformat()}
FIRST_PERIOD = {"start": FIRST_QUARTER[0].isoformat(), "end": FIRST_QUARTER[1].isoformat()}


class TheMachineNameCheck(SimpleTestCase):
    """The check itself: it finds each kind of machine name, and passes plain English."""

    def test_it_finds_snake_case_raw_shares_iso_dates_and_the_csv_word(self) -> None:
        self.assertEqual(
            machine_names(
                "hours_exchanged 85_plus share 0.8966 from 2026-07-01, suppressed; prefer_not_to_say"
            ),
            [
                "hours_exchanged",
                "85_plus",
                "0.8966",
                "2026-07-01",
                "suppressed",
                "prefer_not_to_say",
            ],
        )

    def test_it_passes_plain_english(self) -> None:
        self.assertEqual(
            machine_names(
                "From 1 July to 30 September 2026, 29 members exchanged 122.5 hours (90%), "
                "£1,647.63; Real Living Wage 2025-26; fewer than 5; 0.5 hours."
            ),
            [],
        )

    def test_it_reads_the_text_and_the_spoken_attributes_but_not_addresses(self) -> None:
        html = (
            '<a href="?table=exchange_mix" aria-label="mix_table">Who</a><script>x_y</script>'
            '<svg><text>age_band</text></svg><input value="2026-07-01">'
        )
        self.assertEqual(machine_names(VisibleText(html).text), ["mix_table", "age_band"])


class Comparisons(KnownYear, TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.build_year()

    def setUp(self) -> None:
        traveller = frozen()
        traveller.start()
        self.addCleanup(traveller.stop)

    def report(
        self, period: tuple[date, date] = QUARTER, banks: list[TimeBank] | None = None
    ) -> Report:
        return commissioner_report(banks=banks or [self.riverside], start=period[0], end=period[1])

    def test_each_headline_figure_is_beside_the_period_before_and_a_year_before(self) -> None:
        comparisons = self.report().table("comparisons")
        self.assertEqual(
            comparisons.columns,
            ["measure", "this_period", "previous_period", "same_period_last_year"],
        )
        self.assertEqual(
            comparisons.rows,
            [
                ["period_start", date(2026, 7, 1), date(2026, 4, 1), date(2025, 7, 1)],
                ["period_end", date(2026, 9, 30), date(2026, 6, 30), date(2025, 9, 30)],
                ["hours_exchanged", Decimal("16.00"), Decimal("12.00"), Decimal("6.00")],
                ["exchanges", 10, 8, 6],
                ["active_members", 8, 8, 6],
                ["givers", 8, 8, 6],
                ["receivers", 8, 8, 6],
                ["gave_and_received", 8, 8, 6],
                ["new_members", 0, 0, 12],
                ["members_at_period_end", 10, 12, 12],
                # p6 and p7 left: 2 is under the threshold of 5.
                ["members_left", SUPPRESSED, 0, 0],
            ],
        )
        self.assertEqual(comparisons.why(comparisons.rows[-1], "this_period"), SMALL)

    def test_the_headline_sentences_quote_the_figures_and_the_changes(self) -> None:
        self.assertEqual(
            reading.headline(self.report()),
            [
                "From July to September 2026, 8 members of Riverside Time Bank exchanged 16 "
                "hours of help in 10 exchanges.",
                "8 gave help and 8 received it; 8 did both.",
                "That is 4 hours more than in April to June 2026 (+33%) and 10 hours more than "
                "in July to September 2025 (+167%).",
                "At the end of the period the time bank had 10 members; no one joined and "
                "fewer than 5 left during it.",
                "Valued at £8.00 to £13.45 an hour, the hours are worth £128 to £215 (an "
                "equivalent value only: time credits have no cash value).",
            ],
        )

    def test_each_key_figure_says_its_change_in_numbers_and_words(self) -> None:
        figures = {f.key: f for f in reading.key_figures(self.report())}
        hours = figures["hours_exchanged"]
        self.assertEqual(
            (hours.label, hours.value.text, hours.previous.text, hours.previous_change),
            ("Hours of help exchanged", "16", "12", "up 4 hours (+33%)"),
        )
        self.assertEqual((hours.year.text, hours.year_change), ("6", "up 10 hours (+167%)"))
        new = figures["new_members"]
        self.assertEqual(
            (new.value.text, new.year.text, new.year_change), ("0", "12", "down 12 (−100%)")
        )
        self.assertEqual(figures["active_members"].previous_change, "no change")
        # Not shown this period: no change can be worked out, in numbers or in words.
        left = figures["members_left"]
        self.assertEqual(left.value.text, "fewer than 5")
        self.assertEqual(left.previous_change, "cannot be compared (a number is not shown)")

    def test_a_period_whose_hours_are_not_shown_is_not_compared(self) -> None:
        # At a threshold of 7 the year before's 6 exchanges (and so its hours) are withheld.
        report = commissioner_report(
            banks=[self.riverside], start=QUARTER[0], end=QUARTER[1], threshold=7
        )
        comparisons = report.table("comparisons")
        self.assertEqual(comparisons.value("hours_exchanged", "same_period_last_year"), SUPPRESSED)
        self.assertEqual(
            reading.headline(report)[2],
            "That is 4 hours more than in April to June 2026 (+33%). The hours of July to "
            "September 2025 are not shown (too few exchanges then), so they cannot be compared.",
        )
        hours = {f.key: f for f in reading.key_figures(report)}["hours_exchanged"]
        self.assertEqual(hours.year.text, "not shown (fewer than 7 exchanges)")
        self.assertEqual(hours.year_change, "cannot be compared (a number is not shown)")

    def test_a_period_with_nothing_before_it_says_there_is_not_enough_data(self) -> None:
        report = self.report(FIRST_QUARTER)
        comparisons = report.table("comparisons")
        for row in comparisons.rows[2:]:
            with self.subTest(measure=row[0]):
                self.assertEqual(row[2:], [None, None])
                self.assertEqual(comparisons.why(row, "previous_period"), NO_DATA)
        self.assertEqual(comparisons.value("exchanges", "this_period"), 6)
        self.assertEqual(
            reading.headline(report),
            [
                "From July to September 2025, 6 members of Riverside Time Bank exchanged 6 "
                "hours of help in 6 exchanges.",
                "6 gave help and 6 received it; 6 did both.",
                "There are no figures to compare with for April to June 2025 and July to "
                "September 2024: the time bank had no members or exchanges then.",
                "At the end of the period the time bank had 12 members; 12 joined and no one "
                "left during it.",
                "Valued at £8.00 an hour, the hours are worth £48 (an equivalent value only: "
                "time credits have no cash value).",
            ],
        )
        hours = {f.key: f for f in reading.key_figures(report)}["hours_exchanged"]
        self.assertEqual(
            (hours.previous.text, hours.previous_change), ("not enough data", "not enough data")
        )

    def test_a_period_after_one_without_help_says_so(self) -> None:
        # January to March 2026: members, but no help; April to June 2025: no members yet.
        report = self.report((date(2026, 4, 1), date(2026, 6, 30)))
        self.assertEqual(
            reading.headline(report)[2],
            "No help was exchanged in January to March 2026. There are no figures to compare "
            "with for April to June 2025: the time bank had no members or exchanges then.",
        )
        hours = {f.key: f for f in reading.key_figures(report)}["hours_exchanged"]
        self.assertEqual((hours.previous.text, hours.previous_change), ("0", "up from none"))
        self.assertEqual(hours.year.text, "not enough data")

    def test_a_period_of_days_is_compared_with_as_many_days_before(self) -> None:
        comparisons = self.report((date(2026, 7, 1), date(2026, 7, 8))).table("comparisons")
        self.assertEqual(
            comparisons.rows[0][1:], [date(2026, 7, 1), date(2026, 6, 23), date(2025, 7, 1)]
        )
        self.assertEqual(
            comparisons.rows[1][1:], [date(2026, 7, 8), date(2026, 6, 30), date(2025, 7, 8)]
        )
        # 1..8 July: the eight 90-minute exchanges; 23..30 June and 1..8 July 2025: none.
        self.assertEqual(comparisons.value("exchanges", "this_period"), 8)
        self.assertEqual(comparisons.value("exchanges", "previous_period"), 0)
        self.assertEqual(comparisons.value("exchanges", "same_period_last_year"), 0)

    def test_banks_combined_show_each_bank_beside_the_total(self) -> None:
        report = self.report(banks=[self.riverside, self.hillside])
        by_bank = report.table("by_bank")
        self.assertEqual(by_bank.columns, ["measure", "riverside", "hillside", "combined"])
        self.assertEqual(
            by_bank.rows,
            [
                ["hours_exchanged", Decimal("16.00"), Decimal("5.00"), Decimal("21.00")],
                ["exchanges", 10, 5, 15],
                ["active_members", 8, 5, 13],
                ["givers", 8, 5, 13],
                ["receivers", 8, 5, 13],
                ["gave_and_received", 8, 5, 13],
                ["new_members", 0, 0, 0],
                # hugo and h0..h4 in Hillside.
                ["members_at_period_end", 10, 6, 16],
                # Riverside's 2 leavers: too few to show, alone or in the total.
                ["members_left", SUPPRESSED, 0, SUPPRESSED],
            ],
        )
        # The combined column is the report's own summary.
        summary = report.table("summary")
        for key in ("hours_exchanged", "exchanges", "active_members", "members_at_period_end"):
            with self.subTest(measure=key):
                self.assertEqual(by_bank.value(key, "combined"), summary.value(key))
        self.assertNotIn("by_bank", [t.name for t in self.report().tables])

    def test_a_small_count_beside_a_shown_total_hides_the_next_smallest_bank_too(self) -> None:
        by_bank = self.report(banks=[self.riverside, self.hillside]).table("by_bank")
        # With a threshold of 6, Hillside's 5 exchanges are too few; Riverside's 10 would
        # then give them away from the total of 15, so they are withheld too (and the hours).
        report = commissioner_report(
            banks=[self.riverside, self.hillside], start=QUARTER[0], end=QUARTER[1], threshold=6
        )
        by_bank = report.table("by_bank")
        self.assertEqual(by_bank.rows[1], ["exchanges", SUPPRESSED, SUPPRESSED, 15])
        self.assertEqual(
            by_bank.rows[0], ["hours_exchanged", SUPPRESSED, SUPPRESSED, Decimal("21.00")]
        )
        self.assertEqual(
            [by_bank.why(by_bank.rows[1], column) for column in ("riverside", "hillside")],
            ["reveals", "small"],
        )

    def test_the_page_puts_the_headline_first_and_shows_the_banks_by_name(self) -> None:
        self.client.force_login(user_of(self.fiona))
        page = self.client.get(
            reverse("commissioner-report", args=["riverside"]), {**PERIOD, "with": "hillside"}
        ).content.decode()
        text = VisibleText(page).text
        self.assertLess(text.index("In brief"), text.index("Key figures"))
        self.assertIn(
            "From July to September 2026, 13 members of Riverside Time Bank and Hillside Time "
            "Bank exchanged 21 hours of help in 15 exchanges.",
            text,
        )
        self.assertIn("Figure Riverside Time Bank Hillside Time Bank Combined", text)


class NoMachineNamesReachAPerson(KnownYear, TestCase):
    """Must show 1: the page and the PDF (every table, chart and definition) carry no machine
    name, for one bank, for banks combined, for a period with nothing before it and with small
    numbers withheld; the CSV and the JSON keep theirs."""

    @classmethod
    def setUpTestData(cls) -> None:
        cls.build_year()

    def setUp(self) -> None:
        traveller = frozen()
        traveller.start()
        self.addCleanup(traveller.stop)
        self.client.force_login(user_of(self.fiona))

    CASES = {
        "one bank": PERIOD,
        "nothing before": FIRST_PERIOD,
        "banks combined": {**PERIOD, "with": "hillside"},
        "a few days": {"start": "2026-07-01", "end": "2026-07-08"},
    }

    def test_the_page_reads_as_plain_english(self) -> None:
        for case, query in self.CASES.items():
            with self.subTest(case=case):
                response = self.client.get(
                    reverse("commissioner-report", args=["riverside"]), query
                )
                self.assertEqual(response.status_code, 200)
                text = VisibleText(response.content.decode()).text
                self.assertIn("In brief", text)
                self.assertEqual(machine_names(text), [])

    def test_the_pdf_reads_as_plain_english(self) -> None:
        for case in ("one bank", "banks combined"):
            with self.subTest(case=case):
                response = self.client.get(
                    reverse("commissioner-report-pdf", args=["riverside"]), self.CASES[case]
                )
                text = pdf_text(response.content)
                self.assertIn("Appendix: the full tables", text)
                self.assertEqual(machine_names(text), [])

    def test_every_withheld_or_empty_cell_has_its_reason(self) -> None:
        for threshold in (1, 5, 7, 9):
            for banks in ([self.riverside], [self.riverside, self.hillside]):
                for start, end in (QUARTER, FIRST_QUARTER, (date(2026, 7, 1), date(2026, 7, 8))):
                    report = commissioner_report(
                        banks=banks, start=start, end=end, threshold=threshold
                    )
                    for table in report.tables:
                        for key, column, why in table.reasons():
                            with self.subTest(
                                t=threshold, table=table.name, row=key, column=column
                            ):
                                self.assertTrue(why)

    def test_the_csv_and_the_json_keep_their_machine_names(self) -> None:
        response = self.client.get(
            reverse("commissioner-report-csv", args=["riverside"]),
            {**PERIOD, "table": "comparisons"},
        )
        rows = list(csv.reader(io.StringIO(response.content.decode())))
        self.assertEqual(
            rows[0], ["measure", "this_period", "previous_period", "same_period_last_year"]
        )
        self.assertEqual(rows[1], ["period_start", "2026-07-01", "2026-04-01", "2025-07-01"])
        self.assertIn(["members_left", "suppressed", "0", "0"], rows)
        body = json.loads(
            self.client.get(
                reverse("api-report"), {**PERIOD, "banks": "riverside,hillside"}
            ).content
        )
        tables = {t["name"]: t for t in body["tables"]}
        self.assertEqual(
            tables["by_bank"]["columns"], ["measure", "riverside", "hillside", "combined"]
        )
        self.assertIn(["hours_exchanged", "16.00", "5.00", "21.00"], tables["by_bank"]["rows"])
        self.assertIn(
            {"row": "members_left", "column": "this_period", "reason": "small"},
            tables["comparisons"]["why"],
        )
        self.assertEqual(body["headline"][1], "13 gave help and 13 received it; 13 did both.")
        labels = {d["term"]: d["label"] for d in body["definitions"]}
        self.assertEqual(labels["gave_and_received"], "Members who both gave and received")
