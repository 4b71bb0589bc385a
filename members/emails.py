"""Emails about memberships (replies and introductions: ``listings.emails``), and the two
ways every email of the platform leaves: ``send`` renders and sends one now (a worker's task
calls it), and ``after_commit`` queues a task once the caller's transaction commits.

A service never sends mail itself: it calls the functions below inside its transaction,
which queue one task per recipient (``members.tasks``, ``listings.tasks``) for after the
commit. The worker sends it and retries with back-off while the mail server refuses, so a
mail server that is down never fails, or turns into an error, a write that was saved.
Offline members (no login) get none.

Every email comes from the site's own address (DEFAULT_FROM_EMAIL) with no Reply-To: a
member's email address is never shown to another member.
"""

from __future__ import annotations

from typing import Any

from celery import Task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template import TemplateDoesNotExist
from django.template.loader import get_template, render_to_string

from .models import Membership, Person


def after_commit(task: Task, *args: Any) -> None:
    """Queue ``task`` with ``args`` once the current transaction commits (at once outside
    one). The write is saved by then: a broker that cannot take the task is logged
    (``robust``), never turned into an error for the request that saved it."""

    def enqueue() -> None:
        task.delay(*args)

    # What Django's log names if the broker refuses it; what a test reads.
    enqueue.__qualname__ = f"{task.name}{args}"
    enqueue.task, enqueue.args = task, args  # type: ignore[attr-defined]
    transaction.on_commit(enqueue, robust=True)


def send(name: str, *, to: str, context: dict, unsubscribe: str | None = None) -> None:
    """Render ``templates/emails/<name>-subject.txt``, ``-body.txt`` and, if it exists,
    ``-body.html``, and send one email to ``to``.

    ``unsubscribe`` is the one-click link of a non-essential email: it is in the context as
    ``unsubscribe_url`` and in the ``List-Unsubscribe`` (RFC 2369) and ``List-Unsubscribe-Post``
    (RFC 8058) headers. Raises what the mail backend raises (SMTP errors are ``OSError``s).
    """
    context = {"site_url": settings.SITE_URL, "unsubscribe_url": unsubscribe, **context}
    # One line, whatever a member typed into a title: a newline in a header is refused.
    subject = " ".join(render_to_string(f"emails/{name}-subject.txt", context).split())
    headers = {}
    if unsubscribe:
        headers = {
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
    message = EmailMultiAlternatives(
        subject, render_to_string(f"emails/{name}-body.txt", context), None, [to], headers=headers
    )
    try:
        html = get_template(f"emails/{name}-body.html")
    except TemplateDoesNotExist:
        html = None
    if html is not None:
        message.attach_alternative(html.render(context), "text/html")
    message.send()


def address_of(person: Person | None) -> str | None:
    user = person.user if person is not None else None
    return user.email if user is not None and user.email else None


# --- Queued inside a service's transaction, sent by the worker after it commits ----------------


def application_approved(membership: Membership) -> None:
    from .tasks import send_membership_email

    after_commit(send_membership_email, "application-approved", membership.pk)


def application_declined(membership: Membership) -> None:
    from .tasks import send_membership_email

    after_commit(send_membership_email, "application-declined", membership.pk)


# --- Sent by the worker --------------------------------------------------------------------------


def send_about_membership(name: str, membership: Membership) -> bool:
    """Send the applicant the email ``name`` about their application. Returns whether one went."""
    to = address_of(membership.person)
    if not to:
        return False
    send(name, to=to, context={"membership": membership})
    return True
