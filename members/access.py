"""One access function per object type: load what a user asked for, refuse what they may not touch.

Every view and API endpoint that loads a user-requested object goes through here. Objects
outside the caller's time banks are reported as not found (404), so their existence is not
revealed; objects the caller can see but may not change raise PermissionDenied (403).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from .models import (
    BROKER_ROLES,
    TRADING_ROLES,
    Capability,
    Listing,
    Membership,
    Person,
    Role,
    Status,
    TimeBank,
)


def person_for(user: object) -> Person | None:
    """The profile of a signed-in user, or None if they have not made one yet."""
    if not getattr(user, "is_authenticated", False):
        return None
    return Person.objects.filter(user=user).first()


def get_bank_for_broker(user: object, slug: str) -> tuple[TimeBank, Person]:
    """The time bank ``slug`` and the broker's person, if ``user`` is a broker there."""
    bank = get_object_or_404(TimeBank, slug=slug)
    person = person_for(user)
    if (
        person is None
        or not Membership.objects.filter(
            person=person,
            time_bank=bank,
            status=Status.APPROVED,
            role__in=[Role.BROKER, Role.ADMIN],
        ).exists()
    ):
        raise PermissionDenied(_("Only a broker of this time bank can do that."))
    return bank, person


def get_application_for(user: object, pk: int, *, write: bool = False) -> Membership:
    """A membership application, visible to brokers of its own time bank only.

    A broker of another time bank, a member or a commissioner gets 404: to them it does not
    exist. ``write`` is accepted for symmetry with the other access functions; every broker
    who can see an application may decide it.
    """
    found = (
        Membership.objects.brokered_by(user)
        .select_related("person", "person__user", "time_bank")
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise Http404(_("No such application."))
    return found


def is_broker(person: Person | None, time_bank: TimeBank | int) -> bool:
    """Whether ``person`` is an approved broker or admin of ``time_bank``."""
    if person is None:
        return False
    return Membership.objects.filter(
        person=person, time_bank=time_bank, status=Status.APPROVED, role__in=BROKER_ROLES
    ).exists()


def is_trading_member(person: Person | None, time_bank: TimeBank | int) -> bool:
    """Whether ``person`` is an approved member, broker or admin (not a commissioner) there."""
    if person is None:
        return False
    return Membership.objects.filter(
        person=person, time_bank=time_bank, status=Status.APPROVED, role__in=TRADING_ROLES
    ).exists()


def get_bank_for_member(user: object, slug: str) -> tuple[TimeBank, Person, Membership]:
    """The time bank ``slug``, the caller's person and membership, if they trade there.

    Approved members, brokers and admins pass. Applicants, commissioners (aggregates only)
    and people of other time banks get PermissionDenied; the bank itself is public.
    """
    bank = get_object_or_404(TimeBank, slug=slug)
    person = person_for(user)
    membership = (
        Membership.objects.filter(
            person=person, time_bank=bank, status=Status.APPROVED, role__in=TRADING_ROLES
        ).first()
        if person is not None
        else None
    )
    if person is None or membership is None:
        raise PermissionDenied(_("Only members of this time bank can see this page."))
    return bank, person, membership


def may_edit_listing(person: Person | None, listing: Listing) -> bool:
    """The owner, a representative of the owning organisation, or a broker of the bank."""
    if person is None:
        return False
    if listing.person_id is not None and listing.person_id == person.pk:
        return True
    if (
        listing.organisation_id is not None
        and listing.organisation.representatives.filter(pk=person.pk).exists()  # type: ignore[union-attr]
    ):
        return True
    return is_broker(person, listing.time_bank_id)


def get_listing_for(user: object, pk: int, *, write: bool = False) -> Listing:
    """An offer or request in one of the caller's time banks.

    Outside them (another bank, an applicant, a commissioner) it is 404. With ``write``,
    only its owner, a representative of the owning organisation or a broker of the bank
    passes; other members get 403.
    """
    listing = Listing.objects.visible_to(user).with_owner().filter(pk=pk).first()
    if listing is None:
        raise Http404(_("No such offer or request."))
    if write and not may_edit_listing(person_for(user), listing):
        raise PermissionDenied(_("Only the person who published this can change it."))
    return listing


def get_member_for_broker(user: object, slug: str, person_id: int) -> tuple[Membership, Person]:
    """A person's membership of the bank ``slug`` and the broker's person, for its brokers.

    Non-brokers get 403 (as for the bank's other broker pages); a person who is not in
    that bank is 404.
    """
    bank, broker = get_bank_for_broker(user, slug)
    membership = (
        Membership.objects.filter(time_bank=bank, person_id=person_id)
        .select_related("person", "person__user", "time_bank")
        .first()
    )
    if membership is None:
        raise Http404(_("No such member."))
    return membership, broker


def get_member_for_admin(user: object, slug: str, person_id: int) -> Membership:
    """A person's membership of the bank ``slug``, for that bank's approved admins only.

    Anyone else gets 403 (brokers included: erasure is an admin's decision); a person who is
    not in that bank is 404.
    """
    bank = get_object_or_404(TimeBank, slug=slug)
    me = person_for(user)
    if (
        me is None
        or not Membership.objects.filter(
            person=me, time_bank=bank, status=Status.APPROVED, role=Role.ADMIN
        ).exists()
    ):
        raise PermissionDenied(_("Only an administrator of this time bank can do that."))
    membership = (
        Membership.objects.filter(time_bank=bank, person_id=person_id)
        .select_related("person", "time_bank")
        .first()
    )
    if membership is None:
        raise Http404(_("No such member."))
    return membership


def get_capabilities_owner_for(
    user: object, slug: str, person_id: int | None = None
) -> tuple[Membership, Person]:
    """Whose capabilities the caller may edit in the bank ``slug``, and the caller's person.

    Without ``person_id``: the caller's own (they must trade there). With it: a member's,
    for a broker of that bank (or the member themself).
    """
    bank, me, membership = get_bank_for_member(user, slug)
    if person_id is None or person_id == me.pk:
        return membership, me
    if not membership.is_broker:
        raise PermissionDenied(
            _("Only a broker of this time bank can edit another member's skills.")
        )
    other = (
        Membership.objects.filter(
            time_bank=bank, person_id=person_id, status=Status.APPROVED, role__in=TRADING_ROLES
        )
        .select_related("person", "time_bank")
        .first()
    )
    if other is None:
        raise Http404(_("No such member."))
    return other, me


def get_capability_for(user: object, pk: int, *, write: bool = False) -> Capability:
    """A capability: its own member and the bank's brokers may see and change it; others 404."""
    capability = (
        Capability.objects.select_related("person", "time_bank", "category").filter(pk=pk).first()
    )
    me = person_for(user)
    if capability is None or me is None:
        raise Http404(_("No such entry."))
    if capability.person_id != me.pk and not is_broker(me, capability.time_bank_id):
        raise Http404(_("No such entry."))
    return capability
