"""One access function per object type, for offers and requests and capabilities: each raises
404 (not there, or not yours to see) or 403 (yours to see, not to change)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _

from members.access import get_bank_for_member, is_broker, person_for
from members.models import TRADING_ROLES, Membership, Person, Status

from .models import Capability, Listing


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
        Capability.objects.reachable_by(user)
        .select_related("person", "time_bank", "category")
        .filter(pk=pk)
        .first()
    )
    me = person_for(user)
    if capability is None or me is None:
        raise Http404(_("No such entry."))
    if capability.person_id != me.pk and not is_broker(me, capability.time_bank_id):
        raise Http404(_("No such entry."))
    return capability
