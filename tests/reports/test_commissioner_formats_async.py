"""Large commissioner reports are built by a Celery task (eager here, after commit), stored,
and sent as an emailed link that only the requester may follow while they keep access; the
files built match the generated quarter's true totals; old files expire, safely twice."""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
from datetime import date, timedelta
from typing import Any

import time_machine
from django.core import mail
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.test import TestCase, override_settings
from django.urls import reverse
from openpyxl import load_workbook

from members.models import Membership, Status
from reports import exports
from reports.models import ExportState, ReportDownload, ReportExport
from tests.support import PageResponse, eager_tasks, streamed, user_of
from timebank.celery import app

from .commissioning_data import END, NOW, START, KnownQuarter, frozen
from .test_commissioner_figures import KNOWN, SHOWN, expected_sheet_rows, sheet_rows
from .test_commissioner_formats import APPENDIX, pdf_text, table_text

PERIOD = {"start": START.isoformat(), "end": END.isoformat()}


class WhatIsLarge(TestCase):
    @override_settings(REPORT_ASYNC_BANK_MONTHS=12)
    def test_more_than_the_set_number_of_bank_months_is_large(self):
        self.assertEqual(exports.months_in(date(2026, 4, 30), date(2026, 5, 1)), 2)
        self.assertFalse(exports.is_large(banks=1, start=date(2025, 1, 1), end=date(2025, 12, 31)))
        self.assertTrue(exports.is_large(banks=1, start=date(2025, 1, 1), end=date(2026, 1, 1)))
        self.assertFalse(exports.is_large(banks=4, start=date(2026, 1, 1), end=date(2026, 3, 31)))
        self.assertTrue(exports.is_large(banks=5, start=date(2026, 1, 1), end=date(2026, 3, 31)))


