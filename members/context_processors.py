from django.http import HttpRequest

from .models import Membership


def memberships(request: HttpRequest) -> dict:
    """The signed-in person's memberships, for the navigation (one query, evaluated lazily)."""
    return {
        "my_memberships": Membership.objects.for_user(request.user).select_related("time_bank"),
    }
