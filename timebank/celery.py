"""The Celery app and the one beat schedule of the platform.

With REDIS_URL set, Redis is the broker; with nothing set the broker is a folder of files
(see settings), so a worker and beat run without any server.
"""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "timebank.settings")

app = Celery("timebank")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Every periodic job of the platform, in one place. Each is safe to run twice and also runs
# as a management command without a worker (named beside it).
app.conf.beat_schedule = {
    # manage.py ledger_verify
    "verify-ledger-nightly": {
        "task": "ledger.tasks.verify_ledger",
        "schedule": crontab(hour=3, minute=15),
    },
}
