"""The monthly job costs a fixed number of queries per batch of members, whatever its size."""

from datetime import timedelta

import time_machine
from django.test import TestCase

from ledger import services as ledger
from members.models import Membership
from reports import services
from tests.factories import make_member
from tests.support import at

from .support import KnownMonth

# Members, help totals, closing balances, partners, heartbeat, insert, statements to email.
QUERIES_PER_BATCH = 7
# Everything but the full batches: the claim (savepoint, insert, release), the two listing
# pools, the empty last batch (3), the figures: headline (4 queries) for the month and its 11
# predecessors, balance bands, the trade with linked banks, the earlier reports, the four
# lists, the commissioner report's snapshot of the month (4 figures, 1 for the demographic
# tables), and the final conditional update in its savepoint (3).
JOB_QUERIES = 3 + 2 + 3 + 12 * 4 + 1 + 1 + 1 + 4 + 5 + 3


class QueryCounts(KnownMonth, TestCase):
    first: int

    @classmethod
    def setUpTestData(cls) -> None:
        cls.build_month()
        # Eight more members, each with an exchange in month M, so every batch has statements.
        extras = [make_member(cls.riverside, f"Extra Member {n}") for n in range(8)]
        for person in extras:
            cls.accounts[person.pk] = ledger.open_account(time_bank=cls.riverside, person=person)
        for giver, receiver in zip(extras[::2], extras[1::2], strict=True):
            cls.help(giver, receiver, 30, cls.m + timedelta(days=12))
        cls.first = Membership.objects.filter(time_bank=cls.riverside).order_by("pk").first().pk

    def setUp(self) -> None:
        self.travel = time_machine.travel(at(self.n, 6), tick=False)
        self.travel.start()
        self.addCleanup(self.travel.stop)
        self.report, _ = services._claim(self.riverside, self.m)
        self.suggestions = services.Suggestions(self.riverside.pk)

    def batch(self, size: int) -> int | None:
        return services.write_statements(
            report=self.report, after=self.first - 1, batch_size=size, suggestions=self.suggestions
        )

    def test_a_batch_of_two_members_takes_a_fixed_number_of_queries(self):
        # +2: the savepoint around the batch's transaction (a test runs inside one).
        with self.assertNumQueries(QUERIES_PER_BATCH + 2):
            self.batch(2)

    def test_a_batch_of_twelve_members_takes_the_same_number(self):
        with self.assertNumQueries(QUERIES_PER_BATCH + 2):
            self.batch(12)

    def test_the_whole_job_grows_with_the_number_of_batches_not_of_members(self):
        # 15 members: batches of 6 make 3 batches, of 3 make 5; each run ends with one
        # empty batch (a savepoint, the members query, its release).
        self.report.delete()  # no statements yet: build it from the start
        with self.assertNumQueries(JOB_QUERIES + 3 * (QUERIES_PER_BATCH + 2)):
            services.build_monthly_report(time_bank=self.riverside, month=self.m, batch_size=6)

    def test_smaller_batches_add_only_the_per_batch_queries(self):
        self.report.statements.all().delete()
        self.report.delete()
        with self.assertNumQueries(JOB_QUERIES + 5 * (QUERIES_PER_BATCH + 2)):
            services.build_monthly_report(time_bank=self.riverside, month=self.m, batch_size=3)
