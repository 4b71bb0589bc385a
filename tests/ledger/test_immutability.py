"""Posted rows cannot be changed or removed, even with raw SQL: the database refuses."""

from __future__ import annotations

from unittest import skipUnless

from django.db import IntegrityError, connection, transaction
from django.test import TestCase

from ledger import services
from ledger.models import Journal

from .support import LedgerCast, pay


class ImmutabilityTests(LedgerCast, TestCase):
    journal: Journal
    entry_id: int

    @classmethod
    def setUpTestData(cls) -> None:
        cls.build_cast()
        cls.build_accounts()
        cls.journal = pay(cls.alice_account, cls.bob_account, 60)
        cls.entry_id = cls.journal.entries.get(account=cls.alice_account).pk

    def refused(self, sql: str, params: list[int]) -> None:
        with self.assertRaises(IntegrityError), transaction.atomic(), connection.cursor() as c:
            c.execute(sql, params)

    def test_raw_sql_cannot_update_a_posted_entry(self) -> None:
        self.refused("UPDATE ledger_entry SET amount_minutes = -600 WHERE id = %s", [self.entry_id])
        self.refused("UPDATE ledger_entry SET balance_after = 0 WHERE id = %s", [self.entry_id])

    def test_raw_sql_cannot_delete_a_posted_entry(self) -> None:
        self.refused("DELETE FROM ledger_entry WHERE id = %s", [self.entry_id])

    def test_raw_sql_cannot_delete_or_rewrite_a_journal(self) -> None:
        self.refused("DELETE FROM ledger_journal WHERE id = %s", [self.journal.pk])
        self.refused(
            "UPDATE ledger_journal SET description = 'changed' WHERE id = %s", [self.journal.pk]
        )
        self.refused(
            "UPDATE ledger_journal SET state = 'voided', decided_at = recorded_at, "
            "decision_reason = 'x' WHERE id = %s",
            [self.journal.pk],
        )

    def test_a_pending_journal_changes_only_by_being_resolved(self) -> None:
        pending = pay(self.alice_account, self.bob_account, 30, pending=True)
        self.refused(
            "UPDATE ledger_journal SET description = 'changed' WHERE id = %s", [pending.pk]
        )
        # Filling in the running balance of a pending journal's entry without posting it.
        self.refused(
            "UPDATE ledger_entry SET balance_after = 1, account_version = 99, "
            "posted_at = CURRENT_TIMESTAMP WHERE journal_id = %s",
            [pending.pk],
        )
        services.post_pending(journal=pending, decided_by=self.brenda)
        self.refused(
            "UPDATE ledger_journal SET state = 'pending', decided_at = NULL, "
            "decided_by_id = NULL WHERE id = %s",
            [pending.pk],
        )

    def test_the_database_refuses_an_account_past_its_limit(self) -> None:
        self.refused(
            "UPDATE ledger_account SET posted_minutes = -601 WHERE id = %s",
            [self.alice_account.pk],
        )

    @skipUnless(connection.vendor == "postgresql", "deferred constraint triggers: PostgreSQL only")
    def test_an_entry_that_unbalances_a_journal_is_refused_at_commit(self) -> None:
        with self.assertRaises(IntegrityError), transaction.atomic(), connection.cursor() as c:
            c.execute(
                "INSERT INTO ledger_entry (journal_id, account_id, amount_minutes) "
                "VALUES (%s, %s, 5)",
                [self.journal.pk, self.gp_account.pk],
            )
            # TestCase never commits, so ask for the deferred check now.
            c.execute("SET CONSTRAINTS ALL IMMEDIATE")
