"""What can go wrong when moving hours, each with a message a broker can read aloud.

Every error is a ``LedgerError``; views and API handlers map the whole family in one place.
"""

from __future__ import annotations

from django.utils.translation import gettext as _


class LedgerError(Exception):
    """Base of every ledger refusal. ``str(error)`` is a plain-English sentence; the API
    answers with ``http_status`` (``timebank.api.exception_handler``)."""

    http_status = 409

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidJournal(LedgerError):
    """The legs are malformed: fewer than two, a zero amount, an account twice."""


class UnbalancedJournal(InvalidJournal):
    """The legs do not add up to zero."""

    def __init__(self, total_minutes: int) -> None:
        super().__init__(
            _("The hours given and received must match, but they differ by %(minutes)s minutes.")
            % {"minutes": total_minutes}
        )
        self.total_minutes = total_minutes


class AccountMismatch(LedgerError):
    """An account belongs to another time bank than the journal."""

    def __init__(self, account_id: int) -> None:
        super().__init__(
            _("Account %(account)s belongs to another time bank.") % {"account": account_id}
        )
        self.account_id = account_id


class InsufficientHours(LedgerError):
    """The payer would go past their credit limit (counting hours held for pending exchanges)."""

    def __init__(self, account_id: int, holder: str, available: int, limit: int) -> None:
        from .models import format_hours

        super().__init__(
            _(
                "%(holder)s does not have enough hours: this would leave %(available)s "
                "available, past the limit of %(limit)s."
            )
            % {"holder": holder, "available": format_hours(available), "limit": format_hours(limit)}
        )
        self.account_id = account_id
        self.available_minutes = available
        self.limit_minutes = limit


# The same refusal under the name brokers use for it.
LimitReached = InsufficientHours


class MaximumBalanceReached(LedgerError):
    """The payee would hold more hours than their maximum balance allows."""

    def __init__(self, account_id: int, holder: str, balance: int, maximum: int) -> None:
        from .models import format_hours

        super().__init__(
            _(
                "%(holder)s cannot receive these hours: that would make %(balance)s, "
                "more than the maximum of %(maximum)s."
            )
            % {"holder": holder, "balance": format_hours(balance), "maximum": format_hours(maximum)}
        )
        self.account_id = account_id
        self.balance_minutes = balance
        self.maximum_minutes = maximum


class LimitsBelowBalance(LedgerError):
    """A new limit would put an account past it at once."""

    def __init__(self, account_id: int, balance: int, limit: int) -> None:
        from .models import format_hours

        super().__init__(
            _("Account %(account)s already stands at %(balance)s, past the new limit of %(limit)s.")
            % {
                "account": account_id,
                "balance": format_hours(balance),
                "limit": format_hours(limit),
            }
        )
        self.account_id = account_id
        self.balance_minutes = balance
        self.limit_minutes = limit


class IdempotencyConflict(LedgerError):
    """An idempotency key was reused with different details."""

    def __init__(self, key: str, journal_id: int) -> None:
        super().__init__(
            _(
                "This exchange was already recorded (journal %(journal)s) with different details; "
                "the key %(key)s cannot be reused for something else."
            )
            % {"journal": journal_id, "key": repr(key)}
        )
        self.key = key
        # None on an exchange's decision key, which names no journal (DecisionKeyReused).
        self.journal_id: int | None = journal_id


class AlreadyResolved(LedgerError):
    """A pending journal was already posted, voided or expired."""

    def __init__(self, journal_id: int, state: str) -> None:
        super().__init__(
            _("Journal %(journal)s has already been decided: it is %(state)s.")
            % {"journal": journal_id, "state": state}
        )
        # None on an exchange's decision key, which names no journal (DecisionKeyReused).
        self.journal_id: int | None = journal_id
        self.state = state


class NotPosted(LedgerError):
    """Only posted journals can be reversed."""

    def __init__(self, journal_id: int, state: str) -> None:
        super().__init__(
            _("Journal %(journal)s is %(state)s, and only posted exchanges can be reversed.")
            % {"journal": journal_id, "state": state}
        )
        # None on an exchange's decision key, which names no journal (DecisionKeyReused).
        self.journal_id: int | None = journal_id
        self.state = state


class AlreadyReversed(LedgerError):
    """A journal can be reversed at most once."""

    def __init__(self, journal_id: int) -> None:
        super().__init__(
            _("Journal %(journal)s has already been reversed.") % {"journal": journal_id}
        )
        # None on an exchange's decision key, which names no journal (DecisionKeyReused).
        self.journal_id: int | None = journal_id


class ReversalNotReversible(LedgerError):
    """A reversal is a correction: it is never reversed itself (record the right exchange)."""

    def __init__(self, journal_id: int) -> None:
        super().__init__(
            _(
                "Journal %(journal)s is itself a correction (the reversal of another): it cannot "
                "be reversed. Record the right exchange instead."
            )
            % {"journal": journal_id}
        )
        # None on an exchange's decision key, which names no journal (DecisionKeyReused).
        self.journal_id: int | None = journal_id
