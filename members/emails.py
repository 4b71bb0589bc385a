"""Emails about memberships. Called after commit; offline members (no login) get none."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from .models import Membership


def send(name: str, *, to: str, context: dict) -> None:
    """Render templates/emails/<name>-subject.txt and -body.txt and send one email."""
    context = {"site_url": settings.SITE_URL, **context}
    subject = render_to_string(f"emails/{name}-subject.txt", context).strip()
    body = render_to_string(f"emails/{name}-body.txt", context)
    send_mail(subject, body, None, [to])


def _applicant_email(membership: Membership) -> str | None:
    user = membership.person.user
    return user.email if user is not None else None


def application_approved(membership: Membership) -> None:
    to = _applicant_email(membership)
    if to:
        send("application-approved", to=to, context={"membership": membership})


def application_declined(membership: Membership) -> None:
    to = _applicant_email(membership)
    if to:
        send("application-declined", to=to, context={"membership": membership})
