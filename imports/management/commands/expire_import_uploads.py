"""``manage.py expire_import_uploads``: delete stored uploads that were never imported, after
REPORT_EXPORT_DAYS (they hold people's details). Safe to run twice; the daily Celery task
``imports.tasks.expire_import_uploads`` does the same."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from imports import services


class Command(BaseCommand):
    help = "Delete stored import uploads that were never imported, after REPORT_EXPORT_DAYS."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"uploads deleted: {services.expire_uploads()}")
