"""Celery tasks of listings: thin wrappers that call one service."""

from __future__ import annotations

from celery import shared_task

from members.models import Person
from members.tasks import EMAIL_RETRIES

from . import emails
from .models import Contact


# The task keeps the name it had in members, so emails queued before the split still go.
@shared_task(name="members.tasks.send_contact_email", **EMAIL_RETRIES)
def send_contact_email(name: str, contact_id: int, person_id: int) -> bool:
    """Send one recipient of a reply or an introduction the email ``name``."""
    contact = (
        Contact.objects.select_related(
            "listing__time_bank",
            "listing__person",
            "listing__organisation",
            "from_person",
            "made_by",
        )
        .filter(pk=contact_id)
        .first()
    )
    recipient = Person.objects.select_related("user").filter(pk=person_id).first()
    if contact is None or recipient is None:
        return False
    return emails.send_about_contact(name, contact, recipient)
