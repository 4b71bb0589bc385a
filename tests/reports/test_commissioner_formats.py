"""Must show 1, the last format: the PDF of the commissioner report (printed from the page's
own template) holds the generated quarter's true totals (``commissioning_data``), exactly as
the page, JSON, CSV and XLSX do in ``test_commissioner_figures``, read back with pypdf; it
draws the charts, leaves out the navigation, is audited, and never names a member."""

from __future__ import annotations

import io
import re

from django.test import TestCase, override_settings
from django.urls import reverse
from pypdf import PdfReader

from audit.models import Action, AuditEvent
from reports.commissioning import NO_CASH_VALUE, commissioner_report
from reports.models import ReportDownload

from .commissioning_data import END, START, KnownQuarter, frozen
from .test_commissioner_figures import KNOWN

PERIOD = {"start": START.isoformat(), "end": END.isoformat()}
# The fill colour of the bars (#1d70b8) as the PDF writes it.
BAR_COLOUR = "0.113725 0.439216 0.721569 rg"


def pdf_text(content: bytes) -> str:
    """Every page's text, whitespace collapsed to single spaces, page footers left out."""
    reader = PdfReader(io.BytesIO(content))
    text = " ".join(page.extract_text() for page in reader.pages)
    text = re.sub(r"Commissioner report: Riverside Time Bank \d+ / \d+", " ", text)
    return " ".join(text.split())


def table_text(rows: list[list[str]]) -> str:
    """A table as it reads in the PDF: its header and rows in order, cells apart by spaces."""
    return " ".join(cell for row in rows for cell in row if cell)


def bars_drawn(content: bytes) -> int:
    reader = PdfReader(io.BytesIO(content))
    return sum(
        page.get_contents().get_data().decode("latin-1").count(BAR_COLOUR) for page in reader.pages
    )  # type: ignore[union-attr]


class PdfOfTheQuarter(KnownQuarter, TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.build_quarter()

    def setUp(self) -> None:
        traveller = frozen()
        traveller.start()
        self.addCleanup(traveller.stop)
        self.client.force_login(self.cora.user)

    def pdf(self, **query: str):  # type: ignore[no-untyped-def]
        return self.client.get(
            reverse("commissioner-report-pdf", args=["riverside"]), {**PERIOD, **query}
        )

    @override_settings(REPORT_SUPPRESSION_THRESHOLD=1)
    def test_the_pdf_holds_the_true_totals_of_every_table(self):
        response = self.pdf()
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], "application/pdf")
        self.assertEqual(
            response["Content-Disposition"],
            'attachment; filename="riverside-report-2026-04-01-2026-06-15.pdf"',
        )
        text = pdf_text(response.content)
        for name, rows in KNOWN.items():
            with self.subTest(table=name):
                self.assertIn(table_text(rows), text)
        # The value rows, every column (the rate's name, date and source printed with it).
        self.assertIn("low Custom £8.00 8.00", text)
        self.assertIn("34.50 276.00", text)
        self.assertIn("high Real Living Wage 2025-26 13.45 2025-10-22", text)
        self.assertIn("34.50 464.03", text)
        self.assertIn(NO_CASH_VALUE, text)

    @override_settings(REPORT_SUPPRESSION_THRESHOLD=1)
    def test_every_table_and_definition_of_the_report_is_in_the_pdf(self):
        # Generic over the report's tables: a table added to the report is printed too.
        report = commissioner_report(banks=[self.riverside], start=START, end=END)
        text = pdf_text(self.pdf().content)
        for table in report.tables:
            with self.subTest(table=table.name):
                self.assertIn(table.title, text)
                self.assertIn(" ".join(table.columns), text)
        self.assertIn("About these figures", text)
        for term, definition in report.definitions:
            with self.subTest(term=term):
                self.assertIn(f"{term} {' '.join(definition.split())}", text)

    @override_settings(REPORT_SUPPRESSION_THRESHOLD=1)
    def test_the_pdf_draws_a_bar_for_every_charted_row(self):
        report = commissioner_report(banks=[self.riverside], start=START, end=END)
        charted = sum(
            1 for table in report.tables for _, width in table.bars() if width is not None
        )
        self.assertGreater(charted, 20)
        self.assertEqual(bars_drawn(self.pdf().content), charted)

    def test_the_pdf_leaves_out_the_navigation_the_form_and_the_links(self):
        text = pdf_text(self.pdf().content)
        self.assertTrue(text.startswith("Commissioner report: Riverside Time Bank From 2026-04-01"))
        for screen_only in (
            "Sign out",
            "Your account",
            "Skip to main content",
            "Combine with",
            "Download",
            "Need help?",
        ):
            with self.subTest(text=screen_only):
                self.assertNotIn(screen_only, text)

    def test_the_pdf_suppresses_small_numbers_and_names_no_one(self):
        text = pdf_text(self.pdf().content)
        self.assertIn("organisation_to_organisation suppressed suppressed", text)
        self.assertIn("reciprocity_share suppressed", text)
        for name in self.names():
            with self.subTest(name=name):
                self.assertNotIn(name, text)

    def test_each_pdf_download_is_in_the_audit_log(self):
        self.pdf()
        download = ReportDownload.objects.get()
        self.assertEqual(
            (download.user, download.format, download.bank_slugs, download.start, download.end),
            (self.cora.user, "pdf", "riverside", START, END),
        )
        event = AuditEvent.objects.get(action=Action.REPORT_DOWNLOADED)
        self.assertEqual(event.details["format"], "pdf")

    def test_the_page_links_to_the_pdf_of_the_same_period(self):
        response = self.client.get(reverse("commissioner-report", args=["riverside"]), PERIOD)
        self.assertContains(
            response,
            'href="/banks/riverside/commissioner-report/pdf/?start=2026-04-01&amp;end=2026-06-15"',
        )

    def test_a_bad_period_is_a_clear_400(self):
        response = self.pdf(start="2026-06-15", end="2026-04-01")
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.content.decode(), "The end date is before the start date.")
        response = self.pdf(start="15/06/2026")
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.content.decode(), "Give dates as YYYY-MM-DD.")
        self.assertFalse(ReportDownload.objects.exists())
