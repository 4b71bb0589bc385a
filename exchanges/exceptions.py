"""Refusals of the exchanges domain that are conflicts with what already happened (HTTP 409)."""

from django.utils.translation import gettext as _

from ledger.exceptions import LedgerError


class AlreadyDecided(LedgerError):
    """The exchange was confirmed, approved, declined or reversed already."""

    http_status = 409

    def __init__(self, state_label: str) -> None:
        super().__init__(
            _("This exchange has already been decided: it is %(state)s.") % {"state": state_label}
        )
