"""What can go wrong when moving hours, each with a message a broker can read aloud.

Every error is a ``LedgerError``; views and API handlers map the whole family in one place.
"""

from __future__ import annotations


class LedgerError(Exception):
    """Base of every ledger refusal. ``str(error)`` is a plain-English sentence."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidJournal(LedgerError):
    """The legs are malformed: fewer than two, a zero amount, an account twice."""


class UnbalancedJournal(InvalidJournal):
    """The legs do not add up to zero."""

    def __init__(self, total_minutes: int) -> None:
        super().__init__(
            f"The hours given and received must match, but they differ by {total_minutes} minutes."
        )
        self.total_minutes = total_minutes


class AccountMismatch(LedgerError):
    """An account belongs to another time bank than the journal."""

    def __init__(self, account_id: int) -> None:
        super().__init__(f"Account {account_id} belongs to another time bank.")
        self.account_id = account_id


class InsufficientHours(LedgerError):
    """The payer would go past their credit limit (counting hours held for pending exchanges)."""

    def __init__(self, account_id: int, holder: str, available: int, limit: int) -> None:
        from .models import format_hours

        super().__init__(
            f"{holder} does not have enough hours: this would leave {format_hours(available)} "
            f"available, past the limit of {format_hours(limit)}."
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
            f"{holder} cannot receive these hours: that would make {format_hours(balance)}, "
            f"more than the maximum of {format_hours(maximum)}."
        )
        self.account_id = account_id
        self.balance_minutes = balance
        self.maximum_minutes = maximum


class LimitsBelowBalance(LedgerError):
    """A new limit would put an account past it at once."""

    def __init__(self, account_id: int, balance: int, limit: int) -> None:
        from .models import format_hours

        super().__init__(
            f"Account {account_id} already stands at {format_hours(balance)}, past the new "
            f"limit of {format_hours(limit)}."
        )
        self.account_id = account_id
        self.balance_minutes = balance
        self.limit_minutes = limit


class IdempotencyConflict(LedgerError):
    """An idempotency key was reused with different details."""

    def __init__(self, key: str, journal_id: int) -> None:
        super().__init__(
            f"This exchange was already recorded (journal {journal_id}) with different details; "
            f"the key {key!r} cannot be reused for something else."
        )
        self.key = key
        self.journal_id = journal_id


class AlreadyResolved(LedgerError):
    """A pending journal was already posted, voided or expired."""

    def __init__(self, journal_id: int, state: str) -> None:
        super().__init__(f"Journal {journal_id} has already been decided: it is {state}.")
        self.journal_id = journal_id
        self.state = state


class NotPosted(LedgerError):
    """Only posted journals can be reversed."""

    def __init__(self, journal_id: int, state: str) -> None:
        super().__init__(
            f"Journal {journal_id} is {state}, and only posted exchanges can be reversed."
        )
        self.journal_id = journal_id
        self.state = state


class AlreadyReversed(LedgerError):
    """A journal can be reversed at most once."""

    def __init__(self, journal_id: int) -> None:
        super().__init__(f"Journal {journal_id} has already been reversed.")
        self.journal_id = journal_id
