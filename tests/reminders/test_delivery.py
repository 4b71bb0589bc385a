"""Sending: after commit only; a mail server refusing one person is retried with back-off and
never stops the others; the management command runs every job and is safe to run twice."""

from datetime import timedelta
from io import StringIO

import time_machine
from django.core import mail
from django.core.management import call_command
from django.test import override_settings

from reminders import services, tasks
from reminders.models import SentReminder
from tests.listings.support import make_listing
from tests.support import REFUSING_MAIL_SERVER, RefusingBackend, at, eager_tasks, user_of

from .support import ReminderTestCase


@override_settings(EMAIL_BACKEND=REFUSING_MAIL_SERVER)
class AFailingMailServer(ReminderTestCase):
    def setUp(self) -> None:
        RefusingBackend.attempts.clear()
        RefusingBackend.refusals.clear()
        # Alice, Bob and Brenda each have a listing that expires in a week.
        self.listings = [
            make_listing(self.riverside, person, f"Offer of {person.display_name}")
            for person in (self.alice, self.bob, self.brenda)
        ]
        self.day = self.listings[0].expires_on - timedelta(days=7)

    def run_queued(self) -> int:
        """Run the expiry job the way beat does: emails queued with delay_on_commit."""
        with eager_tasks(), time_machine.travel(at(self.day, 8), tick=False):
            with self.captureOnCommitCallbacks(execute=True):
                return services.run_job(job="expiry")

    def test_a_refused_email_is_retried_and_the_others_still_go(self):
        RefusingBackend.refusals[user_of(self.bob).email] = 2
        self.assertEqual(self.run_queued(), 3)
        self.assertEqual(
            sorted(m.to[0] for m in mail.outbox),
            sorted(user_of(p).email for p in (self.alice, self.bob, self.brenda)),
        )
        self.assertEqual(RefusingBackend.attempts[user_of(self.bob).email], 3)
        self.assertEqual(RefusingBackend.attempts[user_of(self.alice).email], 1)

    def test_an_address_refused_every_time_gives_up_after_the_retries_and_stops_nothing(self):
        RefusingBackend.refusals[user_of(self.alice).email] = -1
        self.run_queued()
        self.assertEqual(
            sorted(m.to[0] for m in mail.outbox),
            sorted(user_of(p).email for p in (self.bob, self.brenda)),
        )
        max_retries = tasks.send_reminder_email.max_retries
        self.assertEqual(RefusingBackend.attempts[user_of(self.alice).email], 1 + max_retries)

    def test_the_task_retries_mail_server_errors_with_back_off(self):
        task = tasks.send_reminder_email
        # Options the decorator sets on the task, which Celery's stubs don't declare.
        self.assertIn(OSError, getattr(task, "autoretry_for", ()))
        self.assertTrue(getattr(task, "retry_backoff", False))
        self.assertGreaterEqual(task.max_retries, 3)


class AfterCommit(ReminderTestCase):
    def test_nothing_is_sent_or_queued_until_the_transaction_commits(self):
        listing = make_listing(self.riverside, self.bob, "Dog walking")
        with eager_tasks(), time_machine.travel(at(listing.expires_on - timedelta(days=7), 10)):
            with self.captureOnCommitCallbacks(execute=False) as callbacks:
                services.run_job(job="expiry")
                self.assertTrue(SentReminder.objects.filter(person=self.bob).exists())
            self.assertEqual(mail.outbox, [])
            self.assertEqual(len(callbacks), 1)
            callbacks[0]()
        self.assertEqual(len(self.mail_to(self.bob)), 1)


class TheManagementCommand(ReminderTestCase):
    def call(self, *args: str) -> str:
        out = StringIO()
        with self.captureOnCommitCallbacks(execute=True):
            call_command("send_reminders", *args, stdout=out)
        return out.getvalue()

    def test_it_runs_every_job_and_a_second_run_sends_nothing(self):
        listing = make_listing(self.riverside, self.bob, "Dog walking")
        day = listing.expires_on - timedelta(days=7)
        while day.weekday() != 0:  # a Monday, and still within the week before expiry
            day += timedelta(days=1)
        self.record(day - timedelta(days=3))  # bob is nudged today
        mail.outbox.clear()
        with time_machine.travel(at(day, 9), tick=False):
            first = self.call("--job", "all")
            sent = len(mail.outbox)
            second = self.call()
        self.assertIn("expiry: 1 sent", first)
        self.assertIn("digest: 2 sent", first)
        self.assertIn("confirm: 1 sent", first)
        self.assertIn("auto_confirm: 0 confirmed", first)
        self.assertEqual(sent, 4)
        self.assertEqual(len(mail.outbox), sent)
        for job in ("log_hours", "confirm", "expiry", "digest"):
            self.assertIn(f"{job}: 0 sent", second)

    def test_date_runs_the_jobs_as_on_that_day(self):
        listing = make_listing(self.riverside, self.bob, "Dog walking")
        day = listing.expires_on - timedelta(days=3)
        output = self.call("--job", "expiry", "--date", day.isoformat())
        self.assertEqual(output.strip(), "expiry: 1 sent")
        self.assertEqual(len(self.mail_to(self.bob)), 1)
