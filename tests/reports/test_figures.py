"""The broker's monthly report: figures on a small known month, and revisions after a late
exchange dated in a month already reported."""

from datetime import timedelta

import time_machine
from django.test import TestCase

from reports import services
from reports.models import MonthlyReport
from tests.support import at, eager_tasks
from timebank.dates import add_months

from .support import KnownMonth


def build(bank, month):
    """Run the monthly job for ``month`` on the 1st of the month after, at 06:00."""
    with time_machine.travel(at(add_months(month, 1), 6), tick=False), eager_tasks():
        return services.build_monthly_report(time_bank=bank, month=month)


class AMonthOfHelp(KnownMonth, TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.build_month()

    def test_it_counts_who_gave_who_received_who_did_both_and_who_did_neither(self):
        self.assertEqual(build(self.riverside, self.m), "built")
        report = MonthlyReport.objects.get(time_bank=self.riverside, month=self.m)
        figures = report.figures
        self.assertEqual(
            {k: figures[k] for k in ("members", "active", "givers_only", "receivers_only")},
            {"members": 7, "active": 5, "givers_only": 1, "receivers_only": 2},
        )
        self.assertEqual((figures["both"], figures["inactive"]), (2, 2))
        self.assertEqual(
            report.lists,
            {
                "givers_only": ["Carl Carpenter"],
                "receivers_only": ["Erin Elder", "Olive Offline"],
                "both": ["Alice Archer", "Bob Baker"],
                "inactive": ["Brenda Broker", "Dan Newcomer"],
            },
        )

    def test_reciprocity_is_the_share_of_active_members_who_both_gave_and_received(self):
        build(self.riverside, self.m)
        figures = MonthlyReport.objects.get(month=self.m, time_bank=self.riverside).figures
        self.assertEqual(figures["reciprocity"], 0.4)
        self.assertEqual(len(figures["trend"]), 12)
        self.assertEqual(figures["trend"][-1], {"month": self.m.isoformat(), "reciprocity": 0.4})
        # Before month M nobody had exchanged: no one active, no measure.
        self.assertEqual({t["reciprocity"] for t in figures["trend"][:-1]}, {None})
        self.assertEqual(figures["window_start"], add_months(self.m, -11).isoformat())

    def test_it_shows_the_months_new_members_exchanges_and_hours(self):
        build(self.riverside, self.m)
        figures = MonthlyReport.objects.get(month=self.m, time_bank=self.riverside).figures
        self.assertEqual(
            (figures["new_members"], figures["exchanges"], figures["hours_minutes"]), (1, 4, 330)
        )

    def test_balances_at_the_end_of_the_month_fall_into_bands(self):
        build(self.riverside, self.m)
        figures = MonthlyReport.objects.get(month=self.m, time_bank=self.riverside).figures
        bands = {b["band"]: b["members"] for b in figures["balance_bands"]}
        # alice +2h, carl +1.5h; bob -1h, erin -1.5h, olive -1h; brenda and dan 0.
        self.assertEqual(
            bands,
            {
                "below_minus_10h": 0,
                "minus_10h_to_minus_5h": 0,
                "minus_5h_to_0h": 3,
                "zero": 2,
                "0h_to_5h": 2,
                "5h_to_10h": 0,
                "over_10h": 0,
            },
        )

    def test_the_other_time_bank_has_its_own_empty_report(self):
        build(self.hillside, self.m)
        figures = MonthlyReport.objects.get(month=self.m, time_bank=self.hillside).figures
        self.assertEqual(
            (figures["members"], figures["active"], figures["reciprocity"]), (1, 0, None)
        )


class ALateExchange(KnownMonth, TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.build_month()
        build(cls.riverside, cls.m)
        # Recorded in month N, but the help happened in month M, already reported.
        cls.help(
            cls.bob, cls.brenda, 60, cls.m + timedelta(days=19), recorded=cls.n + timedelta(days=9)
        )
        build(cls.riverside, cls.n)

    def test_the_reported_month_keeps_its_figures(self):
        figures = MonthlyReport.objects.get(month=self.m, time_bank=self.riverside).figures
        self.assertEqual((figures["exchanges"], figures["hours_minutes"]), (4, 330))

    def test_the_next_report_lists_each_changed_figure_as_a_revision(self):
        report = MonthlyReport.objects.get(month=self.n, time_bank=self.riverside)
        m = self.m.isoformat()
        self.assertEqual(
            {(r["month"], r["figure"]): (r["was"], r["now"]) for r in report.revisions},
            {
                (m, "exchanges"): (4, 5),
                (m, "hours_minutes"): (330, 390),
                (m, "active"): (5, 6),
                (m, "receivers_only"): (2, 3),
                (m, "inactive"): (2, 1),
                (m, "reciprocity"): (0.4, 0.3333),
            },
        )
        # The trend shows month M as it stands now.
        self.assertEqual(report.figures["trend"][-2], {"month": m, "reciprocity": 0.3333})

    def test_a_revision_is_reported_once_not_again_the_month_after(self):
        build(self.riverside, add_months(self.n, 1))
        later = MonthlyReport.objects.get(month=add_months(self.n, 1), time_bank=self.riverside)
        self.assertEqual(later.revisions, [])
