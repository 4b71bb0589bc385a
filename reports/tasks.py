"""Celery tasks of the reports: thin wrappers that take ids, call one service, own retries."""

from __future__ import annotations

from smtplib import SMTPException

from celery import Task, shared_task
from celery.contrib.django.task import DjangoTask
from django.db import InterfaceError, OperationalError

from members.models import TimeBank

from . import exports, services
from .models import BUILD_TIMEOUT


@shared_task(base=DjangoTask, name="reports.tasks.schedule_monthly_reports")
def schedule_monthly_reports(month: str | None = None) -> int:
    """Beat, on the 1st at 06:00: queue one build per time bank for the month just ended.
    ``manage.py monthly_reports`` does the same without a worker."""
    return services.schedule_monthly_reports(month=services.parse_month(month) if month else None)


@shared_task(base=DjangoTask, bind=True, name="reports.tasks.build_monthly_report", max_retries=6)
def build_monthly_report(self: Task, bank_id: int, month: str) -> str:
    """Build one bank's report and statements for ``month`` ("YYYY-MM"), exactly once. If
    another worker holds the claim, look again once a dead builder's claim would have expired
    (it is then finished, or taken over and resumed)."""
    outcome = services.build_monthly_report(
        time_bank=TimeBank.objects.get(pk=bank_id), month=services.parse_month(month)
    )
    if outcome == "in_progress":
        raise self.retry(countdown=BUILD_TIMEOUT.total_seconds() + 60)
    return outcome


@shared_task(
    base=DjangoTask,
    name="reports.tasks.send_statement_email",
    autoretry_for=(SMTPException, OSError, OperationalError, InterfaceError),
    retry_backoff=60,
    retry_backoff_max=6 * 3600,
    retry_jitter=True,
    max_retries=8,
)
def send_statement_email(statement_id: int) -> bool:
    """Email one statement at most once; a refusing mail server is retried with back-off."""
    return services.send_statement(statement_id=statement_id)


@shared_task(base=DjangoTask, name="reports.tasks.build_report_export")
def build_report_export(export_id: int) -> str:
    """Build one large commissioner report download, store it and queue the email."""
    return exports.build_export(export_id=export_id)


@shared_task(
    base=DjangoTask,
    name="reports.tasks.send_report_export_email",
    autoretry_for=(SMTPException, OSError, OperationalError, InterfaceError),
    retry_backoff=60,
    retry_backoff_max=6 * 3600,
    retry_jitter=True,
    max_retries=8,
)
def send_report_export_email(export_id: int) -> bool:
    """Email the requester the link to their export, at most once."""
    return exports.send_export_email(export_id=export_id)


@shared_task(base=DjangoTask, name="reports.tasks.expire_report_exports")
def expire_report_exports() -> int:
    """Beat, daily: delete export files past REPORT_EXPORT_DAYS.
    ``manage.py expire_report_exports`` does the same without a worker."""
    return exports.expire_exports()
