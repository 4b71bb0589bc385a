"""A small known month of help in Riverside, and helpers to run the monthly job in tests.

Month M (two months ago), all recorded by brenda on the day, so posted within the month:
alice gives bob 2 h, bob gives alice 1 h (both give and receive); carl gives erin 1.5 h
(carl only gives, erin only receives); alice gives olive 1 h (olive, offline, only receives).
brenda and dan (who joined in M) do nothing. Trading members: alice, bob, brenda, olive, carl,
erin, dan (cora is a commissioner, dora an applicant: not counted).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import time_machine
from django.utils import timezone

from exchanges import services as exchanges
from ledger import services as ledger
from ledger.models import Account
from members.models import Membership, Person
from tests.base import Cast
from tests.factories import make_member
from tests.support import at
from timebank.dates import add_months, first_of


class KnownMonth(Cast):
    """The cast plus carl, erin and dan, and month M's help (see the module docstring)."""

    m: date
    n: date
    carl: Person
    erin: Person
    dan: Person
    accounts: dict[int, Account]

    @classmethod
    def build_month(cls) -> None:
        cls.build_cast()
        cls.m = add_months(first_of(timezone.localdate()), -2)
        cls.n = add_months(cls.m, 1)
        # carl only gives; erin only receives; dan joined in month M and has done nothing yet.
        cls.carl = make_member(cls.riverside, "Carl Carpenter", area="GL50")
        cls.erin = make_member(cls.riverside, "Erin Elder", area="GL52")
        cls.dan = make_member(cls.riverside, "Dan Newcomer")
        Membership.objects.filter(person=cls.dan).update(decided_at=at(cls.m + timedelta(days=1)))
        cls.accounts = {
            p.pk: ledger.open_account(time_bank=cls.riverside, person=p)
            for p in (cls.alice, cls.bob, cls.carl, cls.erin, cls.olive, cls.brenda)
        }
        cls.help(cls.alice, cls.bob, 120, cls.m + timedelta(days=2))
        cls.help(cls.bob, cls.alice, 60, cls.m + timedelta(days=4))
        cls.help(cls.carl, cls.erin, 90, cls.m + timedelta(days=6))
        cls.help(cls.alice, cls.olive, 60, cls.m + timedelta(days=8))

    @classmethod
    def help(
        cls,
        giver: Person,
        receiver: Person,
        minutes: int,
        day: date,
        *,
        recorded: date | None = None,
    ) -> Any:
        """brenda records that ``giver`` helped ``receiver`` on ``day`` (recorded that day,
        or later on ``recorded``). When brenda took part herself, she counts as a member: the
        other party confirms it, the same day."""
        with time_machine.travel(at(recorded or day), tick=False):
            exchange = exchanges.record_exchange(
                recorded_by=cls.brenda,
                giver=cls.accounts[giver.pk],
                receiver=cls.accounts[receiver.pk],
                minutes=minutes,
                details=exchanges.Details(effective_date=day, description="Help"),
            )
            if exchange.awaiting_confirmation_from is not None:
                exchange = exchanges.confirm_exchange(
                    exchange=exchange, person=exchange.awaiting_confirmation_from
                )
            return exchange
