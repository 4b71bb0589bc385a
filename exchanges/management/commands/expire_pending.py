"""``manage.py expire_pending [--today YYYY-MM-DD]``: release the holds nobody decided.

Every pending exchange (or bare pending journal) older than its bank's ``pending_expiry_days``
expires: its held hours are released and its parties told. Safe to run twice. The daily
Celery task ``exchanges.tasks.expire_pending`` runs the same service.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from exchanges import services


class Command(BaseCommand):
    help = "Release the hours held by exchanges nobody decided within their bank's period."

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
        self.stdout.write(f"expire pending: {released} hold(s) released")
