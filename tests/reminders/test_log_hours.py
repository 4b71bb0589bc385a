""" "Log your hours": monthly, to members put in touch with someone who recorded no exchange
since; offline members get no email (their broker sees them in the digest)."""

from datetime import timedelta

import time_machine
from django.core import mail

from exchanges import services as exchanges
from listings import services as listings
from listings.models import Contact
from reminders import services
from reminders.models import SentReminder
from tests.listings.support import make_listing
from tests.support import at, user_of
from timebank.dates import first_of_next_month

from .support import ReminderTestCase


class LogYourHours(ReminderTestCase):
    def setUp(self) -> None:
        # The contacts happen in the middle of next month; the job runs on the 1st after.
        self.month_start = first_of_next_month(self.today)
        self.mid_month = self.month_start + timedelta(days=14)
        self.first = first_of_next_month(self.month_start)
        self.listing = make_listing(self.riverside, self.alice, "Help with the garden")

    def reply(self, sender, listing=None, day=None) -> Contact:
        with time_machine.travel(at(day or self.mid_month, 10), tick=False):
            with self.captureOnCommitCallbacks(execute=True):
                contact = listings.reply_to_listing(
                    listing=listing or self.listing, sender=sender, message="I can help"
                )
        mail.outbox.clear()  # the reply itself
        return contact

    def reminded(self) -> set[str]:
        return {m.to[0] for m in mail.outbox if "Log your hours" in m.subject}

    def test_both_sides_of_a_reply_are_reminded_whenever_the_job_runs(self):
        self.reply(self.bob)
        self.run_job("log_hours", self.mid_month + timedelta(days=1))
        self.assertEqual(self.reminded(), {user_of(self.alice).email, user_of(self.bob).email})
        reminder = self.mail_to(self.bob)[0]
        self.assertIn("Alice Archer", reminder.body)
        self.assertIn("/banks/riverside/record/", reminder.body)

    def test_on_the_first_both_people_put_in_touch_are_reminded_once_with_an_unsubscribe_link(self):
        self.reply(self.bob)
        self.assertEqual(self.run_job("log_hours", self.first, hour=9), 2)
        self.assertEqual(self.reminded(), {user_of(self.alice).email, user_of(self.bob).email})
        to_alice = self.mail_to(self.alice)[0]
        self.assertIn("Bob Baker", to_alice.body)
        self.assertIn(to_alice.extra_headers["List-Unsubscribe"].strip("<>"), to_alice.body)
        self.assertEqual(SentReminder.objects.filter(reason=services.LOG_HOURS).count(), 2)
        self.assertEqual(
            set(SentReminder.objects.values_list("period", flat=True)), {f"{self.first:%Y-%m}"}
        )

    def test_a_replay_the_same_month_sends_nothing(self):
        self.reply(self.bob)
        self.run_job("log_hours", self.first, hour=9)
        self.assertEqual(self.run_job("log_hours", self.first, hour=9), 0)
        self.assertEqual(self.run_job("log_hours", self.first + timedelta(days=3)), 0)
        self.assertEqual(len(mail.outbox), 2)

    def test_a_contact_is_reminded_about_once_not_every_month_after(self):
        self.reply(self.bob)
        self.run_job("log_hours", self.first)
        mail.outbox.clear()
        self.run_job("log_hours", first_of_next_month(self.first))
        self.assertEqual(mail.outbox, [])

    def test_nobody_is_reminded_once_an_exchange_is_recorded_after_the_contact(self):
        self.reply(self.bob)
        self.record(self.mid_month + timedelta(days=2))
        mail.outbox.clear()
        self.assertEqual(self.run_job("log_hours", self.first), 0)

    def test_a_new_contact_after_the_last_exchange_is_reminded(self):
        self.record(self.mid_month - timedelta(days=3))
        self.reply(self.bob)
        mail.outbox.clear()
        self.run_job("log_hours", self.first)
        self.assertEqual(self.reminded(), {user_of(self.alice).email, user_of(self.bob).email})

    def test_a_declined_exchange_does_not_count_as_logging_the_hours(self):
        self.reply(self.bob)
        exchange = self.record(self.mid_month + timedelta(days=1))
        exchanges.decline_exchange(exchange=exchange, person=self.bob, reason="Not me")
        mail.outbox.clear()
        self.run_job("log_hours", self.first)
        self.assertEqual(self.reminded(), {user_of(self.alice).email, user_of(self.bob).email})

    def test_an_unsubscribed_member_gets_no_log_hours_reminder(self):
        services.update_preferences(person=self.bob, wanted={"log_hours": False})
        self.reply(self.bob)
        self.run_job("log_hours", self.first)
        self.assertEqual(self.reminded(), {user_of(self.alice).email})

    def test_the_offline_member_gets_no_email_and_their_broker_sees_them_in_the_digest(self):
        olive_listing = make_listing(
            self.riverside, self.olive, "Lift to the shops", kind="request", author=self.brenda
        )
        self.reply(self.bob, listing=olive_listing)
        self.run_job("log_hours", self.first)
        self.assertEqual(self.reminded(), {user_of(self.bob).email})
        self.assertFalse(SentReminder.objects.filter(person=self.olive).exists())

        self.run_job("digest", self.first)
        (digest,) = self.mail_to(self.brenda)
        to_phone = digest.body.split("OFFLINE MEMBERS TO PHONE")[1].split("MEMBERS TO FOLLOW UP")[0]
        self.assertIn("Olive Offline", to_phone)
        self.assertIn("put in touch with someone and has not recorded hours", to_phone)
