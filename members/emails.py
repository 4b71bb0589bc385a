"""Emails about memberships, replies and introductions. Called after commit; offline members
(no login) get none.

Every email comes from the site's own address (DEFAULT_FROM_EMAIL) with no Reply-To: a
member's email address is never shown to another member.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template import TemplateDoesNotExist
from django.template.loader import get_template, render_to_string
from django.urls import reverse

from .models import Contact, Membership, Person


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


def _address(person: Person | None) -> str | None:
    user = person.user if person is not None else None
    return user.email if user is not None and user.email else None


def _recipients(contact: Contact) -> list[Person]:
    """The person written to, or every representative of the organisation written to."""
    if contact.to_person is not None:
        return [contact.to_person]
    if contact.to_organisation is not None:
        return list(contact.to_organisation.representatives.select_related("user"))
    return []


def listing_reply(contact: Contact) -> None:
    """Tell the owner of a listing (or the person answered) that someone wrote to them."""
    listing = contact.listing
    assert listing is not None
    link = settings.SITE_URL + reverse("listing-detail", args=[listing.pk])
    for person in _recipients(contact):
        to = _address(person)
        if to:
            send(
                "listing-reply",
                to=to,
                context={"contact": contact, "listing": listing, "recipient": person, "link": link},
            )


def introduction(contact: Contact) -> None:
    """Tell both sides of a broker's introduction about each other, by display name only."""
    listing = contact.listing
    assert listing is not None
    link = settings.SITE_URL + reverse("listing-detail", args=[listing.pk])
    helper = contact.from_person
    to_helper = _address(helper)
    if to_helper:
        send(
            "introduction-helper",
            to=to_helper,
            context={"contact": contact, "listing": listing, "recipient": helper, "link": link},
        )
    for person in _recipients(contact):
        to = _address(person)
        if to:
            send(
                "introduction-requester",
                to=to,
                context={"contact": contact, "listing": listing, "recipient": person, "link": link},
            )
