from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, HttpResponseServerError
from django.shortcuts import resolve_url
from django.template import loader
from django.urls import include, path
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from members.mfa import open_before_second_factor


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


def server_error(request: HttpRequest) -> HttpResponse:
    """The 500 page in the site's layout, with the scheme's help contact and no database query
    (the database may be what failed), so it cannot fail in turn."""
    contact = {
        "bank": "",
        "email": settings.HELP_CONTACT_EMAIL,
        "phone": settings.HELP_CONTACT_PHONE,
    }
    html = loader.get_template("500.html").render({"help_contact": contact})
    return HttpResponseServerError(html)


handler500 = server_error

urlpatterns = [
    path("health/", health, name="health"),
    path("", include("members.urls")),
    path("", include("exchanges.urls")),
    path("", include("reminders.urls")),
    path("", include("reports.urls")),
    path("", include("audit.urls")),
    path("", include("imports.urls")),
    path("accounts/", include("allauth.urls")),
    path("api/", include("members.api_urls")),
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
