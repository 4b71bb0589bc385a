"""The statement email: plain text and HTML, with a one-click unsubscribe (RFC 8058)."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from members.emails import send

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
    }
    send("statement", to=person.user.email, context=context, unsubscribe=unsubscribe_url)
