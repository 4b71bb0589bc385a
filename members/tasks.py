"""Celery tasks of members: thin wrappers that call one service."""

from __future__ import annotations

import logging
from smtplib import SMTPException
from typing import Any

from celery import shared_task
from django.core.mail import EmailMultiAlternatives
from django.db import InterfaceError, OperationalError

from members import emails
from members.models import Membership

logger = logging.getLogger(__name__)

# How every email task retries a mail server that refuses or cannot be reached (SMTPException
# is an OSError, both named for the reader: connection refused, timeouts and "try later"), or
# a database that is restarting: after 1, 2, 4 ... minutes (at most an hour apart), about a
# day in all.
EMAIL_RETRIES: dict[str, Any] = {
    "autoretry_for": (SMTPException, OSError, OperationalError, InterfaceError),
    "retry_backoff": 60,
    "retry_backoff_max": 3600,
    "retry_jitter": True,
    "max_retries": 10,
}


@shared_task(name="members.tasks.send_membership_email", **EMAIL_RETRIES)
def send_membership_email(name: str, membership_id: int) -> bool:
    """Send the applicant the email ``name`` about their application, after the decision
    committed. Returns whether an email went."""
    membership = (
        Membership.objects.select_related("person__user", "time_bank")
        .filter(pk=membership_id)
        .first()
    )
    if membership is None:
        return False
    return emails.send_about_membership(name, membership)


@shared_task(name="members.tasks.send_prepared_email", **EMAIL_RETRIES)
def send_prepared_email(message: dict[str, Any]) -> bool:
    """Send an email rendered in the request (``members.adapters.prepared``): allauth's."""
    email = EmailMultiAlternatives(
        message["subject"],
        message["body"],
        message["from_email"],
        message["to"],
        headers=message["headers"],
    )
    email.content_subtype = message["content_subtype"]
    for content, mimetype in message["alternatives"]:
        email.attach_alternative(content, mimetype)
    email.send()
    return True
