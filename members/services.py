"""Every write in the members domain: applying, deciding applications, offline members.

Each function is atomic; emails are sent after the transaction commits.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from ledger import services as ledger

from . import emails
from .models import Membership, Person, Role, Status, TimeBank, User


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
        raise ValidationError({"agrees_to_code": "Please agree to the code of conduct to apply."})
    if not time_bank.accepting_applications:
        raise ValidationError(f"{time_bank.name} is not taking applications at the moment.")
    person = Person.objects.select_for_update().filter(user=user).first()
    if person is None:
        person = Person(user=user, created_by=user)
    _save_profile(person, profile)
    if Membership.objects.filter(person=person, time_bank=time_bank).exists():
        raise ValidationError(f"You have already applied to {time_bank.name}.")
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
        raise ValidationError(f"You have already applied to {time_bank.name}.") from None


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
        raise PermissionDenied("Only a broker of this time bank can decide its applications.")
    if locked.status != Status.APPLIED:
        raise ValidationError(
            f"This application has already been decided ({locked.get_status_display().lower()})."
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
    transaction.on_commit(lambda: emails.application_approved(locked))
    return locked


@transaction.atomic
def decline_membership(*, membership: Membership, broker: Person, reason: str) -> Membership:
    """A broker declines an application with a reason the applicant will read."""
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Please give a reason: the applicant will read it."})
    locked = _lock_application(membership, broker)
    locked.status = Status.DECLINED
    locked.decided_by = broker
    locked.decided_at = timezone.now()
    locked.decline_reason = reason
    locked.save(update_fields=["status", "decided_by", "decided_at", "decline_reason"])
    transaction.on_commit(lambda: emails.application_declined(locked))
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
        raise PermissionDenied("Only a broker of this time bank can add members.")
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
    return membership
