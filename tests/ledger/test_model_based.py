"""Random sequences of transfers, holds, resolutions, reversals and replays, run against the
ledger and against a plain in-memory model of it; every balance must agree after every step."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from unittest import mock, skipUnless

from django.db import connection
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from ledger import services
from ledger.exceptions import (
    AlreadyResolved,
    AlreadyReversed,
    InsufficientHours,
    LedgerError,
    MaximumBalanceReached,
    ReversalNotReversible,
)
from ledger.models import Account, Journal

from .support import TODAY, LedgerCast

transfer_op = st.tuples(
    st.just("transfer"),
    st.integers(0, 4),
    st.integers(0, 4),
    st.sampled_from([15, 30, 45, 60, 90, 120, 240]),
    st.booleans(),
)
pick_op = st.tuples(
    st.sampled_from(["post", "post", "void", "expire", "reverse", "reverse", "replay"]),
    st.integers(0, 50),
)
operations = st.lists(st.one_of(transfer_op, transfer_op, pick_op), min_size=8, max_size=30)


@dataclass
class ModelAccount:
    limit: int | None
    maximum: int | None
    posted: int = 0
    out: int = 0
    into: int = 0

    def can_give(self, minutes: int) -> bool:
        return self.limit is None or self.posted - self.out - minutes >= self.limit

    def can_take(self, minutes: int) -> bool:
        return self.maximum is None or self.posted + self.into + minutes <= self.maximum


@dataclass
class Model:
    accounts: list[ModelAccount]
    pending: list[tuple[int, int, int, int]] = field(default_factory=list)  # id, payer, payee, m
    resolved: list[int] = field(default_factory=list)
    posted: list[tuple[int, int, int, int]] = field(default_factory=list)
    reversed: set[int] = field(default_factory=set)
    reversals: set[int] = field(default_factory=set)
    calls: list[tuple[dict, int]] = field(default_factory=list)  # transfer kwargs, journal id


class ModelBasedTests(LedgerCast, TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.build_cast()
        cls.build_accounts()
        # Tight limits so that refusals are common.
        Account.objects.filter(pk=cls.alice_account.pk).update(credit_limit_minutes=-120)
        Account.objects.filter(pk=cls.bob_account.pk).update(max_balance_minutes=180)

    @settings(
        max_examples=60,
        deadline=None,
        # differing_executors: the same test also runs in PythonPathOnPostgresqlTests below.
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
            HealthCheck.differing_executors,
        ],
    )
    @given(ops=operations)
    def test_the_ledger_agrees_with_a_simple_model_after_every_step(self, ops: list) -> None:
        accounts = [
            Account.objects.get(pk=a.pk)
            for a in (
                self.alice_account,
                self.bob_account,
                self.olive_account,
                self.gp_account,
                self.pot,
            )
        ]
        model = Model(
            [ModelAccount(a.credit_limit_minutes, a.max_balance_minutes) for a in accounts]
        )
        for step, op in enumerate(ops):
            self.apply(model, accounts, step, op)
            for account, expected in zip(accounts, model.accounts, strict=True):
                actual = services.balance(account=account)
                self.assertEqual(
                    (actual.posted, actual.pending_out, actual.pending_in),
                    (expected.posted, expected.out, expected.into),
                    f"account {account.pk} after step {step} {op}",
                )
        self.assertEqual(services.verify_ledger(), [])

    def apply(self, model: Model, accounts: list[Account], step: int, op: tuple) -> None:
        kind = op[0]
        if kind == "transfer":
            _, payer, payee, minutes, pending = op
            if payer == payee:
                return
            kwargs = {
                "from_account": accounts[payer],
                "to_account": accounts[payee],
                "minutes": minutes,
                "idempotency_key": f"step-{step}",
                "effective_date": TODAY,
                "recorded_by": None,
                "description": "Model step",
                "pending": pending,
            }
            giver, taker = model.accounts[payer], model.accounts[payee]
            if not giver.can_give(minutes):
                event("transfer refused: credit limit")
                with self.assertRaises(InsufficientHours):
                    services.transfer(**kwargs)
                return
            if not taker.can_take(minutes):
                event("transfer refused: maximum balance")
                with self.assertRaises(MaximumBalanceReached):
                    services.transfer(**kwargs)
                return
            journal = services.transfer(**kwargs)
            event("hold" if pending else "transfer")
            model.calls.append((kwargs, journal.pk))
            if pending:
                giver.out += minutes
                taker.into += minutes
                model.pending.append((journal.pk, payer, payee, minutes))
            else:
                giver.posted -= minutes
                taker.posted += minutes
                model.posted.append((journal.pk, payer, payee, minutes))
            return
        _, n = op
        if kind in {"post", "void", "expire"}:
            if model.resolved and n % 3 == 0:
                journal = Journal.objects.get(pk=model.resolved[n % len(model.resolved)])
                event("resolved twice: refused")
                with self.assertRaises(AlreadyResolved):
                    services.post_pending(journal=journal, decided_by=self.brenda)
                return
            if not model.pending:
                return
            jid, payer, payee, minutes = model.pending.pop(n % len(model.pending))
            journal = Journal.objects.get(pk=jid)
            giver, taker = model.accounts[payer], model.accounts[payee]
            giver.out -= minutes
            taker.into -= minutes
            if kind == "post":
                services.post_pending(journal=journal, decided_by=self.brenda)
                giver.posted -= minutes
                taker.posted += minutes
                model.posted.append((jid, payer, payee, minutes))
            elif kind == "void":
                services.void_pending(journal=journal, decided_by=self.brenda, reason="No")
            else:
                services.expire_pending(journal=journal)
            model.resolved.append(jid)
            event(kind)
        elif kind == "reverse":
            if not model.posted:
                return
            jid, payer, payee, minutes = model.posted[n % len(model.posted)]
            journal = Journal.objects.get(pk=jid)
            call: dict[str, Any] = {
                "journal": journal,
                "recorded_by": self.brenda,
                "reason": "Correction",
                "idempotency_key": f"step-{step}",
            }
            giver, taker = model.accounts[payer], model.accounts[payee]
            if jid in model.reversals:
                event("reversal of a reversal: refused")
                with self.assertRaises(ReversalNotReversible):
                    services.reverse_journal(**call)
                return
            if jid in model.reversed:
                event("reversed twice: refused")
                with self.assertRaises(AlreadyReversed):
                    services.reverse_journal(**call)
                return
            # The reversal's legs: the payer gets the minutes back first, then the payee gives.
            if not giver.can_take(minutes) or not taker.can_give(minutes):
                event("reversal refused: limits")
                with self.assertRaises(LedgerError):
                    services.reverse_journal(**call)
                return
            reversal = services.reverse_journal(**call)
            giver.posted += minutes
            taker.posted -= minutes
            model.reversed.add(jid)
            model.reversals.add(reversal.pk)
            event("reverse")
            model.posted.append((reversal.pk, payee, payer, minutes))
        elif kind == "replay":
            if not model.calls:
                return
            kwargs, jid = model.calls[n % len(model.calls)]
            self.assertEqual(services.transfer(**kwargs).pk, jid)
            event("replay")


@skipUnless(connection.vendor == "postgresql", "on SQLite the Python path is the only path")
class PythonPathOnPostgresqlTests(ModelBasedTests):
    """The same model run through the ORM posting path (SQLite's) on PostgreSQL, so both
    implementations of posting are held to one model on one database."""

    def setUp(self) -> None:
        super().setUp()
        patcher = mock.patch.object(services, "_post_on_postgresql", services._post_in_python)
        patcher.start()
        self.addCleanup(patcher.stop)
