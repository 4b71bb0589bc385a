"""Emails about exchanges, sent after commit to the people who took part.

Offline members (no login) get none: their broker sees everything on the desk.
"""

from __future__ import annotations

from members.emails import send
from members.models import Person

from .models import Exchange


def _send_to_parties(
    name: str,
    exchange: Exchange,
    *,
    skip_recorder: bool = False,
    skip: Person | None = None,
) -> None:
    for person in exchange.parties():
        if person.user_id is None or (skip_recorder and person.pk == exchange.recorded_by_id):
            continue
        if skip is not None and person.pk == skip.pk:
            continue
        send(name, to=person.user.email, context={"exchange": exchange, "person": person})


def please_confirm(exchange: Exchange) -> None:
    person = exchange.awaiting_confirmation_from
    if person is not None and person.user_id is not None:
        send(
            "exchange-please-confirm",
            to=person.user.email,
            context={"exchange": exchange, "person": person},
        )


def exchange_completed(exchange: Exchange) -> None:
    _send_to_parties("exchange-completed", exchange)


def exchange_declined(exchange: Exchange) -> None:
    _send_to_parties("exchange-declined", exchange)


def exchange_reversed(exchange: Exchange) -> None:
    _send_to_parties("exchange-reversed", exchange)


def exchange_cancelled(exchange: Exchange, *, skip: Person | None = None) -> None:
    """Nobody declined it: it was cancelled (its reason says why: a member left or was
    suspended, or nobody decided in time). ``skip``: the member it was cancelled for."""
    _send_to_parties("exchange-cancelled", exchange, skip=skip)
