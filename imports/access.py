"""Who may move a bank in and out: its approved administrators, and no one else.

Brokers, members, commissioners and people of other banks get 403 on a bank's import and
export pages; an import run of a bank you do not administer is not found (404).
"""

from __future__ import annotations

from uuid import UUID

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from members.access import confine_to_acting_bank, person_for
from members.models import Membership, Person, Role, Status, TimeBank

from .models import ImportRun


def _is_admin(person: Person | None, time_bank: TimeBank | int) -> bool:
    if person is None:
        return False
    return Membership.objects.filter(
        person=person, time_bank=time_bank, status=Status.APPROVED, role=Role.ADMIN
    ).exists()


def get_bank_for_admin(user: object, slug: str) -> tuple[TimeBank, Person]:
    """The time bank ``slug`` and the caller's person, if they are its approved admin."""
    bank = get_object_or_404(TimeBank, slug=slug)
    confine_to_acting_bank(user, bank)
    me = person_for(user)
    if me is None or not _is_admin(me, bank):
        raise PermissionDenied(_("Only an administrator of this time bank can do that."))
    return bank, me


def get_import_for(
    user: object, token: UUID | str, *, write: bool = False
) -> tuple[ImportRun, Person]:
    """An import run and the caller's person, for an admin of its bank; to anyone else it
    does not exist (404). Every admin of the bank may confirm it."""
    run = ImportRun.objects.select_related("time_bank", "created_by").filter(token=token).first()
    me = person_for(user)
    if run is None or me is None or not _is_admin(me, run.time_bank_id):
        raise Http404(_("No such import."))
    confine_to_acting_bank(user, run.time_bank)
    return run, me