# The quarter (3 months of one bank) counts as large here.
@override_settings(REPORT_SUPPRESSION_THRESHOLD=1, REPORT_ASYNC_BANK_MONTHS=2)
class LargeReports(KnownQuarter, TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.build_quarter()

    def setUp(self) -> None:
        media = tempfile.mkdtemp(prefix="report-exports-")
        self.addCleanup(shutil.rmtree, media, ignore_errors=True)
        settings = override_settings(MEDIA_ROOT=media)
        settings.enable()
        self.addCleanup(settings.disable)
        traveller = frozen()
        traveller.start()
        self.addCleanup(traveller.stop)
        self.client.force_login(user_of(self.cora))

    def ask(self, format: str, **query: Any) -> PageResponse:
        """Ask for a download; the build and the email run (eagerly) after commit."""
        with eager_tasks(), self.captureOnCommitCallbacks(execute=True):
            return self.client.get(
                reverse(f"commissioner-report-{format}", args=["riverside"]), {**PERIOD, **query}
            )

    def link(self) -> str:
        """The download link of the one email sent, as a path."""
        self.assertEqual(len(mail.outbox), 1)
        url = next(w for w in mail.outbox[0].body.split() if "/commissioner-reports/" in w)
        return url.removeprefix("http://127.0.0.1:8000")

    def test_a_large_download_is_queued_built_and_emailed_as_a_link_without_figures(self):
        response = self.ask("xlsx")
        self.assertEqual(response.status_code, 202)
        self.assertContains(response, "being made in the background", status_code=202)
        self.assertContains(response, user_of(self.cora).email, status_code=202)
        export = ReportExport.objects.get()
        self.assertEqual(
            (export.user, export.bank_slugs, export.start, export.end, export.format),
            (self.cora.user, "riverside", START, END, "xlsx"),
        )
        self.assertEqual(export.state, ExportState.READY)
        self.assertEqual(list(export.time_banks.all()), [self.riverside])
        self.assertTrue(default_storage.exists(export.file.name))
        # Nothing is downloaded until the link is followed.
        self.assertFalse(ReportDownload.objects.exists())

        email = mail.outbox[0]
        self.assertEqual(email.to, [user_of(self.cora).email])
        self.assertEqual(email.subject, "Your commissioner report is ready to download")
        self.assertIn("Riverside Time Bank, from 1 April 2026 to 15 June 2026, as XLSX", email.body)
        self.assertIn("The link works until 22 June 2026", email.body)
        # The words of the email, but the link (its random token could hold any digits).
        words = [w for w in email.body.split() if "/commissioner-reports/" not in w]
        for figure in ("34.50", "276.00", "464.03", "33", *self.names()):
            with self.subTest(figure=figure):
                self.assertNotIn(figure, " ".join(words))

        response = self.client.get(self.link())
        self.assertEqual(response.status_code, 200)
        self.assertEqual(
            response["Content-Disposition"],
            'attachment; filename="riverside-report-2026-04-01-2026-06-15.xlsx"',
        )
        book = load_workbook(io.BytesIO(streamed(response)))
        for name in KNOWN:
            with self.subTest(table=name):
                self.assertEqual(sheet_rows(book, name), expected_sheet_rows(name))
        download = ReportDownload.objects.get()
        self.assertEqual((download.user, download.format), (self.cora.user, "xlsx"))

    def test_the_worker_built_pdf_and_csv_hold_the_true_totals(self):
        self.ask("pdf")
        content = streamed(self.client.get(self.link()))
        text = pdf_text(content, after=APPENDIX)
        for name, rows in SHOWN.items():
            with self.subTest(format="pdf", table=name):
                self.assertIn(table_text(rows), text)
        mail.outbox.clear()
        self.ask("csv", table="exchange_mix")
        response = self.client.get(self.link())
        self.assertEqual(
            response["Content-Disposition"],
            'attachment; filename="riverside-report-2026-04-01-2026-06-15-exchange_mix.csv"',
        )
        text = streamed(response).decode()
        self.assertEqual(list(csv.reader(io.StringIO(text))), KNOWN["exchange_mix"])
        self.assertEqual(
            sorted(ReportDownload.objects.values_list("format", "table")),
            [("csv", "exchange_mix"), ("pdf", "")],
        )

    def test_only_the_requester_may_follow_the_link(self):
        self.ask("xlsx")
        link = self.link()
        for other in (self.brenda, self.alice, self.hugo):
            with self.subTest(person=other.display_name):
                self.client.force_login(user_of(other))
                self.assertEqual(self.client.get(link).status_code, 404)
        self.client.logout()
        self.assertEqual(self.client.get(link).status_code, 302)
        self.assertFalse(ReportDownload.objects.exists())

    def test_the_link_stops_working_when_the_requester_loses_access(self):
        self.ask("xlsx")
        Membership.objects.filter(person=self.cora).update(status=Status.LEFT, left_at=NOW)
        self.assertEqual(self.client.get(self.link()).status_code, 403)
        self.assertFalse(ReportDownload.objects.exists())

    def test_a_requester_who_lost_access_before_the_build_gets_no_file(self):
        with eager_tasks():
            response = self.client.get(
                reverse("commissioner-report-pdf", args=["riverside"]), PERIOD
            )
            self.assertEqual(response.status_code, 202)
            Membership.objects.filter(person=self.cora).update(status=Status.LEFT, left_at=NOW)
            export = ReportExport.objects.get()
            self.assertEqual(exports.build_export(export_id=export.pk), "failed")
            with self.captureOnCommitCallbacks(execute=True):
                exports.send_export_email(export_id=export.pk)
        export.refresh_from_db()
        self.assertEqual((export.state, export.file.name), (ExportState.FAILED, ""))
        self.assertEqual(mail.outbox[0].subject, "Your commissioner report could not be made")
        self.assertIn("You no longer have access to every time bank", mail.outbox[0].body)

    def test_asking_again_while_it_is_waiting_queues_nothing_more(self):
        url = reverse("commissioner-report-xlsx", args=["riverside"])
        with self.captureOnCommitCallbacks() as queued:
            first = self.client.get(url, PERIOD)
            second = self.client.get(url, PERIOD)
        self.assertEqual((first.status_code, second.status_code), (202, 202))
        self.assertEqual(ReportExport.objects.count(), 1)
        self.assertEqual(len(queued), 1)
        # Waiting: the link shows where it is, and downloads nothing.
        export = ReportExport.objects.get()
        response = self.client.get(reverse("commissioner-export", args=[export.token]))
        self.assertContains(response, "We will email you")
        self.assertFalse(ReportDownload.objects.exists())

    def test_a_redelivered_build_builds_and_emails_once(self):
        with self.captureOnCommitCallbacks():
            self.client.get(reverse("commissioner-report-xlsx", args=["riverside"]), PERIOD)
        export = ReportExport.objects.get()
        with eager_tasks(), self.captureOnCommitCallbacks(execute=True):
            self.assertEqual(exports.build_export(export_id=export.pk), "ready")
            self.assertEqual(exports.build_export(export_id=export.pk), "skipped")
        self.assertEqual(len(mail.outbox), 1)
        # The email task delivered twice sends once.
        self.assertFalse(exports.send_export_email(export_id=export.pk))
        self.assertEqual(len(mail.outbox), 1)

    def test_a_large_request_with_a_bad_rate_is_refused_at_once(self):
        response = self.ask("xlsx", low="999999")
        self.assertEqual(response.status_code, 400)
        self.assertEqual(
            response.content.decode(), "That rate is not in force at the end of the period."
        )
        response = self.ask("pdf", start="2020-01-01", end="2026-06-15")
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.content.decode(), "A report covers at most five years.")
        self.assertFalse(ReportExport.objects.exists())

    def test_a_large_csv_of_a_table_that_cannot_exist_is_a_404_and_queues_nothing(self):
        for table in ("x" * 41, "Summary; rm", ""):
            with self.subTest(table=table):
                self.assertEqual(self.ask("csv", table=table).status_code, 404)
        self.assertFalse(ReportExport.objects.exists())

    def test_files_expire_after_the_set_days_and_expiry_is_safe_to_run_twice(self):
        self.ask("xlsx")
        link = self.link()
        name = ReportExport.objects.get().file.name
        out = io.StringIO()
        with time_machine.travel(NOW + timedelta(days=6), tick=False):
            call_command("expire_report_exports", stdout=out)
            self.assertEqual(self.client.get(link).status_code, 200)
        with time_machine.travel(NOW + timedelta(days=8), tick=False):
            call_command("expire_report_exports", stdout=out)
            call_command("expire_report_exports", stdout=out)
            response = self.client.get(link)
        self.assertEqual(
            out.getvalue().splitlines(),
            ["0 report file(s) expired.", "1 report file(s) expired.", "0 report file(s) expired."],
        )
        self.assertFalse(default_storage.exists(name))
        self.assertEqual(ReportExport.objects.get().state, ExportState.EXPIRED)
        self.assertContains(response, "This download has expired", status_code=410)

    def test_the_link_stops_at_its_expiry_even_before_the_clean_up_runs(self):
        self.ask("xlsx")
        link = self.link()
        with time_machine.travel(NOW + timedelta(days=8), tick=False):
            response = self.client.get(link)
        self.assertContains(response, "This download has expired", status_code=410)
        # Marking the row and deleting the file stay the clean-up's job.
        self.assertEqual(ReportExport.objects.get().state, ExportState.READY)
        self.assertFalse(ReportDownload.objects.exists())

    def test_a_ready_export_whose_file_is_gone_reads_as_expired(self):
        self.ask("xlsx")
        link = self.link()
        default_storage.delete(ReportExport.objects.get().file.name)
        response = self.client.get(link)
        self.assertContains(response, "This download has expired", status_code=410)
        self.assertFalse(ReportDownload.objects.exists())

    def test_the_clean_up_is_in_the_one_beat_schedule(self):
        entry = app.conf.beat_schedule["expire-report-exports-daily"]
        self.assertEqual(entry["task"], "reports.tasks.expire_report_exports")
        self.assertIn(entry["task"], app.tasks)
