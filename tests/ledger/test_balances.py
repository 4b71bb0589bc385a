from __future__ import annotations

from datetime import timedelta

from django.template import Context, Template
from django.test import SimpleTestCase, TestCase
from django.utils import timezone

from ledger import services
from ledger.models import format_hours

from .support import LedgerCast, pay


class PointInTimeBalanceTests(LedgerCast, TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.build_cast()
        cls.build_accounts()

    def test_the_balance_at_a_moment_is_the_running_balance_then(self) -> None:
        before_anything = timezone.now()
        pay(self.alice_account, self.bob_account, 60)
        after_first = timezone.now()
        pay(self.bob_account, self.alice_account, 15)
        pending = pay(self.alice_account, self.bob_account, 30, pending=True)
        after_second = timezone.now()
        services.post_pending(journal=pending, decided_by=self.brenda)

        def bob_at(moment):  # noqa: ANN001, ANN202
            return services.balance(account=self.bob_account, at=moment).posted

        self.assertEqual(bob_at(before_anything), 0)
        self.assertEqual(bob_at(after_first), 60)
        self.assertEqual(bob_at(after_second), 45)  # the hold did not count until posted
        self.assertEqual(bob_at(timezone.now()), 75)
        self.assertEqual(bob_at(timezone.now() + timedelta(days=1)), 75)
        self.assertEqual(services.balance(account=self.bob_account).posted, 75)

    def test_the_current_balance_is_one_query(self) -> None:
        with self.assertNumQueries(1):
            services.balance(account=self.alice_account)
        with self.assertNumQueries(1):
            services.balance(account=self.alice_account, at=timezone.now())


class FormatTests(SimpleTestCase):
    def test_minutes_read_as_hours_people_say(self) -> None:
        cases = {
            90: "1.5 hours",
            45: "45 minutes",
            60: "1 hour",
            -135: "-2.25 hours",
            1: "1 minute",
            0: "0 hours",
            120: "2 hours",
            -60: "-1 hour",
            100: "1 hour 40 minutes",
            -600: "-10 hours",
        }
        for minutes, text in cases.items():
            with self.subTest(minutes=minutes):
                self.assertEqual(format_hours(minutes), text)

    def test_the_hours_template_filter(self) -> None:
        rendered = Template("{% load hours %}{{ m|hours }}").render(Context({"m": 75}))
        self.assertEqual(rendered, "1.25 hours")
