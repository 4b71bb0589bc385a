"""One access function per object type of ``interbank``, as ``members.access``: outside the
caller's reach it is 404; reachable but not theirs to change, 403."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from exchanges.models import Exchange
from members.access import confine_to_acting_bank, person_for
from members.models import Membership, Person, Role, Status, TimeBank

from .models import CrossBankExchange, Link


def get_bank_for_admin(user: object, slug: str) -> tuple[TimeBank, Person]:
    """The time bank ``slug`` and the caller, if they are an approved administrator there."""
    bank = get_object_or_404(TimeBank, slug=slug)
    confine_to_acting_bank(user, bank)
    person = person_for(user)
    if (
        person is None
        or not Membership.objects.filter(
            person=person, time_bank=bank, status=Status.APPROVED, role=Role.ADMIN
        ).exists()
    ):
        raise PermissionDenied(_("Only an administrator of this time bank can do that."))
    return bank, person


def get_link_for_admin(user: object, pk: int) -> tuple[Link, Person]:
    """A link, for the administrators of either of its banks; 404 to anyone else."""
    person = person_for(user)
    administered = Membership.objects.filter(
        person=person, status=Status.APPROVED, role=Role.ADMIN
    ).values("time_bank")
    link = (
        Link.objects.filter(pk=pk)
        .filter(Q(proposer__in=administered) | Q(partner__in=administered))
        .select_related("proposer", "partner")
        .first()
        if person is not None
        else None
    )
    if link is None or person is None:
        raise Http404(_("No such link."))
    bank_id = getattr(user, "acting_bank_id", None)
    if bank_id is not None and bank_id not in {link.proposer_id, link.partner_id}:
        raise Http404(_("No such link."))
    return link, person


def get_cross_for(user: object, pk: int) -> tuple[CrossBankExchange, Exchange]:
    """The exchange across banks one of whose halves is the exchange ``pk``, and that half,
    if the caller may see that half (``Exchange.objects.visible_to``: its members, the
    brokers of its bank); 404 otherwise."""
    half = (
        Exchange.objects.visible_to(user)
        .filter(pk=pk, between_banks=True)
        .select_related("time_bank")
        .first()
    )
    if half is None:
        raise Http404(_("No such exchange."))
    cross = (
        CrossBankExchange.objects.select_related(
            "link",
            "giving__time_bank",
            "receiving__time_bank",
            "giving__giver__person",
            "receiving__receiver__person",
            "giving__recorded_by",
        )
        .filter(giving_id=pk)
        .first()
        or CrossBankExchange.objects.select_related(
            "link",
            "giving__time_bank",
            "receiving__time_bank",
            "giving__giver__person",
            "receiving__receiver__person",
            "giving__recorded_by",
        )
        .filter(receiving_id=pk)
        .first()
    )
    if cross is None:
        raise Http404(_("No such exchange."))
    return cross, half
