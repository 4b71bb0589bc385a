"""One access function per object type: load what a user asked for, refuse what they may not touch.

Every view and API endpoint that loads a user-requested object goes through here. Objects
outside the caller's time banks are reported as not found (404), so their existence is not
revealed; objects the caller can see but may not change raise PermissionDenied (403).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404

from .models import Membership, Person, Role, Status, TimeBank


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
        raise PermissionDenied("Only a broker of this time bank can do that.")
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
        raise Http404("No such application.")
    return found
