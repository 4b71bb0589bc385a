"""``manage.py import_bank`` and ``export_bank`` as an operator uses them: a dry run that says
what would be created and writes nothing, the import with its reconciliation line and the
invitations sent when asked, and one line (exit 1) for anything it cannot do."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

from django.core import mail
from django.core.management import CommandError, call_command
from django.test import TestCase

from exchanges.models import Exchange
from members.models import Person, Role, TimeBank
from tests.factories import make_bank, make_member

from .support import zipped
from .test_import import bank_files_in


class Commands(TestCase):
    bank: TimeBank
    ada: Person

    @classmethod
    def setUpTestData(cls) -> None:
        cls.bank = make_bank(name="Shire Time Bank", slug="shire")
        cls.ada = make_member(cls.bank, "Ada Admin", role=Role.ADMIN, email="ada@example.org")

    def setUp(self) -> None:
        folder = tempfile.TemporaryDirectory()
        self.addCleanup(folder.cleanup)
        self.folder = Path(folder.name)
        self.path = self.folder / "bank.zip"
        self.path.write_bytes(zipped(bank_files_in()))

    def run_command(self, *args: str) -> str:
        out = io.StringIO()
        call_command(*args, stdout=out, stderr=io.StringIO())
        return out.getvalue()

    def test_a_dry_run_says_what_it_would_create_and_writes_nothing(self):
        out = self.run_command("import_bank", str(self.path), "--bank", "shire", "--dry-run")
        self.assertIn("would create: 3 exchanges with their original dates", out)
        self.assertIn("dry run: no problems; nothing was written.", out)
        self.assertFalse(Exchange.objects.exists())

    def test_the_import_prints_the_reconciliation_and_sends_invitations_when_asked(self):
        out = self.run_command(
            "import_bank",
            str(self.path),
            "--bank",
            "shire",
            "--by",
            "ada@example.org",
            "--invite",
            "now",
        )
        self.assertIn(
            "imported into shire: bank sums to 0 hours, 0 declared balance(s) differ", out
        )
        self.assertIn("invitations to set a password sent: 2", out)
        self.assertEqual(len(mail.outbox), 2)
        self.assertEqual(Exchange.objects.filter(time_bank=self.bank).count(), 3)
        again = self.run_command("import_bank", str(self.path), "--bank", "shire")
        self.assertIn("nothing new", again)

    def test_create_makes_the_bank_in_the_same_transaction(self):
        self.run_command(
            "import_bank", str(self.path), "--bank", "new-bank", "--create", "New Bank"
        )
        self.assertEqual(TimeBank.objects.get(slug="new-bank").name, "New Bank")
        # A dry run with --create leaves no bank behind.
        self.run_command(
            "import_bank", str(self.path), "--bank", "ghost", "--create", "Ghost", "--dry-run"
        )
        self.assertFalse(TimeBank.objects.filter(slug="ghost").exists())

    def test_what_it_cannot_do_is_one_line_and_exit_one(self):
        garbage = self.folder / "garbage.zip"
        garbage.write_bytes(b"PK\x03\x04 not a zip at all")
        cases = [
            (
                ("import_bank", "/no/such/file", "--bank", "shire"),
                "There is no file or folder at /no/such/file.",
            ),
            (
                ("import_bank", str(self.path), "--bank", "nowhere"),
                "No time bank with the short name 'nowhere'",
            ),
            (
                ("import_bank", str(self.path), "--bank", "shire", "--create", "Again"),
                "already exists",
            ),
            (
                ("import_bank", str(self.path), "--bank", "shire", "--invite", "soon"),
                "--invite must be now, later or a date",
            ),
            (
                ("import_bank", str(self.path), "--bank", "shire", "--by", "who@example.org"),
                "No one on this site signs in as who@example.org.",
            ),
            (("import_bank", str(garbage), "--bank", "shire"), "The ZIP file is damaged"),
            (("export_bank", "--bank", "nowhere"), "No time bank with the short name 'nowhere'."),
        ]
        for args, words in cases:
            with self.subTest(args=args), self.assertRaisesMessage(CommandError, words) as caught:
                self.run_command(*args)
            self.assertNotIn("\n", str(caught.exception))
        self.assertFalse(Exchange.objects.exists())

    def test_export_bank_writes_a_zip_or_a_folder_of_the_four_files(self):
        self.run_command("import_bank", str(self.path), "--bank", "shire")
        target = self.folder / "out.zip"
        self.run_command("export_bank", "--bank", "shire", "--output", str(target))
        names = sorted(zipfile.ZipFile(target).namelist())
        self.assertEqual(
            names, ["exchanges.csv", "members.csv", "offers.csv", "opening_balances.csv"]
        )
        self.run_command("export_bank", "--bank", "shire", "--output", str(self.folder / "out"))
        self.assertIn("Jo Bloggs", (self.folder / "out" / "members.csv").read_text())
