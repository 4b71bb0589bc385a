"""Time banks, people, memberships and organisations.

What holds, and what enforces it:
- A person belongs to a time bank at most once (unique constraint on membership).
- A person may have no login: an offline member, whose broker acts for them (``Person.user`` null).
- An approved or declined membership records who decided and when (check constraint).
- A user has at most one person (one-to-one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django.db.models import QuerySet


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra: object) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A login. People sign in with their email address; there are no usernames."""

    username = None  # type: ignore[assignment]
    first_name = None  # type: ignore[assignment]
    last_name = None  # type: ignore[assignment]
    email = models.EmailField(_("email address"), unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()  # type: ignore[misc]

    def __str__(self) -> str:
        return self.email


class ApprovalRule(models.TextChoices):
    NONE = "none", _("No exchange needs a broker's approval")
    ALL = "all", _("Every exchange needs a broker's approval")
    OVER_HOURS = "over_hours", _("Exchanges over a number of hours need approval")
    NEWCOMERS = "newcomers", _("Exchanges of members in their first few exchanges need approval")


class LimitRule(models.TextChoices):
    BLOCK = "block", _("Refuse an exchange that would take a member past their limit")
    FLAG = "flag", _("Allow it, and flag the account to the broker")


class GroupRemainderRule(models.TextChoices):
    POT = "pot", _("The community pot makes up or keeps the difference")
    NONE = "none", _("Group exchanges must balance exactly")


class TimeBank(models.Model):
    """One time bank: its name, address on the site, and the policies its brokers set."""

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("short name for web addresses"), max_length=60, unique=True)
    description = models.TextField(_("about this time bank"), blank=True, max_length=2000)
    area = models.CharField(_("area served"), max_length=120, blank=True)
    contact_email = models.EmailField(_("contact email"), blank=True)
    code_of_conduct = models.TextField(_("code of conduct"), blank=True, max_length=10000)
    accepting_applications = models.BooleanField(_("accepting applications"), default=True)
    # Policy: how far below zero a new account may go, in minutes (-600 = -10 hours).
    default_credit_limit_minutes = models.IntegerField(
        _("default credit limit (minutes)"),
        default=-600,
        help_text=_("How far into debt a member may go, e.g. -600 for -10 hours."),
    )
    limit_rule = models.CharField(
        _("when a member reaches their limit"),
        max_length=10,
        choices=LimitRule.choices,
        default=LimitRule.BLOCK,
    )
    # Exchanges: confirmation by the other party, and when a broker must approve.
    confirmation_required = models.BooleanField(
        _("the other party confirms each exchange"), default=True
    )
    auto_confirm_days = models.PositiveSmallIntegerField(
        _("confirm automatically after this many days"), default=14
    )
    approval_rule = models.CharField(
        _("when a broker approves exchanges"),
        max_length=12,
        choices=ApprovalRule.choices,
        default=ApprovalRule.NONE,
    )
    approval_over_minutes = models.PositiveIntegerField(
        _("approval needed above (minutes)"),
        default=480,
        help_text=_("With the 'over a number of hours' rule."),
    )
    approval_first_exchanges = models.PositiveSmallIntegerField(
        _("approval needed for a member's first N exchanges"), default=3
    )
    max_exchange_minutes = models.PositiveIntegerField(
        _("most hours in one exchange (minutes)"), default=24 * 60
    )
    group_remainder_rule = models.CharField(
        _("in a group exchange, the difference"),
        max_length=10,
        choices=GroupRemainderRule.choices,
        default=GroupRemainderRule.POT,
    )
    listing_months = models.PositiveSmallIntegerField(
        _("offers and requests last (months)"), default=3
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(default_credit_limit_minutes__lte=0),
                name="timebank_credit_limit_not_positive",
            ),
            models.CheckConstraint(
                condition=Q(max_exchange_minutes__gte=15),
                name="timebank_max_exchange_at_least_a_quarter_hour",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ContactPreference(models.TextChoices):
    EMAIL = "email", _("Email")
    PHONE = "phone", _("Phone")
    BROKER = "broker", _("Through my broker")


class Person(models.Model):
    """A member's profile. ``user`` is empty for an offline member, whom a broker acts for."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="person",
    )
    display_name = models.CharField(_("name shown to other members"), max_length=80)
    bio = models.TextField(_("a little about you"), blank=True, max_length=1000)
    area = models.CharField(
        _("area"),
        max_length=40,
        blank=True,
        help_text=_("For example a postcode district such as GL50."),
    )
    phone = models.CharField(_("phone (optional)"), max_length=30, blank=True)
    contact_preference = models.CharField(
        _("how you like to be contacted"),
        max_length=10,
        choices=ContactPreference.choices,
        default=ContactPreference.EMAIL,
    )
    share_phone = models.BooleanField(
        _("show my phone number to members I exchange with"), default=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["display_name"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def is_offline(self) -> bool:
        return self.user_id is None


class Role(models.TextChoices):
    MEMBER = "member", _("Member")
    BROKER = "broker", _("Broker")
    COMMISSIONER = "commissioner", _("Commissioner")
    ADMIN = "admin", _("Administrator")


class Status(models.TextChoices):
    APPLIED = "applied", _("Applied")
    APPROVED = "approved", _("Approved")
    DECLINED = "declined", _("Declined")
    SUSPENDED = "suspended", _("Suspended")
    LEFT = "left", _("Left")


class MembershipQuerySet(models.QuerySet["Membership"]):
    def approved(self) -> QuerySet[Membership]:
        return self.filter(status=Status.APPROVED)

    def awaiting_decision(self) -> QuerySet[Membership]:
        return self.filter(status=Status.APPLIED).order_by("applied_at")

    def for_user(self, user: object) -> QuerySet[Membership]:
        if not getattr(user, "is_authenticated", False):
            return self.none()
        return self.filter(person__user=user)

    def brokered_by(self, user: object) -> QuerySet[Membership]:
        """Memberships in the time banks where ``user`` is an approved broker or admin."""
        banks = (
            Membership.objects.for_user(user)
            .approved()
            .filter(role__in=[Role.BROKER, Role.ADMIN])
            .values("time_bank")
        )
        return self.filter(time_bank__in=banks)


class Membership(models.Model):
    """A person in a time bank, with a role and where their application stands."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="memberships")
    time_bank = models.ForeignKey(TimeBank, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.APPLIED)
    applied_at = models.DateTimeField(default=timezone.now)
    # The application: two referees and agreement to the time bank's code of conduct.
    referee_1_name = models.CharField(_("first referee's name"), max_length=80, blank=True)
    referee_1_contact = models.CharField(
        _("first referee's phone or email"), max_length=120, blank=True
    )
    referee_2_name = models.CharField(_("second referee's name"), max_length=80, blank=True)
    referee_2_contact = models.CharField(
        _("second referee's phone or email"), max_length=120, blank=True
    )
    agreed_code_of_conduct_at = models.DateTimeField(null=True, blank=True)
    # The decision: who approved or declined, when, and why when declined.
    decided_by = models.ForeignKey(
        Person, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decline_reason = models.TextField(blank=True, max_length=1000)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering = ["time_bank", "person__display_name"]
        constraints = [
            models.UniqueConstraint(fields=["person", "time_bank"], name="one_membership_per_bank"),
            models.CheckConstraint(
                condition=Q(status__in=["applied"]) | Q(decided_at__isnull=False),
                name="membership_decision_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status="declined") | ~Q(decline_reason=""),
                name="membership_decline_has_reason",
            ),
        ]
        indexes = [models.Index(fields=["time_bank", "status"])]

    def __str__(self) -> str:
        return f"{self.person} in {self.time_bank} ({self.get_role_display()}, {self.get_status_display()})"

    @property
    def is_broker(self) -> bool:
        return self.status == Status.APPROVED and self.role in {Role.BROKER, Role.ADMIN}


class Organisation(models.Model):
    """An agency in a time bank (a charity, a GP surgery), acting through its representatives."""

    time_bank = models.ForeignKey(TimeBank, on_delete=models.PROTECT, related_name="organisations")
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind of organisation"), max_length=60, blank=True)
    description = models.TextField(_("what the organisation does"), blank=True, max_length=2000)
    area = models.CharField(_("area"), max_length=40, blank=True)
    representatives = models.ManyToManyField(
        Person, through="Representative", related_name="organisations"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["time_bank", "name"], name="organisation_name_unique_per_bank"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Representative(models.Model):
    """A person who acts for an organisation."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE)
    person = models.ForeignKey(Person, on_delete=models.PROTECT)
    since = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "person"], name="one_representative_row"
            )
        ]

    def __str__(self) -> str:
        return f"{self.person} for {self.organisation}"
