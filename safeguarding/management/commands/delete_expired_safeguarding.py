"""``manage.py delete_expired_safeguarding [--today YYYY-MM-DD]``: the retention job.

Deletes every safeguarding check past its bank's retention period, auditing each deletion as
the system. Safe to run twice. The daily Celery task
``safeguarding.tasks.delete_expired_safeguarding_records`` runs the same service.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from safeguarding import services as safeguarding


class Command(BaseCommand):
    help = "Delete safeguarding checks past their time bank's retention period (audited)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--today", metavar="YYYY-MM-DD", help="Act as if today were this date.")

    def handle(self, *args: Any, today: str | None = None, **options: Any) -> None:
        day = None
        if today:
            try:
                day = datetime.date.fromisoformat(today)
            except ValueError:
                raise CommandError(
                    f"--today must be a date like 2026-03-31, not {today!r}."
                ) from None
        deleted = safeguarding.delete_expired_safeguarding_records(today=day)
        self.stdout.write(f"safeguarding retention: {deleted} check(s) deleted")
