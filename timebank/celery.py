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
    # manage.py send_reminders --job auto_confirm
    "reminders-auto-confirm-daily": {
        "task": "reminders.tasks.run_reminder_job",
        "schedule": crontab(hour=8, minute=0),
        "args": ("auto_confirm",),
    },
    # manage.py send_reminders --job confirm
    "reminders-please-confirm-daily": {
        "task": "reminders.tasks.run_reminder_job",
        "schedule": crontab(hour=8, minute=5),
        "args": ("confirm",),
    },
    # manage.py send_reminders --job expiry
    "reminders-listing-expiry-daily": {
        "task": "reminders.tasks.run_reminder_job",
        "schedule": crontab(hour=8, minute=30),
        "args": ("expiry",),
    },
    # manage.py send_reminders --job log_hours
    "reminders-log-hours-monthly": {
        "task": "reminders.tasks.run_reminder_job",
        "schedule": crontab(day_of_month=1, hour=9, minute=0),
        "args": ("log_hours",),
    },
    # manage.py send_reminders --job digest
    "reminders-broker-digest-weekly": {
        "task": "reminders.tasks.run_reminder_job",
        "schedule": crontab(day_of_week="mon", hour=7, minute=30),
        "args": ("digest",),
    },
    # manage.py expire_pending (holds nobody decided within their bank's period)
    "exchanges-expire-pending-daily": {
        "task": "exchanges.tasks.expire_pending",
        "schedule": crontab(hour=2, minute=30),
    },
    # manage.py expire_pending_between_banks (the same, for exchanges across linked banks)
    "interbank-expire-pending-daily": {
        "task": "interbank.tasks.expire_pending",
        "schedule": crontab(hour=2, minute=35),
    },
    # manage.py delete_expired_safeguarding
    "safeguarding-retention-daily": {
        "task": "safeguarding.tasks.delete_expired_safeguarding_records",
        "schedule": crontab(hour=2, minute=45),
    },
    # manage.py monthly_reports (one reports.tasks.build_monthly_report per time bank)
    "monthly-reports": {
        "task": "reports.tasks.schedule_monthly_reports",
        "schedule": crontab(day_of_month=1, hour=6, minute=0),
    },
    # manage.py send_import_invitations (invitations to set a password, on the admin's day)
    "import-invitations-daily": {
        "task": "imports.tasks.send_invitations",
        "schedule": crontab(hour=9, minute=15),
    },
    # manage.py expire_import_uploads (uploads checked but never imported)
    "expire-import-uploads-daily": {
        "task": "imports.tasks.expire_import_uploads",
        "schedule": crontab(hour=4, minute=20),
    },
    # manage.py expire_report_exports (files of worker-built commissioner reports)
    "expire-report-exports-daily": {
        "task": "reports.tasks.expire_report_exports",
        "schedule": crontab(hour=4, minute=10),
    },
}
