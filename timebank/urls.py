import logging
import sys

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError, connection
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    HttpResponseServerError,
    JsonResponse,
)
from django.shortcuts import resolve_url
from django.template import loader
from django.urls import include, path
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views import defaults
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from members.mfa import open_before_second_factor

logger = logging.getLogger(__name__)

# How long a client should wait before retrying while the database is unavailable.
RETRY_AFTER_SECONDS = 5


@open_before_second_factor
def health(request: HttpRequest) -> HttpResponse:
    """For the load balancer and the container healthcheck: the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok", content_type="text/plain")


def admin_login(request: HttpRequest) -> HttpResponse:
    """Django admin's sign-in goes through allauth's, so it always asks for the second factor.

    Admin's own form would sign a superuser in with a password alone. Signed-in staff go on
    to where they were going; a signed-in user who is not staff is refused (sending them to
    sign in again would loop between the two pages).
    """
    target = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = ""
    target = target or resolve_url("admin:index")
    if request.user.is_authenticated:
        if not request.user.is_staff:
            raise PermissionDenied(_("Only site staff can use the admin."))
        return HttpResponseRedirect(target)
    login = resolve_url("account_login")
    return HttpResponseRedirect(f"{login}?{urlencode({'next': target})}")


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404: the API answers JSON, as its schema says (a path no route matches, such as an id
    that is not a number, ends here); the site answers its page."""
    if _is_api(request):
        return JsonResponse({"detail": _("Not found.")}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """The 500 page in the site's layout, with the scheme's help contact and no database query
    (the database may be what failed), so it cannot fail in turn.

    A database that cannot be reached, or that restarted under the request (its connection
    lost, a crash recovery), is 503 with ``Retry-After``: the request may be tried again, and
    a retry with the same idempotency key is safe. The API answers JSON."""
    error = sys.exc_info()[1]
    unavailable = isinstance(error, OperationalError | InterfaceError)
    status = 503 if unavailable else 500
    if _is_api(request):
        detail = (
            _("The service is briefly unavailable: please try again.")
            if unavailable
            else _("Server error.")
        )
        response: HttpResponse = JsonResponse({"detail": detail}, status=status)
    else:
        contact = {
            "bank": "",
            "email": settings.HELP_CONTACT_EMAIL,
            "phone": settings.HELP_CONTACT_PHONE,
        }
        html = loader.get_template("500.html").render({"help_contact": contact})
        response = HttpResponseServerError(html, status=status)
    if unavailable:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


handler404 = not_found
handler500 = server_error

urlpatterns = [
    path("health/", health, name="health"),
    path("", include("members.urls")),
    path("", include("listings.urls")),
    path("", include("safeguarding.urls")),
    path("", include("exchanges.urls")),
    path("", include("desk.urls")),
    path("", include("interbank.urls")),
    path("", include("reminders.urls")),
    path("", include("reports.urls")),
    path("", include("audit.urls")),
    path("", include("imports.urls")),
    path("", include("privacy.urls")),
    path("accounts/", include("allauth.urls")),
    path("api/", include("members.api_urls")),
    path("api/", include("listings.api_urls")),
    path("api/", include("exchanges.api_urls")),
    path("api/", include("reports.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file, so the page needs no inline script
    # (the content security policy allows none).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    # Before admin's own URLs, so it replaces admin's password-only sign-in form.
    path("admin/login/", admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
]
