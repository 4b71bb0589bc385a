"""Accounts for the cast, and a short way to move hours in tests."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

from ledger import services
from ledger.models import Account, Journal
from tests.base import Cast

_keys = itertools.count(1)
TODAY = date(2026, 3, 14)


def new_key() -> str:
    return f"test-key-{next(_keys)}"


def pay(payer: Account, payee: Account, minutes: int, **fields: Any) -> Journal:
    """``payer`` gives ``payee`` ``minutes``, with defaults for the bookkeeping fields."""
    fields.setdefault("idempotency_key", new_key())
    fields.setdefault("effective_date", TODAY)
    fields.setdefault("recorded_by", None)
    fields.setdefault("description", "Help in the garden")
    return services.transfer(from_account=payer, to_account=payee, minutes=minutes, **fields)


def posted(account: Account) -> int:
    return services.balance(account=account).posted


class LedgerCast(Cast):
    """The cast with accounts: alice, bob, olive and the GP surgery in Riverside, Riverside's
    community pot, and hugo's account in Hillside."""

    alice_account: Account
    bob_account: Account
    olive_account: Account
    gp_account: Account
    pot: Account
    hugo_account: Account

    @classmethod
    def build_accounts(cls) -> None:
        bank = cls.riverside
        cls.alice_account = services.open_account(time_bank=bank, person=cls.alice)
        cls.bob_account = services.open_account(time_bank=bank, person=cls.bob)
        cls.olive_account = services.open_account(time_bank=bank, person=cls.olive)
        cls.gp_account = services.open_account(time_bank=bank, organisation=cls.gp)
        cls.pot = services.community_pot(time_bank=bank)
        cls.hugo_account = services.open_account(time_bank=cls.hillside, person=cls.hugo)
