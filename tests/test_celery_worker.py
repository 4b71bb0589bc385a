"""A real Celery worker, connected to Redis, runs a task from the beat schedule (not eager mode)."""

import time
import uuid
from typing import Any
from unittest import skipUnless

from django.db import connection
from django.test import TransactionTestCase

from ledger import services as ledger
from tests.base import Cast
from tests.workers import ON_POSTGRES_AND_REDIS, WHY_SKIPPED, start_worker, stop_workers
from timebank.celery import app


@skipUnless(ON_POSTGRES_AND_REDIS, WHY_SKIPPED)
class BeatTaskOnARealWorker(Cast, TransactionTestCase):
    def setUp(self) -> None:
        self.build_cast()
        self.queue = f"test-{uuid.uuid4().hex[:8]}"
        self.worker = start_worker(self.queue, name=self.queue)

    def tearDown(self) -> None:
        stop_workers(self.worker)

    def run_scheduled(self, name: str) -> Any:
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
