"""Problem 10 of issue 22: the "exchange recorded" email says which way the hours went, to
each reader (it said "From Community pot to Alice Archer" for Alice's own donation), and the
"please confirm" email says who helped whom and that the date is when the help happened."""

from __future__ import annotations

from datetime import timedelta

from django.core import mail
from django.utils import timezone
from django.utils.formats import date_format

from exchanges import services
from ledger import services as ledger
from tests.base import CastTestCase


class EmailsSayWhichWayTheHoursWent(CastTestCase):
    def setUp(self) -> None:
        self.alice_account = ledger.open_account(time_bank=self.riverside, person=self.alice)
        self.bob_account = ledger.open_account(time_bank=self.riverside, person=self.bob)
        self.pot = ledger.community_pot(time_bank=self.riverside)
        self.today = date_format(timezone.localdate(), "DATE_FORMAT")
        ledger.set_limits(
            account=self.alice_account, credit_limit_minutes=-600, max_balance_minutes=None
        )

    def body_to(self, person) -> str:
        [email] = [m for m in mail.outbox if m.to == [person.user.email]]
        return str(email.body)

    def test_a_donation_to_the_pot_is_from_the_donor(self):
        with self.captureOnCommitCallbacks(execute=True):
            services.donate_hours(
                recorded_by=self.alice, donor=self.alice_account, to_account=self.pot, minutes=120
            )
        body = self.body_to(self.alice)
        self.assertIn(f"You gave 2 hours to the community pot on {self.today}.", body)
        self.assertNotIn("From Community pot", body)

    def test_a_donation_to_a_member_reads_right_to_both(self):
        with self.captureOnCommitCallbacks(execute=True):
            services.donate_hours(
                recorded_by=self.alice,
                donor=self.alice_account,
                to_account=self.bob_account,
                minutes=60,
            )
        self.assertIn("You gave 1 hour to Bob Baker", self.body_to(self.alice))
        self.assertIn("Alice Archer gave you 1 hour", self.body_to(self.bob))

    def test_a_grant_is_to_the_member_from_the_pot(self):
        with self.captureOnCommitCallbacks(execute=True):
            services.grant_from_pot(
                broker=self.brenda,
                time_bank=self.riverside,
                to_account=self.alice_account,
                minutes=60,
                reason="Welcome hour",
            )
        body = self.body_to(self.alice)
        self.assertIn("You were given 1 hour from the community pot", body)
        self.assertNotIn("From Alice Archer to", body)

    def test_help_reads_from_where_each_stands_and_keeps_apostrophes(self):
        with self.captureOnCommitCallbacks(execute=True):
            services.record_exchange(
                recorded_by=self.brenda,
                giver=self.alice_account,
                receiver=self.bob_account,
                minutes=90,
                details=services.Details(
                    effective_date=timezone.localdate() - timedelta(days=1),
                    description="Fixed Bob's gate",
                ),
            )
        self.assertIn("You helped Bob Baker for 1.5 hours", self.body_to(self.alice))
        self.assertIn("Alice Archer helped you for 1.5 hours", self.body_to(self.bob))
        self.assertIn("Fixed Bob's gate", self.body_to(self.bob))

    def test_please_confirm_says_who_helped_whom_on_the_day_of_the_help(self):
        day = timezone.localdate() - timedelta(days=3)
        with self.captureOnCommitCallbacks(execute=True):
            services.record_exchange(
                recorded_by=self.alice,
                giver=self.alice_account,
                receiver=self.bob_account,
                minutes=90,
                details=services.Details(effective_date=day, description="Pruned the apple tree"),
            )
        body = self.body_to(self.bob)
        self.assertIn(
            f"Alice Archer says: “I helped you for 1.5 hours on {date_format(day, 'DATE_FORMAT')}",
            body,
        )
        self.assertIn("Is that right?", body)
