"""The bank admin's pages: upload, the dry run's report, confirm; a large file checked and
imported by the worker with progress and an email; the reconciliation and the bank's export
as downloads (both in the audit trail); the template. Bad uploads get a message, never a 500;
only the bank's admin gets in."""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
import zipfile

from django.core import mail
from django.test import override_settings
from django.urls import reverse
from openpyxl import load_workbook

from audit.models import Action, AuditEvent
from exchanges.models import Exchange
from imports.models import ImportRun, RunState
from members.models import Person, Role
from tests.base import CastTestCase
from tests.factories import make_member
from tests.support import PageResponse, eager_tasks, user_of

from .support import text, zipped
from .test_dry_run import FILES as BAD_FILES
from .test_import import bank_files_in

GOOD = zipped(bank_files_in())


class Pages(CastTestCase):
    ada: Person
    hilda: Person

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.ada = make_member(cls.riverside, "Ada Admin", role=Role.ADMIN)
        cls.hilda = make_member(cls.hillside, "Hilda Hillside", role=Role.ADMIN)

    def setUp(self) -> None:
        media = tempfile.mkdtemp(prefix="imports-")
        self.addCleanup(shutil.rmtree, media, True)
        settings = override_settings(MEDIA_ROOT=media)
        settings.enable()
        self.addCleanup(settings.disable)
        self.client.force_login(user_of(self.ada))

    def upload(self, data: bytes, name: str = "bank.zip", follow: bool = False) -> PageResponse:
        upload = io.BytesIO(data)
        upload.name = name
        return self.client.post(
            reverse("import-start", args=["riverside"]), {"file": upload}, follow=follow
        )

    def test_upload_check_confirm_and_the_reconciliation(self):
        start = self.client.get(reverse("import-start", args=["riverside"]))
        self.assertContains(start, "Download the spreadsheet template")
        response = self.upload(GOOD)
        run = ImportRun.objects.get()
        self.assertRedirects(response, reverse("import-run", args=[run.token]))
        self.assertEqual(run.state, RunState.READY)
        page = self.client.get(reverse("import-run", args=[run.token]))
        self.assertContains(page, "No problems: the files are ready to import")
        self.assertContains(page, "3 members (2 invited to set a password, 1 offline)")
        self.assertFalse(Exchange.objects.exists())
        with self.captureOnCommitCallbacks(execute=True):
            done = self.client.post(
                reverse("import-run", args=[run.token]), {"action": "confirm", "when": "later"}
            )
        self.assertRedirects(done, reverse("import-run", args=[run.token]))
        run.refresh_from_db()
        self.assertEqual(run.state, RunState.DONE)
        self.assertEqual(run.file.name, "")  # the upload, with people's details, is deleted
        self.assertEqual(Exchange.objects.filter(time_bank=self.riverside).count(), 3)
        page = self.client.get(reverse("import-run", args=[run.token]))
        self.assertContains(page, "The bank's balances add up to")
        self.assertContains(page, "0 sent, 2 waiting")
        download = self.client.get(reverse("import-reconciliation", args=[run.token]))
        rows = list(csv.reader(io.StringIO(download.content.decode())))
        self.assertEqual(rows[1][:2], ["bank", "bank_sum"])
        self.assertIn(["member", "102", "Sam Smith", "", "0:00", "1:30", "-1:00", "0:30", ""], rows)
        self.assertTrue(
            AuditEvent.objects.filter(
                action=Action.REPORT_DOWNLOADED, details__report="import-reconciliation"
            ).exists()
        )
        # A second confirm imports nothing more.
        again = self.client.post(
            reverse("import-run", args=[run.token]),
            {"action": "confirm", "when": "later"},
            follow=True,
        )
        self.assertContains(again, "nothing to do")
        self.assertEqual(Exchange.objects.filter(time_bank=self.riverside).count(), 3)
        # Then the invitations, now.
        with eager_tasks(), self.captureOnCommitCallbacks(execute=True):
            self.client.post(
                reverse("import-run", args=[run.token]), {"action": "invitations", "when": "now"}
            )
        self.assertEqual(len(mail.outbox), 2)

    def test_a_file_with_problems_lists_them_and_writes_nothing(self):
        response = self.upload(zipped(BAD_FILES), follow=True)
        self.assertContains(response, "32 problems to fix. Nothing has been written.")
        self.assertContains(
            response,
            "<strong>exchanges.csv, line 10, column minutes</strong>: ‘Jo Bloggs’ gave 25 hours",
        )
        self.assertFalse(ImportRun.objects.filter(state=RunState.READY).exists())
        self.assertFalse(Person.objects.filter(display_name="Jo Bloggs").exists())
        run = ImportRun.objects.get()
        refused = self.client.post(
            reverse("import-run", args=[run.token]),
            {"action": "confirm", "when": "later"},
            follow=True,
        )
        self.assertContains(refused, "nothing to do")

    def test_bad_uploads_get_a_message_never_a_server_error(self):
        cases = {
            "not a zip": (
                b"PK\x03\x04 this is not really a zip",
                "bank.zip",
                "The ZIP file is damaged",
            ),
            "nonsense": (b"\x00\x01\x02binary", "photo.jpg", "not in a format we know"),
            "empty": (b"", "bank.zip", "The submitted file is empty"),
            "a broken spreadsheet": (
                b"PK\x03\x04xx",
                "bank.xlsx",
                "cannot be opened as a spreadsheet",
            ),
            "headers only": (
                zipped({"members.csv": text("external_id,display_name")}),
                "bank.zip",
                "No rows to import",
            ),
        }
        for label, (data, name, words) in cases.items():
            with self.subTest(label):
                response = self.upload(data, name, follow=True)
                self.assertEqual(response.status_code, 200)
                self.assertContains(response, words)
        self.assertFalse(Exchange.objects.exists())

    @override_settings(IMPORT_ASYNC_BYTES=10)
    def test_a_large_file_is_checked_and_imported_by_the_worker_with_progress_and_an_email(self):
        with eager_tasks(), self.captureOnCommitCallbacks(execute=True):
            response = self.upload(GOOD)
        run = ImportRun.objects.get()
        self.assertEqual(run.state, RunState.READY)
        with eager_tasks(), self.captureOnCommitCallbacks(execute=True):
            self.client.post(
                reverse("import-run", args=[run.token]), {"action": "confirm", "when": "later"}
            )
        run.refresh_from_db()
        self.assertEqual(run.state, RunState.DONE)
        progress = self.client.get(
            reverse("import-run", args=[run.token]), {"format": "json"}
        ).json()
        self.assertEqual(progress["state"], "done")
        self.assertEqual(progress["progress"]["stage"], "Saving")
        [email] = mail.outbox
        self.assertEqual(email.to, [user_of(self.ada).email])
        self.assertIn("is done", email.subject)
        self.assertIn(reverse("import-run", args=[run.token]), email.body)
        self.assertIsNotNone(response)

    def test_the_export_and_the_template_download(self):
        export = self.client.get(reverse("bank-export", args=["riverside"]))
        self.assertEqual(export["Content-Type"], "application/zip")
        names = zipfile.ZipFile(io.BytesIO(export.content)).namelist()
        self.assertEqual(
            sorted(names), ["exchanges.csv", "members.csv", "offers.csv", "opening_balances.csv"]
        )
        self.assertTrue(
            AuditEvent.objects.filter(action=Action.BANK_EXPORTED, actor=self.ada).exists()
        )
        template = self.client.get(reverse("import-template", args=["riverside"]))
        book = load_workbook(io.BytesIO(template.content))
        self.assertIn("Members", book.sheetnames)

    def test_only_the_banks_admin_gets_in(self):
        run = ImportRun.objects.create(
            time_bank=self.riverside, created_by=self.ada, source="canonical", file_name="x.zip"
        )
        for person, bank_page, run_page in (
            (self.brenda, 403, 404),
            (self.bob, 403, 404),
            (self.cora, 403, 404),
            (self.hilda, 403, 404),
        ):
            self.client.force_login(user_of(person))
            with self.subTest(person=person.display_name):
                self.assertEqual(
                    self.client.get(reverse("import-start", args=["riverside"])).status_code,
                    bank_page,
                )
                self.assertEqual(
                    self.client.get(reverse("bank-export", args=["riverside"])).status_code,
                    bank_page,
                )
                self.assertEqual(
                    self.client.get(reverse("import-run", args=[run.token])).status_code, run_page
                )
        # Hilda administers her own bank's imports.
        self.client.force_login(user_of(self.hilda))
        self.assertEqual(
            self.client.get(reverse("import-start", args=["hillside"])).status_code, 200
        )
