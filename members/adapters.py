"""allauth's account adapter, where this project differs from the default."""

from __future__ import annotations

import ipaddress
import logging

from allauth.account.adapter import DefaultAccountAdapter
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpRequest
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)


class AccountAdapter(DefaultAccountAdapter):
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
