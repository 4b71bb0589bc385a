"""Suite-wide test settings."""

import os


def pytest_configure(config: object) -> None:
    from django.conf import settings

    from timebank.celery import app

    # The cast signs up dozens of users per test class; a slow, safe hash costs minutes here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # A run's cache keys (rate limits) are its own: each run's database starts its ids at 1.
    settings.CACHES["default"]["KEY_PREFIX"] = f"test-{os.getpid()}"
    # Tasks queued after commit (emails) run in the test's process when its on-commit
    # callbacks run (captureOnCommitCallbacks), retries included (at once). Tests of a real
    # worker hand it tasks by name (send_task), which this does not touch.
    app.conf.task_always_eager = True
