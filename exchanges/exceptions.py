"""Refusals of the exchanges domain that are conflicts with what already happened (HTTP 409)."""

from django.utils.translation import gettext as _

from ledger.exceptions import IdempotencyConflict, LedgerError


class AlreadyDecided(LedgerError):
    """The exchange was confirmed, approved, declined or reversed already. ``exchange_state``
    is what it is now (a ``State`` value): the API's 409 says it."""

    http_status = 409

    def __init__(self, state: str, label: str) -> None:
        super().__init__(
            _("This exchange has already been decided: it is %(state)s.") % {"state": label}
        )
        self.exchange_state = state


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


class DecisionKeyReused(IdempotencyConflict):
    """An idempotency key already named another decision (another exchange, action, person
    or reason): a retry must send the same request, and a new decision needs a new key."""

    def __init__(self, key: str, exchange_id: int) -> None:
        LedgerError.__init__(
            self,
            _(
                "The key %(key)s was already used for another decision (on exchange "
                "%(exchange)s); use a new key for a new decision."
            )
            % {"key": repr(key), "exchange": exchange_id},
        )
        self.key = key
        self.journal_id = None
        self.exchange_id = exchange_id
