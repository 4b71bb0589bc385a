"""Settings for the Celery worker subprocess of test_on_a_real_worker: the project's settings,
with email written to files in REPORTS_TEST_EMAIL_DIR (so the test can count what was sent)
and tasks queued to REPORTS_TEST_QUEUE (so the test's worker picks up the statement emails)."""

import os

from timebank.settings import *  # noqa: F403

EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = os.environ["REPORTS_TEST_EMAIL_DIR"]
CELERY_TASK_DEFAULT_QUEUE = os.environ["REPORTS_TEST_QUEUE"]
