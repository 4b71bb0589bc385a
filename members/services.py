"""Every write in the members domain: applying, deciding applications, offline members, the
bank's credit policy, offers and requests, replies and introductions, capabilities and broker
notes. (Leaving and suspension void exchanges, so they live a layer up:
``exchanges.services.leave_time_bank`` and ``suspend_membership``.)

Each function is atomic; its emails are queued for the worker, which sends them after the
transaction commits (``members.emails``).
"""

from __future__ import annotations

import calendar
import datetime
from dataclasses import dataclass, replace

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from audit import services as audit
from audit.models import Action
from ledger import services as ledger
from ledger.exceptions import LimitsBelowBalance
from ledger.models import Account, AccountKind, Entry, JournalState

from . import emails, ratelimits
from .access import (
    Acting,
    is_broker,
    is_safeguarding_lead,
    is_trading_member,
    may_be_acted_for,
    may_edit_listing,
)
from .models import (
    BROKER_ROLES,
    Capability,
    Category,
    CheckOutcome,
    CheckType,
    Contact,
    ContactKind,
    LimitRule,
    Listing,
    ListingState,
    Membership,
    Note,
    Organisation,
    Person,
    Role,
    SafeguardingRecord,
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
    # Optional monitoring answers ("" = not given): see ``Person``.
    age_band: str = ""
    gender: str = ""
    disability: str = ""
    carer: str = ""


# The optional equality-monitoring answers of a ``Profile``.
MONITORING_FIELDS = ("age_band", "gender", "disability", "carer")


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
    emails.application_approved(locked)
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
    emails.application_declined(locked)
    return locked


@transaction.atomic
def apply_credit_policy(*, time_bank: TimeBank, by: Person | None) -> int:
    """Apply the bank's credit limit policy, as it now stands, to every existing member and
    organisation account of the bank (new accounts get it from ``ledger.open_account``).

    Under "block" each account's limit becomes the bank's (``default_credit_limit_minutes``),
    which the ledger then holds; under "flag" accounts have no hard limit, and the bank's limit
    stays the threshold past which exchanges are recorded and flagged to the broker. An account
    already past the new limit is held where it is: its limit becomes its available balance,
    so it can go no lower (``ledger.set_limits`` refuses a limit an account is past). Each
    change goes through ``ledger.set_limits`` (under the account's lock) and is audited as
    ``account.limits_changed`` with the old and new limit. Safe to run twice. Returns how many
    accounts changed.
    """
    hard = (
        None if time_bank.limit_rule == LimitRule.FLAG else time_bank.default_credit_limit_minutes
    )
    changed = 0
    # Members' and organisations' accounts: the pot and the migration account have no limit.
    accounts = Account.objects.filter(
        time_bank=time_bank, kind__in=[AccountKind.MEMBER, AccountKind.ORGANISATION]
    )
    for account in accounts.order_by("pk"):
        old = account.credit_limit_minutes
        if old == hard:
            continue
        held = False
        try:
            updated = ledger.set_limits(
                account=account,
                credit_limit_minutes=hard,
                max_balance_minutes=account.max_balance_minutes,
            )
        except LimitsBelowBalance as past:
            held = True
            updated = ledger.set_limits(
                account=account,
                credit_limit_minutes=min(past.balance_minutes, 0),
                max_balance_minutes=account.max_balance_minutes,
            )
        if updated.credit_limit_minutes == old:
            continue
        audit.record(
            action=Action.ACCOUNT_LIMITS_CHANGED,
            actor=by,
            time_bank=time_bank,
            obj=account,
            details={
                "limit_rule": time_bank.limit_rule,
                "old_credit_limit": old,
                "new_credit_limit": updated.credit_limit_minutes,
                "held_at_balance": held,
            },
        )
        changed += 1
    return changed


def _check_joined_on(joined_on: datetime.date) -> None:
    if joined_on > timezone.localdate():
        raise ValidationError({"joined_on": _("The date they joined cannot be in the future.")})


@transaction.atomic
def create_offline_member(
    *,
    time_bank: TimeBank,
    broker: Person,
    profile: Profile,
    joined_on: datetime.date | None = None,
) -> Membership:
    """A broker adds a member who has no login; the broker records for them.

    The broker has met them, so the membership is approved at once and an account opened.
    ``joined_on``: the day they really joined (their paper form), when earlier than today, so
    that the help on their first slips can be entered.
    """
    if not Membership.objects.filter(
        person=broker,
        time_bank=time_bank,
        status=Status.APPROVED,
        role__in=[Role.BROKER, Role.ADMIN],
    ).exists():
        raise PermissionDenied(_("Only a broker of this time bank can add members."))
    if joined_on is not None:
        _check_joined_on(joined_on)
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
        joined_on=joined_on,
    )
    ledger.open_account(time_bank=time_bank, person=person)
    audit.record(
        action=Action.MEMBER_ADDED_OFFLINE,
        actor=broker,
        time_bank=time_bank,
        obj=membership,
        details={"joined_on": joined_on.isoformat()} if joined_on else {},
    )
    return membership


