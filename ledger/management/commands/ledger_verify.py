"""``manage.py ledger_verify [--bank SLUG]``: check every ledger invariant.

Prints one line per violation and exits non-zero, or "ledger ok: ..." when clean. The nightly
Celery task ``ledger.tasks.verify_ledger`` runs the same check.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ledger import services
from ledger.models import Account, Journal
from members.models import TimeBank


class Command(BaseCommand):
    help = "Check the hour ledger's invariants; exit non-zero with one line per violation."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bank", metavar="SLUG", help="Check only this time bank.")

    def handle(self, *args: Any, bank: str | None = None, **options: Any) -> None:
        time_bank = None
        if bank:
            try:
                time_bank = TimeBank.objects.get(slug=bank)
            except TimeBank.DoesNotExist:
                raise CommandError(f"No time bank with the short name {bank!r}.") from None
        violations = services.verify_ledger(time_bank=time_bank)
        for line in violations:
            self.stdout.write(line)
        if violations:
            raise CommandError(f"ledger has {len(violations)} violation(s)")
        journals = Journal.objects.all()
        accounts = Account.objects.all()
        if time_bank is not None:
            journals = journals.filter(time_bank=time_bank)
            accounts = accounts.filter(time_bank=time_bank)
        self.stdout.write(
            f"ledger ok: {journals.count()} journals, {accounts.count()} accounts checked"
        )
