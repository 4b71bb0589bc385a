"""``manage.py expire_pending_between_banks [--today YYYY-MM-DD]``: release the holds of
exchanges between linked time banks that nobody decided in time (``interbank.services``).
Safe to run twice. The daily Celery task ``interbank.tasks.expire_pending`` runs the same."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from interbank import services


class Command(BaseCommand):
    help = "Release the hours held by exchanges between time banks nobody decided in time."

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
        released = services.expire_pending(today=day)
        self.stdout.write(f"expire pending between banks: {released} released")