@transaction.atomic
def set_joined_on(*, membership: Membership, joined_on: datetime.date, by: Person) -> Membership:
    """A broker sets the day a member really joined, so that help since then can be recorded
    (a paper form, or slips from before the broker entered them). Not in the future, and not
    after help already recorded for them (their earliest exchange still standing)."""
    if not is_broker(by, membership.time_bank_id):
        raise PermissionDenied(_("Only a broker of this time bank can change when someone joined."))
    locked = Membership.objects.select_for_update().get(pk=membership.pk)
    if locked.status != Status.APPROVED:
        raise ValidationError(_("Only a member of the time bank has a date they joined."))
    _check_joined_on(joined_on)
    earliest = (
        Entry.objects.filter(
            account__time_bank_id=locked.time_bank_id,
            account__person_id=locked.person_id,
        )
        .exclude(journal__state__in=[JournalState.VOIDED, JournalState.EXPIRED])
        .order_by("journal__effective_date")
        .values_list("journal__effective_date", flat=True)
        .first()
    )
    if earliest is not None and joined_on > earliest:
        raise ValidationError(
            {
                "joined_on": _(
                    "Help on %(date)s is already recorded for them: they joined on that day "
                    "at the latest."
                )
                % {"date": date_format(earliest, "DATE_FORMAT")}
            }
        )
    before = locked.joined
    locked.joined_on = joined_on
    locked.save(update_fields=["joined_on"])
    audit.record(
        action=Action.MEMBERSHIP_JOINED_ON,
        actor=by,
        time_bank=locked.time_bank,
        obj=locked,
        details={"from": before.isoformat() if before else None, "to": joined_on.isoformat()},
    )
    return locked


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


# --- Acting for a member ------------------------------------------------------------------------


@transaction.atomic
def start_acting(*, acting: Acting) -> None:
    """Record that a broker starts acting for a member. The caller has checked ``acting``
    with ``access.get_acting_for`` and keeps it in the session."""
    audit.record(
        action=Action.ACTING_STARTED,
        actor=acting.broker,
        on_behalf_of=acting.member,
        time_bank=acting.time_bank,
        obj=acting.membership,
    )


@transaction.atomic
def stop_acting(*, acting: Acting) -> None:
    """Record that a broker stops acting for a member (they chose to)."""
    audit.record(
        action=Action.ACTING_STOPPED,
        actor=acting.broker,
        on_behalf_of=acting.member,
        time_bank=acting.time_bank,
        obj=acting.membership,
        details={"reason": "stopped"},
    )


@transaction.atomic
def stop_acting_automatically(*, broker: Person, held: dict) -> None:
    """Record that acting stopped because the broker may no longer act for the member held
    in their session (they lost the role, or the member left or changed)."""
    bank = TimeBank.objects.filter(pk=_int_or_none(held.get("bank"))).first()
    member = Person.objects.filter(pk=_int_or_none(held.get("person"))).first()
    audit.record(
        action=Action.ACTING_STOPPED,
        actor=broker,
        on_behalf_of=member,
        time_bank=bank,
        details={"reason": "no_longer_allowed"},
    )


