from __future__ import annotations

from django.test import TestCase

from ledger import services
from ledger.exceptions import AlreadyResolved, InsufficientHours
from ledger.models import Entry, Journal, JournalState

from .support import LedgerCast, pay, posted


class PendingTests(LedgerCast, TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.build_cast()
        cls.build_accounts()

    def hold(self, minutes: int) -> Journal:
        return pay(self.alice_account, self.bob_account, minutes, pending=True)

    def test_a_pending_journal_holds_the_payers_hours_without_moving_them(self) -> None:
        journal = self.hold(120)
        self.assertEqual(journal.state, JournalState.PENDING)
        alice = services.balance(account=self.alice_account)
        bob = services.balance(account=self.bob_account)
        self.assertEqual((alice.posted, alice.pending_out, alice.available), (0, 120, -120))
        self.assertEqual((bob.posted, bob.pending_in, bob.available), (0, 120, 0))
        self.assertFalse(
            Entry.objects.filter(journal=journal, balance_after__isnull=False).exists()
        )

    def test_piling_up_pending_journals_cannot_bypass_the_limit(self) -> None:
        self.hold(300)
        self.hold(300)
        with self.assertRaises(InsufficientHours):
            self.hold(15)
        with self.assertRaises(InsufficientHours):
            pay(self.alice_account, self.bob_account, 15)

    def test_posting_a_pending_journal_moves_the_held_hours(self) -> None:
        journal = self.hold(90)
        services.post_pending(journal=journal, decided_by=self.brenda)
        alice = services.balance(account=self.alice_account)
        self.assertEqual((alice.posted, alice.pending_out, alice.available), (-90, 0, -90))
        self.assertEqual(posted(self.bob_account), 90)
        stored = Journal.objects.get(pk=journal.pk)
        self.assertEqual(stored.state, JournalState.POSTED)
        self.assertEqual(stored.decided_by, self.brenda)
        self.assertIsNotNone(stored.decided_at)
        entry = Entry.objects.get(journal=journal, account=self.bob_account)
        self.assertEqual((entry.balance_after, entry.account_version), (90, 1))
        self.assertEqual(services.verify_ledger(), [])

    def test_voiding_releases_the_hold_and_records_why(self) -> None:
        journal = self.hold(600)
        services.void_pending(journal=journal, decided_by=self.brenda, reason="Never happened")
        self.assertEqual(services.balance(account=self.alice_account).available, 0)
        self.assertEqual(services.balance(account=self.bob_account).pending_in, 0)
        stored = Journal.objects.get(pk=journal.pk)
        self.assertEqual((stored.state, stored.decision_reason), ("voided", "Never happened"))
        pay(self.alice_account, self.bob_account, 600)  # the full limit is usable again

    def test_expiring_releases_the_hold(self) -> None:
        journal = self.hold(60)
        services.expire_pending(journal=journal)
        self.assertEqual(Journal.objects.get(pk=journal.pk).state, JournalState.EXPIRED)
        self.assertEqual(services.balance(account=self.alice_account).pending_out, 0)

    def test_a_pending_journal_is_resolved_at_most_once(self) -> None:
        resolutions = [
            lambda j: services.post_pending(journal=j, decided_by=self.brenda),
            lambda j: services.void_pending(journal=j, decided_by=self.brenda, reason="No"),
            lambda j: services.expire_pending(journal=j),
        ]
        for first in resolutions:
            journal = self.hold(30)
            first(journal)
            for second in resolutions:
                with self.subTest(), self.assertRaises(AlreadyResolved) as refused:
                    second(journal)
                self.assertIn("already been decided", str(refused.exception))
        self.assertEqual(posted(self.bob_account), 30)
        self.assertEqual(services.verify_ledger(), [])

    def test_a_posted_journal_cannot_be_voided(self) -> None:
        journal = pay(self.alice_account, self.bob_account, 30)
        with self.assertRaises(AlreadyResolved):
            services.void_pending(journal=journal, decided_by=self.brenda, reason="Oops")

    def test_voiding_needs_a_reason(self) -> None:
        journal = self.hold(30)
        with self.assertRaises(ValueError):
            services.void_pending(journal=journal, decided_by=self.brenda, reason=" ")
