from django.conf import settings
from django.contrib import admin
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.template import loader
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView


def health(request: HttpRequest) -> HttpResponse:
    """For the load balancer and the container healthcheck: the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok", content_type="text/plain")


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
    path("accounts/", include("allauth.urls")),
    path("api/", include("members.api_urls")),
    path("api/", include("exchanges.api_urls")),
    path("api/", include("reports.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("admin/", admin.site.urls),
]
