"""The broker's report pages and CSV, the member's statement page, and the command."""

import csv
import io

import time_machine
from django.core import mail
from django.core.management import call_command
from django.test import TestCase
from django.urls import reverse

from reports import services
from reports.models import MonthlyReport, Statement
from reports.views import CSV_HEADERS
from tests.support import at, user_of

from .support import KnownMonth


class Pages(KnownMonth, TestCase):
    month: str

    @classmethod
    def setUpTestData(cls) -> None:
        cls.build_month()
        cls.month = f"{cls.m:%Y-%m}"

    def setUp(self) -> None:
        # Without a worker: the command builds each bank's report and sends the statements.
        with (
            time_machine.travel(at(self.n, 6), tick=False),
            self.captureOnCommitCallbacks(execute=True),
        ):
            call_command("monthly_reports", month=self.month, stdout=io.StringIO())

    def test_the_command_built_each_banks_report_and_sent_the_statements(self):
        self.assertEqual(MonthlyReport.objects.filter(month=self.m, state="done").count(), 2)
        self.assertEqual(Statement.objects.filter(emailed_at__isnull=False).count(), 4)

    def test_the_command_run_again_changes_nothing(self):
        out = io.StringIO()
        sent = len(mail.outbox)
        call_command("monthly_reports", month=self.month, bank="riverside", stdout=out)
        self.assertIn("riverside", out.getvalue())
        self.assertIn("done already", out.getvalue())
        self.assertEqual(len(mail.outbox), sent)

    def test_a_broker_sees_the_list_of_months_and_one_report(self):
        self.client.force_login(user_of(self.brenda))
        listing = self.client.get(reverse("report-list", args=["riverside"]))
        self.assertContains(listing, reverse("report-detail", args=["riverside", self.month]))
        with self.assertNumQueries(5):
            page = self.client.get(reverse("report-detail", args=["riverside", self.month]))
        self.assertContains(page, "40% of active members both gave and received help")
        self.assertContains(page, "Carl Carpenter")

    def test_the_desk_links_to_the_reports(self):
        self.client.force_login(user_of(self.brenda))
        desk = self.client.get(reverse("desk", args=["riverside"]))
        self.assertContains(desk, reverse("report-list", args=["riverside"]))

    def test_the_csv_has_stable_snake_case_headers_and_iso_dates(self):
        self.client.force_login(user_of(self.brenda))
        response = self.client.get(reverse("report-csv", args=["riverside", self.month]))
        rows = list(csv.reader(io.StringIO(response.content.decode())))
        self.assertEqual(rows[0], CSV_HEADERS)
        self.assertIn(["riverside", self.m.isoformat(), "figure", "both", "2", ""], rows)
        self.assertIn(
            ["riverside", self.m.isoformat(), "trend", self.m.isoformat(), "0.4", ""], rows
        )
        self.assertIn(
            ["riverside", self.m.isoformat(), "givers_only", "member", "Carl Carpenter", ""], rows
        )

    def test_members_and_other_brokers_cannot_see_a_report(self):
        for person, status in ((self.alice, 403), (self.hugo, 403), (self.cora, 403)):
            self.client.force_login(user_of(person))
            response = self.client.get(reverse("report-detail", args=["riverside", self.month]))
            self.assertEqual(response.status_code, status, person)

    def test_a_member_sees_their_own_statement_and_nobody_elses(self):
        self.client.force_login(user_of(self.carl))
        page = self.client.get(reverse("member-statement", args=["riverside", self.month]))
        self.assertContains(page, "You have hours to spend")
        self.assertContains(page, "Erin Elder")
        self.client.force_login(user_of(self.brenda))  # no statement of her own that month
        response = self.client.get(reverse("member-statement", args=["riverside", self.month]))
        self.assertEqual(response.status_code, 404)

    def test_the_month_just_ended_is_the_default(self):
        self.assertEqual(services.month_just_ended(self.n.replace(day=1)), self.m)
