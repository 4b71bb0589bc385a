"""Must show 1: two real Celery workers, on Redis and the PostgreSQL test database, are each
handed the monthly report task for the same bank and month at once. One report per bank and
one statement email per member come out."""

import tempfile
import time
import uuid
from email import message_from_string
from pathlib import Path
from unittest import skipUnless

from django.test import TransactionTestCase

from reports.models import MonthlyReport, Statement
from tests.support import user_of
from tests.workers import ON_POSTGRES_AND_REDIS, WHY_SKIPPED, start_worker, stop_workers
from timebank.celery import app

from .support import KnownMonth


@skipUnless(ON_POSTGRES_AND_REDIS, WHY_SKIPPED)
class MonthlyReportOnRealWorkers(KnownMonth, TransactionTestCase):
    def setUp(self) -> None:
        self.build_month()
        self.queue = f"test-reports-{uuid.uuid4().hex[:8]}"
        self.mail_dir = tempfile.mkdtemp(prefix="reports-mail-")
        env = {
            "DJANGO_SETTINGS_MODULE": "tests.reports.worker_settings",
            "REPORTS_TEST_EMAIL_DIR": self.mail_dir,
            "REPORTS_TEST_QUEUE": self.queue,
        }
        self.workers = [
            start_worker(self.queue, name=f"{self.queue}-{n}", env=env) for n in range(2)
        ]

    def tearDown(self) -> None:
        stop_workers(*self.workers)

    def sent_to(self) -> list[str]:
        messages = []
        for path in Path(self.mail_dir).iterdir():
            # The file backend appends each message followed by a line of dashes.
            for chunk in path.read_text().split("-" * 79):
                if chunk.strip():
                    messages.append(message_from_string(chunk.strip())["To"])
        return sorted(messages)

    def wait_for(self, condition, what: str, seconds: float = 90) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            for worker in self.workers:
                if worker.poll() is not None:
                    self.fail(f"a worker died:\n{worker.stdout.read()}")
            if time.monotonic() > deadline:
                self.fail(f"timed out waiting for {what}")
            time.sleep(0.3)

    def test_two_workers_firing_the_same_month_make_one_report_and_one_email_each(self):
        month = f"{self.m:%Y-%m}"
        # Both banks, each fired twice at the same moment (a double-fired schedule).
        results = [
            app.send_task(
                "reports.tasks.build_monthly_report", args=[bank.pk, month], queue=self.queue
            )
            for bank in (self.riverside, self.hillside)
            for _ in range(2)
        ]
        online = sorted(user_of(p).email for p in (self.alice, self.bob, self.carl, self.erin))
        self.wait_for(
            lambda: MonthlyReport.objects.filter(month=self.m, state="done").count() == 2,
            "both reports",
        )
        self.wait_for(lambda: len(self.sent_to()) >= len(online), "the statement emails")
        # Give any duplicate a chance to arrive before counting.
        time.sleep(3)
        self.assertEqual(
            MonthlyReport.objects.filter(month=self.m).values_list("time_bank", flat=True).count(),
            2,
        )
        self.assertEqual(self.sent_to(), online)
        self.assertEqual(
            Statement.objects.filter(month=self.m, emailed_at__isnull=False).count(), 4
        )
        outcomes = sorted(
            r.get(timeout=1) if r.ready() else "retrying (in progress)" for r in results
        )
        self.assertIn("built", outcomes)
