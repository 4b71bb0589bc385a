"""``manage.py import_bank PATH --bank SLUG [--dry-run] ...``: move a time bank in.

PATH is a ZIP, a folder or a single file: the canonical CSV files, the spreadsheet template,
TimeOverflow's or Komunitin's files (``--format``, or worked out from the file names).
Everything is checked first; every problem is printed with its file, line and column, and
then nothing is written (exit 1). Otherwise the import runs in one transaction, with a
progress bar, and prints the reconciliation. ``--dry-run`` stops after the check and writes
nothing at all. The import page does the same for a bank admin.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from imports import services
from imports.models import Source
from ledger.models import format_hours
from members.models import Person, TimeBank


class ProgressBar:
    """``Members [#####.....] 52% 104000/200000`` on one line of stderr, redrawn as it moves."""

    WIDTH = 30

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.last: tuple[str, int] | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        percent = 100 if not total else done * 100 // total
        if self.last == (stage, percent):
            return
        if self.last is not None and self.last[0] != stage:
            self.stream.write("\n")
        self.last = (stage, percent)
        filled = self.WIDTH * percent // 100
        self.stream.write(
            f"\r{stage:<12} [{'#' * filled}{'.' * (self.WIDTH - filled)}] {percent:3d}% {done}/{total}"
        )
        self.stream.flush()

    def close(self) -> None:
        if self.last is not None:
            self.stream.write("\n")
            self.stream.flush()


class Command(BaseCommand):
    help = "Import a time bank from files (dry run first; one transaction; reconciliation)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="A ZIP, a folder or a file.")
        parser.add_argument(
            "--bank", metavar="SLUG", required=True, help="The time bank to import into."
        )
        parser.add_argument(
            "--create", metavar="NAME", help="Create the time bank first, with this name."
        )
        parser.add_argument(
            "--by",
            metavar="EMAIL",
            help="The admin doing it (signs notes; the audit trail names them).",
        )
        parser.add_argument(
            "--format",
            choices=[s.value for s in Source],
            default="",
            help="What the files are (default: worked out from their names).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Check everything; write nothing."
        )
        parser.add_argument(
            "--invite",
            metavar="WHEN",
            default="later",
            help="When members with an email are invited to set a password: now, later (default: "
            "from the import page) or a date (YYYY-MM-DD).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["path"])
        if not path.exists():
            raise CommandError(f"There is no file or folder at {path}.")
        invite_on = self._invite_on(options["invite"])
        bar = ProgressBar(sys.stderr)
        try:
            with transaction.atomic():
                bank = self._bank(options["bank"], options["create"])
                actor = self._actor(options["by"], bank)
                result = services.import_from_path(
                    path=path,
                    time_bank=bank,
                    actor=actor,
                    source=options["format"],
                    dry=options["dry_run"],
                    invite_on=invite_on,
                    progress=bar,
                )
                if options["dry_run"] or result.plan.problems:
                    # Nothing stays: not even a bank made by --create.
                    transaction.set_rollback(True)
        except services.ImportRefused as error:
            raise CommandError(str(error)) from None
        finally:
            bar.close()
        plan = result.plan
        for problem in plan.problems:
            self.stdout.write(f"problem: {problem}")
        for warning in plan.warnings:
            self.stdout.write(f"warning: {warning}")
        for skipped in plan.skipped:
            self.stdout.write(f"skipped: {skipped}")
        for name, counts in plan.counts.items():
            self.stdout.write(
                f"{name}: {counts['rows']} rows, {counts['new']} new, "
                f"{counts['existing']} already here, {counts['skipped']} skipped"
            )
        if plan.problems:
            raise CommandError(
                f"{len(plan.problems)} problem(s) in the files: nothing was imported."
            )
        if plan.nothing_new:
            self.stdout.write("nothing new: every row was imported before; nothing was written.")
            return
        if options["dry_run"]:
            for line in plan.creates():
                self.stdout.write(f"would create: {line}")
            self.stdout.write("dry run: no problems; nothing was written.")
            return
        run = result.run
        assert run is not None  # a real import keeps its run
        if invite_on is not None and invite_on <= timezone.localdate():
            # Sent from here, without waiting for a worker (each is claimed once, so the
            # worker's copy of the job finds nothing left to send).
            sent = services.send_invitations(run_id=run.pk)
            self.stdout.write(f"invitations to set a password sent: {sent}")
        reconciliation = result.reconciliation or {}
        self.stdout.write(
            f"imported into {bank.slug}: bank sums to {format_hours(reconciliation.get('bank_sum', 0))}, "
            f"{reconciliation.get('mismatches', 0)} declared balance(s) differ, "
            f"{len(reconciliation.get('widened_limits', []))} limit(s) widened; "
            f"reconciliation at /imports/{run.token}/"
        )

    def _invite_on(self, when: str) -> date | None:
        if when == "later":
            return None
        if when == "now":
            return timezone.localdate()
        try:
            return date.fromisoformat(when)
        except ValueError:
            raise CommandError(
                f"--invite must be now, later or a date like 2026-03-05, not {when!r}."
            ) from None

    def _bank(self, slug: str, create: str | None) -> TimeBank:
        bank = TimeBank.objects.filter(slug=slug).first()
        if bank is not None:
            if create:
                raise CommandError(f"A time bank {slug!r} already exists: leave out --create.")
            return bank
        if not create:
            raise CommandError(
                f"No time bank with the short name {slug!r} (add --create NAME to make it)."
            )
        return TimeBank.objects.create(name=create, slug=slug)

    def _actor(self, email: str | None, bank: TimeBank) -> Person | None:
        if not email:
            return None
        person = (
            Person.objects.filter(user__email=email.strip().lower()).select_related("user").first()
        )
        if person is None:
            raise CommandError(f"No one on this site signs in as {email}.")
        return person
