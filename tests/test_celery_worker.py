"""A real Celery worker, connected to Redis, runs a task from the beat schedule (not eager mode)."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from unittest import skipUnless

from django.conf import settings
from django.db import connection
from django.test import TransactionTestCase

from ledger import services as ledger
from tests.base import Cast
from timebank.celery import app

ROOT = Path(__file__).resolve().parent.parent
ON_POSTGRES_AND_REDIS = settings.DATABASES["default"]["ENGINE"].endswith("postgresql") and bool(
    settings.REDIS_URL
)


@skipUnless(
    ON_POSTGRES_AND_REDIS,
    "needs a worker process sharing the test database: PostgreSQL and Redis only",
)
class BeatTaskOnARealWorker(Cast, TransactionTestCase):
    def setUp(self) -> None:
        self.build_cast()
        self.queue = f"test-{uuid.uuid4().hex[:8]}"
        db = connection.settings_dict
        test_database_url = (
            f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        )
        self.worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "timebank",
                "worker",
                "--pool=solo",
                "--queues",
                self.queue,
                "--without-heartbeat",
                "--without-mingle",
                "--without-gossip",
                "--loglevel=WARNING",
            ],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": test_database_url, "REDIS_URL": settings.REDIS_URL},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def tearDown(self) -> None:
        self.worker.terminate()
        try:
            self.worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.worker.kill()
        self.worker.stdout.close()

    def run_scheduled(self, name: str) -> object:
        entry = app.conf.beat_schedule[name]
        result = app.send_task(entry["task"], queue=self.queue)
        deadline = time.monotonic() + 90
        while not result.ready():
            if self.worker.poll() is not None:
                self.fail(f"the worker died:\n{self.worker.stdout.read()}")
            if time.monotonic() > deadline:
                self.fail("the worker did not run the task within 90 seconds")
            time.sleep(0.2)
        return result.get(timeout=1)

    def test_the_worker_runs_the_nightly_ledger_check_against_the_real_database(self):
        alice = ledger.open_account(time_bank=self.riverside, person=self.alice)
        bob = ledger.open_account(time_bank=self.riverside, person=self.bob)
        ledger.transfer(
            from_account=bob,
            to_account=alice,
            minutes=90,
            idempotency_key="garden",
            effective_date=self.riverside.created_at.date(),
            recorded_by=self.brenda,
            description="Gardening",
        )
        self.assertEqual(self.run_scheduled("verify-ledger-nightly"), 0)

        # A hand-corrupted balance is found by the worker: it reads the same database.
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE ledger_account SET posted_minutes = posted_minutes + 60 WHERE id = %s",
                [alice.pk],
            )
        self.assertGreaterEqual(self.run_scheduled("verify-ledger-nightly"), 1)
