"""Sending one reminder email, with one-click unsubscribe headers for non-essential mail.

Like ``members.emails.send``, it renders ``templates/emails/<name>-subject.txt`` and
``-body.txt``; it differs only in adding ``List-Unsubscribe`` (RFC 2369) and
``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058) when given a link.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string


def send(name: str, *, to: str, context: dict, unsubscribe: str | None = None) -> None:
    """Render and send one email to ``to``. ``unsubscribe`` is the one-click link of a
    non-essential email (shown in the body as ``unsubscribe_url`` and put in the headers).
    Raises what the mail backend raises (``smtplib.SMTPException`` is an ``OSError``)."""
    context = {"site_url": settings.SITE_URL, "unsubscribe_url": unsubscribe, **context}
    # One line, whatever a member typed into a title: a newline in a header is refused.
    subject = " ".join(render_to_string(f"emails/{name}-subject.txt", context).split())
    body = render_to_string(f"emails/{name}-body.txt", context)
    headers = {}
    if unsubscribe:
        headers = {
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
    EmailMessage(subject, body, None, [to], headers=headers).send()
