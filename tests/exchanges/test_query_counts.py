"""The dashboard, the statement and the broker's desk make the same number of queries however
long the history is."""

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from exchanges import services
from ledger import services as ledger
from members.models import ApprovalRule
from tests.base import CastTestCase

PAGES = {"dashboard": "alice", "statement": "alice", "desk": "brenda"}
# Pinned: a change that adds a query per row (or per page) shows up here. The desk makes one
# query per follow-up list for its first few rows (five lists) and one more for the size of
# each of the two cheap ones; the dashboard two for the hour totals (one-to-one and group help)
# and two for the recent exchanges (the account's latest journals, then their exchanges).
PINNED = {"dashboard": 11, "statement": 8, "desk": 16}


class QueryCountsDoNotGrow(CastTestCase):
    def add_history(self, count: int) -> None:
        alice = ledger.open_account(time_bank=self.riverside, person=self.alice)
        bob = ledger.open_account(time_bank=self.riverside, person=self.bob)
        olive = ledger.open_account(time_bank=self.riverside, person=self.olive)
        ledger.community_pot(time_bank=self.riverside)
        for n in range(count):
            giver, receiver = (alice, bob) if n % 2 else (bob, alice)
            services.record_exchange(
                recorded_by=self.brenda,
                giver=giver,
                receiver=receiver,
                minutes=30,
                details=services.Details(
                    effective_date=timezone.localdate() - timedelta(days=n % 30),
                    description=f"Help {n}",
                ),
            )
        # Something in every list: waiting for confirmation, waiting for approval.
        services.record_exchange(
            recorded_by=self.alice,
            giver=alice,
            receiver=bob,
            minutes=15,
            details=services.Details(effective_date=timezone.localdate(), description="To confirm"),
        )
        services.record_exchange(
            recorded_by=self.alice,
            giver=alice,
            receiver=olive,
            minutes=15,
            details=services.Details(effective_date=timezone.localdate(), description="To approve"),
        )

    def count(self, page: str) -> int:
        self.client.force_login(getattr(self, PAGES[page]).user)
        with CaptureQueriesContext(connection) as queries:
            response = self.client.get(reverse(page, args=["riverside"]))
        self.assertEqual(response.status_code, 200)
        return len(queries)

    def test_each_page_makes_a_fixed_number_of_queries(self):
        self.riverside.approval_rule = ApprovalRule.NONE
        self.riverside.save()
        self.add_history(3)
        small = {page: self.count(page) for page in PAGES}
        self.add_history(30)
        large = {page: self.count(page) for page in PAGES}
        self.assertEqual(small, large)
        self.assertEqual(large, PINNED)
