"""Emails about exchanges, to the people who took part.

The services call the first four inside their transaction: each queues one task per
recipient (``exchanges.tasks.send_exchange_email``) for after the commit, and the worker sends
it, retrying while the mail server refuses (see ``members.emails``). Offline members (no
login) get none: their broker sees everything on the desk.
"""

from __future__ import annotations

from members.emails import after_commit, send
from members.models import Person

from .models import Exchange, State


def _queue(
    name: str, exchange: Exchange, people: list[Person], *, skip: Person | None = None
) -> None:
    from .tasks import send_exchange_email

    for person in people:
        if person.user_id is not None and (skip is None or person.pk != skip.pk):
            after_commit(send_exchange_email, name, exchange.pk, person.pk)


def please_confirm(exchange: Exchange) -> None:
    person = exchange.awaiting_confirmation_from
    if person is not None:
        _queue("exchange-please-confirm", exchange, [person])


def exchange_completed(exchange: Exchange) -> None:
    _queue("exchange-completed", exchange, exchange.parties())


def exchange_declined(exchange: Exchange) -> None:
    _queue("exchange-declined", exchange, exchange.parties())


def exchange_reversed(exchange: Exchange) -> None:
    _queue("exchange-reversed", exchange, exchange.parties())


def exchange_cancelled(exchange: Exchange, *, skip: Person | None = None) -> None:
    """Nobody declined it: it was cancelled (its reason says why: a member left or was
    suspended, or nobody decided in time). ``skip``: the member it was cancelled for."""
    _queue("exchange-cancelled", exchange, exchange.parties(), skip=skip)


def send_about_exchange(name: str, exchange: Exchange, person: Person) -> bool:
    """Send ``person`` the email ``name`` about ``exchange`` (the worker, after commit).
    "Please confirm" goes only while the exchange still waits for them. Returns whether an
    email went; raises the mail backend's errors, which the task retries."""
    if person.user is None or not person.user.email:
        return False
    if name == "exchange-please-confirm" and (
        exchange.state != State.UNCONFIRMED or exchange.awaiting_confirmation_from_id != person.pk
    ):
        return False
    send(name, to=person.user.email, context={"exchange": exchange, "person": person})
    return True
