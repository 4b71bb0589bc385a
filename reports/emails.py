"""The statement email: plain text and HTML, with a one-click unsubscribe (RFC 8058)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from .models import Statement


def statement(statement: Statement, *, unsubscribe_url: str) -> None:
    """Send ``statement`` to its member. The caller has checked they may be emailed."""
    membership = statement.membership
    person = membership.person
    assert person.user is not None
    bank = membership.time_bank
    context = {
        "site_url": settings.SITE_URL,
        "statement": statement,
        "person": person,
        "bank": bank,
        "page_url": settings.SITE_URL
        + reverse("member-statement", args=[bank.slug, f"{statement.month:%Y-%m}"]),
        "suggestions": [
            {**item, "url": settings.SITE_URL + reverse("listing-detail", args=[item["id"]])}
            for item in statement.suggestions
        ],
        "unsubscribe_url": unsubscribe_url,
    }
    subject = " ".join(render_to_string("emails/statement-subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject,
        render_to_string("emails/statement-body.txt", context),
        to=[person.user.email],
        headers={
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    message.attach_alternative(render_to_string("emails/statement-body.html", context), "text/html")
    message.send()
