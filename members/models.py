"""Users, time banks, people, memberships, organisations, notes and commissioner grants.

What holds, and what enforces it:
- A person belongs to a time bank at most once (unique constraint on membership).
- A person may have no login: an offline member, whose broker acts for them (``Person.user`` null).
- An approved or declined membership records who decided and when (check constraint).
- A membership has left exactly when it records when it left (check constraint
  ``membership_left_has_time``: status "left" if and only if ``left_at`` is set).
- A user has at most one person (one-to-one).
- A person's age band, gender, disability and carer answers are blank or one of their choices
  (check constraints ``person_*_valid``).
- Only a broker or admin can be a bank's safeguarding lead (check constraint
  ``membership_safeguarding_lead_is_staff``).
- A commissioner grant ends on or after it starts (check constraint).

Offers, requests, contacts and capabilities live in ``listings``; safeguarding checks in
``safeguarding``.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, ClassVar, Self, TypeVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    pass


# --- The tenant rule ------------------------------------------------------------------------------


def acting_bank_id(user: object) -> int | None:
    """The one time bank a broker acting for a member may reach (``user.acting_bank_id``, set by
    ``members.middleware.ActingForMiddleware``), or None when nobody is acting."""
    return getattr(user, "acting_bank_id", None)


_Row = TypeVar("_Row", bound=models.Model)


class InBankQuerySet(models.QuerySet[_Row]):
    """Rows that belong to one time bank (a ``time_bank`` field).

    ``reachable_by(user)`` is where every access function and list of them starts: while a
    broker acts for a member, only the bank they act in; otherwise every bank (what the caller
    may see there is decided next). So no view by id, list or statement reaches another bank
    while acting, and a new one that starts from its model's access function or ``visible_to``
    gets the rule without knowing about it."""

    def reachable_by(self, user: object) -> Self:
        bank_id = acting_bank_id(user)
        return self if bank_id is None else self.filter(time_bank_id=bank_id)


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
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    # Our manager makes users by email (no username): not the stubs' UserManager[User].
    objects = UserManager()  # type: ignore[assignment, misc]

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
    # Shown beside the email in every page's "Contact your broker" help (many members phone).
    contact_phone = models.CharField(_("contact phone"), max_length=30, blank=True)
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
    # Holds nobody decides are released after this long (``exchanges.services.expire_pending``,
    # a daily job): a pending exchange must not keep a member's hours for ever.
    pending_expiry_days = models.PositiveSmallIntegerField(
        _("release held hours nobody decided after (days)"),
        default=60,
        help_text=_("Counted from when the exchange was recorded; longer than the confirmation."),
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
    # Safeguarding checks are kept this long after the check lapses or the member leaves
    # (safeguarding.services.safeguarding_records_past_retention); DBS guidance: about 6 months.
    safeguarding_retention_months = models.PositiveSmallIntegerField(
        _("keep safeguarding checks for (months) after they lapse or the member leaves"),
        default=6,
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
                condition=Q(max_exchange_minutes__gte=15, max_exchange_minutes__lte=7 * 24 * 60),
                name="timebank_max_exchange_within_a_week",
            ),
            models.CheckConstraint(
                condition=Q(pending_expiry_days__gt=models.F("auto_confirm_days")),
                name="timebank_holds_expire_after_the_confirmation_deadline",
            ),
            models.CheckConstraint(
                condition=Q(safeguarding_retention_months__gte=1)
                & Q(safeguarding_retention_months__lte=72),
                name="timebank_safeguarding_retention_1_to_72_months",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ContactPreference(models.TextChoices):
    EMAIL = "email", _("Email")
    PHONE = "phone", _("Phone")
    BROKER = "broker", _("Through my broker")


# Equality monitoring, given by choice (the style of UK public-sector monitoring forms; age
# bands as the ONS publishes them). Blank always means "not asked, or not given"; each question
# has its own "prefer not to say". Only anonymous, suppressed counts ever leave the profile:
# see ``reports.commissioning.demographics``.
PREFER_NOT_TO_SAY = "prefer_not_to_say"


class AgeBand(models.TextChoices):
    UNDER_18 = "under_18", _("Under 18")
    AGE_18_24 = "18_24", _("18 to 24")
    AGE_25_34 = "25_34", _("25 to 34")
    AGE_35_44 = "35_44", _("35 to 44")
    AGE_45_54 = "45_54", _("45 to 54")
    AGE_55_64 = "55_64", _("55 to 64")
    AGE_65_74 = "65_74", _("65 to 74")
    AGE_75_84 = "75_84", _("75 to 84")
    AGE_85_PLUS = "85_plus", _("85 or over")
    PREFER_NOT = PREFER_NOT_TO_SAY, _("Prefer not to say")


class Gender(models.TextChoices):
    WOMAN = "woman", _("Woman")
    MAN = "man", _("Man")
    NON_BINARY = "non_binary", _("Non-binary")
    ANOTHER_WAY = "another_way", _("In another way")
    PREFER_NOT = PREFER_NOT_TO_SAY, _("Prefer not to say")


class YesNo(models.TextChoices):
    YES = "yes", _("Yes")
    NO = "no", _("No")
    PREFER_NOT = PREFER_NOT_TO_SAY, _("Prefer not to say")


class Person(models.Model):
    """A member's profile. ``user`` is empty for an offline member, whom a broker acts for.

    The demographic fields are optional answers to monitoring questions: blank means not
    asked or not given. They appear only on the member's own profile and export, and in
    reports only as anonymous counts with small numbers suppressed; erasure blanks them.
    """

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
    age_band = models.CharField(
        _("age"), max_length=20, choices=AgeBand.choices, blank=True, default=""
    )
    gender = models.CharField(
        _("how would you describe your gender?"),
        max_length=20,
        choices=Gender.choices,
        blank=True,
        default="",
    )
    disability = models.CharField(
        _(
            "do you have a disability or a physical or mental health condition or illness "
            "lasting or expected to last 12 months or more?"
        ),
        max_length=20,
        choices=YesNo.choices,
        blank=True,
        default="",
    )
    carer = models.CharField(
        _(
            "do you look after, or give any help or support to, someone because of their "
            "long-term physical or mental health condition, illness or problems related to "
            "old age (not as a paid job)?"
        ),
        max_length=20,
        choices=YesNo.choices,
        blank=True,
        default="",
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
        constraints = [
            models.CheckConstraint(
                condition=Q(age_band__in=["", *AgeBand.values]), name="person_age_band_valid"
            ),
            models.CheckConstraint(
                condition=Q(gender__in=["", *Gender.values]), name="person_gender_valid"
            ),
            models.CheckConstraint(
                condition=Q(disability__in=["", *YesNo.values]), name="person_disability_valid"
            ),
            models.CheckConstraint(
                condition=Q(carer__in=["", *YesNo.values]), name="person_carer_valid"
            ),
        ]
        indexes = [
            # Lists of members by name (the desk's follow-up lists) read the first few in name
            # order instead of sorting everyone.
            models.Index(fields=["display_name", "id"], name="person_by_name"),
        ]

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


class ErasureReason(models.TextChoices):
    """Why a person was erased: the audit trail keeps one of these codes, never free text
    (free text about a person is what erasure takes away)."""

    PERSON_ASKED = "person_asked", _("They asked us to erase their details")
    CONSENT_WITHDRAWN = "consent_withdrawn", _("They withdrew their consent")
    OBJECTED = "objected", _("They objected to how we use their details")
    NO_LONGER_NEEDED = "no_longer_needed", _("We no longer need their details")
    LEGAL_ORDER = "legal_order", _("A court or regulator ordered it")


class MembershipQuerySet(InBankQuerySet["Membership"]):
    def approved(self) -> Self:
        return self.filter(status=Status.APPROVED)

    def awaiting_decision(self) -> Self:
        return self.filter(status=Status.APPLIED).order_by("applied_at")

    def for_user(self, user: object) -> Self:
        """The memberships of the signed-in person, or of the member a broker is acting for
        (``user.acting_for``, set by ``members.middleware.ActingForMiddleware``). While acting,
        only the membership of the bank acted in (``user.acting_bank_id``): the member's other
        time banks stay closed to the broker."""
        if not getattr(user, "is_authenticated", False):
            return self.none()
        acting_for = getattr(user, "acting_for", None)
        if acting_for is not None:
            return self.reachable_by(user).filter(person=acting_for)
        return self.filter(person__user=user)

    def brokered_by(self, user: object) -> Self:
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
    # The day the member really joined, when a broker enters them later than that (an offline
    # member's paper form): help from that day on may be recorded. Empty: the day of the
    # decision. Set only by ``members.services.set_joined_on`` (or when adding the member).
    joined_on = models.DateField(_("date joined"), null=True, blank=True)
    # Leaving: when, and why if the member or broker said (never shown to commissioners).
    left_at = models.DateTimeField(null=True, blank=True)
    leave_reason = models.TextField(blank=True, max_length=1000)
    # The bank's designated safeguarding person: only they see safeguarding checks. A flag
    # beside the role, because the lead is one of the bank's brokers or admins, not a role of
    # its own; the constraint keeps it off members and commissioners.
    safeguarding_lead = models.BooleanField(_("safeguarding lead"), default=False)
    # When the member last had help in this bank, by the date of help: any exchange of help
    # (one-to-one or group) not turned down or reversed, and completed help they gave, and
    # received. Derived from the exchanges, so that the brokers' follow-up lists read one row
    # per member instead of every member's history; kept by
    # ``exchanges.services.refresh_activity`` whenever an exchange of help changes, and
    # rebuilt by the same function for a whole bank. Never written anywhere else.
    last_help_on = models.DateField(null=True, blank=True, editable=False)
    last_gave_on = models.DateField(null=True, blank=True, editable=False)
    last_received_on = models.DateField(null=True, blank=True, editable=False)

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
            models.CheckConstraint(
                condition=(Q(status="left") & Q(left_at__isnull=False))
                | (~Q(status="left") & Q(left_at__isnull=True)),
                name="membership_left_has_time",
            ),
            models.CheckConstraint(
                condition=Q(safeguarding_lead=False) | Q(role__in=["broker", "admin"]),
                name="membership_safeguarding_lead_is_staff",
            ),
        ]
        indexes = [
            models.Index(fields=["time_bank", "status"]),
            # The desk's follow-up lists (desk.followups): counted from this index alone
            # (PostgreSQL), without reading the wide membership rows; "new" found by its dates.
            models.Index(
                fields=["time_bank", "decided_at"],
                include=["id", "last_help_on", "last_gave_on", "last_received_on"],
                condition=Q(role="member", status="approved"),
                name="approved_member_dates",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person} in {self.time_bank} ({self.get_role_display()}, {self.get_status_display()})"

    @property
    def is_broker(self) -> bool:
        return self.status == Status.APPROVED and self.role in {Role.BROKER, Role.ADMIN}

    @property
    def joined(self) -> datetime.date | None:
        """The first day help may be recorded for them: when they really joined."""
        if self.joined_on is not None:
            return self.joined_on
        return timezone.localdate(self.decided_at) if self.decided_at else None


class Organisation(models.Model):
    """An agency in a time bank (a charity, a GP surgery), acting through its representatives."""

    time_bank = models.ForeignKey(TimeBank, on_delete=models.PROTECT, related_name="organisations")
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind of organisation"), max_length=60, blank=True)
    description = models.TextField(_("what the organisation does"), blank=True, max_length=2000)
    area = models.CharField(_("area"), max_length=40, blank=True)
    representatives: models.ManyToManyField[Person, Representative] = models.ManyToManyField(
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


# Roles that take part in exchanges and so may see offers and requests. Commissioners see
# aggregates only, never member-level listings.
TRADING_ROLES = (Role.MEMBER, Role.BROKER, Role.ADMIN)
BROKER_ROLES = (Role.BROKER, Role.ADMIN)


class Note(models.Model):
    """A broker's private note about a member; only brokers and admins of the bank see it."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    time_bank = models.ForeignKey(TimeBank, on_delete=models.CASCADE, related_name="+")
    author = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(_("note"), max_length=4000)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["time_bank", "person"])]

    def __str__(self) -> str:
        return f"Note about {self.person_id} ({self.created_at:%Y-%m-%d})"


