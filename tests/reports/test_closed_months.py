"""Closed months in the commissioner report: a month's figures are snapshotted when its monthly
report is made; the report for that month shows the snapshot, and later changes dated in it
(a late exchange, a reversal, an erasure) appear as revisions, never as shifted figures."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import time_machine
from django.test import TestCase
from django.urls import reverse

from exchanges import services as exchanges
from exchanges.models import Exchange
from ledger import services as ledger
from members.models import Person, Role, TimeBank
from privacy import services as privacy
from reports import services
from reports.commissioning import SUPPRESSED, Report, commissioner_report
from reports.models import MonthlyReport
from tests.factories import make_member
from tests.support import at, eager_tasks, user_of
from timebank.dates import add_months, last_of

from .support import KnownMonth


def build(bank: TimeBank, month: date) -> str:
    """Run the monthly job for ``month`` on the 1st of the month after, at 06:00."""
    with time_machine.travel(at(add_months(month, 1), 6), tick=False), eager_tasks():
        return services.build_monthly_report(time_bank=bank, month=month)


def month_end(month: date) -> date:
    return last_of(month)


class AClosedMonthThenLateChanges(KnownMonth, TestCase):
    """Month M of ``KnownMonth`` (4 exchanges, 330 min; alice, bob, carl, erin and olive
    active; alice, bob and carl gave; alice, bob, erin and olive received), reported on the 1st
    of month N. Then, on the 10th of N: dan's help to erin (30 min) and to carl (15 min),
    both dated in M, are recorded late; bob's 60 min for alice in M is reversed; and olive,
    who said she is a woman, is erased. Month N (no help of its own) is reported after."""

    ada: Person

    @classmethod
    def setUpTestData(cls) -> None:
        cls.build_month()
        cls.ada = make_member(cls.riverside, "Ada Admin", role=Role.ADMIN)
        women = [cls.alice, cls.erin, cls.olive]
        Person.objects.filter(pk__in=[p.pk for p in women]).update(gender="woman")
        Person.objects.filter(pk__in=[cls.bob.pk, cls.carl.pk]).update(gender="man")
        cls.accounts[cls.dan.pk] = ledger.open_account(time_bank=cls.riverside, person=cls.dan)
        build(cls.riverside, cls.m)

        later = cls.n + timedelta(days=9)
        cls.help(cls.dan, cls.erin, 30, cls.m + timedelta(days=20), recorded=later)
        cls.help(cls.dan, cls.carl, 15, cls.m + timedelta(days=21), recorded=later)
        mistaken = Exchange.objects.get(
            time_bank=cls.riverside, minutes=60, effective_date=cls.m + timedelta(days=4)
        )
        with time_machine.travel(at(later), tick=False):
            exchanges.reverse_exchange(exchange=mistaken, broker=cls.brenda, reason="Never done")
            privacy.erase_person(person=cls.olive, admin=user_of(cls.ada), reason="person_asked")
        build(cls.riverside, cls.n)

    def report(self, start: date, end: date, threshold: int = 1) -> Report:
        return commissioner_report(
            banks=[self.riverside], start=start, end=end, threshold=threshold
        )

    def test_the_closed_month_shows_the_figures_it_was_reported_with(self):
        summary = self.report(self.m, month_end(self.m)).table("summary")
        self.assertEqual(summary.value("hours_exchanged"), Decimal("5.50"))
        self.assertEqual(summary.value("exchanges"), 4)
        self.assertEqual(summary.value("active_members"), 5)
        self.assertEqual(summary.value("active_individuals"), 5)
        self.assertEqual(summary.value("givers"), 3)
        self.assertEqual(summary.value("receivers"), 4)
        self.assertIn("snapshotted", summary.note)

    def test_the_same_days_not_as_a_closed_month_show_the_ledger_as_it_stands(self):
        summary = self.report(self.m, self.m + timedelta(days=26)).table("summary")
        self.assertEqual(summary.value("hours_exchanged"), Decimal("5.25"))
        self.assertEqual(summary.value("exchanges"), 5)
        self.assertEqual(summary.value("active_individuals"), 6)
        with self.assertRaises(KeyError):
            self.report(self.m, self.m + timedelta(days=26)).table("revisions")

    def test_the_revisions_show_each_difference_exactly(self):
        revisions = self.report(self.m, month_end(self.m)).table("revisions")
        self.assertEqual(
            revisions.columns, ["month", "measure", "as_reported", "today", "difference"]
        )
        self.assertEqual(
            revisions.rows,
            [
                # 330 min - 60 reversed + 30 + 15 recorded late = 315 min.
                [self.m, "hours_exchanged", Decimal("5.50"), Decimal("5.25"), Decimal("-0.25")],
                [self.m, "exchanges", 4, 5, 1],
                # dan is active now; alice, bob, carl, erin and olive still are. Givers and
                # receivers are unchanged in number: bob no longer gave, dan did; alice no
                # longer received, carl did.
                [self.m, "active_members", 5, 6, 1],
                [self.m, "active_individuals", 5, 6, 1],
            ],
        )

    def test_erasure_keeps_the_closed_month_and_counts_the_person_as_not_given_in_open_ones(self):
        closed = self.report(self.m, month_end(self.m)).table("demographics_gender")
        self.assertEqual(closed.value("woman"), 3)
        self.assertEqual(closed.value("man"), 2)
        self.assertEqual(closed.value("not_given"), 0)
        self.assertIn("snapshotted", closed.note)
        now = self.report(self.m, self.m + timedelta(days=26)).table("demographics_gender")
        # olive is erased; dan never answered.
        self.assertEqual(now.value("woman"), 2)
        self.assertEqual(now.value("not_given"), 2)
        self.assertNotIn(
            "gender", str(MonthlyReport.objects.get(month=self.m, time_bank=self.riverside).lists)
        )

    def test_a_small_revision_is_suppressed_when_either_figure_is(self):
        revisions = self.report(self.m, month_end(self.m), threshold=5).table("revisions")
        self.assertEqual(
            revisions.rows,
            [
                # 4 exchanges is under the threshold: neither their count nor hours are shown;
                # one more exchange is a change under it, so today's figures are hidden too.
                [self.m, "hours_exchanged", SUPPRESSED, SUPPRESSED, SUPPRESSED],
                [self.m, "exchanges", SUPPRESSED, SUPPRESSED, SUPPRESSED],
                # 5 and 6 are shown in their own right, but a difference of 1 is not.
                [self.m, "active_members", 5, SUPPRESSED, SUPPRESSED],
                [self.m, "active_individuals", 5, SUPPRESSED, SUPPRESSED],
            ],
        )

    def test_a_change_under_the_threshold_hides_today_and_the_difference(self):
        # At 2 every figure of the month shows, but each changed by one (one more exchange,
        # one more active member): a difference of 1, or today beside as reported, would
        # publish it. Only the fact of the revision remains.
        revisions = self.report(self.m, month_end(self.m), threshold=2).table("revisions")
        self.assertEqual(
            revisions.rows,
            [
                [self.m, "hours_exchanged", Decimal("5.50"), SUPPRESSED, SUPPRESSED],
                [self.m, "exchanges", 4, SUPPRESSED, SUPPRESSED],
                [self.m, "active_members", 5, SUPPRESSED, SUPPRESSED],
                [self.m, "active_individuals", 5, SUPPRESSED, SUPPRESSED],
            ],
        )
        definition = dict(self.report(self.m, month_end(self.m), threshold=2).definitions)
        self.assertIn("threshold for showing a number", definition["revisions"])

    def test_every_withheld_or_empty_cell_of_a_closed_month_has_its_reason(self):
        for threshold in (1, 2, 5):
            report = self.report(self.m, month_end(self.m), threshold=threshold)
            for table in report.tables:
                for key, column, why in table.reasons():
                    with self.subTest(t=threshold, table=table.name, row=key, column=column):
                        self.assertTrue(why)

    def test_the_month_after_compares_with_the_month_before_as_it_was_reported(self):
        comparisons = self.report(self.n, month_end(self.n)).table("comparisons")
        # M as reported: 4 exchanges, 330 min (5, and 315 min, as the ledger stands today).
        self.assertEqual(comparisons.value("exchanges", "previous_period"), 4)
        self.assertEqual(comparisons.value("hours_exchanged", "previous_period"), Decimal("5.50"))
        self.assertEqual(comparisons.value("exchanges", "this_period"), 0)

    def test_several_closed_months_add_up_their_snapshots(self):
        report = self.report(self.m, month_end(self.n))
        summary = report.table("summary")
        # M as reported (4, 330 min) and N as reported (no help; the reversal dated in N).
        self.assertEqual(summary.value("exchanges"), 4)
        self.assertEqual(summary.value("hours_exchanged"), Decimal("5.50"))
        self.assertEqual(report.table("other_movements").value("reversals", "transactions"), 1)
        # Distinct counts cannot be added over months: as the ledger stands.
        self.assertEqual(summary.value("active_individuals"), 6)
        self.assertEqual(
            {row[0] for row in report.table("revisions").rows}, {self.m}, "N has not changed"
        )

    def test_a_month_reported_before_snapshots_were_kept_reads_as_open(self):
        MonthlyReport.objects.filter(month=self.m).update(commissioner={})
        report = self.report(self.m, month_end(self.m))
        self.assertEqual(report.table("summary").value("exchanges"), 5)
        self.assertNotIn("revisions", [t.name for t in report.tables])

    def test_the_revisions_reach_every_format_with_their_definition(self):
        self.client.force_login(user_of(self.cora))
        period = {"start": self.m.isoformat(), "end": month_end(self.m).isoformat()}
        api = self.client.get(reverse("api-report"), {**period, "banks": "riverside"}).json()
        tables = {t["name"]: t for t in api["tables"]}
        # The default threshold (5) hides the month's 4 exchanges; the active counts show.
        self.assertEqual(
            tables["revisions"]["rows"],
            [
                [self.m.isoformat(), "hours_exchanged", SUPPRESSED, SUPPRESSED, SUPPRESSED],
                [self.m.isoformat(), "exchanges", SUPPRESSED, SUPPRESSED, SUPPRESSED],
                [self.m.isoformat(), "active_members", 5, SUPPRESSED, SUPPRESSED],
                [self.m.isoformat(), "active_individuals", 5, SUPPRESSED, SUPPRESSED],
            ],
        )
        self.assertIn("revisions", [d["term"] for d in api["definitions"]])
        self.assertIn("closed_months", [d["term"] for d in api["definitions"]])
        response = self.client.get(
            reverse("commissioner-report-csv", args=["riverside"]), {**period, "table": "revisions"}
        )
        rows = list(csv.reader(io.StringIO(response.content.decode())))
        self.assertEqual(rows[0], ["month", "measure", "as_reported", "today", "difference"])
        self.assertIn([self.m.isoformat(), "active_individuals", "5", SUPPRESSED, SUPPRESSED], rows)
        page = self.client.get(reverse("commissioner-report", args=["riverside"]), period)
        self.assertContains(page, "Revisions since the months were reported")
        self.assertContains(page, "Revisions since the month was closed")

    def test_a_closed_period_costs_a_fixed_number_of_queries_per_month(self):
        # The open report's 11 (+1 for exchanges with other time banks), the comparisons' figures of the three periods (3), the
        # snapshots of the three periods (1), and today's figures of each closed month for
        # its revisions (5 a month: 4 figures, 1 for the demographic tables).
        with self.assertNumQueries(11 + 1 + 3 + 1 + 5):
            self.report(self.m, month_end(self.m))
        with self.assertNumQueries(11 + 1 + 3 + 1 + 2 * 5):
            self.report(self.m, month_end(self.n))
