"""Offers and requests (listings), the contacts they lead to, and what members can do
(capabilities). Moved out of ``members`` by state only: every table keeps its name
(``Meta.db_table``), so no row moved.

What holds, and what enforces it:
- A listing (offer or request) belongs to exactly one owner: a person or an organisation
  (check constraint ``listing_has_one_owner``).
- A contact (reply, introduction) goes to exactly one recipient, a person or an organisation
  (check constraint ``contact_has_one_recipient``).
- A category's slug is unique; a capability's level is one of three (check constraint).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Self

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import TRADING_ROLES, InBankQuerySet, Membership, Organisation, Person, TimeBank

if TYPE_CHECKING:
    pass


class Category(models.Model):
    """A kind of help (gardening, lifts); shared by every time bank and managed in the admin."""

    name = models.CharField(_("name"), max_length=60, unique=True)
    slug = models.SlugField(_("short name for web addresses"), max_length=60, unique=True)

    class Meta:
        db_table = "members_category"
        ordering = ["name"]
        verbose_name_plural = _("categories")

    def __str__(self) -> str:
        return self.name


class ListingKind(models.TextChoices):
    OFFER = "offer", _("Offer of help")
    REQUEST = "request", _("Request for help")


class ListingState(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")


class ListingQuerySet(InBankQuerySet["Listing"]):
    def open(self) -> Self:
        """Open and not past their expiry date."""
        return self.filter(state=ListingState.OPEN, expires_on__gte=timezone.localdate())

    def open_offers(self) -> Self:
        return self.open().filter(kind=ListingKind.OFFER)

    def open_requests(self) -> Self:
        return self.open().filter(kind=ListingKind.REQUEST)

    def visible_to(self, user: object) -> Self:
        """Listings in the time banks where ``user`` is an approved member, broker or admin."""
        banks = (
            Membership.objects.for_user(user)
            .approved()
            .filter(role__in=TRADING_ROLES)
            .values("time_bank")
        )
        return self.reachable_by(user).filter(time_bank__in=banks)

    def owned_by(self, person: Person) -> Self:
        """Listings of ``person`` and of the organisations they represent."""
        return self.filter(Q(person=person) | Q(organisation__representatives=person)).distinct()

    def search(self, words: str) -> Self:
        """Listings whose title or description contains every word in ``words``."""
        found = self
        for word in words.split():
            found = found.filter(Q(title__icontains=word) | Q(description__icontains=word))
        return found

    def with_owner(self) -> Self:
        """Load what a list shows (owner, organisation, category) in the same query."""
        return self.select_related("person", "organisation", "category", "time_bank")


class Listing(models.Model):
    """An offer of help or a request for help, by a member or an organisation."""

    time_bank = models.ForeignKey(TimeBank, on_delete=models.PROTECT, related_name="listings")
    kind = models.CharField(_("offer or request"), max_length=10, choices=ListingKind.choices)
    person = models.ForeignKey(
        Person, on_delete=models.PROTECT, null=True, blank=True, related_name="listings"
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="listings"
    )
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, related_name="listings", verbose_name=_("category")
    )
    title = models.CharField(
        _("title"), max_length=100, help_text=_("For example: Help with the garden.")
    )
    description = models.TextField(_("more about it"), blank=True, max_length=2000)
    area = models.CharField(
        _("area"),
        max_length=40,
        blank=True,
        help_text=_("For example a postcode district such as GL50."),
    )
    availability = models.CharField(
        _("when"), max_length=120, blank=True, help_text=_("For example: weekday mornings.")
    )
    expires_on = models.DateField(_("show until"))
    state = models.CharField(max_length=10, choices=ListingState.choices, default=ListingState.OPEN)
    # Who typed it: the owner, a representative, or a broker publishing for an offline member.
    created_by = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    closed_at = models.DateTimeField(null=True, blank=True)

    objects = ListingQuerySet.as_manager()

    class Meta:
        db_table = "members_listing"
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(person__isnull=False) & Q(organisation__isnull=True))
                | (Q(person__isnull=True) & Q(organisation__isnull=False)),
                name="listing_has_one_owner",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["offer", "request"]), name="listing_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(state__in=["open", "closed"]), name="listing_state_valid"
            ),
        ]
        indexes = [models.Index(fields=["time_bank", "state", "kind", "expires_on"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.title}"

    @property
    def owner_name(self) -> str:
        return self.person.display_name if self.person else self.organisation.name  # type: ignore[union-attr]

    @property
    def owner_area(self) -> str:
        return self.area or (self.person.area if self.person else self.organisation.area)  # type: ignore[union-attr]

    @property
    def is_open(self) -> bool:
        return self.state == ListingState.OPEN and self.expires_on >= timezone.localdate()


class ContactKind(models.TextChoices):
    REPLY = "reply", _("Reply to a listing")
    INTRODUCTION = "introduction", _("Introduction by a broker")
    ACCEPTED = "accepted", _("Offer or request accepted")


class Contact(models.Model):
    """Two members put in touch: a reply to a listing, or a broker's introduction.

    The monthly "log your hours" reminder reads these rows. ``message`` is kept so the
    owner (or the broker of an offline owner) can read it on the listing page.
    """

    time_bank = models.ForeignKey(TimeBank, on_delete=models.PROTECT, related_name="contacts")
    kind = models.CharField(max_length=20, choices=ContactKind.choices)
    listing = models.ForeignKey(
        Listing, on_delete=models.PROTECT, null=True, blank=True, related_name="contacts"
    )
    from_person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    to_person = models.ForeignKey(
        Person, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    to_organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    message = models.TextField(blank=True, max_length=2000)
    made_by = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        db_table = "members_contact"
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(to_person__isnull=False) & Q(to_organisation__isnull=True))
                | (Q(to_person__isnull=True) & Q(to_organisation__isnull=False)),
                name="contact_has_one_recipient",
            ),
        ]
        indexes = [models.Index(fields=["time_bank", "created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} from {self.from_person_id} ({self.created_at:%Y-%m-%d})"


class CapabilityLevel(models.TextChoices):
    DOES = "does", _("I do this")
    WITH_ENCOURAGEMENT = "encouragement", _("I could with encouragement")
    WILL_SHARE = "share", _("I'm willing to share or teach this")


class Capability(models.Model):
    """What a member can do, from the Needs and Capabilities assessment, in one time bank."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="capabilities")
    time_bank = models.ForeignKey(TimeBank, on_delete=models.CASCADE, related_name="capabilities")
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, related_name="+", verbose_name=_("category")
    )
    description = models.CharField(
        _("what, in your words"), max_length=200, help_text=_("For example: pruning, hedges.")
    )
    level = models.CharField(
        _("how"), max_length=20, choices=CapabilityLevel.choices, default=CapabilityLevel.DOES
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = InBankQuerySet["Capability"].as_manager()

    class Meta:
        db_table = "members_capability"
        ordering = ["category__name", "pk"]
        verbose_name_plural = _("capabilities")
        constraints = [
            models.CheckConstraint(
                condition=Q(level__in=["does", "encouragement", "share"]),
                name="capability_level_valid",
            ),
        ]
        indexes = [models.Index(fields=["time_bank", "person"])]

    def __str__(self) -> str:
        return f"{self.category}: {self.description}"
