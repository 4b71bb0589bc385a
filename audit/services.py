"""Writing the audit trail. Each service that changes something the trail covers calls
``record`` inside its own transaction, so the event and the change commit together.

Acting for a member: while a broker acts for a member (``members.middleware``), the request
runs inside ``acting_for(broker=..., member=...)``. Every event recorded in it with the
member as actor is written with ``actor`` = the broker and ``on_behalf_of`` = the member, so
no service has to be told, and nothing done in that mode can be attributed to the member
alone. ``record_if_acting`` records actions the trail covers only when done for a member
(publishing a listing, a reply, a profile change).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import models

from members.models import Person, TimeBank

from .models import Action, AuditEvent

# (broker, member, bank id) while a broker acts for a member in this request; None otherwise.
_acting: ContextVar[tuple[Person, Person, int | None] | None] = ContextVar(
    "audit_acting", default=None
)


@contextmanager
def acting_for(
    *, broker: Person, member: Person, time_bank: TimeBank | None = None
) -> Iterator[None]:
    """Within the block, events whose actor is ``member`` are recorded as done by ``broker``
    on the member's behalf, and (``time_bank``) the member acts in that bank only."""
    token = _acting.set((broker, member, time_bank.pk if time_bank is not None else None))
    try:
        yield
    finally:
        _acting.reset(token)


def acting_broker_for(person: Person | None) -> Person | None:
    """The broker acting for ``person`` in this request, if one is."""
    acting = _acting.get()
    if acting is None or person is None or acting[1].pk != person.pk:
        return None
    return acting[0]


def acting_bank_for(person: Person | None) -> int | None:
    """The one bank ``person`` may act in, while a broker acts for them in this request."""
    acting = _acting.get()
    if acting is None or person is None or acting[1].pk != person.pk:
        return None
    return acting[2]


def record(
    *,
    action: Action | str,
    actor: Person | None,
    time_bank: TimeBank | None = None,
    obj: models.Model | None = None,
    on_behalf_of: Person | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event. Precondition: the caller is inside the transaction of the change.

    ``actor`` None means the system did it. ``details`` must hold ids, amounts and states
    only: never free text a person wrote, a password or a token. If a broker is acting for
    ``actor`` (see the module docstring), the broker is recorded as the actor on their behalf.
    """
    broker = acting_broker_for(actor) if on_behalf_of is None else None
    if broker is not None:
        actor, on_behalf_of = broker, actor
    return AuditEvent.objects.create(
        action=Action(action),
        actor=actor,
        time_bank=time_bank,
        on_behalf_of=on_behalf_of,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=obj.pk if obj is not None else None,
        details=details or {},
    )


def record_if_acting(
    *,
    action: Action | str,
    actor: Person,
    time_bank: TimeBank | None = None,
    obj: models.Model | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent | None:
    """Record ``action`` only if a broker is acting for ``actor`` (as the broker, on the
    member's behalf); a member doing it for themself is not audited."""
    if acting_broker_for(actor) is None:
        return None
    return record(action=action, actor=actor, time_bank=time_bank, obj=obj, details=details)
