"""Celery tasks of imports: thin wrappers that take ids, call one service, own retries."""

from __future__ import annotations

from smtplib import SMTPException

from celery import shared_task
from celery.contrib.django.task import DjangoTask

from . import services


@shared_task(base=DjangoTask, name="imports.tasks.check_import")
def check_import(run_id: int) -> str:
    """The dry run of a large upload."""
    return services.check_run(run_id=run_id)


@shared_task(base=DjangoTask, name="imports.tasks.run_import", acks_late=False)
def run_import(run_id: int, by_id: int | None) -> str:
    """Import a confirmed run, in one transaction, with progress in the cache. Not
    re-delivered if the worker dies (``acks_late`` off): the run stays "importing" with
    nothing written, and the admin uploads it again."""
    return services.run_import(run_id=run_id, by_id=by_id, background=True)


@shared_task(
    base=DjangoTask,
    name="imports.tasks.send_import_email",
    autoretry_for=(SMTPException, OSError),
    retry_backoff=60,
    retry_backoff_max=6 * 3600,
    retry_jitter=True,
    max_retries=8,
)
def send_import_email(run_id: int) -> bool:
    """Tell the admin a worker's import is done (or failed), at most once."""
    return services.send_done_email(run_id=run_id)


@shared_task(base=DjangoTask, name="imports.tasks.send_invitations")
def send_invitations(run_id: int | None = None) -> int:
    """Beat, daily (all runs whose day has come), or one run's now. Safe to run twice.
    ``manage.py send_import_invitations`` does the same without a worker."""
    return services.send_invitations(run_id=run_id)


@shared_task(base=DjangoTask, name="imports.tasks.expire_import_uploads")
def expire_import_uploads() -> int:
    """Beat, daily: delete stored uploads that were never imported, after REPORT_EXPORT_DAYS.
    ``manage.py expire_import_uploads`` does the same without a worker."""
    return services.expire_uploads()
