"""Every write in the members domain: applying, deciding applications, leaving, offline
members, offers and requests, replies and introductions, capabilities and broker notes.

Each function is atomic; emails are sent after the transaction commits.
"""

from __future__ import annotations

import calendar
import datetime
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit import services as audit
from audit.models import Action
from ledger import services as ledger

from . import emails
from .access import is_broker, is_trading_member, may_edit_listing
from .models import (
    Capability,
    Category,
    Contact,
    ContactKind,
    Listing,
    ListingState,
    Membership,
    Note,
    Organisation,
    Person,
    Role,
    Status,
    TimeBank,
    User,
)
from .privacy import erase_person as erase_person
from .privacy import export_person_data as export_person_data


@dataclass(frozen=True)
class Profile:
    display_name: str
    bio: str = ""
    area: str = ""
    phone: str = ""
    contact_preference: str = "email"
    share_phone: bool = False


@dataclass(frozen=True)
class Referees:
    referee_1_name: str
    referee_1_contact: str
    referee_2_name: str
    referee_2_contact: str


def _save_profile(person: Person, profile: Profile) -> None:
    for field, value in vars(profile).items():
        setattr(person, field, value)
    person.full_clean(exclude=["user", "created_by"])
    person.save()


@transaction.atomic
def update_profile(*, user: User, profile: Profile) -> Person:
    """A signed-in user creates or edits their own profile."""
    person = Person.objects.select_for_update().filter(user=user).first() or Person(
        user=user, created_by=user
    )
    _save_profile(person, profile)
    return person


@transaction.atomic
def apply_to_bank(
    *, user: User, time_bank: TimeBank, profile: Profile, referees: Referees, agrees_to_code: bool
) -> Membership:
    """A signed-in user applies to join a time bank.

    1. Creates or updates their profile (one person per login).
    2. Records the application with two referees and the time of agreeing to the code.
    Raises ValidationError if they did not agree, if the bank is closed to applications,
    or if they already have a membership there.
    """
    if not agrees_to_code:
        raise ValidationError(
            {"agrees_to_code": _("Please agree to the code of conduct to apply.")}
        )
    if not time_bank.accepting_applications:
        raise ValidationError(
            _("%(bank)s is not taking applications at the moment.") % {"bank": time_bank.name}
        )
    person = Person.objects.select_for_update().filter(user=user).first()
    if person is None:
        person = Person(user=user, created_by=user)
    _save_profile(person, profile)
    if Membership.objects.filter(person=person, time_bank=time_bank).exists():
        raise ValidationError(_("You have already applied to %(bank)s.") % {"bank": time_bank.name})
    now = timezone.now()
    try:
        with transaction.atomic():
            return Membership.objects.create(
                person=person,
                time_bank=time_bank,
                role=Role.MEMBER,
                status=Status.APPLIED,
                applied_at=now,
                agreed_code_of_conduct_at=now,
                **vars(referees),
            )
    except IntegrityError:
        # A double-submitted form racing itself: the first one won.
        raise ValidationError(
            _("You have already applied to %(bank)s.") % {"bank": time_bank.name}
        ) from None


def _lock_application(membership: Membership, broker: Person) -> Membership:
    """Lock the application row and check that ``broker`` may decide it (caller is atomic)."""
    locked = (
        Membership.objects.select_for_update(of=("self",))
        .select_related("person__user", "time_bank")
        .get(pk=membership.pk)
    )
    may_decide = Membership.objects.filter(
        person=broker,
        time_bank=locked.time_bank,
        status=Status.APPROVED,
        role__in=[Role.BROKER, Role.ADMIN],
    ).exists()
    if not may_decide:
        raise PermissionDenied(_("Only a broker of this time bank can decide its applications."))
    if locked.status != Status.APPLIED:
        raise ValidationError(
            _("This application has already been decided (%(status)s).")
            % {"status": locked.get_status_display().lower()}
        )
    return locked


@transaction.atomic
def approve_membership(*, membership: Membership, broker: Person) -> Membership:
    """A broker approves an application.

    1. Locks the application and checks the broker's role in that time bank.
    2. Marks it approved, recording who and when, and opens the member's hours account.
    3. After commit, emails the applicant (offline members have no email).
    """
    locked = _lock_application(membership, broker)
    locked.status = Status.APPROVED
    locked.decided_by = broker
    locked.decided_at = timezone.now()
    locked.save(update_fields=["status", "decided_by", "decided_at"])
    ledger.open_account(time_bank=locked.time_bank, person=locked.person)
    audit.record(
        action=Action.MEMBERSHIP_APPROVED, actor=broker, time_bank=locked.time_bank, obj=locked
    )
    transaction.on_commit(lambda: emails.application_approved(locked))
    return locked


