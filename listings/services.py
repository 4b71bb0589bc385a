"""Every write on offers and requests (publish, update, renew, close), replies and a broker's
introductions, and what members can do (capabilities).

Each function is atomic; its emails are queued for the worker, which sends them after the
transaction commits (``members.emails``).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit import services as audit
from audit.models import Action
from members import ratelimits
from members.access import is_broker, is_trading_member
from members.models import Membership, Organisation, Person, Status, TimeBank
from timebank.dates import add_months

from . import emails
from .access import may_edit_listing
from .models import Capability, Category, Contact, ContactKind, Listing, ListingState

# --- Offers and requests ---------------------------------------------------------------------


@dataclass(frozen=True)
class ListingDetails:
    """What a member writes in an offer or request."""

    kind: str
    category: Category
    title: str
    description: str = ""
    area: str = ""
    availability: str = ""
    expires_on: datetime.date | None = None


def default_expiry(time_bank: TimeBank) -> datetime.date:
    return add_months(timezone.localdate(), time_bank.listing_months)


def _check_expiry(time_bank: TimeBank, expires_on: datetime.date) -> None:
    today = timezone.localdate()
    if expires_on < today:
        raise ValidationError({"expires_on": _("Please choose a date from today onwards.")})
    # A year is the longest a listing may run before someone checks it is still wanted.
    if expires_on > add_months(today, max(12, time_bank.listing_months)):
        raise ValidationError({"expires_on": _("Please choose a date within a year.")})


def _apply_details(listing: Listing, details: ListingDetails) -> None:
    for field in ("kind", "category", "title", "description", "area", "availability"):
        setattr(listing, field, getattr(details, field))
    listing.title = listing.title.strip()
    if details.expires_on is not None:
        _check_expiry(listing.time_bank, details.expires_on)
        listing.expires_on = details.expires_on
    listing.full_clean(exclude=["time_bank", "person", "organisation", "created_by", "category"])


@transaction.atomic
def publish_listing(
    *,
    author: Person,
    time_bank: TimeBank,
    details: ListingDetails,
    for_person: Person | None = None,
    for_organisation: Organisation | None = None,
) -> Listing:
    """Publish an offer or request.

    The owner is ``for_organisation`` (author must represent it, or broker the bank),
    else ``for_person`` (the author, or any approved member when the author is a broker of
    the bank, e.g. for an offline member), else the author. The expiry defaults to today
    plus the bank's ``listing_months``. Raises PermissionDenied or ValidationError.
    """
    if not is_trading_member(author, time_bank):
        raise PermissionDenied(_("Only members of this time bank can publish offers and requests."))
    if for_organisation is not None:
        if for_organisation.time_bank_id != time_bank.pk:
            raise ValidationError(
                {"organisation": _("That organisation is not in this time bank.")}
            )
        represents = for_organisation.representatives.filter(pk=author.pk).exists()
        if not represents and not is_broker(author, time_bank):
            raise PermissionDenied(_("Only its representatives can publish for an organisation."))
        for_person = None
    else:
        for_person = for_person or author
        if for_person.pk != author.pk:
            if not is_broker(author, time_bank):
                raise PermissionDenied(_("Only a broker can publish for another member."))
            if not is_trading_member(for_person, time_bank):
                raise ValidationError(
                    {"person": _("That person is not a member of this time bank.")}
                )
    listing = Listing(
        time_bank=time_bank,
        person=for_person,
        organisation=for_organisation,
        created_by=author,
        expires_on=default_expiry(time_bank),
    )
    _apply_details(listing, details)
    listing.save()
    audit.record_if_acting(
        action=Action.LISTING_PUBLISHED, actor=author, time_bank=time_bank, obj=listing
    )
    return listing


def _lock_listing_for(listing: Listing, editor: Person) -> Listing:
    """Lock the listing row and check ``editor`` may change it (caller is atomic)."""
    locked = (
        Listing.objects.select_for_update(of=("self",))
        .select_related("time_bank", "person", "organisation")
        .get(pk=listing.pk)
    )
    if not may_edit_listing(editor, locked):
        raise PermissionDenied(_("Only the person who published this can change it."))
    return locked


@transaction.atomic
def update_listing(*, listing: Listing, editor: Person, details: ListingDetails) -> Listing:
    """The owner, a representative or a broker edits an offer or request (open or closed)."""
    locked = _lock_listing_for(listing, editor)
    _apply_details(locked, details)
    locked.save(
        update_fields=[
            "kind",
            "category",
            "title",
            "description",
            "area",
            "availability",
            "expires_on",
        ]
    )
    audit.record_if_acting(
        action=Action.LISTING_UPDATED, actor=editor, time_bank=locked.time_bank, obj=locked
    )
    return locked


@transaction.atomic
def renew_listing(*, listing: Listing, editor: Person) -> Listing:
    """Show it for another ``listing_months`` months from today (or from its expiry, if later),
    and reopen it if it was closed."""
    locked = _lock_listing_for(listing, editor)
    start = max(timezone.localdate(), locked.expires_on)
    locked.expires_on = add_months(start, locked.time_bank.listing_months)
    locked.state = ListingState.OPEN
    locked.closed_at = None
    locked.save(update_fields=["expires_on", "state", "closed_at"])
    audit.record_if_acting(
        action=Action.LISTING_UPDATED,
        actor=editor,
        time_bank=locked.time_bank,
        obj=locked,
        details={"change": "renewed"},
    )
    return locked


@transaction.atomic
def close_listing(*, listing: Listing, editor: Person) -> Listing:
    """Take an offer or request down. Closing a closed one changes nothing."""
    locked = _lock_listing_for(listing, editor)
    if locked.state != ListingState.CLOSED:
        locked.state = ListingState.CLOSED
        locked.closed_at = timezone.now()
        locked.save(update_fields=["state", "closed_at"])
        audit.record_if_acting(
            action=Action.LISTING_UPDATED,
            actor=editor,
            time_bank=locked.time_bank,
            obj=locked,
            details={"change": "closed"},
        )
    return locked


@transaction.atomic
def reply_to_listing(
    *, listing: Listing, sender: Person, message: str, to_person: Person | None = None
) -> Contact:
    """A member answers an offer or request through the site; addresses stay private.

    1. Checks the sender trades in the listing's bank and the listing is open.
    2. Without ``to_person``, the message goes to the listing's owner (the person, or the
       organisation's representatives). The owner (or a representative, or a broker) may
       answer someone who wrote to them about this listing by giving ``to_person``.
    3. Refuses (``RateLimited``) a sender who wrote ``REPLIES_PER_HOUR`` replies in the last hour.
    4. Records a Contact of kind "reply" and, after commit, emails the recipient(s) with the
       sender's display name and a link to the site. Offline recipients get no email; their
       broker reads the message on the listing page.
    """
    message = message.strip()
    if not message:
        raise ValidationError({"message": _("Please write a message.")})
    if not is_trading_member(sender, listing.time_bank_id):
        raise PermissionDenied(_("Only members of this time bank can reply."))
    to_organisation = None
    if to_person is None:
        if not listing.is_open:
            raise ValidationError(_("This offer or request is closed."))
        if may_edit_listing(sender, listing) and not is_broker(sender, listing.time_bank_id):
            raise ValidationError(_("This is your own offer or request."))
        if listing.person_id == sender.pk:
            raise ValidationError(_("This is your own offer or request."))
        to_person, to_organisation = listing.person, listing.organisation
    else:
        if not may_edit_listing(sender, listing):
            raise PermissionDenied(_("Only the person who published this can answer replies."))
        wrote_before = Contact.objects.filter(listing=listing, from_person=to_person).exists()
        if not wrote_before:
            raise ValidationError({"to_person": _("You can answer only people who wrote to you.")})
    ratelimits.at_most(
        Contact.objects.filter(
            made_by=sender,
            kind=ContactKind.REPLY,
            created_at__gte=timezone.now() - ratelimits.WINDOW,
        ),
        most=ratelimits.REPLIES_PER_HOUR,
    )
    contact = Contact.objects.create(
        time_bank=listing.time_bank,
        kind=ContactKind.REPLY,
        listing=listing,
        from_person=sender,
        to_person=to_person,
        to_organisation=to_organisation,
        message=message,
        made_by=sender,
    )
    audit.record_if_acting(
        action=Action.LISTING_REPLIED,
        actor=sender,
        time_bank=listing.time_bank,
        obj=contact,
        details={"listing": listing.pk},
    )
    emails.listing_reply(contact)
    return contact


@transaction.atomic
def introduce(*, broker: Person, listing: Listing, helper: Person, message: str = "") -> Contact:
    """A broker puts the person behind an open request in touch with a member who could help.

    1. Checks the broker brokers the listing's bank, the listing is an open request and the
       helper is an approved member there (not the requester).
    2. Records a Contact of kind "introduction" from the helper to the requester, made by
       the broker.
    3. After commit, emails both sides (display names and the site link only). Offline
       people get no email: the page tells the broker to phone them.
    """
    if not is_broker(broker, listing.time_bank_id):
        raise PermissionDenied(_("Only a broker of this time bank can introduce members."))
    if listing.kind != "request" or not listing.is_open:
        raise ValidationError(_("Only an open request can be matched."))
    if not is_trading_member(helper, listing.time_bank_id):
        raise ValidationError({"helper": _("That person is not a member of this time bank.")})
    if listing.person_id == helper.pk:
        raise ValidationError({"helper": _("That is the person who asked.")})
    ratelimits.at_most(
        Contact.objects.filter(
            made_by=broker,
            kind=ContactKind.INTRODUCTION,
            created_at__gte=timezone.now() - ratelimits.WINDOW,
        ),
        most=ratelimits.INTRODUCTIONS_PER_HOUR,
    )
    contact = Contact.objects.create(
        time_bank=listing.time_bank,
        kind=ContactKind.INTRODUCTION,
        listing=listing,
        from_person=helper,
        to_person=listing.person,
        to_organisation=listing.organisation,
        message=message.strip(),
        made_by=broker,
    )
    emails.introduction(contact)
    return contact


# --- Capabilities ------------------------------------------------------------------


def _check_may_edit_capabilities(editor: Person, membership: Membership) -> None:
    if membership.status != Status.APPROVED:
        raise ValidationError(_("Only approved members have skills on their profile."))
    if editor.pk != membership.person_id and not is_broker(editor, membership.time_bank_id):
        raise PermissionDenied(
            _("Only a broker of this time bank can edit another member's skills.")
        )


@transaction.atomic
def add_capability(
    *, editor: Person, membership: Membership, category: Category, description: str, level: str
) -> Capability:
    """Add what a member does, could do with encouragement, or would share, to their profile
    in one time bank. The member themself or a broker of that bank may do it."""
    _check_may_edit_capabilities(editor, membership)
    capability = Capability(
        person_id=membership.person_id,
        time_bank_id=membership.time_bank_id,
        category=category,
        description=description.strip(),
        level=level,
    )
    capability.full_clean(exclude=["person", "time_bank", "category"])
    capability.save()
    audit.record_if_acting(
        action=Action.PROFILE_UPDATED,
        actor=editor,
        time_bank=membership.time_bank,
        obj=capability,
        details={"change": "capability_added"},
    )
    return capability


@transaction.atomic
def remove_capability(*, editor: Person, capability: Capability) -> None:
    membership = Membership.objects.get(
        person_id=capability.person_id, time_bank_id=capability.time_bank_id
    )
    if editor.pk != capability.person_id and not is_broker(editor, membership.time_bank_id):
        raise PermissionDenied(
            _("Only a broker of this time bank can edit another member's skills.")
        )
    audit.record_if_acting(
        action=Action.PROFILE_UPDATED,
        actor=editor,
        time_bank=membership.time_bank,
        details={"change": "capability_removed", "capability": capability.pk},
    )
    capability.delete()
