"""Members who joined and left: leavers in the period, the median days from approval to a
first exchange, and six-month retention, on a small dataset whose answers are known, in
every format; and their suppression under the threshold.

In Riverside (the cast, who joined a year ago, plus):
- n1 approved 1 April 2026, first exchange 11 April (10 days);
- n2 approved 10 April, first exchange 10 May (30 days);
- n3 approved 1 May, exchanges on 21 May (20 days) and 1 June;
- n4 approved 15 May, no exchange; a broker marks n4 as left today (15 June);
- Lena, a member for a year, left on 1 May; Earl, a member for a year, left on 1 March.
So for 1 April to 15 June: 4 new members, 2 left (n4 and Lena; Earl before the period),
median 20.0 days (of 10, 20, 30), retention 3 of 4 = 0.7500.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import time_machine
from django.test import TestCase, override_settings
from django.urls import reverse
from openpyxl import load_workbook

from exchanges import services as exchanges
from ledger import services as ledger
from ledger.models import Account
from members.models import Membership, Person
from reports import reading
from reports.commissioning import SUPPRESSED, commissioner_report
from tests.base import Cast
from tests.factories import make_member
from tests.support import at, user_of

from .commissioning_data import END, START, Tables, frozen

PERIOD = {"start": START.isoformat(), "end": END.isoformat()}
FIGURES = {
    "new_members": "4",
    "members_left": "2",
    "median_days_to_first_exchange": "20.0",
    "retention_6_months_share": "0.7500",
}


class JoinersAndLeavers(Cast):
    n4: Person

    @classmethod
    def build_joiners(cls) -> None:
        with frozen():
            cls.build_cast()
            bank, brenda = cls.riverside, cls.brenda
            approved = [date(2026, 4, 1), date(2026, 4, 10), date(2026, 5, 1), date(2026, 5, 15)]
            new = []
            for i, day in enumerate(approved):
                person = make_member(bank, f"New Member {i + 1}")
                Membership.objects.filter(person=person).update(decided_at=at(day, 10))
                new.append(person)
            n = [ledger.open_account(time_bank=bank, person=p) for p in new]
            alice = ledger.open_account(time_bank=bank, person=cls.alice)
            bob = ledger.open_account(time_bank=bank, person=cls.bob)

            def help(giver: Account, receiver: Account, day: date) -> None:
                exchanges.record_exchange(
                    recorded_by=brenda,
                    giver=giver,
                    receiver=receiver,
                    minutes=60,
                    details=exchanges.Details(effective_date=day, description="Help"),
                )

            help(bob, n[0], date(2026, 4, 11))
            help(n[1], alice, date(2026, 5, 10))
            help(n[2], bob, date(2026, 5, 21))
            help(n[2], bob, date(2026, 6, 1))
            exchanges.leave_time_bank(
                membership=Membership.objects.get(person=new[3]), by=brenda, reason="Moved"
            )
            cls.n4 = new[3]
            for name, day in (("Lena Leaver", date(2026, 5, 1)), ("Earl Early", date(2026, 3, 1))):
                person = make_member(bank, name)
                with time_machine.travel(at(day, 10), tick=False):
                    exchanges.leave_time_bank(
                        membership=Membership.objects.get(person=person), by=person
                    )


@override_settings(REPORT_SUPPRESSION_THRESHOLD=1)
class KnownJoinersAndLeavers(JoinersAndLeavers, TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.build_joiners()

    def setUp(self) -> None:
        traveller = frozen()
        traveller.start()
        self.addCleanup(traveller.stop)
        self.client.force_login(user_of(self.cora))

    def summary(self, start: date = START, end: date = END) -> dict[str, object]:
        report = commissioner_report(banks=[self.riverside], start=start, end=end)
        return {str(row[0]): row[1] for row in report.table("summary").rows}

    def test_the_figures_are_the_known_ones(self):
        summary = self.summary()
        self.assertEqual({k: str(summary[k]) for k in FIGURES}, FIGURES)
        # Alice, Bob, Brenda, Olive and n1..n3: not the leavers, nor Cora (a commissioner).
        self.assertEqual(summary["members_at_period_end"], 7)

    def test_a_member_who_left_after_the_period_still_counts_at_its_end(self):
        summary = self.summary(end=date(2026, 5, 31))
        # n4 (approved 15 May) left on 15 June; Lena left on 1 May, inside this period.
        self.assertEqual(summary["members_at_period_end"], 8)
        self.assertEqual(summary["members_left"], 1)

    def test_before_anyone_new_exchanged_there_is_no_median_and_no_share(self):
        summary = self.summary(start=date(2026, 1, 1), end=date(2026, 3, 31))
        self.assertEqual(
            [summary[k] for k in ("new_members", "median_days_to_first_exchange")], [0, None]
        )
        self.assertIsNone(summary["retention_6_months_share"])
        self.assertEqual(summary["members_left"], 1)

    def test_every_format_shows_them_and_defines_them(self):
        url = reverse("commissioner-report-csv", args=["riverside"])
        rows = csv.reader(io.StringIO(self.client.get(url, {**PERIOD, "table": "summary"}).text))
        self.assertLessEqual(FIGURES.items(), dict(rows).items())
        body = json.loads(
            self.client.get(reverse("api-report"), {**PERIOD, "banks": "riverside"}).content
        )
        summary = next(t for t in body["tables"] if t["name"] == "summary")
        self.assertLessEqual(FIGURES.items(), {k: str(v) for k, v in summary["rows"]}.items())
        terms = {d["term"] for d in body["definitions"]}
        self.assertLessEqual(set(FIGURES), terms)
        xlsx = self.client.get(reverse("commissioner-report-xlsx", args=["riverside"]), PERIOD)
        book = load_workbook(io.BytesIO(xlsx.content))
        sheet = {row[0]: row[1] for row in book["Summary"].iter_rows(values_only=True)}
        self.assertEqual(sheet["Members who left"], 2)
        self.assertEqual(sheet["Days from joining to a first exchange"], 20)
        self.assertEqual(sheet["New members who exchanged within 6 months"], 0.75)
        defined = {row[0] for row in book["Definitions"].iter_rows(values_only=True)}
        self.assertLessEqual({reading.label(key) for key in FIGURES}, defined)
        page = self.client.get(reverse("commissioner-report", args=["riverside"]), PERIOD)
        shown = dict(Tables(page.content.decode()).tables["summary"])
        self.assertLessEqual(
            {
                "New members": "4",
                "Members who left": "2",
                "Days from joining to a first exchange": "20",
                "New members who exchanged within 6 months": "75%",
            }.items(),
            shown.items(),
        )
        self.assertContains(page, "within 6 months of approval, so far")
        self.assertNotContains(page, "Moved")
        self.assertNotContains(page, "Lena Leaver")

    def test_the_new_figures_add_one_query_whatever_the_number_of_members(self):
        # 10 for the figures, one for exchanges with other time banks, one grouped query for the five demographic tables, three for the
        # comparisons' figures of the three periods.
        with self.assertNumQueries(15):
            commissioner_report(banks=[self.riverside], start=START, end=END)


class SmallNumbersOfJoinersAndLeavers(JoinersAndLeavers, TestCase):
    """The same dataset at the default threshold of 5."""

    @classmethod
    def setUpTestData(cls) -> None:
        cls.build_joiners()

    def test_small_counts_and_the_figures_built_on_them_are_suppressed(self):
        with frozen():
            report = commissioner_report(banks=[self.riverside], start=START, end=END)
        summary = report.table("summary")
        for measure in (
            "new_members",
            "members_left",
            "median_days_to_first_exchange",
            "retention_6_months_share",
        ):
            with self.subTest(measure=measure):
                self.assertEqual(summary.value(measure), SUPPRESSED)

    def test_the_share_is_shown_only_when_neither_part_is_small(self):
        with frozen():
            report = commissioner_report(banks=[self.riverside], start=START, end=END, threshold=2)
        summary = report.table("summary")
        # 3 of 4 traded: the one who did not is a small number, so the share would reveal them.
        self.assertEqual(summary.value("retention_6_months_share"), SUPPRESSED)
        self.assertEqual(str(summary.value("median_days_to_first_exchange")), "20.0")
        self.assertEqual(summary.value("members_left"), 2)


@override_settings(REPORT_SUPPRESSION_THRESHOLD=1)
class SixMonthsAreSixCalendarMonths(Cast, TestCase):
    """Approved on 20 December 2025, a first exchange on 10 June 2026 is within six months
    (until 20 June), though it is after the first of the sixth month."""

    @classmethod
    def setUpTestData(cls) -> None:
        with frozen():
            cls.build_cast()
            person = make_member(cls.riverside, "Nell Newcomer")
            Membership.objects.filter(person=person).update(decided_at=at(date(2025, 12, 20), 10))
            exchanges.record_exchange(
                recorded_by=cls.brenda,
                giver=ledger.open_account(time_bank=cls.riverside, person=cls.bob),
                receiver=ledger.open_account(time_bank=cls.riverside, person=person),
                minutes=60,
                details=exchanges.Details(effective_date=date(2026, 6, 10), description="Help"),
            )

    def test_a_first_exchange_five_and_a_half_months_on_counts(self):
        with frozen():
            report = commissioner_report(banks=[self.riverside], start=date(2025, 12, 1), end=END)
        summary = {row[0]: row[1] for row in report.table("summary").rows}
        self.assertEqual(summary["new_members"], 1)
        self.assertEqual(str(summary["retention_6_months_share"]), "1.0000")
