"""Two-factor authentication (allauth MFA) is required of staff before they reach any data.

Staff are brokers and administrators of a time bank, commissioners (by membership or by a grant
in force) and Django's own staff and superusers. Until a staff user has an authenticator app
(TOTP) they may open only allauth's own pages (account, two-factor set-up, sign out) and pages
marked ``open_before_second_factor`` (the health check); what a path is decided by the view
that answers it, never by how its address begins. Static files and ``/favicon.ico`` are served
by WhiteNoise before any of this runs. A page load is redirected to allauth's TOTP set-up with a
plain explanation; anything else the browser fetches by itself (an image, a script's request)
gets a plain 403, never the set-up page; the API answers 403 with a clear message. Plain
members are not forced, but may opt in.

The set-up keeps one secret per set-up (``ActivateTOTPForm``): a stray load of the page never
replaces the secret in the QR code the person has just scanned.

Why a middleware and not the access functions: it covers every page at once (the site, the
API, Django's admin and any page added later), where a check in each access function would
be one more thing a new view could forget. It costs no query of its own: the authentication
backends below load the signed-in user with what the check needs, in the same query.

The API's token authentication has no session for the middleware to see (DRF authenticates
inside the view), so ``TokenAuthentication`` below applies the same rule to tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from allauth.account import auth_backends as allauth_backends
from allauth.mfa.models import Authenticator
from allauth.mfa.totp import forms as totp_forms
from allauth.mfa.totp.internal import auth as totp_auth
from django import forms
from django.contrib import messages
from django.contrib.auth import backends as auth_backends
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import redirect
from django.urls import Resolver404, resolve
from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions

from .models import Membership, Role, Status, User

# Roles that see member data or reports: they must have two-factor authentication.
STAFF_ROLES = (Role.BROKER, Role.ADMIN, Role.COMMISSIONER)
# What a browser fetches as a page (Sec-Fetch-Dest); anything else is an image, a script's
# request and so on, which must never be answered with the set-up page.
PAGE_DESTINATIONS = {"document", "nested-document", "iframe", "frame"}
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
    from members.models import CommissionerGrant

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
    return bool(staff and not user.mfa_enrolled)


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


View = TypeVar("View", bound=Callable[..., Any])


def open_before_second_factor(view: View) -> View:
    """Marks a page that staff without an authenticator app may still load (the health check)."""
    view.open_before_second_factor = True  # type: ignore[attr-defined]
    return view


def is_open_before_second_factor(request: HttpRequest) -> bool:
    """Whether the page at ``request.path_info`` is one un-enrolled staff may load: one of
    allauth's own (signing in and out, the account, the two-factor set-up and its password
    check), or one marked ``open_before_second_factor``. A path no page answers is open too:
    its 404 shows nothing."""
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return True
    view = getattr(match.func, "view_class", match.func)
    if view.__module__.partition(".")[0] == "allauth":
        return True
    return bool(getattr(match.func, "open_before_second_factor", False))


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def is_page_load(request: HttpRequest) -> bool:
    """A page the person asked for, not something the browser fetched by itself. Browsers
    that do not say (no Sec-Fetch-Dest) are taken to be loading a page."""
    return request.headers.get("Sec-Fetch-Dest", "document") in PAGE_DESTINATIONS


class RequireStaffMFAMiddleware:
    """Sends staff without an authenticator app to set one up (after authentication)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not needs_second_factor(request.user) or is_open_before_second_factor(request):
            return self.get_response(request)
        if is_api(request):
            return JsonResponse({"detail": explanation(), "code": "mfa_required"}, status=403)
        if not is_page_load(request):
            return HttpResponseForbidden(explanation(), content_type="text/plain; charset=utf-8")
        messages.info(request, explanation())
        return redirect("mfa_activate_totp")


class ActivateTOTPForm(totp_forms.ActivateTOTPForm):
    """allauth's authenticator set-up form, keeping one secret per set-up.

    allauth makes a new secret whenever the form is shown (every GET of the set-up page), so
    any extra load of the page (a reload, a second tab, the browser's favicon request when it
    was redirected there) replaced the secret of the QR code the person had just scanned, and
    every code they typed was then refused. Here the secret is made on the first load and kept
    in the session until the set-up succeeds (allauth then clears it) or the person signs out.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # allauth's own __init__ without its regenerate-when-shown step.
        self.user = kwargs.pop("user")
        forms.Form.__init__(self, *args, **kwargs)
        self.secret = totp_auth.get_totp_secret(regenerate=False)


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication, refusing staff tokens until two-factor is set up (403)."""

    def authenticate_credentials(self, key: str) -> tuple[object, object]:
        user, token = super().authenticate_credentials(key)
        if needs_second_factor(user):
            raise exceptions.PermissionDenied(explanation(), code="mfa_required")
        return user, token