@transaction.atomic
def decline_membership(*, membership: Membership, broker: Person, reason: str) -> Membership:
    """A broker declines an application with a reason the applicant will read."""
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": _("Please give a reason: the applicant will read it.")})
    locked = _lock_application(membership, broker)
    locked.status = Status.DECLINED
    locked.decided_by = broker
    locked.decided_at = timezone.now()
    locked.decline_reason = reason
    locked.save(update_fields=["status", "decided_by", "decided_at", "decline_reason"])
    audit.record(
        action=Action.MEMBERSHIP_DECLINED, actor=broker, time_bank=locked.time_bank, obj=locked
    )
    transaction.on_commit(lambda: emails.application_declined(locked))
    return locked


@transaction.atomic
def leave_time_bank(*, membership: Membership, by: Person, reason: str = "") -> Membership:
    """A member leaves a time bank, or a broker or admin of that bank marks them as left.

    1. Locks the membership and checks that ``by`` is the member or a broker of the bank
       (PermissionDenied otherwise) and that the membership is approved or suspended
       (ValidationError otherwise).
    2. Marks it left, now, keeping the reason on the membership (never in the audit log).
    3. Records a ``membership.left`` audit event. Their hours, account and exchanges stay.
    """
    locked = (
        Membership.objects.select_for_update(of=("self",))
        .select_related("person", "time_bank")
        .get(pk=membership.pk)
    )
    if by.pk != locked.person_id and not is_broker(by, locked.time_bank):
        raise PermissionDenied(_("Only the member or a broker of this time bank can do that."))
    if locked.status not in {Status.APPROVED, Status.SUSPENDED}:
        raise ValidationError(
            _("Only a member can leave; this membership is %(status)s.")
            % {"status": locked.get_status_display().lower()}
        )
    locked.status = Status.LEFT
    locked.left_at = timezone.now()
    locked.leave_reason = reason.strip()
    locked.save(update_fields=["status", "left_at", "leave_reason"])
    audit.record(
        action=Action.MEMBERSHIP_LEFT,
        actor=by,
        time_bank=locked.time_bank,
        obj=locked,
        details={"by_member": by.pk == locked.person_id},
    )
    return locked


@transaction.atomic
def create_offline_member(*, time_bank: TimeBank, broker: Person, profile: Profile) -> Membership:
    """A broker adds a member who has no login; the broker records for them.

    The broker has met them, so the membership is approved at once and an account opened.
    """
    if not Membership.objects.filter(
        person=broker,
        time_bank=time_bank,
        status=Status.APPROVED,
        role__in=[Role.BROKER, Role.ADMIN],
    ).exists():
        raise PermissionDenied(_("Only a broker of this time bank can add members."))
    person = Person(user=None, created_by=broker.user)
    _save_profile(person, profile)
    now = timezone.now()
    membership = Membership.objects.create(
        person=person,
        time_bank=time_bank,
        role=Role.MEMBER,
        status=Status.APPROVED,
        applied_at=now,
        decided_by=broker,
        decided_at=now,
    )
    ledger.open_account(time_bank=time_bank, person=person)
    audit.record(
        action=Action.MEMBER_ADDED_OFFLINE, actor=broker, time_bank=time_bank, obj=membership
    )
    return membership


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


def add_months(day: datetime.date, months: int) -> datetime.date:
    """``day`` plus ``months`` calendar months, clamped to the end of a shorter month."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


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
    return locked


@transaction.atomic
def close_listing(*, listing: Listing, editor: Person) -> Listing:
    """Take an offer or request down. Closing a closed one changes nothing."""
    locked = _lock_listing_for(listing, editor)
    if locked.state != ListingState.CLOSED:
        locked.state = ListingState.CLOSED
        locked.closed_at = timezone.now()
        locked.save(update_fields=["state", "closed_at"])
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
    3. Records a Contact of kind "reply" and, after commit, emails the recipient(s) with the
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
    transaction.on_commit(lambda: emails.listing_reply(contact))
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
    transaction.on_commit(lambda: emails.introduction(contact))
    return contact


# --- Capabilities and notes ------------------------------------------------------------------


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
    capability.delete()


@transaction.atomic
def add_note(*, author: Person, membership: Membership, text: str) -> Note:
    """A broker writes a private note about a member of their bank."""
    if not is_broker(author, membership.time_bank_id):
        raise PermissionDenied(_("Only a broker of this time bank can write notes."))
    text = text.strip()
    if not text:
        raise ValidationError({"text": _("Please write the note.")})
    return Note.objects.create(
        person_id=membership.person_id,
        time_bank_id=membership.time_bank_id,
        author=author,
        text=text,
    )
