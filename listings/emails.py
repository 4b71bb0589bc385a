"""Emails about replies to offers and requests and about a broker's introductions: queued in
the service's transaction (members.emails.after_commit), sent by the worker after it
commits (listings.tasks). Offline members (no login) get none."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from members.emails import address_of, after_commit, send
from members.models import Person

from .models import Contact


def _recipients(contact: Contact) -> list[Person]:
    """The person written to, or every representative of the organisation written to."""
    if contact.to_person is not None:
        return [contact.to_person]
    if contact.to_organisation is not None:
        return list(contact.to_organisation.representatives.all())
    return []


def listing_reply(contact: Contact) -> None:
    """Tell the owner of a listing (or the person answered) that someone wrote to them."""
    from .tasks import send_contact_email

    for person in _recipients(contact):
        if person.user_id is not None:
            after_commit(send_contact_email, "listing-reply", contact.pk, person.pk)


def introduction(contact: Contact) -> None:
    """Tell both sides of a broker's introduction about each other, by display name only."""
    from .tasks import send_contact_email

    helper = contact.from_person
    if helper is not None and helper.user_id is not None:
        after_commit(send_contact_email, "introduction-helper", contact.pk, helper.pk)
    for person in _recipients(contact):
        if person.user_id is not None:
            after_commit(send_contact_email, "introduction-requester", contact.pk, person.pk)


def send_about_contact(name: str, contact: Contact, recipient: Person) -> bool:
    """Send ``recipient`` the email ``name`` about a reply or an introduction."""
    to = address_of(recipient)
    listing = contact.listing
    if not to or listing is None:
        return False
    link = settings.SITE_URL + reverse("listing-detail", args=[listing.pk])
    send(
        name,
        to=to,
        context={"contact": contact, "listing": listing, "recipient": recipient, "link": link},
    )
    return True
