"""A large commissioner report on a real Celery worker (PostgreSQL and Redis): the download
request queues it, a worker process builds the file into the shared MEDIA_ROOT and emails
the link, and the link serves the file with the generated quarter's true totals."""

from __future__ import annotations

import io
import shutil
import tempfile
import time
import uuid
from email import message_from_string
from email.message import Message
from pathlib import Path
from unittest import skipUnless

from django.test import TransactionTestCase, override_settings
from django.urls import reverse
from openpyxl import load_workbook

from reports.models import ExportState, ReportDownload, ReportExport
from tests.support import streamed, user_of
from tests.workers import ON_POSTGRES_AND_REDIS, WHY_SKIPPED, start_worker, stop_workers
from timebank.celery import app

from .commissioning_data import END, START, KnownQuarter
from .test_commissioner_figures import KNOWN, expected_sheet_rows, sheet_rows


@skipUnless(ON_POSTGRES_AND_REDIS, WHY_SKIPPED)
@override_settings(REPORT_SUPPRESSION_THRESHOLD=1, REPORT_ASYNC_BANK_MONTHS=2)
class LargeReportOnARealWorker(KnownQuarter, TransactionTestCase):
    def setUp(self) -> None:
        self.build_quarter()
        self.queue = f"test-exports-{uuid.uuid4().hex[:8]}"
        self.mail_dir = tempfile.mkdtemp(prefix="exports-mail-")
        self.media = tempfile.mkdtemp(prefix="exports-media-")
        for folder in (self.mail_dir, self.media):
            self.addCleanup(shutil.rmtree, folder, ignore_errors=True)
        media = override_settings(MEDIA_ROOT=self.media)
        media.enable()
        self.addCleanup(media.disable)
        # This process queues the build on the worker's own queue.
        previous = app.conf.task_default_queue
        app.conf.task_default_queue = self.queue
        self.addCleanup(setattr, app.conf, "task_default_queue", previous)
        self.worker = start_worker(
            self.queue,
            name=self.queue,
            env={
                "DJANGO_SETTINGS_MODULE": "tests.reports.worker_settings",
                "REPORTS_TEST_EMAIL_DIR": self.mail_dir,
                "REPORTS_TEST_QUEUE": self.queue,
                "MEDIA_ROOT": self.media,
                "REPORT_SUPPRESSION_THRESHOLD": "1",
            },
        )
        self.addCleanup(stop_workers, self.worker)

    def emails(self) -> list[Message]:
        found = []
        for path in Path(self.mail_dir).iterdir():
            for chunk in path.read_text().split("-" * 79):
                if chunk.strip():
                    found.append(message_from_string(chunk.strip()))
        return found

    def test_the_worker_builds_the_file_and_emails_a_link_that_serves_it(self):
        self.client.force_login(user_of(self.cora))
        response = self.client.get(
            reverse("commissioner-report-xlsx", args=["riverside"]),
            {"start": START.isoformat(), "end": END.isoformat()},
        )
        self.assertEqual(response.status_code, 202)
        deadline = time.monotonic() + 90
        while not self.emails():
            if self.worker.poll() is not None:
                self.fail(f"the worker died:\n{self.worker.stdout.read()}")
            if time.monotonic() > deadline:
                self.fail("timed out waiting for the email")
            time.sleep(0.3)
        export = ReportExport.objects.get()
        self.assertEqual(export.state, ExportState.READY)
        self.assertTrue(Path(self.media, export.file.name).is_file())
        (email,) = self.emails()
        self.assertEqual(email["To"], user_of(self.cora).email)
        payload = email.get_payload(decode=True)
        assert isinstance(payload, bytes)
        body = payload.decode()
        link = next(w for w in body.split() if "/commissioner-reports/" in w)
        self.assertNotIn("34.50", body)

        response = self.client.get(link.removeprefix("http://127.0.0.1:8000"))
        self.assertEqual(response.status_code, 200)
        book = load_workbook(io.BytesIO(streamed(response)))
        for name in KNOWN:
            with self.subTest(table=name):
                self.assertEqual(sheet_rows(book, name), expected_sheet_rows(name))
        self.assertEqual(ReportDownload.objects.get().format, "xlsx")
