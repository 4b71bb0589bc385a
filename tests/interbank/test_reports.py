"""Exchanges with other time banks in the reports: the commissioner report's section (hours in
and out per linked bank, the balance of trade), each bank's own figures, the monthly report,
statements naming the other bank."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone

from interbank import services
from ledger.models import Account
from reports import services as reports
from reports.commissioning import commissioner_report
from reports.models import MonthlyReport
from reports.reading import read
from tests.base import CastTestCase

from .support import LinkedBanks, details


class TradeInReports(LinkedBanks, CastTestCase):
    today: date

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.build_linked()
        cls.link()
        fresh = Account.objects.select_related("time_bank")
        # Alice gave Hal 1.5 hours; Hetty gave Bob an hour: both confirmed.
        for recorder, own, other, asked, minutes in (
            (cls.alice, cls.alice_account, cls.hal_account, cls.hal, 90),
            (cls.hetty, cls.hetty_account, cls.bob_account, cls.bob, 60),
        ):
            cross = services.record_between_banks(
                recorded_by=recorder,
                own=fresh.get(pk=own.pk),
                other=fresh.get(pk=other.pk),
                gave=True,
                minutes=minutes,
                details=details(days_ago=0),
            )
            services.confirm(cross=cross, person=asked)
        cls.today = timezone.localdate()

    def report(self, bank):
        start = self.today.replace(day=1)
        return commissioner_report(banks=[bank], start=start, end=self.today, threshold=1)

    def test_each_banks_report_has_its_trade_with_the_other(self):
        river = self.report(self.riverside).table("between_banks")
        self.assertEqual(
            river.rows,
            [["Hillside Time Bank", 1, Decimal("1.50"), 1, Decimal("1.00"), Decimal("-0.50")]],
        )
        hill = self.report(self.hillside).table("between_banks")
        self.assertEqual(
            hill.rows,
            [["Riverside Time Bank", 1, Decimal("1.00"), 1, Decimal("1.50"), Decimal("0.50")]],
        )
        section = next(
            s for s in read(self.report(self.riverside)).sections if s.key == "between_banks"
        )
        self.assertEqual(section.title, "Exchanges with other time banks")

    def test_each_banks_own_figures_stay_whole(self):
        # Riverside's members gave 1.5 hours (Alice) and received one (Bob): its help counts
        # what its own members gave, as any exchange.
        summary = self.report(self.riverside).table("summary")
        self.assertEqual(summary.value("hours_exchanged"), Decimal("1.50"))
        self.assertEqual(summary.value("exchanges"), 2)

    def test_small_counts_are_withheld_with_their_hours_and_the_balance(self):
        start = self.today.replace(day=1)
        table = commissioner_report(banks=[self.riverside], start=start, end=self.today).table(
            "between_banks"
        )
        self.assertEqual(table.rows[0][0], "Hillside Time Bank")
        self.assertTrue(all(table.why(table.rows[0], c) for c in table.columns[1:]))

    def test_the_monthly_report_lists_the_trade(self):
        month = self.today.replace(day=1)
        reports.build_monthly_report(time_bank=self.riverside, month=month, deliver="now")
        figures = MonthlyReport.objects.get(time_bank=self.riverside, month=month).figures
        self.assertEqual(
            figures["between_banks"],
            [
                {
                    "bank": "Hillside Time Bank",
                    "exchanges": 2,
                    "given_minutes": 90,
                    "received_minutes": 60,
                    "balance_minutes": -30,
                }
            ],
        )

    def test_statements_name_the_other_bank(self):
        self.client.force_login(self.alice.user)
        page = self.client.get(reverse("statement", args=["riverside"]))
        self.assertContains(page, "Hillside Time Bank")
        self.client.force_login(self.hal.user)
        page = self.client.get(reverse("statement", args=["hillside"]))
        self.assertContains(page, "Riverside Time Bank")
