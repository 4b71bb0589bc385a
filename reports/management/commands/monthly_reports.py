"""``manage.py monthly_reports [--month YYYY-MM] [--bank SLUG]``: build the monthly reports and
statements now, without a worker, and send the statement emails from this process.

The same service as the Celery task ``reports.tasks.build_monthly_report`` (beat: the 1st of
the month, 06:00). Safe to run twice: a report already built is left as it is, and only
statement emails that were never sent (a refused email) are tried again.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from members.models import TimeBank
from reports import services


class Command(BaseCommand):
    help = "Build the monthly reciprocity reports and member statements (default: last month)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--month", metavar="YYYY-MM", help="Default: the month just ended.")
        parser.add_argument("--bank", metavar="SLUG", help="Only this time bank.")
        parser.add_argument("--batch-size", type=int, default=services.BATCH_SIZE)

    def handle(
        self,
        *args: Any,
        month: str | None = None,
        bank: str | None = None,
        batch_size: int = services.BATCH_SIZE,
        **options: Any,
    ) -> None:
        try:
            when = services.parse_month(month) if month else services.month_just_ended()
        except ValueError:
            raise CommandError(f"--month must look like 2026-03, not {month!r}.") from None
        banks = TimeBank.objects.order_by("pk")
        if bank:
            banks = banks.filter(slug=bank)
            if not banks.exists():
                raise CommandError(f"No time bank with the short name {bank!r}.")
        for time_bank in banks:
            outcome = services.build_monthly_report(
                time_bank=time_bank, month=when, batch_size=batch_size, deliver="now"
            )
            self.stdout.write(f"{time_bank.slug} {when:%Y-%m}: {outcome.replace('_', ' ')}")
