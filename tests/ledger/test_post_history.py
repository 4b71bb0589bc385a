"""Posting a bank's past in bulk (``services.post_history``): the same invariants as any
posting (balanced journals, running balances, versions, stored balances, limits, replays),
with the original dates, in a fixed number of statements however long the history."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from ledger import services
from ledger.exceptions import (
    AccountMismatch,
    IdempotencyConflict,
    InsufficientHours,
    InvalidJournal,
    UnbalancedJournal,
)
from ledger.models import Account, AccountKind, Entry, Journal
from tests.base import Cast

from .support import LedgerCast, pay, posted


def moment(day: int, hour: int = 12) -> datetime:
    return timezone.make_aware(datetime(2024, 1, 1, hour)) + timedelta(days=day)


def old(
    key: str, legs: list[tuple[Account, int]], day: int, **fields
) -> services.HistoricalJournal:
    return services.HistoricalJournal(
        idempotency_key=key,
        legs=tuple((account.pk, minutes) for account, minutes in legs),
        effective_date=moment(day).date(),
        recorded_at=moment(day),
        description=fields.pop("description", "Help from the old system"),
        **fields,
    )


class PostingHistory(LedgerCast, TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.build_cast()
        cls.build_accounts()

    def test_it_posts_the_past_with_running_balances_versions_and_stored_balances(self):
        alice, bob = self.alice_account, self.bob_account
        # Given out of order: the ledger orders them by when they were recorded.
        journals = [
            old("h3", [(bob, -30), (alice, 30)], 20),
            old("h1", [(bob, -60), (alice, 60)], 1),
            old("h2", [(alice, -90), (bob, 90)], 10),
        ]
        result = services.post_history(time_bank=self.riverside, journals=journals)
        self.assertEqual((result.created, result.replayed), (3, 0))
        self.assertEqual(posted(alice), 0)
        self.assertEqual(posted(bob), 0)
        history = list(
            Entry.objects.filter(account=alice)
            .order_by("account_version")
            .values_list(
                "account_version", "amount_minutes", "balance_after", "journal__idempotency_key"
            )
        )
        self.assertEqual(history, [(1, 60, 60, "h1"), (2, -90, -30, "h2"), (3, 30, 0, "h3")])
        journal = Journal.objects.get(idempotency_key="h2")
        self.assertEqual(journal.effective_date, moment(10).date())
        self.assertEqual(journal.recorded_at, moment(10))
        self.assertEqual(journal.state, "posted")
        self.assertEqual(services.verify_ledger(), [])

    def test_point_in_time_balances_and_statements_cover_the_past(self):
        alice, bob = self.alice_account, self.bob_account
        services.post_history(
            time_bank=self.riverside,
            journals=[
                old("p1", [(bob, -60), (alice, 60)], 1),
                old("p2", [(bob, -120), (alice, 120)], 40),
            ],
        )
        self.assertEqual(services.balance(account=alice, at=moment(0)).posted, 0)
        self.assertEqual(services.balance(account=alice, at=moment(2)).posted, 60)
        self.assertEqual(services.balance(account=alice, at=moment(41)).posted, 180)
        statement = services.statement(
            account=alice, first_day=moment(30).date(), last_day=moment(50).date()
        )
        self.assertEqual((statement.opening, statement.closing), (60, 180))
        self.assertEqual([e.amount_minutes for e in statement.lines], [120])

    def test_a_journal_older_than_an_accounts_last_posting_counts_from_that_posting(self):
        # Alice already has a posting today; an exchange of 2024 imported now keeps its dates
        # but counts after it, so her running balance never goes back in time.
        pay(self.bob_account, self.alice_account, 30)
        latest = Entry.objects.get(account=self.alice_account).posted_at
        services.post_history(
            time_bank=self.riverside,
            journals=[old("late", [(self.bob_account, -60), (self.alice_account, 60)], 3)],
        )
        entry = Entry.objects.get(account=self.alice_account, journal__idempotency_key="late")
        self.assertEqual((entry.account_version, entry.balance_after), (2, 90))
        self.assertEqual(entry.posted_at, latest)
        self.assertEqual(entry.journal.effective_date, moment(3).date())
        self.assertEqual(services.balance(account=self.alice_account).posted, 90)
        self.assertEqual(services.verify_ledger(), [])

    def test_replaying_the_same_history_writes_nothing_and_other_details_conflict(self):
        journals = [old("r1", [(self.bob_account, -60), (self.alice_account, 60)], 1)]
        first = services.post_history(time_bank=self.riverside, journals=journals)
        again = services.post_history(time_bank=self.riverside, journals=journals)
        self.assertEqual((again.created, again.replayed), (0, 1))
        self.assertEqual(again.journal_ids, first.journal_ids)
        self.assertEqual(Journal.objects.filter(idempotency_key="r1").count(), 1)
        with self.assertRaises(IdempotencyConflict):
            services.post_history(
                time_bank=self.riverside,
                journals=[old("r1", [(self.bob_account, -90), (self.alice_account, 90)], 1)],
            )
        self.assertEqual(posted(self.alice_account), 60)

    def test_it_refuses_malformed_journals_before_writing_anything(self):
        good = old("ok", [(self.bob_account, -60), (self.alice_account, 60)], 1)
        cases = [
            (UnbalancedJournal, old("x1", [(self.bob_account, -60), (self.alice_account, 30)], 1)),
            (InvalidJournal, old("x2", [(self.alice_account, 60)], 1)),
            (InvalidJournal, old("x3", [(self.bob_account, 0), (self.alice_account, 0)], 1)),
            (InvalidJournal, old("x4", [(self.alice_account, -60), (self.alice_account, 60)], 1)),
            (InvalidJournal, old("ok", [(self.bob_account, -30), (self.alice_account, 30)], 2)),
            (AccountMismatch, old("x5", [(self.hugo_account, -60), (self.alice_account, 60)], 1)),
        ]
        for error, bad in cases:
            with self.subTest(key=bad.idempotency_key), self.assertRaises(error):
                services.post_history(time_bank=self.riverside, journals=[good, bad])
        future = services.HistoricalJournal(
            idempotency_key="future",
            legs=((self.bob_account.pk, -60), (self.alice_account.pk, 60)),
            effective_date=timezone.localdate(),
            recorded_at=timezone.now() + timedelta(days=1),
            description="Tomorrow",
        )
        with self.assertRaises(InvalidJournal):
            services.post_history(time_bank=self.riverside, journals=[future])
        self.assertFalse(Journal.objects.exists())
        self.assertEqual(Account.objects.filter(version__gt=0).count(), 0)

    def test_a_balance_past_the_limit_is_refused_unless_limits_may_widen(self):
        # Riverside's default limit is -10 hours; the old system let Bob owe 12.
        journals = [old("big", [(self.bob_account, -720), (self.alice_account, 720)], 1)]
        with self.assertRaises(InsufficientHours):
            services.post_history(time_bank=self.riverside, journals=journals)
        self.assertFalse(Journal.objects.exists())
        result = services.post_history(
            time_bank=self.riverside, journals=journals, widen_limits=True
        )
        self.bob_account.refresh_from_db()
        self.assertEqual(self.bob_account.credit_limit_minutes, -720)
        self.assertEqual(result.widened, [(self.bob_account.pk, -600, -720, None, None)])
        self.assertEqual(services.verify_ledger(), [])

    def test_a_pending_journal_holds_the_hours_until_a_broker_decides(self):
        result = services.post_history(
            time_bank=self.riverside,
            journals=[
                old("wait", [(self.bob_account, -60), (self.alice_account, 60)], 1, pending=True)
            ],
        )
        self.bob_account.refresh_from_db()
        self.assertEqual(
            (self.bob_account.posted_minutes, self.bob_account.pending_out_minutes), (0, 60)
        )
        journal = Journal.objects.get(pk=result.journal_ids["wait"])
        services.post_pending(journal=journal, decided_by=self.brenda)
        self.assertEqual(posted(self.alice_account), 60)
        self.assertEqual(services.verify_ledger(), [])

    def test_the_migration_account_balances_opening_balances_so_the_bank_sums_to_zero(self):
        migration = services.migration_account(time_bank=self.riverside)
        self.assertEqual(services.migration_account(time_bank=self.riverside), migration)
        self.assertEqual(
            (migration.kind, migration.credit_limit_minutes), (AccountKind.MIGRATION, None)
        )
        services.post_history(
            time_bank=self.riverside,
            journals=[
                old("open-a", [(self.alice_account, 300), (migration, -300)], 0),
                old("open-b", [(self.bob_account, -120), (migration, 120)], 0),
            ],
        )
        self.assertEqual(posted(migration), -180)
        self.assertEqual(services.verify_ledger(time_bank=self.riverside), [])

    def test_open_accounts_opens_many_at_once_and_returns_existing_ones(self):
        people, organisations = services.open_accounts(
            time_bank=self.riverside,
            person_ids=[self.alice.pk, self.cora.pk],
            organisation_ids=[self.gp.pk],
        )
        self.assertEqual(people[self.alice.pk], self.alice_account)
        self.assertEqual(people[self.cora.pk].credit_limit_minutes, -600)
        self.assertEqual(organisations[self.gp.pk], self.gp_account)
        with self.assertRaises(ValueError):
            services.open_accounts(time_bank=self.hillside, organisation_ids=[self.gp.pk])

    def test_it_writes_a_fixed_number_of_statements_per_batch(self):
        def queries(count: int, prefix: str) -> int:
            sign = [1, -1]
            journals = [
                old(
                    f"{prefix}{i}",
                    [(self.bob_account, -sign[i % 2]), (self.alice_account, sign[i % 2])],
                    i % 300,
                )
                for i in range(count)
            ]
            with CaptureQueriesContext(connection) as captured:
                services.post_history(time_bank=self.riverside, journals=journals, batch_size=100)
            return len(captured)

        few, many, more = queries(100, "a"), queries(400, "b"), queries(700, "c")
        # Each batch of 100 journals costs the same few INSERTs (two, or a few more where
        # SQLite's limit on bound parameters splits one), never one per journal.
        self.assertEqual(many - few, more - many)
        self.assertLessEqual(many - few, 3 * 6)
        self.assertLess(many, 40)
        self.assertEqual(services.verify_ledger(), [])


class RandomHistories(Cast, HypothesisTestCase):
    """Any history of exchanges between a few accounts, in any order and batch size, leaves a
    ledger whose every invariant holds and whose balances are the sums of their legs."""

    accounts: list[Account]

    @classmethod
    def setUpTestData(cls) -> None:
        cls.build_cast()
        bank = cls.riverside
        bank.limit_rule = "flag"
        bank.save(update_fields=["limit_rule"])
        people = [cls.alice, cls.bob, cls.brenda, cls.olive]
        cls.accounts = [services.open_account(time_bank=bank, person=p) for p in people]

    @settings(max_examples=25, deadline=None)
    @given(
        journals=st.lists(
            st.tuples(
                st.integers(0, 3),
                st.integers(0, 3),
                st.integers(1, 600),
                st.integers(0, 400),
                st.booleans(),
            ).filter(lambda t: t[0] != t[1]),
            max_size=30,
        ),
        batch=st.integers(1, 7),
    )
    def test_every_invariant_holds_and_balances_are_the_sums(self, journals, batch):
        history = [
            services.HistoricalJournal(
                idempotency_key=f"rand-{i}",
                legs=((self.accounts[a].pk, -m), (self.accounts[b].pk, m)),
                effective_date=date(2023, 1, 1) + timedelta(days=day),
                recorded_at=moment(day - 400),
                description="Random",
                pending=pending,
            )
            for i, (a, b, m, day, pending) in enumerate(journals)
        ]
        services.post_history(time_bank=self.riverside, journals=history, batch_size=batch)
        self.assertEqual(services.verify_ledger(time_bank=self.riverside), [])
        for index, account in enumerate(self.accounts):
            expected = sum(
                (m if b == index else -m if a == index else 0)
                for a, b, m, _day, pending in journals
                if not pending
            )
            self.assertEqual(posted(account), expected)
