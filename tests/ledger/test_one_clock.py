"""One clock for ``posted_at``: the database's. Every posting, whether in one call or by
resolving a pending journal later, stamps its entries with the database's clock, after it holds
the accounts' locks, so an account's entries never go back in time; ``verify_ledger`` checks it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine
from django.db import connection
from django.test import TestCase

from ledger import services
from ledger.models import Entry

from .support import LedgerCast, pay


def real_now() -> datetime:
    """The time outside any ``time_machine`` travel (the database's clock never travels)."""
    return datetime.now(UTC)


class OneClock(LedgerCast, TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.build_cast()
        cls.build_accounts()

    def post_with_the_application_clock_behind(self, seconds: float = 2) -> None:
        """Post a held journal while the application's clock is ``seconds`` behind."""
        held = pay(self.alice_account, self.bob_account, 30, pending=True)
        with time_machine.travel(real_now() - timedelta(seconds=seconds), tick=True):
            services.post_pending(journal=held, decided_by=self.brenda)

    def test_an_accounts_entries_never_go_back_in_time_when_the_application_clock_lags(self):
        pay(self.alice_account, self.bob_account, 60)
        self.post_with_the_application_clock_behind()
        stamps = list(
            Entry.objects.filter(account=self.alice_account)
            .order_by("account_version")
            .values_list("posted_at", flat=True)
        )
        self.assertEqual(len(stamps), 2)
        self.assertLessEqual(stamps[0], stamps[1])
        self.assertEqual(services.verify_ledger(), [])

    def test_a_point_in_time_balance_counts_the_entries_posted_by_then(self):
        pay(self.alice_account, self.bob_account, 60)
        self.post_with_the_application_clock_behind()
        self.assertEqual(services.balance(account=self.alice_account, at=real_now()).posted, -90)

    def test_verify_reports_an_entry_stamped_before_the_accounts_previous_one(self):
        pay(self.alice_account, self.bob_account, 60)
        pay(self.alice_account, self.bob_account, 30)
        latest = Entry.objects.get(account=self.alice_account, account_version=2)
        # Only by hand, with the append-only trigger off for this transaction.
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # Run the deferred sum-to-zero checks now: a table with pending ones cannot change.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute("ALTER TABLE ledger_entry DISABLE TRIGGER ledger_entry_only_post")
            else:
                cursor.execute("DROP TRIGGER ledger_entry_only_post")
            cursor.execute(
                "UPDATE ledger_entry SET posted_at = %s WHERE id = %s",
                [latest.posted_at - timedelta(minutes=5), latest.pk],
            )
            if connection.vendor == "postgresql":
                cursor.execute("ALTER TABLE ledger_entry ENABLE TRIGGER ledger_entry_only_post")
        name = f"account {self.alice_account.pk} (Alice Archer, riverside)"
        self.assertIn(
            f"{name}: entry version 2 is stamped before version 1 (posted_at goes back in time)",
            services.verify_ledger(),
        )
