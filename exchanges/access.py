"""Access functions for exchanges and hours accounts: load what the user asked for, or refuse.

Outside the caller's time banks, or not theirs to see: 404 (its existence is not revealed).
Visible but not theirs to change: 403.
"""

from __future__ import annotations

from django.db.models import Q
from django.http import Http404
from django.utils.translation import gettext as _

from ledger.models import Account
from members.access import is_broker, person_for
from members.models import Membership, Role, TimeBank

from .models import Exchange


def visible_exchanges(user: object):  # type: ignore[no-untyped-def]
    """Exchanges ``user`` may see: those they took part in (for themselves or an organisation
    they represent) and every exchange of the banks they broker."""
    person = person_for(user)
    if person is None:
        return Exchange.objects.none()
    brokered = (
        Membership.objects.for_user(user).approved().filter(role__in=[Role.BROKER, Role.ADMIN])
    )
    mine = Account.objects.filter(Q(person=person) | Q(organisation__representative__person=person))
    return Exchange.objects.filter(
        Q(time_bank__in=brokered.values("time_bank")) | Q(journal__entries__account__in=mine)
    ).distinct()


def get_exchange_for(user: object, pk: int, *, write: bool = False) -> Exchange:
    """One exchange the user took part in or brokers. ``write`` is checked by the services,
    which know which action is asked for (confirm, approve, decline, reverse)."""
    found = visible_exchanges(user).filter(pk=pk).select_related("time_bank", "journal").first()
    if found is None:
        raise Http404(_("No such exchange."))
    return found


def get_account_for(user: object, time_bank: TimeBank, pk: int) -> Account:
    """An hours account in ``time_bank``: the user's own or an organisation's they represent;
    a broker of the bank may open any account in it (including the community pot)."""
    person = person_for(user)
    account = (
        Account.objects.filter(pk=pk, time_bank=time_bank)
        .select_related("person", "organisation")
        .first()
    )
    if account is None or person is None:
        raise Http404(_("No such account."))
    mine = account.person_id == person.pk or (
        account.organisation_id is not None
        and account.organisation.representatives.filter(pk=person.pk).exists()
    )
    if not (mine or is_broker(person, time_bank)):
        raise Http404(_("No such account."))
    return account
