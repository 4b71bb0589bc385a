"""``manage.py send_import_invitations``: send the invitations to set a password whose day
has come (imported members with an email). Safe to run twice. The daily Celery task
``imports.tasks.send_invitations`` does the same."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from imports import services


class Command(BaseCommand):
    help = "Send imported members the invitations to set a password that are due."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"invitations sent: {services.send_invitations()}")
