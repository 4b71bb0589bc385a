"""Helpers for the reminder tests: days on the clock, running a job as on a day, a mail
server that refuses some addresses."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from smtplib import SMTPRecipientsRefused
from typing import ClassVar
from zoneinfo import ZoneInfo

import time_machine
from django.core import mail
from django.core.mail.backends import locmem
from django.utils import timezone

from exchanges import services as exchanges
from exchanges.models import Exchange
from ledger import services as ledger
from ledger.models import Account
from members.models import Person
from reminders import services
from tests.base import CastTestCase
from timebank.celery import app

LONDON = ZoneInfo("Europe/London")


def at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    """``day`` at ``hour``:``minute`` in the site's time zone."""
    return datetime.combine(day, time(hour, minute), tzinfo=LONDON)


def next_monday(day: date) -> date:
    return day + timedelta(days=7 - day.weekday())


class RefusingBackend(locmem.EmailBackend):
    """The outside world's mail server: refuses an address ``refusals[address]`` more times
    (for ever with -1), otherwise delivers to ``mail.outbox``. Counts every attempt."""

    refusals: ClassVar[dict[str, int]] = {}
    attempts: ClassVar[Counter[str]] = Counter()

    def send_messages(self, messages):
        for message in messages:
            for address in message.to:
                self.attempts[address] += 1
                left = self.refusals.get(address, 0)
                if left:
                    self.refusals[address] = left - 1
                    raise SMTPRecipientsRefused({address: (451, b"try again later")})
        return super().send_messages(messages)


@contextmanager
def celery_eager() -> Iterator[None]:
    """Run ``.delay()`` in this process, as CELERY_TASK_ALWAYS_EAGER does (Celery reads
    its settings once, so the app's own setting is switched)."""
    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = before


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
