from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.test import TestCase

from ledger.exceptions import IdempotencyConflict
from ledger.models import Journal

from .support import TODAY, LedgerCast, pay, posted


class IdempotencyTests(LedgerCast, TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.build_cast()
        cls.build_accounts()

    def test_replaying_a_key_with_the_same_payload_returns_the_original_journal(self) -> None:
        first = pay(self.alice_account, self.bob_account, 60, idempotency_key="exchange-7")
        again = pay(self.alice_account, self.bob_account, 60, idempotency_key="exchange-7")
        self.assertEqual(again.pk, first.pk)
        self.assertEqual(Journal.objects.filter(idempotency_key="exchange-7").count(), 1)
        self.assertEqual(posted(self.bob_account), 60)

    def test_replaying_a_key_with_a_different_payload_is_a_clear_conflict(self) -> None:
        first = pay(self.alice_account, self.bob_account, 60, idempotency_key="exchange-8")
        changes: list[dict[str, Any]] = [
            {"minutes": 45},
            {"description": "Something else"},
            {"effective_date": TODAY - timedelta(days=1)},
            {"pending": True},
            {"category": "gardening"},
        ]
        for change in changes:
            minutes = change.pop("minutes", 60)
            with self.subTest(change=change), self.assertRaises(IdempotencyConflict) as conflict:
                pay(
                    self.alice_account,
                    self.bob_account,
                    minutes,
                    idempotency_key="exchange-8",
                    **change,
                )
            self.assertIn(f"journal {first.pk}", str(conflict.exception))
            self.assertIn("different details", str(conflict.exception))
        with self.assertRaises(IdempotencyConflict):
            pay(self.bob_account, self.alice_account, 60, idempotency_key="exchange-8")
        self.assertEqual(posted(self.bob_account), 60)

    def test_the_same_key_may_be_used_in_another_time_bank(self) -> None:
        from ledger import services

        pay(self.alice_account, self.bob_account, 60, idempotency_key="shared")
        other = services.open_account(time_bank=self.hillside, person=self.harry)
        journal = pay(self.hugo_account, other, 60, idempotency_key="shared")
        self.assertEqual(journal.time_bank_id, self.hillside.pk)
