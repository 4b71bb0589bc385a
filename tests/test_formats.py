"""en-GB formats: dates as GOV.UK writes them, hours through one filter on pages and in emails."""

from __future__ import annotations

import datetime
from datetime import timedelta

import time_machine
from django.core import mail
from django.template import Context, Template
from django.test import SimpleTestCase
from django.urls import reverse
from django.utils import formats, timezone

from exchanges import services as exchanges
from ledger import services as ledger
from ledger.models import format_hours
from tests.base import CastTestCase
from tests.support import user_of

MARCH_3 = datetime.date(2026, 3, 3)


def render(source: str, **context: object) -> str:
    return Template("{% load hours %}" + source).render(Context(context))


class DateFormats(SimpleTestCase):
    def test_dates_read_as_gov_uk_writes_them(self) -> None:
        self.assertEqual(formats.date_format(MARCH_3), "3 March 2026")
        self.assertEqual(render("{{ d|date }}", d=MARCH_3), "3 March 2026")
        self.assertEqual(render('{{ d|date:"DATE_FORMAT" }}', d=MARCH_3), "3 March 2026")

    def test_tables_use_the_short_form(self) -> None:
        self.assertEqual(render('{{ d|date:"SHORT_DATE_FORMAT" }}', d=MARCH_3), "3 Mar 2026")

    def test_months_and_days_alone(self) -> None:
        self.assertEqual(render('{{ d|date:"YEAR_MONTH_FORMAT" }}', d=MARCH_3), "March 2026")
        self.assertEqual(render('{{ d|date:"MONTH_DAY_FORMAT" }}', d=MARCH_3), "3 March")

    def test_times_are_on_the_24_hour_clock(self) -> None:
        self.assertEqual(formats.time_format(datetime.time(14, 30)), "14:30")
        moment = datetime.datetime(2026, 3, 3, 9, 5)
        self.assertEqual(formats.date_format(moment, "DATETIME_FORMAT"), "3 March 2026, 09:05")

    def test_a_date_typed_day_first_is_read_day_first(self) -> None:
        from django import forms

        field = forms.DateField()
        for typed in ["03/03/2026", "3 March 2026", "2026-03-03", "3 Mar 2026"]:
            with self.subTest(typed=typed):
                self.assertEqual(field.clean(typed), MARCH_3)


class TheHoursFilter(SimpleTestCase):
    def test_it_says_hours_as_people_say_them(self) -> None:
        cases = {
            90: "1.5 hours",
            60: "1 hour",
            15: "15 minutes",
            45: "45 minutes",
            75: "1.25 hours",
            150: "2.5 hours",
            100: "1 hour 40 minutes",
            -90: "-1.5 hours",
            0: "0 hours",
        }
        for minutes, text in cases.items():
            with self.subTest(minutes=minutes):
                self.assertEqual(render("{{ m|hours }}", m=minutes), text)
                self.assertEqual(format_hours(minutes), text)

    def test_it_takes_a_number_as_text_and_leaves_nothing_as_nothing(self) -> None:
        self.assertEqual(render("{{ m|hours }}", m="30"), "30 minutes")
        self.assertEqual(render("[{{ m|hours }}]", m=None), "[]")
        self.assertEqual(render("[{{ m|hours }}]", m=""), "[]")


class FormatsOnAPageAndInAnEmail(CastTestCase):
    def test_the_dashboard_and_the_email_show_1_5_hours_on_3_march_2026(self) -> None:
        bob = ledger.open_account(time_bank=self.riverside, person=self.bob)
        alice = ledger.open_account(time_bank=self.riverside, person=self.alice)
        self.riverside.approval_rule = "none"
        self.riverside.save(update_fields=["approval_rule"])
        # The members joined long before; the exchange is dated the day before "today".
        self.riverside.memberships.update(decided_at=timezone.now() - timedelta(days=400))
        with time_machine.travel(datetime.datetime(2026, 3, 4, 12, 0), tick=False):
            with self.captureOnCommitCallbacks(execute=True):
                exchanges.record_exchange(
                    recorded_by=self.bob,
                    giver=bob,
                    receiver=alice,
                    minutes=90,
                    details=exchanges.Details(effective_date=MARCH_3, description="Gardening"),
                )
            self.client.force_login(user_of(self.alice))
            page = self.client.get(reverse("dashboard", args=["riverside"]))
        self.assertContains(page, "1.5 hours")
        # Alice is asked to confirm: what Bob said, with the date the help happened.
        self.assertContains(page, "Bob Baker says: “I helped you for 1.5 hours on 3 March 2026")
        [email] = mail.outbox
        self.assertIn("1.5 hours on 3 March 2026", email.body)
