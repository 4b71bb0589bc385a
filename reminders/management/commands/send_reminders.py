"""manage.py send_reminders: run the reminder jobs now, without a worker."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reminders import services


class Command(BaseCommand):
    help = (
        "Run reminder jobs now: log_hours (monthly), confirm and auto_confirm (daily), "
        "expiry (daily), digest (weekly), or all. Safe to run twice: what was sent is not "
        "sent again. Emails are sent from this process unless --queue is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--job", choices=[*services.JOBS, "all"], default="all", help="which job (all)"
        )
        parser.add_argument("--date", help="run as on this day, YYYY-MM-DD (today)")
        parser.add_argument(
            "--queue",
            action="store_true",
            help="queue the emails for a Celery worker instead of sending them here",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            today = date.fromisoformat(options["date"]) if options["date"] else None
        except ValueError as error:
            raise CommandError(f"--date: {error}") from error
        jobs = list(services.JOBS) if options["job"] == "all" else [options["job"]]
        # Overdue exchanges are confirmed before anyone is nudged about them.
        jobs.sort(key=lambda job: job != "auto_confirm")
        for job in jobs:
            count = services.run_job(job=job, today=today, eager=not options["queue"])
            verb = (
                "confirmed"
                if job == "auto_confirm"
                else "sent"
                if not options["queue"]
                else "queued"
            )
            self.stdout.write(f"{job}: {count} {verb}")
