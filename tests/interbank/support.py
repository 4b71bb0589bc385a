"""Riverside and Hillside, linked: their admins, members and a helper to record across."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from exchanges.services import Details
from interbank import services
from interbank.models import Link, Sharing
from ledger import services as ledger
from ledger.models import Account
from members.models import Person, Role, TimeBank
from tests.factories import make_member


class LinkedBanks:
    """Mixin over the cast (``tests.base.Cast``): ada administers Riverside, hilda Hillside;
    hal and hetty are members of Hillside. ``link()`` proposes and accepts a link."""

    # From the cast (tests.base.Cast), which the test class also mixes in.
    riverside: TimeBank
    hillside: TimeBank
    alice: Person
    bob: Person
    # Made by build_linked().
    ada: Person
    hilda: Person
    hal: Person
    hetty: Person
    alice_account: Account
    bob_account: Account
    hal_account: Account
    hetty_account: Account

    @classmethod
    def build_linked(cls) -> None:
        # ada: an administrator of Riverside; hilda: an administrator of Hillside.
        cls.ada = make_member(cls.riverside, "Ada Admin", role=Role.ADMIN)
        cls.hilda = make_member(cls.hillside, "Hilda Admin", role=Role.ADMIN)
        # hal and hetty: members of Hillside.
        cls.hal = make_member(cls.hillside, "Hal Hillside")
        cls.hetty = make_member(cls.hillside, "Hetty Hill")
        cls.alice_account = ledger.open_account(time_bank=cls.riverside, person=cls.alice)
        cls.bob_account = ledger.open_account(time_bank=cls.riverside, person=cls.bob)
        cls.hal_account = ledger.open_account(time_bank=cls.hillside, person=cls.hal)
        cls.hetty_account = ledger.open_account(time_bank=cls.hillside, person=cls.hetty)

    @classmethod
    def link(cls, riverside_limit: int = 600, hillside_limit: int = 600) -> Link:
        link = services.propose_link(
            by=cls.ada,
            time_bank=cls.riverside,
            partner=cls.hillside,
            trust_limit_minutes=riverside_limit,
            shares=Sharing.OFFERS,
        )
        return services.accept_link(
            link=link, by=cls.hilda, trust_limit_minutes=hillside_limit, shares=Sharing.MEMBERS
        )


def details(text: str = "Fixed a bike", days_ago: int = 1) -> Details:
    return Details(effective_date=timezone.localdate() - timedelta(days=days_ago), description=text)
