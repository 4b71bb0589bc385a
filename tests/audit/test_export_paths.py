"""Every way data leaves the site as a file is in the audit trail: a member's own export
(``person.exported``, tested in tests/members), a statement CSV (the member's own, or a
member's by their broker), the broker's monthly report CSV and the audit trail's own CSV."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from django.test import TestCase
from django.urls import reverse

from audit.models import Action, AuditEvent
from reports import services as reports
from tests.reports.support import KnownMonth
from tests.support import at, eager_tasks, user_of
from timebank.dates import add_months


class ExportPaths(KnownMonth, TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.build_month()
        with time_machine.travel(at(add_months(cls.m, 1), 6), tick=False), eager_tasks():
            reports.build_monthly_report(time_bank=cls.riverside, month=cls.m)

    def downloads(self, action: str):
        return list(AuditEvent.objects.filter(action=action))

    def test_a_brokers_csv_of_a_members_statement_is_audited(self):
        account = self.accounts[self.alice.pk]
        self.client.force_login(user_of(self.brenda))
        page = self.client.get(reverse("statement", args=["riverside"]), {"account": account.pk})
        self.assertEqual(page.status_code, 200)
        self.assertEqual(self.downloads(Action.STATEMENT_DOWNLOADED), [])
        response = self.client.get(
            reverse("statement", args=["riverside"]), {"account": str(account.pk), "format": "csv"}
        )
        self.assertEqual(response["Content-Type"], "text/csv; charset=utf-8")
        [event] = self.downloads(Action.STATEMENT_DOWNLOADED)
        self.assertEqual((event.actor, event.time_bank), (self.brenda, self.riverside))
        self.assertEqual((event.object_type, event.object_id), ("ledger.account", account.pk))
        self.assertEqual(set(event.details), {"start", "end"})

    def test_a_members_csv_of_their_own_statement_is_audited(self):
        self.client.force_login(user_of(self.bob))
        self.client.get(reverse("statement", args=["riverside"]), {"format": "csv"})
        [event] = self.downloads(Action.STATEMENT_DOWNLOADED)
        self.assertEqual(event.actor, self.bob)
        self.assertEqual(event.object_id, self.accounts[self.bob.pk].pk)

    def test_the_brokers_monthly_report_csv_is_audited(self):
        self.client.force_login(user_of(self.brenda))
        month = f"{self.m:%Y-%m}"
        response = self.client.get(reverse("report-csv", args=["riverside", month]))
        self.assertEqual(response.status_code, 200)
        [event] = self.downloads(Action.REPORT_DOWNLOADED)
        self.assertEqual((event.actor, event.time_bank), (self.brenda, self.riverside))
        self.assertEqual(event.details, {"format": "csv", "month": month})
        self.assertEqual(event.object_type, "reports.monthlyreport")

    def test_the_audit_trails_own_csv_is_audited_and_a_page_view_is_not(self):
        self.client.force_login(user_of(self.brenda))
        url = reverse("audit-log", args=["riverside"])
        self.client.get(url)
        self.assertEqual(self.downloads(Action.AUDIT_DOWNLOADED), [])
        since = (self.m - timedelta(days=1)).isoformat()
        self.client.get(url, {"format": "csv", "since": since, "actor": "Alice"})
        [event] = self.downloads(Action.AUDIT_DOWNLOADED)
        self.assertEqual((event.actor, event.time_bank), (self.brenda, self.riverside))
        self.assertEqual(event.details, {"action": "", "since": since, "until": None})