class CommissionerGrantQuerySet(models.QuerySet["CommissionerGrant"]):
    def in_force(self, on: datetime.date | None = None) -> Self:
        """Grants that cover the day ``on`` (default today)."""
        on = on or timezone.localdate()
        return self.filter(starts_on__lte=on).filter(Q(ends_on__isnull=True) | Q(ends_on__gte=on))


class CommissionerGrant(models.Model):
    """Read access to one time bank's aggregate reports, for a period, given by its admin.

    A council that funds six time banks holds six grants; it need not be a member of any.
    (An approved commissioner membership of a bank also gives access while it lasts: see
    ``reports.access``; the model lives here because ``members.access`` reads it.) A grant never gives access to anything about a single member.
    """

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="commissioner_grants")
    time_bank = models.ForeignKey(
        TimeBank, on_delete=models.PROTECT, related_name="commissioner_grants"
    )
    starts_on = models.DateField(_("access from"))
    ends_on = models.DateField(_("access until (included)"), null=True, blank=True)
    granted_by = models.ForeignKey(
        Person, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = CommissionerGrantQuerySet.as_manager()

    class Meta:
        # Moved from reports (state only): the table keeps its name.
        db_table = "reports_commissionergrant"
        ordering = ["time_bank", "-starts_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(ends_on__gte=F("starts_on")),
                name="commissioner_grant_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person} may see {self.time_bank} from {self.starts_on}"