def _int_or_none(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


@transaction.atomic
def update_member_profile(*, acting: Acting, profile: Profile) -> Person:
    """A broker acting for a member edits the member's profile; audited as the broker on
    the member's behalf. Re-checks that the member may still be acted for."""
    membership = Membership.objects.select_related("person").filter(pk=acting.membership.pk).first()
    if (
        membership is None
        or not may_be_acted_for(membership)
        or not is_broker(acting.broker, acting.time_bank)
    ):
        raise PermissionDenied(_("You can no longer act for this member."))
    person = Person.objects.select_for_update().get(pk=acting.member.pk)
    if not person.is_offline:
        # A member with a login gave their monitoring answers for their eyes only: the broker
        # acting for them neither sees nor changes them.
        profile = replace(profile, **{name: getattr(person, name) for name in MONITORING_FIELDS})
    _save_profile(person, profile)
    audit.record(
        action=Action.PROFILE_UPDATED,
        actor=acting.broker,
        on_behalf_of=person,
        time_bank=acting.time_bank,
        obj=person,
    )
    return person


# --- Roles ----------------------------------------------------------------------------------------


@transaction.atomic
def change_role(
    *,
    membership: Membership,
    role: str,
    by: Person,
    safeguarding_lead: bool | None = None,
) -> Membership:
    """Change a member's role in their time bank (and whether they are its safeguarding lead).

    1. ``by`` must be an approved admin or broker of the bank. A broker may move people
       between member, broker and commissioner, but may not make an admin, change an
       admin's role, or name the safeguarding lead: those are an admin's decisions.
    2. Only an approved membership has a role to change.
    3. Locks the membership and the bank's brokers and admins (in id order), then refuses a
       change that would leave the bank with no admin (when it has one) or with nobody to
       broker it. So the last admin or broker can never be removed, by anyone.
    4. A person who stops being a broker or admin stops being the safeguarding lead.
    5. Records ``membership.role_changed`` with the old and new role and lead flag.
    Raises PermissionDenied or ValidationError (with a ``role`` message).
    """
    if role not in Role.values:
        raise ValidationError({"role": _("Choose one of the roles listed.")})
    bank_id = membership.time_bank_id
    if not is_broker(by, bank_id):
        raise PermissionDenied(_("Only an administrator or broker of this time bank can do that."))
    by_admin = Membership.objects.filter(
        person=by, time_bank_id=bank_id, status=Status.APPROVED, role=Role.ADMIN
    ).exists()
    locked = list(
        Membership.objects.select_for_update()
        .filter(
            Q(pk=membership.pk)
            | Q(time_bank_id=bank_id, status=Status.APPROVED, role__in=BROKER_ROLES)
        )
        .order_by("pk")
    )
    target = next(m for m in locked if m.pk == membership.pk)
    if target.status != Status.APPROVED:
        raise ValidationError({"role": _("Only an approved member's role can be changed.")})
    old_role, old_lead = target.role, target.safeguarding_lead
    new_lead = old_lead if safeguarding_lead is None else safeguarding_lead
    if role not in BROKER_ROLES:
        new_lead = False
    if not by_admin and (Role.ADMIN in (role, old_role) or new_lead != old_lead):
        raise PermissionDenied(
            _(
                "Only an administrator can make or change an administrator, or name the "
                "safeguarding lead."
            )
        )
    if role == old_role and new_lead == old_lead:
        raise ValidationError({"role": _("Nothing changed.")})
    others = [m for m in locked if m.pk != target.pk and m.status == Status.APPROVED]
    had_admin = any(m.role == Role.ADMIN for m in locked if m.status == Status.APPROVED)
    admins_after = sum(m.role == Role.ADMIN for m in others) + (role == Role.ADMIN)
    brokers_after = sum(m.role in BROKER_ROLES for m in others) + (role in BROKER_ROLES)
    if had_admin and admins_after == 0:
        raise ValidationError(
            {"role": _("This is the time bank's only administrator: make someone else one first.")}
        )
    if brokers_after == 0:
        raise ValidationError(
            {"role": _("This is the time bank's only broker: make someone else one first.")}
        )
    target.role, target.safeguarding_lead = role, new_lead
    target.save(update_fields=["role", "safeguarding_lead"])
    audit.record(
        action=Action.MEMBERSHIP_ROLE_CHANGED,
        actor=by,
        time_bank=target.time_bank,
        obj=target,
        details={
            "person": target.person_id,
            "old_role": old_role,
            "new_role": role,
            "old_safeguarding_lead": old_lead,
            "new_safeguarding_lead": new_lead,
        },
    )
    return target


# --- Safeguarding checks --------------------------------------------------------------------------


@dataclass(frozen=True)
class SafeguardingCheck:
    """What a safeguarding lead records about a check: no certificate content."""

    check_type: str
    checked_on: datetime.date
    outcome: str
    reference_number: str = ""
    expires_on: datetime.date | None = None


def _apply_check(record: SafeguardingRecord, check: SafeguardingCheck) -> None:
    if check.check_type not in CheckType.values:
        raise ValidationError({"check_type": _("Choose one of the types of check listed.")})
    if check.outcome not in CheckOutcome.values:
        raise ValidationError({"outcome": _("Choose one of the outcomes listed.")})
    if check.checked_on > timezone.localdate():
        raise ValidationError({"checked_on": _("The date of the check cannot be in the future.")})
    if check.expires_on is not None and check.expires_on < check.checked_on:
        raise ValidationError(
            {"expires_on": _("The renewal date must be on or after the date of the check.")}
        )
    for field, value in vars(check).items():
        setattr(record, field, value.strip() if isinstance(value, str) else value)
    record.full_clean(exclude=["time_bank", "person", "recorded_by"])


def _check_lead(by: Person, time_bank_id: int) -> None:
    if not is_safeguarding_lead(by, time_bank_id):
        raise PermissionDenied(_("Only the safeguarding lead of this time bank can do that."))


def _safeguarding_details(check: SafeguardingRecord, **more: object) -> dict:
    return {"person": check.person_id, "check_type": check.check_type, **more}


@transaction.atomic
def record_safeguarding_check(
    *, membership: Membership, by: Person, check: SafeguardingCheck
) -> SafeguardingRecord:
    """The bank's safeguarding lead records a reference or check made on a member of the
    bank (applicants included). Audited as ``safeguarding.recorded`` (ids and type only)."""
    _check_lead(by, membership.time_bank_id)
    record = SafeguardingRecord(
        time_bank_id=membership.time_bank_id, person_id=membership.person_id, recorded_by=by
    )
    _apply_check(record, check)
    record.save()
    audit.record(
        action=Action.SAFEGUARDING_RECORDED,
        actor=by,
        time_bank=membership.time_bank,
        obj=record,
        details=_safeguarding_details(record),
    )
    return record


@transaction.atomic
def update_safeguarding_check(
    *, record: SafeguardingRecord, by: Person, check: SafeguardingCheck
) -> SafeguardingRecord:
    """The safeguarding lead corrects or renews a check. Audited as ``safeguarding.updated``."""
    _check_lead(by, record.time_bank_id)
    locked = SafeguardingRecord.objects.select_for_update().get(pk=record.pk)
    _apply_check(locked, check)
    locked.updated_at = timezone.now()
    locked.save()
    audit.record(
        action=Action.SAFEGUARDING_UPDATED,
        actor=by,
        time_bank=record.time_bank,
        obj=locked,
        details=_safeguarding_details(locked),
    )
    return locked


def _delete_check(record: SafeguardingRecord, *, by: Person | None, reason: str) -> None:
    """Delete one check and audit it (caller is atomic and holds the row lock)."""
    details = _safeguarding_details(record, record=record.pk, reason=reason)
    bank = TimeBank.objects.get(pk=record.time_bank_id)
    record.delete()
    audit.record(action=Action.SAFEGUARDING_DELETED, actor=by, time_bank=bank, details=details)


@transaction.atomic
def delete_safeguarding_check(*, record: SafeguardingRecord, by: Person) -> None:
    """The safeguarding lead deletes a check. Audited as ``safeguarding.deleted``."""
    _check_lead(by, record.time_bank_id)
    locked = SafeguardingRecord.objects.select_for_update().filter(pk=record.pk).first()
    if locked is not None:
        _delete_check(locked, by=by, reason="deleted")


def _past_retention(time_bank: TimeBank, today: datetime.date) -> QuerySet[SafeguardingRecord]:
    """The bank's checks whose retention period has passed on ``today`` (the rule below)."""
    cutoff = add_months(today, -time_bank.safeguarding_retention_months)
    ended = Membership.objects.filter(time_bank=time_bank).filter(
        Q(status=Status.LEFT, left_at__date__lte=cutoff)
        | Q(status=Status.DECLINED, decided_at__date__lte=cutoff)
    )
    return SafeguardingRecord.objects.filter(time_bank=time_bank).filter(
        Q(expires_on__lte=cutoff) | Q(person__in=ended.values("person"))
    )


def safeguarding_records_past_retention(
    *, today: datetime.date | None = None
) -> list[SafeguardingRecord]:
    """Checks whose retention period has passed, in every time bank.

    The rule: a check is kept while it is in force and its member belongs to the bank, then
    for the bank's ``safeguarding_retention_months`` (6 by default, after the DBS code of
    practice's "no more than about six months after the decision"). It is due for deletion
    that many months after the earlier of its renewal date and the day the member left (or
    was declined).
    """
    today = today or timezone.localdate()
    due: list[SafeguardingRecord] = []
    for bank in TimeBank.objects.order_by("pk"):
        due += _past_retention(bank, today).select_related("time_bank")
    return due


def delete_expired_safeguarding_records(*, today: datetime.date | None = None) -> int:
    """The retention job: delete every check past retention, each in its own transaction,
    audited as ``safeguarding.deleted`` by the system (no actor). Safe to run twice: a
    check already deleted is skipped, and so is one renewed (or whose member came back)
    since the list was made: the rule is checked again under the row's lock. Returns how
    many it deleted."""
    today = today or timezone.localdate()
    deleted = 0
    for record in safeguarding_records_past_retention(today=today):
        with transaction.atomic():
            locked = (
                _past_retention(record.time_bank, today)
                .select_for_update(of=("self",))
                .filter(pk=record.pk)
                .first()
            )
            if locked is None:
                continue
            _delete_check(locked, by=None, reason="retention")
            deleted += 1
    return deleted
