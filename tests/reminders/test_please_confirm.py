""" "Please confirm": the other party of an unconfirmed exchange is nudged on the 3rd day and
once more on the 7th; the bank's deadline confirms it automatically."""

from datetime import timedelta

from django.core import mail

from exchanges import services as exchanges
from exchanges.models import State
from reminders import services
from reminders.models import SentReminder

from .support import ReminderTestCase


class PleaseConfirm(ReminderTestCase):
    def setUp(self) -> None:
        self.day0 = self.today + timedelta(days=1)
        self.exchange = self.record(self.day0)
        mail.outbox.clear()  # the first "please confirm", sent when it was recorded

    def nudges_on(self, days_after: int) -> int:
        self.run_job("confirm", self.day0 + timedelta(days=days_after))
        return len(self.mail_to(self.bob))

    def test_bob_is_nudged_on_the_third_day_not_before_not_again_and_once_more_on_the_seventh(self):
        self.assertEqual(self.nudges_on(1), 0)
        self.assertEqual(self.nudges_on(2), 0)
        self.assertEqual(self.nudges_on(3), 1)
        self.assertEqual(self.nudges_on(4), 1)
        self.assertEqual(self.nudges_on(6), 1)
        self.assertEqual(self.nudges_on(7), 2)
        self.assertEqual(self.nudges_on(8), 2)
        self.assertEqual(self.nudges_on(13), 2)
        first, second = self.mail_to(self.bob)
        self.assertIn("please confirm 1 hour with Alice Archer", first.subject)
        self.assertTrue(second.subject.startswith("Reminder:"))
        self.assertIn(f"/exchanges/{self.exchange.pk}/", second.body)
        self.assertEqual(self.mail_to(self.alice), [])

    def test_an_exchange_recorded_late_in_the_evening_still_waits_three_calendar_days(self):
        late = self.record(self.day0, hour=23)
        self.run_job("confirm", self.day0 + timedelta(days=2), hour=23)
        self.assertEqual(
            SentReminder.objects.filter(period__startswith=f"exchange-{late.pk}").count(), 0
        )
        self.run_job("confirm", self.day0 + timedelta(days=3), hour=0)
        self.assertTrue(SentReminder.objects.filter(period=f"exchange-{late.pk}-first").exists())

    def test_a_job_that_missed_the_first_window_sends_only_the_second(self):
        self.assertEqual(self.nudges_on(9), 1)
        self.assertEqual(
            list(SentReminder.objects.values_list("reason", "period")),
            [(services.PLEASE_CONFIRM, f"exchange-{self.exchange.pk}-second")],
        )

    def test_nobody_is_nudged_about_a_confirmed_exchange(self):
        exchanges.confirm_exchange(exchange=self.exchange, person=self.bob)
        mail.outbox.clear()
        self.assertEqual(self.nudges_on(3), 0)

    def test_the_nudge_is_essential_so_an_unsubscribed_member_still_gets_it(self):
        services.update_preferences(
            person=self.bob,
            wanted={
                "log_hours": False,
                "listing_expiry": False,
                "statement": False,
                "digest": False,
            },
        )
        self.assertEqual(self.nudges_on(3), 1)
        (nudge,) = self.mail_to(self.bob)
        self.assertNotIn("List-Unsubscribe", nudge.extra_headers)

    def test_an_exchange_is_confirmed_automatically_after_the_banks_deadline(self):
        deadline = self.exchange.confirm_by
        self.assertEqual(deadline, self.day0 + timedelta(days=14))
        self.run_job("auto_confirm", deadline)
        self.exchange.refresh_from_db()
        self.assertEqual(self.exchange.state, State.UNCONFIRMED)
        self.run_job("auto_confirm", deadline + timedelta(days=1))
        self.exchange.refresh_from_db()
        self.assertEqual(self.exchange.state, State.COMPLETED)
        self.assertEqual(self.run_job("auto_confirm", deadline + timedelta(days=2)), 0)
