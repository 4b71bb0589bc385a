"""The weekly broker digest: one per broker per bank per ISO week, with the approval queue,
long-pending exchanges, flagged accounts, new applications, members to follow up and the
offline members to phone."""

from datetime import timedelta

from django.core import mail
from django.utils import timezone

from members.models import Membership, Status
from reminders import services
from reminders.models import SentReminder
from tests.factories import make_member

from .support import ReminderTestCase, next_monday


class BrokerDigest(ReminderTestCase):
    def setUp(self) -> None:
        self.monday = next_monday(self.today) + timedelta(days=7)

    def test_each_broker_gets_one_digest_for_their_bank_on_monday(self):
        self.assertEqual(self.run_job("digest", self.monday, hour=7), 2)
        (brenda,) = self.mail_to(self.brenda)
        (hugo,) = self.mail_to(self.hugo)
        self.assertIn("Riverside Time Bank this week", brenda.subject)
        self.assertIn("Hillside Time Bank this week", hugo.subject)
        self.assertNotIn("Dora Applicant", hugo.body)
        for person in (self.alice, self.bob, self.cora, self.dora):
            self.assertEqual(self.mail_to(person), [])
        year, week, _ = self.monday.isocalendar()
        self.assertEqual(
            set(SentReminder.objects.filter(person=self.brenda).values_list("period", flat=True)),
            {f"{year}-W{week:02d}-bank-{self.riverside.pk}"},
        )

    def test_a_second_run_in_the_same_week_sends_nothing_and_next_week_sends_again(self):
        self.run_job("digest", self.monday, hour=7)
        self.assertEqual(self.run_job("digest", self.monday, hour=7), 0)
        self.assertEqual(self.run_job("digest", self.monday + timedelta(days=3)), 0)
        self.assertEqual(len(mail.outbox), 2)
        self.assertEqual(self.run_job("digest", self.monday + timedelta(days=7), hour=7), 2)

    def test_it_lists_the_queue_long_waits_new_applications_and_flagged_accounts(self):
        self.record(self.monday - timedelta(days=9))  # waits for bob for over a week
        freya = make_member(self.riverside, "Freya Fresh", status=Status.APPLIED)
        Membership.objects.filter(person=freya).update(applied_at=timezone.now())
        mail.outbox.clear()
        # Freya applied when the test began: the digest runs within a week of that.
        self.run_job("digest", self.today + timedelta(days=2), hour=7)
        (email,) = self.mail_to(self.brenda)
        self.assertIn("- 2 applications to decide", email.body)
        self.assertIn("- 0 exchanges to approve", email.body)
        self.assertIn("- Freya Fresh (", email.body)
        new_applications = email.body.split("NEW APPLICATIONS THIS WEEK")[1].split("WAITING MORE")[
            0
        ]
        self.assertNotIn("Dora Applicant", new_applications)

    def test_it_lists_exchanges_waiting_more_than_a_week(self):
        self.record(self.monday - timedelta(days=9))
        mail.outbox.clear()
        self.run_job("digest", self.monday, hour=7)
        (email,) = self.mail_to(self.brenda)
        self.assertIn("- Gardening (1 hour): waiting for Bob Baker since", email.body)

    def test_a_broker_who_turned_the_digest_off_gets_none(self):
        services.update_preferences(person=self.brenda, wanted={"digest": False})
        self.run_job("digest", self.monday, hour=7)
        self.assertEqual(self.mail_to(self.brenda), [])
        self.assertEqual(len(self.mail_to(self.hugo)), 1)

    def test_the_digest_has_a_one_click_unsubscribe(self):
        self.run_job("digest", self.monday, hour=7)
        (email,) = self.mail_to(self.brenda)
        link = email.extra_headers["List-Unsubscribe"].strip("<>")
        self.assertTrue(link.endswith("/digest/"))
        self.assertEqual(email.extra_headers["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click")
