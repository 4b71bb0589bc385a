"""Two-factor authentication (allauth MFA) is required of staff before they reach any data.

Staff are brokers and administrators of a time bank, commissioners (by membership or by a grant
in force) and Django's own staff and superusers. Until a staff user has an authenticator app
(TOTP) they may open only their account and two-factor pages, sign out, static files and the
health check: a web page redirects them to allauth's TOTP set-up with a plain explanation, and
the API answers 403 with a clear message. Plain members are not forced, but may opt in.

Why a middleware and not the access functions: it covers every page at once (the site, the
API, Django's admin and any page added later), where a check in each access function would
be one more thing a new view could forget. It costs no query of its own: the authentication
backends below load the signed-in user with what the check needs, in the same query.

The API's token authentication has no session for the middleware to see (DRF authenticates
inside the view), so ``TokenAuthentication`` below applies the same rule to tokens.
"""

from __future__ import annotations

from collections.abc import Callable

from allauth.account import auth_backends as allauth_backends
from allauth.mfa.models import Authenticator
from django.contrib import messages
from django.contrib.auth import backends as auth_backends
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions

from .models import Membership, Role, Status, User

# Roles that see member data or reports: they must have two-factor authentication.
STAFF_ROLES = (Role.BROKER, Role.ADMIN, Role.COMMISSIONER)
# Paths an un-enrolled staff user may still open: allauth's account and two-factor pages
# (set-up, sign-out, password, re-authentication), static files and the health check.
ALLOWED_PREFIXES = ("/accounts/", "/static/", "/health/")
# Authenticator types that are a second factor on their own (recovery codes are a fallback).
SECOND_FACTORS = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)


def explanation() -> str:
    return _(
        "You help run a time bank, so you can see other people's details. To keep them safe, "
        "please set up an authenticator app on your phone before you continue. You will then "
        "type a six-digit code from the app each time you sign in."
    )


def with_second_factor_flags(users: QuerySet[User]) -> QuerySet[User]:
    """``users`` annotated with what ``needs_second_factor`` reads, so it costs no query."""
    from reports.models import CommissionerGrant

    return users.annotate(
        mfa_staff_role=Exists(
            Membership.objects.filter(
                person__user=OuterRef("pk"), status=Status.APPROVED, role__in=STAFF_ROLES
            )
        ),
        mfa_grant=Exists(CommissionerGrant.objects.in_force().filter(person__user=OuterRef("pk"))),
        mfa_enrolled=Exists(
            Authenticator.objects.filter(user=OuterRef("pk"), type__in=SECOND_FACTORS)
        ),
    )


def needs_second_factor(user: object) -> bool:
    """Whether ``user`` is staff without an authenticator app.

    False for anonymous users, plain members, applicants and enrolled staff. Reads the flags
    of ``with_second_factor_flags`` when the user was loaded with them, else queries once.
    """
    if not getattr(user, "is_authenticated", False):
        return False
    if not hasattr(user, "mfa_enrolled"):
        user = with_second_factor_flags(User.objects.filter(pk=user.pk)).get()  # type: ignore[attr-defined]
    staff = user.is_staff or user.is_superuser or user.mfa_staff_role or user.mfa_grant  # type: ignore[attr-defined]
    return bool(staff and not user.mfa_enrolled)  # type: ignore[attr-defined]


class LoadsSecondFactorFlags:
    """For authentication backends: the user of each request comes with its two-factor flags."""

    def get_user(self, user_id: int) -> User | None:
        # With the person, which nearly every page reads next (``members.access``).
        users = User._default_manager.filter(pk=user_id).select_related("person")
        user = with_second_factor_flags(users).first()
        return user if user is not None and self.user_can_authenticate(user) else None  # type: ignore[attr-defined]


class ModelBackend(LoadsSecondFactorFlags, auth_backends.ModelBackend):
    """Django's backend (used by ``force_login`` and the admin), loading the flags."""


class AllauthBackend(LoadsSecondFactorFlags, allauth_backends.AuthenticationBackend):
    """allauth's backend (sign-in by email), loading the flags."""


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


class RequireStaffMFAMiddleware:
    """Sends staff without an authenticator app to set one up (after authentication)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(ALLOWED_PREFIXES) or not needs_second_factor(request.user):
            return self.get_response(request)
        if is_api(request):
            return JsonResponse({"detail": explanation(), "code": "mfa_required"}, status=403)
        messages.info(request, explanation())
        return redirect("mfa_activate_totp")


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication, refusing staff tokens until two-factor is set up (403)."""

    def authenticate_credentials(self, key: str) -> tuple[object, object]:
        user, token = super().authenticate_credentials(key)
        if needs_second_factor(user):
            raise exceptions.PermissionDenied(explanation(), code="mfa_required")
        return user, token
