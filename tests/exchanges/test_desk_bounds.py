"""The broker's desk shows the oldest few of each queue with its exact size and a link to the
rest, so the page costs the same however long the queues grow; ``?all=1`` shows every exchange
waiting, and the applications' own page has every application."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from desk.followups import DESK_APPLICATIONS, DESK_LONG_UNCONFIRMED, DESK_TO_APPROVE
from exchanges import services
from exchanges.models import Exchange
from ledger import services as ledger
from ledger.models import Account
from members.models import ApprovalRule, Status
from tests.base import CastTestCase
from tests.factories import make_member


class TheDeskShowsTheOldestFewOfEachQueue(CastTestCase):
    alice_account: Account
    bob_account: Account

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.alice_account = ledger.open_account(time_bank=cls.riverside, person=cls.alice)
        cls.bob_account = ledger.open_account(time_bank=cls.riverside, person=cls.bob)

    def record(self, count: int, description: str) -> list[Exchange]:
        return [
            services.record_exchange(
                recorded_by=self.alice,
                giver=self.alice_account,
                receiver=self.bob_account,
                minutes=15,
                details=services.Details(
                    effective_date=timezone.localdate(), description=f"{description} {n:02d}"
                ),
            )
            for n in range(count)
        ]

    def desk(self, query: str = ""):
        self.client.force_login(self.brenda.user)
        with CaptureQueriesContext(connection) as queries:
            response = self.client.get(reverse("desk", args=["riverside"]) + query)
        self.assertEqual(response.status_code, 200)
        return response, len(queries)

    def test_the_oldest_exchanges_to_approve_their_count_and_a_link_to_all(self):
        self.riverside.approval_rule = ApprovalRule.ALL
        self.riverside.confirmation_required = False
        self.riverside.save()
        self.record(2, "Approve")
        self.desk()  # the first visit of a session makes a few queries more
        _page, queries_for_two = self.desk()
        waiting = self.record(DESK_TO_APPROVE + 1, "More")
        page, queries = self.desk()
        total = DESK_TO_APPROVE + 3
        self.assertEqual(queries, queries_for_two)
        self.assertContains(page, f"{total} exchanges to approve")
        self.assertContains(page, "Approve 00")
        self.assertContains(page, f"More {DESK_TO_APPROVE - 3:02d}")
        # The newest waiting are not on the desk, but a click away.
        self.assertNotContains(page, f"More {DESK_TO_APPROVE - 2:02d}")
        self.assertNotContains(page, f"More {DESK_TO_APPROVE:02d}")
        self.assertContains(page, f"See all {total} exchanges to approve")
        everything, _queries = self.desk("?all=1")
        for exchange in waiting:
            self.assertContains(everything, exchange.description)
        self.assertNotContains(everything, "See all")

    def test_the_longest_waiting_for_confirmation_their_count_and_a_link_to_all(self):
        self.riverside.approval_rule = ApprovalRule.NONE
        self.riverside.confirmation_required = True
        self.riverside.save()
        waiting = self.record(DESK_LONG_UNCONFIRMED + 2, "Confirm")
        for days, exchange in enumerate(waiting):
            Exchange.objects.filter(pk=exchange.pk).update(
                recorded_at=timezone.now() - timedelta(days=30 - days)
            )
        page, _queries = self.desk()
        total = DESK_LONG_UNCONFIRMED + 2
        self.assertContains(page, f"Waiting a long time for confirmation ({total})")
        self.assertContains(page, "Confirm 00")
        self.assertNotContains(page, f"Confirm {total - 1:02d}")
        self.assertContains(page, f"See all {total} waiting")
        everything, _queries = self.desk("?all=1")
        self.assertContains(everything, f"Confirm {total - 1:02d}")

    def test_the_oldest_applications_their_count_and_a_link_to_the_queue(self):
        for n in range(DESK_APPLICATIONS + 1):
            make_member(self.riverside, f"Applicant {n:02d}", status=Status.APPLIED)
        page, _queries = self.desk()
        total = DESK_APPLICATIONS + 2  # and Dora, who applied first
        self.assertContains(page, f"{total} applications")
        self.assertContains(page, "Dora Applicant")
        self.assertNotContains(page, f"Applicant {DESK_APPLICATIONS:02d}")
        self.assertContains(page, f"See all {total}, check referees and decide")
        self.assertContains(page, reverse("application-queue", args=["riverside"]))

    def test_empty_queues_say_so(self):
        page, _queries = self.desk()
        self.assertContains(page, "0 exchanges to approve")
        self.assertContains(page, "Nothing to approve.")
        self.assertContains(page, "1 application")
        self.assertNotContains(page, "See all")
