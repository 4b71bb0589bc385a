from __future__ import annotations

from unittest import mock, skipUnless

from django.db import connection
from django.test import TestCase

from ledger import services
from ledger.exceptions import (
    AccountMismatch,
    InsufficientHours,
    InvalidJournal,
    LimitReached,
    LimitsBelowBalance,
    MaximumBalanceReached,
    UnbalancedJournal,
)
from ledger.models import Account, Entry, Journal, JournalState

from .support import TODAY, LedgerCast, new_key, pay, posted


class PostingTests(LedgerCast, TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.build_cast()
        cls.build_accounts()

    def test_opening_an_account_twice_returns_the_same_account(self) -> None:
        again = services.open_account(time_bank=self.riverside, person=self.alice)
        self.assertEqual(again.pk, self.alice_account.pk)
        self.assertEqual(services.community_pot(time_bank=self.riverside).pk, self.pot.pk)
        self.assertEqual(Account.objects.filter(person=self.alice).count(), 1)

    def test_a_new_account_takes_the_time_banks_credit_limit_and_the_pot_has_none(self) -> None:
        self.assertEqual(self.alice_account.credit_limit_minutes, -600)
        self.assertIsNone(self.pot.credit_limit_minutes)

    def test_an_organisation_of_another_bank_cannot_open_an_account_here(self) -> None:
        with self.assertRaises(AccountMismatch):
            services.open_account(time_bank=self.hillside, organisation=self.gp)

    def test_a_transfer_moves_hours_and_records_running_balances(self) -> None:
        journal = pay(self.alice_account, self.bob_account, 90)
        self.assertEqual(journal.state, JournalState.POSTED)
        self.assertEqual(posted(self.alice_account), -90)
        self.assertEqual(posted(self.bob_account), 90)
        entries = {e.account_id: e for e in Entry.objects.filter(journal=journal)}
        self.assertEqual(entries[self.alice_account.pk].amount_minutes, -90)
        self.assertEqual(entries[self.alice_account.pk].balance_after, -90)
        self.assertEqual(entries[self.bob_account.pk].account_version, 1)
        # The journal returned without a read-back is the one stored.
        stored = Journal.objects.get(pk=journal.pk)
        self.assertEqual(stored.description, journal.description)
        self.assertEqual(stored.recorded_at, journal.recorded_at)

    def test_a_group_exchange_is_one_journal_with_many_entries(self) -> None:
        journal = services.post_journal(
            time_bank=self.riverside,
            legs=[(self.gp_account, -180), (self.alice_account, 60), (self.bob_account, 120)],
            idempotency_key=new_key(),
            effective_date=TODAY,
            recorded_by=self.brenda,
            description="Community lunch",
            category="food",
        )
        self.assertEqual(journal.entries.count(), 3)
        self.assertEqual(
            [posted(a) for a in (self.gp_account, self.alice_account, self.bob_account)],
            [-180, 60, 120],
        )

    def test_it_refuses_a_transfer_past_the_credit_limit(self) -> None:
        pay(self.alice_account, self.bob_account, 540)
        with self.assertRaises(InsufficientHours) as refused:
            pay(self.alice_account, self.bob_account, 61)
        self.assertIn("Alice Archer does not have enough hours", str(refused.exception))
        self.assertIn("-10 hours", str(refused.exception))
        self.assertEqual(posted(self.alice_account), -540)
        pay(self.alice_account, self.bob_account, 60)  # exactly to the limit is fine
        self.assertEqual(posted(self.alice_account), -600)
        self.assertIs(LimitReached, InsufficientHours)

    def test_it_refuses_a_transfer_past_the_maximum_balance(self) -> None:
        Account.objects.filter(pk=self.bob_account.pk).update(max_balance_minutes=120)
        pay(self.alice_account, self.bob_account, 120)
        with self.assertRaises(MaximumBalanceReached) as refused:
            pay(self.alice_account, self.bob_account, 15)
        self.assertIn("Bob Baker cannot receive", str(refused.exception))
        self.assertEqual(posted(self.bob_account), 120)

    def test_a_refused_leg_in_a_group_exchange_leaves_nothing_behind(self) -> None:
        with self.assertRaises(InsufficientHours):
            services.post_journal(
                time_bank=self.riverside,
                legs=[(self.bob_account, 60), (self.gp_account, 601), (self.alice_account, -661)],
                idempotency_key="group-1",
                effective_date=TODAY,
                recorded_by=None,
                description="Too much",
            )
        self.assertFalse(Journal.objects.filter(idempotency_key="group-1").exists())
        self.assertEqual(posted(self.bob_account), 0)
        self.assertEqual(services.verify_ledger(), [])

    def test_the_pot_has_no_lower_limit(self) -> None:
        pay(self.pot, self.alice_account, 6000)
        self.assertEqual(posted(self.pot), -6000)

    def test_accounts_of_another_time_bank_are_refused(self) -> None:
        with self.assertRaises(AccountMismatch):
            pay(self.alice_account, self.hugo_account, 60)
        with self.assertRaises(AccountMismatch):
            services.post_journal(
                time_bank=self.hillside,
                legs=[(self.alice_account, -60), (self.hugo_account, 60)],
                idempotency_key=new_key(),
                effective_date=TODAY,
                recorded_by=None,
                description="Across banks",
            )
        self.assertEqual(Journal.objects.count(), 0)

    def test_legs_that_do_not_sum_to_zero_are_refused(self) -> None:
        with self.assertRaises(UnbalancedJournal):
            services.post_journal(
                time_bank=self.riverside,
                legs=[(self.alice_account, -60), (self.bob_account, 45)],
                idempotency_key=new_key(),
                effective_date=TODAY,
                recorded_by=None,
                description="Lost minutes",
            )

    def test_malformed_legs_are_refused(self) -> None:
        bad_legs = [
            [(self.alice_account, -60)],
            [(self.alice_account, 0), (self.bob_account, 0)],
            [(self.alice_account, -60), (self.alice_account, 60)],
            [(self.alice_account, -1.5), (self.bob_account, 1.5)],
        ]
        for legs in bad_legs:
            with self.subTest(legs=legs), self.assertRaises(InvalidJournal):
                services.post_journal(
                    time_bank=self.riverside,
                    # Minutes that are not whole numbers on purpose: refused at run time.
                    legs=legs,  # type: ignore[arg-type]
                    idempotency_key=new_key(),
                    effective_date=TODAY,
                    recorded_by=None,
                    description="Bad",
                )
        for minutes in (0, -5):
            with self.subTest(minutes=minutes), self.assertRaises(InvalidJournal):
                pay(self.alice_account, self.bob_account, minutes)

    def test_a_refusal_inside_the_callers_transaction_does_not_spoil_it(self) -> None:
        from django.db import transaction

        with transaction.atomic():
            pay(self.alice_account, self.bob_account, 60)
            with self.assertRaises(InsufficientHours):
                pay(self.alice_account, self.bob_account, 6000)
            pay(self.alice_account, self.bob_account, 30)
        self.assertEqual(posted(self.bob_account), 90)


@skipUnless(connection.vendor == "postgresql", "on SQLite the Python path is the only path")
class PythonPathOnPostgresqlTests(PostingTests):
    """Every posting test again through the ORM posting path (SQLite's), on PostgreSQL."""

    def setUp(self) -> None:
        super().setUp()
        patcher = mock.patch.object(services, "_post_on_postgresql", services._post_in_python)
        patcher.start()
        self.addCleanup(patcher.stop)


class LimitChangeTests(LedgerCast, TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.build_cast()
        cls.build_accounts()

    def test_a_broker_can_change_an_accounts_limits(self) -> None:
        services.set_limits(
            account=self.alice_account, credit_limit_minutes=-60, max_balance_minutes=600
        )
        with self.assertRaises(InsufficientHours):
            pay(self.alice_account, self.bob_account, 75)
        with self.assertRaises(MaximumBalanceReached):
            pay(self.pot, self.alice_account, 601)

    def test_a_limit_the_account_is_already_past_is_refused(self) -> None:
        pay(self.alice_account, self.bob_account, 90)
        pay(self.alice_account, self.bob_account, 30, pending=True)
        with self.assertRaises(LimitsBelowBalance) as refused:
            services.set_limits(
                account=self.alice_account, credit_limit_minutes=-60, max_balance_minutes=None
            )
        self.assertIn("already stands at -2 hours", str(refused.exception))
        with self.assertRaises(LimitsBelowBalance):
            services.set_limits(
                account=self.bob_account, credit_limit_minutes=None, max_balance_minutes=60
            )
