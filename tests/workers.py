"""Real Celery worker processes for tests: started against the test database and Redis."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# Private to Celery, so its stubs leave it out.
from celery._state import _set_task_join_will_block  # type: ignore[attr-defined]
from django.conf import settings
from django.db import connection

from timebank.celery import app

ROOT = Path(__file__).resolve().parent.parent
ON_POSTGRES_AND_REDIS = settings.DATABASES["default"]["ENGINE"].endswith("postgresql") and bool(
    settings.REDIS_URL
)
WHY_SKIPPED = "needs worker processes sharing the test database: PostgreSQL and Redis only"


def start_worker(queue: str, *, name: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """A worker in its own process, consuming only ``queue``, on the test database (whose
    rows the test must commit: use TransactionTestCase). Until ``stop_workers``, tasks the
    test queues go to the broker, not the test's own process (tests/conftest.py)."""
    app.conf.task_always_eager = False
    # Tasks run in the test's process from several threads (the concurrency tests) may leave
    # Celery's process-wide "a join would block" flag set; this process is no worker.
    _set_task_join_will_block(False)
    db = connection.settings_dict
    database_url = (
        f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "timebank",
            "worker",
            "--pool=solo",
            "--queues",
            queue,
            "--hostname",
            f"{name}@%h",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "--loglevel=WARNING",
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": settings.REDIS_URL,
            **(env or {}),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def stop_workers(*workers: subprocess.Popen) -> None:
    app.conf.task_always_eager = True
    for worker in workers:
        worker.terminate()
    for worker in workers:
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        worker.stdout.close()
