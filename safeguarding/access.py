"""Access to safeguarding checks: the bank's safeguarding lead only."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from members.access import confine_to_acting_bank, is_safeguarding_lead, person_for
from members.models import Membership, Person, TimeBank

from .models import SafeguardingRecord


def get_safeguarding_member_for(
    user: object, slug: str, person_id: int
) -> tuple[Membership, Person]:
    """A person's membership of ``slug`` and the caller's person, for the bank's safeguarding
    leads only. Everyone else (brokers who are not the lead, admins, commissioners, members)
    gets 403; a person not in the bank is 404."""
    bank = get_object_or_404(TimeBank, slug=slug)
    confine_to_acting_bank(user, bank)
    me = person_for(user)
    if not is_safeguarding_lead(me, bank):
        raise PermissionDenied(_("Only the safeguarding lead of this time bank can see this."))
    assert me is not None
    membership = (
        Membership.objects.filter(time_bank=bank, person_id=person_id)
        .select_related("person", "time_bank")
        .first()
    )
    if membership is None:
        raise Http404(_("No such member."))
    return membership, me


def get_safeguarding_record_for(
    user: object, pk: int, *, write: bool = False
) -> tuple[SafeguardingRecord, Person]:
    """A safeguarding check and the caller's person, for its bank's safeguarding leads; to
    anyone else it does not exist (404). Every lead who can see it may change it."""
    me = person_for(user)
    record = (
        SafeguardingRecord.objects.reachable_by(user)
        .select_related("time_bank", "person", "recorded_by")
        .filter(pk=pk)
        .first()
    )
    if record is None or not is_safeguarding_lead(me, record.time_bank_id):
        raise Http404(_("No such record."))
    assert me is not None
    return record, me
