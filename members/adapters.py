"""allauth's account adapter, where this project differs from the default."""

from __future__ import annotations

import ipaddress
import logging
import time

from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.flows.login import get_authentication_records
from allauth.core import context as allauth_context
from django.contrib.sites.shortcuts import get_current_site
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.core.mail import EmailMultiAlternatives
from django.http import HttpRequest
from django.utils.translation import gettext as _

from .emails import after_commit

logger = logging.getLogger(__name__)


class AccountAdapter(DefaultAccountAdapter):
    def is_reauthentication_required(self, *, app: str, **kwargs: object) -> bool:
        """Whether to ask for the password again before a sensitive change (setting up
        two-factor, changing the email address).

        allauth counts only an explicit re-authentication, so a broker who had just signed in
        was asked for the password she had typed a moment before, on her way to the two-factor
        set-up the site sends staff to. Signing in is as fresh a proof as re-authenticating:
        within allauth's re-authentication timeout of it, nobody is asked again.
        """
        if not super().is_reauthentication_required(app=app, **kwargs):
            return False
        return not self._signed_in_recently()

    def _signed_in_recently(self) -> bool:
        request = self.request
        user = getattr(request, "user", None)
        if request is None or user is None or not user.is_authenticated:
            return False
        now = time.time()
        return any(
            record.get("method") in account_settings.REAUTHENTICATION_METHODS
            and now - record.get("at", 0) < account_settings.REAUTHENTICATION_TIMEOUT
            for record in get_authentication_records(request, user)
        )

    def get_client_ip(self, request: HttpRequest) -> str:
        """The address the sign-in rate limits count (``TRUSTED_PROXY_COUNT`` in settings).

        allauth raises ImproperlyConfigured, a 500, when X-Forwarded-For has fewer entries than
        the trusted proxies: a request that reached us past a proxy, or a count set too high.
        Count it by the connection's own address instead (every entry of such a header may be
        the client's own invention), and log the mismatch.
        """
        try:
            return super().get_client_ip(request)
        except ImproperlyConfigured:
            logger.warning(
                "X-Forwarded-For has fewer entries than TRUSTED_PROXY_COUNT: %r",
                request.headers.get("x-forwarded-for", ""),
            )
            address = request.META.get("REMOTE_ADDR", "")
            try:
                return str(ipaddress.ip_address(address))
            except ValueError:
                raise PermissionDenied(
                    _("We could not tell where this request came from.")
                ) from None

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        """allauth's emails (confirm your address, reset your password) leave through the worker
        too: rendered here, where the request is, and sent by ``members.tasks.send_prepared_email``
        once the request's writes commit, retried while the mail server refuses. So a mail
        server that is down never fails a sign-up that was saved."""
        from .tasks import send_prepared_email

        request = allauth_context.request
        message = self.render_mail(
            template_prefix,
            email,
            {
                "request": request,
                "email": email,
                "current_site": get_current_site(request),
                **context,
            },
        )
        after_commit(send_prepared_email, prepared(message))


def prepared(message: EmailMultiAlternatives) -> dict:
    """A rendered email as plain data a task can carry (the broker speaks JSON)."""
    return {
        "subject": message.subject,
        "body": message.body,
        "from_email": message.from_email,
        "to": list(message.to),
        "headers": dict(message.extra_headers),
        "content_subtype": message.content_subtype,
        "alternatives": [
            [content, mimetype] for content, mimetype in getattr(message, "alternatives", [])
        ],
    }
