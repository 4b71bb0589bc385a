"""Access functions for exchanges and hours accounts: load what the user asked for, or refuse.

Outside the caller's time banks, or not theirs to see: 404 (its existence is not revealed);
so is anything outside the bank a broker acts in while acting for a member (the models'
``reachable_by``). Visible but not theirs to change: 403.
"""

from __future__ import annotations

from django.http import Http404
from django.utils.translation import gettext as _

from ledger.models import Account
from members.access import is_broker, person_for
from members.models import TimeBank

from .models import Exchange


def get_exchange_for(user: object, pk: int, *, write: bool = False) -> Exchange:
    """One exchange the user took part in or brokers. ``write`` is checked by the services,
    which know which action is asked for (confirm, approve, decline, reverse)."""
    found = (
        Exchange.objects.visible_to(user)
        .filter(pk=pk)
        .select_related("time_bank", "journal")
        .first()
    )
    if found is None:
        raise Http404(_("No such exchange."))
    return found


def get_account_for(user: object, time_bank: TimeBank, pk: int) -> Account:
    """An hours account in ``time_bank``: the user's own or an organisation's they represent;
    a broker of the bank may open any account in it (including the community pot). While a
    broker acts for a member, only in the bank acted in."""
    person = person_for(user)
    account = (
        Account.objects.reachable_by(user)
        .filter(pk=pk, time_bank=time_bank)
        .select_related("person", "organisation")
        .first()
    )
    if account is None or person is None:
        raise Http404(_("No such account."))
    mine = account.person_id == person.pk or (
        account.organisation is not None
        and account.organisation.representatives.filter(pk=person.pk).exists()
    )
    if not (mine or is_broker(person, time_bank)):
        raise Http404(_("No such account."))
    return account
