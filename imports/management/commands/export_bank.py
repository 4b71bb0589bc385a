"""``manage.py export_bank --bank SLUG [--output PATH]``: a time bank in the import's own
format: a ZIP (PATH ending .zip, the default) or a folder of the four CSV files. Importing it
(``import_bank``) into another site brings the same bank back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from imports import exporting, services
from members.models import TimeBank


class Command(BaseCommand):
    help = "Export a time bank as members.csv, exchanges.csv, opening_balances.csv and offers.csv."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bank", metavar="SLUG", required=True)
        parser.add_argument(
            "--output", metavar="PATH", help="A .zip file or a folder (default SLUG-export.zip)."
        )

    def handle(self, *args: Any, bank: str, output: str | None = None, **options: Any) -> None:
        time_bank = TimeBank.objects.filter(slug=bank).first()
        if time_bank is None:
            raise CommandError(f"No time bank with the short name {bank!r}.")
        target = Path(output or f"{bank}-export.zip")
        try:
            if target.suffix.lower() == ".zip":
                target.write_bytes(services.export_bank(time_bank=time_bank, by=None))
            else:
                target.mkdir(parents=True, exist_ok=True)
                for name, text in exporting.bank_files(time_bank).items():
                    (target / name).write_text(text, encoding="utf-8")
        except OSError as error:
            raise CommandError(f"Cannot write {target}: {error.strerror}.") from None
        self.stdout.write(f"exported {time_bank.slug} to {target}")
