"""The printed pack: the PDF of the commissioner report holds the generated quarter's true totals
(``commissioning_data``) in its appendix, as the page shows them (``test_commissioner_figures``),
read back with pypdf; it is a cover, a summary page, the sections, the definitions and the
appendix, at most six pages before the appendix for one bank and one quarter (issue 23, must
show 3); it draws the charts without a total bar, explains what it does not show, leaves out
the navigation, is audited, and never names a member."""

from __future__ import annotations

import io
import re
from typing import Any

from django.test import TestCase, override_settings
from django.urls import reverse
from pypdf import PdfReader

from audit.models import Action, AuditEvent
from reports.commissioning import NO_CASH_VALUE, commissioner_report
from reports.models import ReportDownload
from reports.reading import read
from tests.support import PageResponse, user_of

from .commissioning_data import END, START, KnownQuarter, frozen
from .test_commissioner_figures import SHOWN, SHOWN_TREND_END, SHOWN_VALUE

PERIOD = {"start": START.isoformat(), "end": END.isoformat()}
# The fill colour of the bars (#1d70b8) as the PDF writes it.
BAR_COLOUR = "0.113725 0.439216 0.721569 rg"


APPENDIX = "Appendix: the full tables"


def pages_text(content: bytes) -> list[str]:
    """Each page's text, whitespace collapsed to single spaces, its footer (the report's
    title and period, and "3 / 10", drawn last) left out."""
    reader = PdfReader(io.BytesIO(content))
    pages = []
    for page in reader.pages:
        parts: list[str] = []
        page.extract_text(visitor_text=lambda text, *_, into=parts: into.append(text))
        if parts and re.fullmatch(r"\s*\d+ / \d+\s*", parts[-1]):
            del parts[-2:]
        # A word broken at its hyphen by the line ("co-" / "assessment") reads whole.
        pages.append(re.sub(r"(\w)- (\w)", r"\1-\2", " ".join("".join(parts).split())))
    return pages


def pdf_text(content: bytes, *, after: str = "") -> str:
    """Every page's text (from the page whose bookmark is ``after``, if given), whitespace
    collapsed to single spaces, page footers left out."""
    first = dict(bookmarks(content))[after] if after else 0
    return " ".join(pages_text(content)[first:])


def bookmarks(content: bytes) -> list[tuple[str, int]]:
    """The PDF's outline (WeasyPrint makes one from the headings), flattened: (title, page
    index from 0)."""
    reader = PdfReader(io.BytesIO(content))
    found: list[tuple[str, int]] = []

    def walk(items: list[Any]) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item)
            else:
                found.append((item.title, reader.get_destination_page_number(item)))

    walk(reader.outline)
    return found


def table_text(rows: list[list[str]]) -> str:
    """A table as it reads in the PDF: its header and rows in order, cells apart by spaces."""
    return " ".join(cell for row in rows for cell in row if cell)


def bars_drawn(content: bytes) -> int:
    reader = PdfReader(io.BytesIO(content))
    return sum(
        page.get_contents().get_data().decode("latin-1").count(BAR_COLOUR) for page in reader.pages
    )


