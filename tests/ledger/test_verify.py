from __future__ import annotations

from io import StringIO

from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import TestCase, override_settings

from ledger import services, tasks

from .support import LedgerCast, pay


class LedgerVerifyTests(LedgerCast, TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.build_cast()
        cls.build_accounts()
        pay(cls.alice_account, cls.bob_account, 90)
        pay(cls.bob_account, cls.gp_account, 30, pending=True)
        original = pay(cls.pot, cls.olive_account, 120)
        services.reverse_journal(
            journal=original, recorded_by=cls.brenda, reason="Wrong member", idempotency_key="r1"
        )
        held = pay(cls.alice_account, cls.olive_account, 15, pending=True)
        services.post_pending(journal=held, decided_by=cls.brenda)

    def corrupt_alices_balance(self) -> None:
        # The account row is the one ledger row that may change; change it behind the ledger.
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE ledger_account SET posted_minutes = posted_minutes + 60 WHERE id = %s",
                [self.alice_account.pk],
            )

    def test_it_reports_ok_on_a_sound_ledger(self) -> None:
        out = StringIO()
        call_command("ledger_verify", stdout=out)
        self.assertEqual(out.getvalue().strip(), "ledger ok: 5 journals, 6 accounts checked")

    def test_it_checks_one_time_bank(self) -> None:
        out = StringIO()
        call_command("ledger_verify", "--bank", "hillside", stdout=out)
        self.assertEqual(out.getvalue().strip(), "ledger ok: 0 journals, 1 accounts checked")

    def test_a_hand_corrupted_balance_fails_with_a_line_naming_the_account(self) -> None:
        self.corrupt_alices_balance()
        out = StringIO()
        with self.assertRaises(CommandError):
            call_command("ledger_verify", stdout=out)
        lines = out.getvalue().splitlines()
        name = f"account {self.alice_account.pk} (Alice Archer, riverside)"
        self.assertIn(
            f"{name}: stored balance -45 minutes, but its posted entries sum to -105 minutes",
            lines,
        )
        self.assertIn("time bank", "\n".join(lines))  # the bank no longer sums to zero
        # Another bank is still clean.
        call_command("ledger_verify", "--bank", "hillside", stdout=StringIO())

    def test_an_unknown_bank_is_a_clear_error(self) -> None:
        with self.assertRaisesMessage(CommandError, "No time bank"):
            call_command("ledger_verify", "--bank", "nowhere", stdout=StringIO())

    @override_settings(ADMINS=[("Ops", "ops@example.org")])
    def test_the_nightly_task_mails_admins_only_when_something_is_wrong(self) -> None:
        self.assertEqual(tasks.verify_ledger(), 0)
        self.assertEqual(len(mail.outbox), 0)
        self.corrupt_alices_balance()
        with self.assertLogs("ledger.tasks", level="ERROR"):
            self.assertGreater(tasks.verify_ledger(), 0)
        self.assertEqual(len(mail.outbox), 1)
        self.assertIn("Alice Archer", mail.outbox[0].body)
