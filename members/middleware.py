"""Acting for a member: the session names the member; every request re-checks it.

A broker who starts acting for a member (``members.views.start_acting``) leaves the member's
id and bank in the session. On each request this middleware asks the one access function
(``members.access.get_acting_for``) whether the broker may still act for them. If so, the
request runs as the member (``user.acting_for``: ``person_for`` and ``for_user`` answer with
the member) and every audit event the member would have been the actor of names the broker
as actor on the member's behalf. If not (the broker lost the role, the member left), acting
stops, and the stop is audited.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from audit import services as audit

from . import services
from .access import acting_elsewhere, get_acting_for, own_person_for

SESSION_KEY = "acting_for"


class ActingForMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.acting = None  # type: ignore[attr-defined]
        held = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
        if not held:
            return self.get_response(request)
        if not request.user.is_authenticated:
            request.session.pop(SESSION_KEY, None)
            return self.get_response(request)
        try:
            acting = get_acting_for(
                request.user, time_bank_id=int(held["bank"]), person_id=int(held["person"])
            )
        except (PermissionDenied, KeyError, TypeError, ValueError):
            request.session.pop(SESSION_KEY, None)
            broker = own_person_for(request.user)
            if broker is not None and isinstance(held, dict):
                services.stop_acting_automatically(broker=broker, held=held)
            messages.warning(request, _("You are no longer acting for that member."))
            return self.get_response(request)
        request.acting = acting  # type: ignore[attr-defined]
        # Set on this request's user only, read by ``members.access.person_for`` and the
        # querysets' ``reachable_by``: not fields of the model, so the stubs do not know them.
        request.user.acting_for = acting.member  # type: ignore[attr-defined]
        request.user.acting_bank_id = acting.time_bank.pk  # type: ignore[attr-defined]
        with audit.acting_for(
            broker=acting.broker, member=acting.member, time_bank=acting.time_bank
        ):
            return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., HttpResponse],
        view_args: tuple,
        view_kwargs: dict,
    ) -> None:
        """While acting, another time bank's pages (``banks/<slug>/...``) answer 403."""
        acting = getattr(request, "acting", None)
        slug = view_kwargs.get("slug")
        if acting is not None and slug is not None and slug != acting.time_bank.slug:
            raise acting_elsewhere(acting.member, acting.time_bank)
