"""Helpers for the reminder tests: the cast with accounts, and running a job as on a day."""

from __future__ import annotations

from datetime import date, timedelta

import time_machine
from django.core import mail
from django.utils import timezone

from exchanges import services as exchanges
from exchanges.models import Exchange
from ledger import services as ledger
from ledger.models import Account
from members.models import Person
from reminders import services
from tests.base import CastTestCase
from tests.support import at


def next_monday(day: date) -> date:
    return day + timedelta(days=7 - day.weekday())


class ReminderTestCase(CastTestCase):
    """The cast with accounts in Riverside, and ways to run a job as on a given day."""

    alice_account: Account
    bob_account: Account
    olive_account: Account

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.alice_account = ledger.open_account(time_bank=cls.riverside, person=cls.alice)
        cls.bob_account = ledger.open_account(time_bank=cls.riverside, person=cls.bob)
        cls.olive_account = ledger.open_account(time_bank=cls.riverside, person=cls.olive)

    @property
    def today(self) -> date:
        return timezone.localdate()

    def run_job(self, job: str, day: date, hour: int = 8) -> int:
        """Run ``job`` as the management command does, at ``hour`` on ``day``; emails go
        after commit. Returns how many were claimed."""
        with time_machine.travel(at(day, hour), tick=False):
            with self.captureOnCommitCallbacks(execute=True):
                return services.run_job(job=job, eager=True)

    def record(self, day: date, *, by: Person | None = None, hour: int = 10) -> Exchange:
        """Alice records that she helped Bob for an hour, on ``day``: Bob must confirm."""
        with time_machine.travel(at(day, hour), tick=False):
            with self.captureOnCommitCallbacks(execute=True):
                return exchanges.record_exchange(
                    recorded_by=by or self.alice,
                    giver=self.alice_account,
                    receiver=self.bob_account,
                    minutes=60,
                    details=exchanges.Details(effective_date=day, description="Gardening"),
                )

    def mail_to(self, person: Person) -> list[mail.EmailMessage]:
        assert person.user is not None
        return [m for m in mail.outbox if person.user.email in m.to]
