"""Celery tasks of the reminders: thin wrappers that load rows and call one service.

``run_reminder_job`` is what beat fires (see ``timebank/celery.py``); it claims and queues
the emails. ``send_reminder_email`` sends one of them, retried with back-off when the mail
server fails, so one refused email never stops the rest.
"""

from __future__ import annotations

import logging
from datetime import date
from smtplib import SMTPException

from celery import shared_task
from celery.contrib.django.task import DjangoTask
from django.db import InterfaceError, OperationalError

from members.models import Person

from . import services

logger = logging.getLogger(__name__)


@shared_task(
    base=DjangoTask,
    name="reminders.tasks.send_reminder_email",
    # SMTPException is an OSError; both named for the reader. Connection refused, timeouts
    # and a server saying "try later" are all worth another go, as is a database restarting.
    autoretry_for=(SMTPException, OSError, OperationalError, InterfaceError),
    retry_backoff=60,
    retry_backoff_max=3600,
    retry_jitter=True,
    max_retries=5,
)
def send_reminder_email(
    reason: str, person_id: int, period: str, object_id: int | None = None
) -> bool:
    """Send the reminder claimed for ``person_id``. Returns whether an email went."""
    person = Person.objects.select_related("user").filter(pk=person_id).first()
    if person is None:
        return False
    return services.deliver_reminder(
        reason=reason, person=person, period=period, object_id=object_id
    )


@shared_task(
    base=DjangoTask,
    name="reminders.tasks.run_reminder_job",
    autoretry_for=(OperationalError,),
    retry_backoff=30,
    max_retries=3,
)
def run_reminder_job(job: str, day: str | None = None) -> int:
    """Run one reminder job (``services.JOBS``) for ``day`` (ISO date; default today).
    Safe to run twice: a second run finds every email claimed. Returns how many were queued
    (or, for auto_confirm, confirmed)."""
    count = services.run_job(job=job, today=date.fromisoformat(day) if day else None)
    logger.info("reminder job %s: %d", job, count)
    return count
