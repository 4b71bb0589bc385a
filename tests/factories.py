"""make_* helpers: rows built the way the services build them, with sensible defaults."""

from __future__ import annotations

import itertools
from datetime import timedelta

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


def make_person(
    display_name: str, *, email: str | None = None, offline: bool = False, **fields: object
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
    **fields: object,
) -> Person:
    person = make_person(display_name, offline=offline, **fields)
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
