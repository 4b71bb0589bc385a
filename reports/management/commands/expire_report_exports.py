"""``manage.py expire_report_exports``: delete the files of worker-built commissioner reports
older than REPORT_EXPORT_DAYS (the rows stay, as expired), without a worker.

The same service as the Celery task ``reports.tasks.expire_report_exports`` (beat: daily,
04:10). Safe to run twice: the second run finds nothing to expire.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from reports import exports


class Command(BaseCommand):
    help = "Delete the files of commissioner report downloads past their expiry."

    def handle(self, *args: Any, **options: Any) -> None:
        expired = exports.expire_exports()
        self.stdout.write(f"{expired} report file(s) expired.")
