"""make_* helpers: rows built the way the services build them, with sensible defaults."""

from __future__ import annotations

import itertools
import time
from datetime import timedelta
from typing import Any

from django.utils import timezone

from members.models import (
    Membership,
    Organisation,
    Person,
    Representative,
    Role,
    Status,
    TimeBank,
    User,
)

_seq = itertools.count(1)
PASSWORD = "a-long-test-password-42"
# Roles that must have two-factor authentication (members/mfa.py); make_member enrols them.
STAFF_ROLES = (Role.BROKER, Role.ADMIN, Role.COMMISSIONER)


def make_bank(*, name: str | None = None, slug: str | None = None, **fields: object) -> TimeBank:
    n = next(_seq)
    return TimeBank.objects.create(
        name=name or f"Time bank {n}", slug=slug or f"bank-{n}", **fields
    )


def make_user(email: str | None = None, *, verified: bool = True) -> User:
    from allauth.account.models import EmailAddress

    email = email or f"user{next(_seq)}@example.org"
    user = User.objects.create_user(email=email, password=PASSWORD)
    EmailAddress.objects.create(user=user, email=email, verified=verified, primary=True)
    return user


def enrol_in_mfa(user: User, secret: str | None = None) -> str:
    """Give ``user`` an authenticator app and recovery codes, through allauth's own API.

    Returns the TOTP secret, from which a test computes codes (``totp_code``).
    """
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    secret = secret or generate_totp_secret()
    TOTP.activate(user, secret)
    RecoveryCodes.activate(user)
    return secret


def totp_code(secret: str, *, at: float | None = None) -> str:
    """The six-digit code an authenticator app shows for ``secret`` now (or at ``at``)."""
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
    from django.conf import settings

    period = getattr(settings, "MFA_TOTP_PERIOD", 30)
    return format_hotp_value(
        hotp_value(secret, int(at if at is not None else time.time()) // period)
    )


def make_person(
    display_name: str, *, email: str | None = None, offline: bool = False, **fields: Any
) -> Person:
    user = (
        None
        if offline
        else make_user(email or f"{display_name.lower().replace(' ', '.')}@example.org")
    )
    return Person.objects.create(user=user, display_name=display_name, **fields)


def make_member(
    bank: TimeBank,
    display_name: str,
    *,
    role: str = Role.MEMBER,
    status: str = Status.APPROVED,
    offline: bool = False,
    mfa: bool | None = None,
    **fields: Any,
) -> Person:
    """A member of ``bank``. Staff (``STAFF_ROLES``) get two-factor authentication unless
    ``mfa=False``, as they must have it to open any page; others only with ``mfa=True``."""
    person = make_person(display_name, offline=offline, **fields)
    if person.user is not None and (mfa if mfa is not None else role in STAFF_ROLES):
        enrol_in_mfa(person.user)
    decided = status != Status.APPLIED
    # The cast joined a year ago, so tests can record help on earlier dates.
    joined = timezone.now() - timedelta(days=365)
    Membership.objects.create(
        person=person,
        time_bank=bank,
        role=role,
        status=status,
        referee_1_name="Ref One",
        referee_1_contact="01234 567890",
        referee_2_name="Ref Two",
        referee_2_contact="ref2@example.org",
        applied_at=joined,
        agreed_code_of_conduct_at=joined,
        decided_at=joined if decided else None,
        decline_reason="Not a fit" if status == Status.DECLINED else "",
        left_at=joined if status == Status.LEFT else None,
    )
    return person


def make_organisation(
    bank: TimeBank, name: str, *, representative: Person | None = None
) -> Organisation:
    org = Organisation.objects.create(time_bank=bank, name=name, kind="Charity")
    if representative is not None:
        Representative.objects.create(organisation=org, person=representative)
    return org