class PdfOfTheQuarter(KnownQuarter, TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.build_quarter()

    def setUp(self) -> None:
        traveller = frozen()
        traveller.start()
        self.addCleanup(traveller.stop)
        self.client.force_login(user_of(self.cora))

    def pdf(self, **query: str) -> PageResponse:
        return self.client.get(
            reverse("commissioner-report-pdf", args=["riverside"]), {**PERIOD, **query}
        )

    @override_settings(REPORT_SUPPRESSION_THRESHOLD=1)
    def test_the_pdf_holds_the_true_totals_of_every_table_in_its_appendix(self):
        response = self.pdf()
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], "application/pdf")
        self.assertEqual(
            response["Content-Disposition"],
            'attachment; filename="riverside-report-2026-04-01-2026-06-15.pdf"',
        )
        appendix = pdf_text(response.content, after=APPENDIX)
        for name, rows in SHOWN.items():
            with self.subTest(table=name):
                self.assertIn(table_text(rows), appendix)
        self.assertIn(table_text(SHOWN_TREND_END), appendix)
        # The value rows, every column (the rate's name, date and source printed with it).
        self.assertIn(table_text(SHOWN_VALUE), appendix)
        self.assertIn(NO_CASH_VALUE, pdf_text(response.content))

    @override_settings(REPORT_SUPPRESSION_THRESHOLD=1)
    def test_every_table_and_definition_of_the_report_is_in_the_pdf(self):
        # Generic over the report's tables: a table added to the report is printed too.
        report = commissioner_report(banks=[self.riverside], start=START, end=END)
        shown = read(report)
        text = pdf_text(self.pdf().content)
        for table in shown.tables:
            with self.subTest(table=table.name):
                self.assertIn(f"{table.title} {' '.join(table.headers)}", text)
        self.assertIn("What each figure counts", text)
        for definition in shown.definitions:
            with self.subTest(term=definition.term):
                self.assertIn(f"{definition.label} {' '.join(definition.text.split())}", text)

    def test_the_pdf_is_a_pack_a_cover_a_summary_sections_definitions_and_an_appendix(self):
        pages = pages_text(self.pdf().content)
        # The kicker is set in capitals by the stylesheet.
        self.assertTrue(pages[0].startswith("TIME BANK COMMISSIONER REPORT Riverside Time Bank"))
        self.assertIn("1 April to 15 June 2026 Produced on 15 June 2026", pages[0])
        self.assertTrue(pages[1].startswith("Summary From 1 April to 15 June 2026, 12 members"))
        self.assertIn("Key figures, with the period before and a year before", pages[1])
        # The summary page's charts: the 12 months, who helped whom, giving and receiving.
        for title in (
            "Hours of help each month",
            "Members who took part each month",
            "Exchanges by who helped whom",
            "Members who took part in the 12 months",
        ):
            with self.subTest(chart=title):
                self.assertIn(title, pages[1])
        outline = bookmarks(self.pdf().content)
        self.assertEqual(
            [title for title, _ in outline[:3]], ["Riverside Time Bank", "Contents", "Summary"]
        )
        self.assertEqual(outline[-2][0], "What each figure counts")
        self.assertEqual(outline[-1][0], APPENDIX)

    def test_one_bank_for_one_quarter_is_at_most_six_pages_before_the_appendix(self):
        for query in ({}, {"start": "2026-04-01", "end": "2026-06-30"}):
            with self.subTest(query=query):
                outline = dict(bookmarks(self.pdf(**query).content))
                # The appendix starts on page 7 or earlier (pages are counted from 0 here).
                self.assertLessEqual(outline[APPENDIX], 6)
                self.assertEqual(outline["Summary"], 1)

    @override_settings(REPORT_SUPPRESSION_THRESHOLD=1)
    def test_the_pdf_draws_the_charts_without_a_total_bar(self):
        content = self.pdf().content
        report = commissioner_report(banks=[self.riverside], start=START, end=END)
        charts = [c for s in read(report).sections for c in s.charts]
        self.assertGreater(sum(1 for c in charts for m in c.marks if m.width and m.height), 15)
        self.assertGreater(bars_drawn(content), 0)
        self.assertNotIn("Total", [m.label for c in charts for m in c.marks])
        # The summary page draws who helped whom: each bar's label and value, largest first.
        parts: list[str] = []
        PdfReader(io.BytesIO(content)).pages[1].extract_text(
            visitor_text=lambda text, *_: parts.append(text.strip())
        )
        drawn = [p for p in parts if p]
        start = drawn.index("Person to person")
        self.assertEqual(
            drawn[start : start + 12],
            [
                "Person to person",
                "20",
                "Person to",
                "organisation",
                "6",
                "Organisation to",
                "person",
                "5",
                "Organisation to",
                "organisation",
                "2",
                "Paid from the",
            ],
        )

    def test_the_pdf_leaves_out_the_navigation_the_form_and_the_links(self):
        text = pdf_text(self.pdf().content)
        for screen_only in (
            "Sign out",
            "Your account",
            "Skip to main content",
            "Combine with",
            "Download",
            "Need help?",
            "Show the figures as a table",
        ):
            with self.subTest(text=screen_only):
                self.assertNotIn(screen_only, text)

    def test_the_pdf_explains_the_numbers_it_does_not_show_and_names_no_one(self):
        text = pdf_text(self.pdf().content)
        # 2 exchanges between organisations: too few to show; the 5 beside them would then
        # give them away from the total, so those are withheld too, and each says why.
        self.assertIn(
            "Organisation to organisation fewer than 5 not shown (fewer than 5 exchanges)", text
        )
        self.assertIn("Organisation to person not shown (protects a small number)", text)
        self.assertIn("A number from 1 to 4 is not shown, so that no one can be recognised.", text)
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
