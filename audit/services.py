"""Writing the audit trail. Each service that changes something the trail covers calls
``record`` inside its own transaction, so the event and the change commit together."""

from __future__ import annotations

from typing import Any

from django.db import models

from members.models import Person, TimeBank

from .models import Action, AuditEvent


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
    only: never free text a person wrote, a password or a token.
    """
    return AuditEvent.objects.create(
        action=Action(action),
        actor=actor,
        time_bank=time_bank,
        on_behalf_of=on_behalf_of,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=obj.pk if obj is not None else None,
        details=details or {},
    )
