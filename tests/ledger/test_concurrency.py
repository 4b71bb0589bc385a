"""Real parallel connections against PostgreSQL: hot accounts near their limits, replayed keys,
racing resolutions and reversals. SQLite serialises writers, so there is nothing to race."""

from __future__ import annotations

import random
import threading
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from unittest import skipUnless

from django.db import connection
from django.test import TransactionTestCase

from ledger import services
from ledger.exceptions import (
    AlreadyResolved,
    AlreadyReversed,
    InsufficientHours,
    MaximumBalanceReached,
)
from ledger.models import Account, Journal

from .support import LedgerCast

WORKERS = 8
TODAY = date(2026, 3, 14)


def run_in_threads(work: Callable[[int], None]) -> list[BaseException]:
    """Run ``work(worker)`` in WORKERS threads, each on its own connection, started together.
    Returns every unexpected exception."""
    barrier = threading.Barrier(WORKERS)
    errors: list[BaseException] = []

    def target(worker: int) -> None:
        try:
            barrier.wait()
            work(worker)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(w,)) for w in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@skipUnless(connection.vendor == "postgresql", "needs real parallel connections: PostgreSQL only")
class ConcurrencyTests(LedgerCast, TransactionTestCase):
    def setUp(self) -> None:
        self.build_cast()
        self.build_accounts()
        self.hot = [self.alice_account, self.bob_account, self.olive_account, self.gp_account]
        # Near their limits: -2 hours each, so most of the load is refused at the edge.
        Account.objects.filter(pk__in=[a.pk for a in self.hot]).update(credit_limit_minutes=-120)
        Account.objects.filter(pk=self.gp_account.pk).update(max_balance_minutes=240)

    def test_parallel_postings_stay_exact_within_limits_and_once_per_key(self) -> None:
        rng = random.Random(7)
        accounts = [*self.hot, self.pot]
        ops = []
        for i in range(120):
            payer, payee = rng.sample(range(len(accounts)), 2)
            ops.append((f"hot-{i}", payer, payee, rng.choice([15, 30, 45, 60]), rng.random() < 0.2))
        results: dict[str, set[int]] = defaultdict(set)
        refused = [0]
        lock = threading.Lock()

        def work(worker: int) -> None:
            mine = list(ops)
            random.Random(worker).shuffle(mine)
            # Each worker tries every key: every key is replayed by up to 8 workers at once.
            for key, payer, payee, minutes, pending in mine[: len(mine) // 2 + worker * 5]:
                try:
                    journal = services.transfer(
                        from_account=accounts[payer],
                        to_account=accounts[payee],
                        minutes=minutes,
                        idempotency_key=key,
                        effective_date=TODAY,
                        recorded_by=None,
                        description="Hammer",
                        pending=pending,
                    )
                except (InsufficientHours, MaximumBalanceReached):
                    with lock:
                        refused[0] += 1
                    continue
                with lock:
                    results[key].add(journal.pk)

        errors = run_in_threads(work)
        self.assertEqual(errors, [])
        self.assertGreater(refused[0], 0, "the load should reach the limits")
        self.assertGreater(len(results), 20)
        for key, journal_ids in results.items():
            self.assertEqual(len(journal_ids), 1, key)
            self.assertEqual(Journal.objects.filter(idempotency_key=key).count(), 1, key)
        self.assertEqual(Journal.objects.count(), len(results))
        for account in Account.objects.filter(pk__in=[a.pk for a in self.hot]):
            self.assertGreaterEqual(account.available_minutes, account.credit_limit_minutes)
        self.assertEqual(services.verify_ledger(), [])

    def test_racing_resolutions_and_reversals_each_win_exactly_once(self) -> None:
        holds = [
            services.transfer(
                from_account=self.pot,
                to_account=account,
                minutes=30,
                idempotency_key=f"h{i}-{n}",
                effective_date=TODAY,
                recorded_by=None,
                description="Hold",
                pending=True,
            )
            for n, account in enumerate(self.hot)
            for i in range(3)
        ]
        posted = [
            services.transfer(
                from_account=self.pot,
                to_account=account,
                minutes=20,
                idempotency_key=f"p{i}-{n}",
                effective_date=TODAY,
                recorded_by=None,
                description="Gift",
            )
            for n, account in enumerate(self.hot)
            for i in range(3)
        ]
        wins: dict[tuple[str, int], int] = defaultdict(int)
        lock = threading.Lock()

        def work(worker: int) -> None:
            for journal in holds:
                try:
                    if worker % 2:
                        services.post_pending(journal=journal, decided_by=self.brenda)
                    else:
                        services.void_pending(journal=journal, decided_by=self.brenda, reason="x")
                except AlreadyResolved:
                    continue
                with lock:
                    wins["resolve", journal.pk] += 1
            for journal in posted:
                try:
                    services.reverse_journal(
                        journal=journal,
                        recorded_by=self.brenda,
                        reason="Race",
                        idempotency_key=f"reverse-{journal.pk}-by-{worker}",
                    )
                except AlreadyReversed:
                    continue
                with lock:
                    wins["reverse", journal.pk] += 1

        errors = run_in_threads(work)
        self.assertEqual(errors, [])
        self.assertEqual(len(wins), len(holds) + len(posted))
        self.assertEqual(set(wins.values()), {1})
        self.assertEqual(services.verify_ledger(), [])
