"""Helpers for the offers-and-requests tests: listings built the way the service builds them."""

from __future__ import annotations

from typing import Any

from rest_framework.test import APIClient

from listings import services as listings
from listings.models import Capability, Category, Listing
from members.models import Person, TimeBank


def category(slug: str) -> Category:
    """A category seeded by the data migration."""
    return Category.objects.get(slug=slug)


def make_listing(
    bank: TimeBank,
    owner: Person,
    title: str = "Help with the garden",
    *,
    kind: str = "offer",
    category_slug: str = "gardening",
    description: str = "",
    area: str = "",
    author: Person | None = None,
    **owner_kwargs: Any,
) -> Listing:
    return listings.publish_listing(
        author=author or owner,
        time_bank=bank,
        details=listings.ListingDetails(
            kind=kind,
            category=category(category_slug),
            title=title,
            description=description,
            area=area,
        ),
        for_person=owner,
        **owner_kwargs,
    )


def make_capability(
    bank: TimeBank, person: Person, description: str, *, category_slug: str, level: str = "does"
) -> Capability:
    return Capability.objects.create(
        time_bank=bank,
        person=person,
        category=category(category_slug),
        description=description,
        level=level,
    )


def api_client_for(person: Person | None) -> APIClient:
    client = APIClient()
    if person is not None:
        client.force_authenticate(person.user)
    return client
