"""Celery tasks of exchanges: thin wrappers that load rows and call one service or send one
email."""

from __future__ import annotations

import logging

from celery import shared_task

from members.models import Person
from members.tasks import EMAIL_RETRIES

from . import emails, services
from .models import Exchange

logger = logging.getLogger(__name__)


@shared_task(name="exchanges.tasks.send_exchange_email", **EMAIL_RETRIES)
def send_exchange_email(name: str, exchange_id: int, person_id: int) -> bool:
    """Send one person the email ``name`` about an exchange, after its write committed; a
    refusing or unreachable mail server is retried with back-off. Returns whether one went."""
    exchange = (
        Exchange.objects.select_related(
            "time_bank",
            "recorded_by",
            "declined_by",
            "reversed_by",
            "giver__person",
            "giver__organisation",
            "receiver__person",
            "receiver__organisation",
        )
        .filter(pk=exchange_id)
        .first()
    )
    person = Person.objects.select_related("user").filter(pk=person_id).first()
    if exchange is None or person is None:
        return False
    return emails.send_about_exchange(name, exchange, person)


@shared_task(name="exchanges.tasks.expire_pending")
def expire_pending() -> int:
    """Daily: release the holds nobody decided within their bank's period. Safe to run twice;
    ``manage.py expire_pending`` does the same by hand. Returns how many it released."""
    released = services.expire_pending()
    logger.info("expire pending: %d hold(s) released", released)
    return released
