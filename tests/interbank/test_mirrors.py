"""The two mirrors of a link are equal and opposite: ledger_verify says so on both backends,
and PostgreSQL refuses at commit a transaction that moves one alone."""

from __future__ import annotations

from datetime import date
from unittest import skipUnless

from django.db import DatabaseError, connection, transaction

from interbank.models import Link
from ledger import services as ledger
from tests.base import CastTestCase

from .support import LinkedBanks


class MirrorsOpposite(LinkedBanks, CastTestCase):
    the_link: Link

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.build_linked()
        cls.the_link = cls.link()

    def move_one_mirror_alone(self) -> None:
        ledger.post_journal(
            time_bank=self.riverside,
            legs=[(self.alice_account, 60), (self.the_link.proposer_mirror, -60)],
            idempotency_key="one-side-only",
            effective_date=date(2026, 12, 1),
            recorded_by=None,
            description="Half an exchange",
        )

    @skipUnless(connection.vendor == "sqlite", "PostgreSQL refuses it before: see below")
    def test_ledger_verify_finds_a_mirror_moved_alone(self):
        self.move_one_mirror_alone()
        problems = ledger.verify_ledger()
        self.assertEqual(len(problems), 2, problems)
        self.assertIn("not equal and opposite", problems[0])

    @skipUnless(connection.vendor == "postgresql", "a deferred constraint trigger: PostgreSQL")
    def test_postgresql_refuses_a_mirror_moved_alone_at_commit(self):
        with self.assertRaises(DatabaseError), transaction.atomic():
            self.move_one_mirror_alone()
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

    def test_a_clean_link_verifies(self):
        self.assertEqual(ledger.verify_ledger(), [])
