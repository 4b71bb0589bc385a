"""The commissioner report's own words go through gettext (the review of issue 6): the page's
presets, its errors and the "no cash value" line, the XLSX and JSON renderings; and the rates
check the exports share is a public function of ``reports.commissioning``."""

from __future__ import annotations

import io
from datetime import date
from unittest import mock

from django.urls import reverse
from openpyxl import load_workbook

from reports import commissioning, formats
from tests.base import CastTestCase
from tests.support import user_of


def marked(message: str) -> str:
    return f"<<{message}>>"


class TheReportCodeMarksItsMessages(CastTestCase):
    def test_the_page_translates_its_presets_and_its_words(self) -> None:
        self.client.force_login(user_of(self.cora))
        with mock.patch("reports.views._", marked), mock.patch("reports.reading._", marked):
            response = self.client.get(reverse("commissioner-report", args=["riverside"]))
        self.assertEqual(response.status_code, 200)
        for message in (
            "Last month",
            "Last quarter",
            commissioning.NO_CASH_VALUE,
            "Giving and receiving",
            "Who helped whom",
        ):
            with self.subTest(message=message):
                self.assertContains(response, f"&lt;&lt;{message}&gt;&gt;")

    def test_a_rate_that_is_not_a_number_is_refused_in_the_persons_language(self) -> None:
        self.client.force_login(user_of(self.cora))
        with mock.patch("reports.views._", marked):
            response = self.client.get(
                reverse("commissioner-report-csv", args=["riverside"]), {"low": "cheap"}
            )
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.content.decode(), "<<A rate is chosen by its number.>>")

    def test_the_workbook_and_json_translate_their_words_and_the_note(self) -> None:
        report = commissioning.commissioner_report(
            banks=[self.riverside], start=date(2026, 4, 1), end=date(2026, 4, 30)
        )
        with mock.patch("reports.formats.gettext", marked):
            book = load_workbook(io.BytesIO(formats.to_xlsx(report)))
            data = formats.to_json(report)
        about = book[marked("About this report")]
        rows = {row[0]: row[1] for row in about.iter_rows(values_only=True)}
        self.assertEqual(rows[marked("Period")], "April 2026")
        self.assertEqual(rows[marked("Note")], marked(commissioning.NO_CASH_VALUE))
        self.assertIn(marked("Definitions"), book.sheetnames)
        self.assertEqual(data["note"], marked(commissioning.NO_CASH_VALUE))

    def test_the_summary_table_has_a_translated_title(self) -> None:
        with mock.patch("reports.commissioning.gettext", marked):
            report = commissioning.commissioner_report(
                banks=[self.riverside], start=date(2026, 4, 1), end=date(2026, 4, 30)
            )
        self.assertEqual(report.table("summary").title, "<<Summary>>")


class TheRatesCheckIsPublic(CastTestCase):
    def test_rates_for_is_documented_and_refuses_a_rate_not_in_force(self) -> None:
        self.assertFalse(hasattr(commissioning, "_rates"))
        self.assertIn("ValueError", commissioning.rates_for.__doc__ or "")
        with self.assertRaisesMessage(
            ValueError, "That rate is not in force at the end of the period."
        ):
            commissioning.rates_for(date(2026, 4, 30), 999999, None)
