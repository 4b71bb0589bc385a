from __future__ import annotations

from django.test import TestCase

from ledger import services
from ledger.exceptions import AlreadyReversed, InsufficientHours, LedgerError, NotPosted
from ledger.models import Journal

from .support import LedgerCast, pay, posted


class ReversalTests(LedgerCast, TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.build_cast()
        cls.build_accounts()

    def reverse(self, journal: Journal, key: str = "reversal-1") -> Journal:
        return services.reverse_journal(
            journal=journal, recorded_by=self.brenda, reason="Recorded twice", idempotency_key=key
        )

    def test_a_reversal_is_a_new_journal_of_opposite_entries_pointing_at_the_original(self) -> None:
        original = pay(self.alice_account, self.bob_account, 75, category="gardening")
        reversal = self.reverse(original)
        self.assertEqual(reversal.reverses, original)
        self.assertEqual(original.reversed_by, reversal)
        self.assertEqual(reversal.category, "gardening")
        self.assertEqual((posted(self.alice_account), posted(self.bob_account)), (0, 0))
        self.assertEqual(Journal.objects.get(pk=original.pk).state, "posted")
        self.assertEqual(services.verify_ledger(), [])

    def test_a_journal_is_reversed_at_most_once(self) -> None:
        original = pay(self.alice_account, self.bob_account, 75)
        first = self.reverse(original)
        self.assertEqual(self.reverse(original).pk, first.pk)  # a replay, not a second reversal
        with self.assertRaises(AlreadyReversed) as refused:
            self.reverse(original, key="reversal-2")
        self.assertIn("already been reversed", str(refused.exception))
        self.assertEqual(posted(self.bob_account), 0)

    def test_only_posted_journals_can_be_reversed(self) -> None:
        pending = pay(self.alice_account, self.bob_account, 75, pending=True)
        with self.assertRaises(NotPosted):
            self.reverse(pending)
        services.void_pending(journal=pending, decided_by=self.brenda, reason="No")
        with self.assertRaises(NotPosted):
            self.reverse(pending)

    def test_a_reversal_respects_the_credit_limit(self) -> None:
        original = pay(self.alice_account, self.bob_account, 300)
        pay(self.bob_account, self.gp_account, 600 + 300)
        with self.assertRaises(InsufficientHours):
            self.reverse(original)
        self.assertIsNone(original.reversed_by)

    def test_a_reversal_is_never_reversed(self) -> None:
        original = pay(self.alice_account, self.bob_account, 75)
        reversal = self.reverse(original)
        with self.assertRaises(LedgerError) as refused:
            self.reverse(reversal, key="reversal-of-a-reversal")
        self.assertIn("correction", str(refused.exception))
        self.assertEqual((posted(self.alice_account), posted(self.bob_account)), (0, 0))
        self.assertEqual(Journal.objects.count(), 2)
