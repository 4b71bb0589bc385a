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


class PastLimit(LedgerError):
    """An exchange would take an account past its credit limit or maximum balance.

    The message is for the person recording it (``exchanges.services.explain_limit``): their own
    figures, or for a broker the account's; never another member's. It always says what to do
    next. ``may_record_for_approval``: the reader is a broker, who may record it anyway for a
    broker to approve (``record_exchange(..., past_limit=True)``).
    """

    http_status = 409

    def __init__(self, message: str, *, account_id: int, may_record_for_approval: bool) -> None:
        super().__init__(message)
        self.account_id = account_id
        self.may_record_for_approval = may_record_for_approval
