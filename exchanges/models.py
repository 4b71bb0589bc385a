"""Exchanges: help given and received, as members and brokers record it.

An exchange is the story around one ledger journal: who recorded it, who must confirm it,
whether a broker must approve it, and its co-production kind for reports. The hours
themselves live only in the ledger: a journal that is *pending* (holding the receiver's hours)
until the exchange is confirmed and approved, then *posted*; *voided* when it is declined.

What holds, and what enforces it:
- One exchange per journal, and a journal is reversed by at most one correction: one-to-one
  fields (unique).
- The state is one of the five below; a declined exchange has a reason and who declined it;
  an exchange awaiting confirmation names who must confirm: check constraints.
- Hours are whole quarter hours and positive: check constraint (``minutes`` is the hours of
  help given: for a group exchange, the total the providers earned).
- Who recorded, confirmed, approved, declined and reversed it are stored on the row (and the
  broker who recorded it acting for the member); who may do each is ``exchanges.rules``.
- A decision made with an idempotency key (confirm, approve, decline, reverse) is kept as a
  ``Decision``; a key names one decision per time bank: unique ``decision_key_unique_per_bank``.
  So a retried decision finds the first and moves nothing again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ledger.models import Account, Journal
from members.access import person_for
from members.models import BROKER_ROLES, InBankQuerySet, Membership, Person, TimeBank

if TYPE_CHECKING:
    from django.db.models import QuerySet
    from django_stubs_ext import StrOrPromise


class Kind(models.TextChoices):
    SERVICE = "service", _("Exchange of help")
    GROUP = "group", _("Group exchange")
    DONATION = "donation", _("Donation of hours")
    GRANT = "grant", _("Grant from the community pot")


class CoProduction(models.TextChoices):
    """The "Four Co's" of co-production, for commissioners' reports."""

    DELIVERY = "co-delivery", _("Co-delivery (helping to deliver a service)")
    DESIGN = "co-design", _("Co-design (shaping a service)")
    COMMISSIONING = "co-commissioning", _("Co-commissioning (deciding what is needed)")
    ASSESSMENT = "co-assessment", _("Co-assessment (checking how well it works)")


# The same four kinds in the words members and brokers use (forms and pages); the labels
# above are the commissioners' own terms (reports).
COPRODUCTION_IN_WORDS: dict[str, StrOrPromise] = {
    CoProduction.DELIVERY: _("Everyday help, or helping to run a service"),
    CoProduction.DESIGN: _("Helping to plan how a service works"),
    CoProduction.COMMISSIONING: _("Helping to decide what services are needed"),
    CoProduction.ASSESSMENT: _("Helping to check how well a service works"),
}


class State(models.TextChoices):
    UNCONFIRMED = "unconfirmed", _("Waiting for the other person to confirm")
    AWAITING_APPROVAL = "awaiting_approval", _("Waiting for a broker to approve")
    COMPLETED = "completed", _("Completed")
    DECLINED = "declined", _("Declined")
    REVERSED = "reversed", _("Reversed")


# Exchanges of help between members, one-to-one or in a group (donations and grants are not
# help), and the states in which one still stands (not declined, not reversed).
HELP = [Kind.SERVICE, Kind.GROUP]
LIVE = [State.UNCONFIRMED, State.AWAITING_APPROVAL, State.COMPLETED]


OPEN = [State.UNCONFIRMED, State.AWAITING_APPROVAL]


def hour_totals(account: Account, *, since: object) -> dict[str, int]:
    """Hours of help ``account`` gave and received, in total and since ``since`` (a date), in
    minutes, from completed exchanges only (not reversed ones); and, apart, the hours it was
    given (donations to it, grants from the community pot) and gave away (its donations).
    Together they add up to the account's balance: ``given - received + gifts_in -
    gifts_out``, as every posted journal is an exchange or the reversal of one.

    Two queries, neither of which reads the account's whole ledger: one-to-one exchanges from
    the exchanges themselves (``giver``/``receiver`` are indexed and ``minutes`` is what
    moved), group help from the bank's completed group exchanges that have a leg on the
    account."""
    recent = Q(effective_date__gte=since)
    help_ = Q(kind=Kind.SERVICE)
    gifts = Q(kind__in=[Kind.DONATION, Kind.GRANT])
    one_to_one = Exchange.objects.filter(
        Q(giver=account) | Q(receiver=account),
        kind__in=[Kind.SERVICE, Kind.DONATION, Kind.GRANT],
        state=State.COMPLETED,
    ).aggregate(
        given=Sum("minutes", filter=help_ & Q(giver=account)),
        received=Sum("minutes", filter=help_ & Q(receiver=account)),
        given_recently=Sum("minutes", filter=help_ & Q(giver=account) & recent),
        received_recently=Sum("minutes", filter=help_ & Q(receiver=account) & recent),
        gifts_in=Sum("minutes", filter=gifts & Q(receiver=account)),
        gifts_out=Sum("minutes", filter=gifts & Q(giver=account)),
    )
    legs = "journal__entries__amount_minutes"
    gave, received = Q(**{f"{legs}__gt": 0}), Q(**{f"{legs}__lt": 0})
    group = Exchange.objects.filter(
        time_bank_id=account.time_bank_id,
        kind=Kind.GROUP,
        state=State.COMPLETED,
        journal__entries__account=account,
    ).aggregate(
        given=Sum(legs, filter=gave),
        received=Sum(legs, filter=received),
        given_recently=Sum(legs, filter=gave & recent),
        received_recently=Sum(legs, filter=received & recent),
    )
    totals = {
        name: abs(one_to_one[name] or 0) + abs(group[name] or 0)
        for name in ("given", "received", "given_recently", "received_recently")
    }
    totals["gifts_in"] = one_to_one["gifts_in"] or 0
    totals["gifts_out"] = one_to_one["gifts_out"] or 0
    return totals


class ExchangeQuerySet(InBankQuerySet["Exchange"]):
    def visible_to(self, user: object) -> QuerySet[Exchange]:
        """Exchanges ``user`` may see: those they took part in (for themselves or an
        organisation they represent) and every exchange of the banks they broker. While a
        broker acts for a member, the member's, in the bank acted in only
        (``reachable_by``)."""
        person = person_for(user)
        if person is None:
            return self.none()
        theirs = Membership.objects.for_user(user)
        brokered = theirs.approved().filter(role__in=BROKER_ROLES)
        mine = Account.objects.held_by(person)
        return (
            self.reachable_by(user)
            .filter(
                Q(time_bank__in=brokered.values("time_bank"))
                | Q(journal__entries__account__in=mine)
            )
            .distinct()
        )

    def involving(self, accounts: QuerySet[Account] | list[Account]) -> QuerySet[Exchange]:
        """Exchanges with a ledger entry on any of ``accounts``."""
        return self.filter(journal__entries__account__in=accounts).distinct()

    def latest_involving(self, account: Account, count: int) -> QuerySet[Exchange]:
        """What a member's page lists: every exchange ``account`` took part in that still
        waits (to be confirmed or approved), however old, and the latest ``count`` others by
        the date the help happened; all newest date of help first.

        Chosen by the date of help, as shown: choosing by when they were recorded (the newest
        journals) and showing them by date made a back-dated slip push out a pending exchange
        from last week while older rows stayed. One query: the account's legs (its index)
        joined to their exchanges, sorted by date."""
        mine = self.filter(journal__entries__account=account)
        latest = mine.order_by("-effective_date", "-recorded_at", "-pk").values("pk")[:count]
        return mine.filter(Q(state__in=OPEN) | Q(pk__in=latest)).order_by(
            "-effective_date", "-recorded_at", "-pk"
        )

    def waiting_for(self, person: Person) -> QuerySet[Exchange]:
        """What waits for ``person``: exchanges they are asked to confirm, newest help first."""
        return self.filter(state=State.UNCONFIRMED, awaiting_confirmation_from=person).order_by(
            "-effective_date", "-recorded_at", "-pk"
        )

    def waiting_on_others(self, account: Account, person: Person) -> QuerySet[Exchange]:
        """What ``person`` (through ``account``) waits on: their exchanges still to be
        confirmed by someone else or approved by a broker, newest help first."""
        return (
            self.filter(journal__entries__account=account, state__in=OPEN)
            .exclude(state=State.UNCONFIRMED, awaiting_confirmation_from=person)
            .order_by("-effective_date", "-recorded_at", "-pk")
        )

    def awaiting_broker(self) -> QuerySet[Exchange]:
        return self.filter(state=State.AWAITING_APPROVAL).order_by("recorded_at")

    def unconfirmed_since(self, moment: object) -> QuerySet[Exchange]:
        return self.filter(state=State.UNCONFIRMED, recorded_at__lte=moment).order_by("recorded_at")


class Exchange(models.Model):
    time_bank = models.ForeignKey(TimeBank, on_delete=models.PROTECT, related_name="exchanges")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.SERVICE)
    journal = models.OneToOneField(Journal, on_delete=models.PROTECT, related_name="exchange")
    state = models.CharField(max_length=20, choices=State.choices)
    minutes = models.PositiveIntegerField(_("hours of help (minutes)"))
    effective_date = models.DateField(_("date the help happened"))
    description = models.CharField(_("what the help was"), max_length=200)
    category = models.ForeignKey(
        "listings.Category", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    listing = models.ForeignKey(
        "listings.Listing",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="exchanges",
    )
    coproduction = models.CharField(
        _("kind of co-production"),
        max_length=20,
        choices=CoProduction.choices,
        default=CoProduction.DELIVERY,
    )
    # The giver and receiver of a one-to-one exchange (group exchanges: see the journal's entries).
    giver = models.ForeignKey(
        Account, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    receiver = models.ForeignKey(
        Account, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    recorded_by = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    # The broker who recorded it while acting for ``recorded_by`` (``members.middleware``):
    # their hand is on it too, so they never confirm or approve it (``exchanges.rules``).
    acting_broker = models.ForeignKey(
        Person, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)
    # Confirmation by the other party, with automatic confirmation after the bank's deadline.
    awaiting_confirmation_from = models.ForeignKey(
        Person, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    confirm_by = models.DateField(null=True, blank=True)
    confirmed_by = models.ForeignKey(
        Person, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    needs_approval = models.BooleanField(default=False)
    approved_by = models.ForeignKey(
        Person, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    declined_by = models.ForeignKey(
        Person, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    declined_at = models.DateTimeField(null=True, blank=True)
    decline_reason = models.CharField(max_length=500, blank=True)
    reversal = models.OneToOneField(
        Journal, on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_exchange"
    )
    reversed_by = models.ForeignKey(
        Person, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reversed_at = models.DateTimeField(null=True, blank=True)
    reverse_reason = models.CharField(max_length=500, blank=True)
    # Posted although it took an account past the bank's limit (the bank's "flag" rule).
    flagged_over_limit = models.BooleanField(default=False)
    # One half of an exchange with a member of a linked time bank (``interbank``): decided
    # there, with its other half, never by the services here.
    between_banks = models.BooleanField(default=False, editable=False)

    objects = ExchangeQuerySet.as_manager()

    class Meta:
        ordering = ["-effective_date", "-recorded_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=[s.value for s in State]), name="exchange_state_valid"
            ),
            models.CheckConstraint(condition=Q(minutes__gt=0), name="exchange_minutes_positive"),
            models.CheckConstraint(
                condition=~Q(state="declined")
                | (Q(declined_at__isnull=False) & ~Q(decline_reason="")),
                name="exchange_decline_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(state="unconfirmed") | Q(awaiting_confirmation_from__isnull=False),
                name="exchange_unconfirmed_names_who",
            ),
            models.CheckConstraint(
                condition=~Q(state="reversed")
                | Q(reversal__isnull=False, reversed_at__isnull=False),
                name="exchange_reversal_recorded",
            ),
        ]
        indexes = [
            models.Index(fields=["time_bank", "state", "recorded_at"]),
            models.Index(fields=["time_bank", "effective_date"]),
            # A member's group help (hour_totals) starts from the bank's group exchanges.
            models.Index(
                fields=["time_bank", "journal"],
                condition=Q(kind="group"),
                name="exchange_group_by_bank",
            ),
            # The desk's latest exchanges recorded past a limit.
            models.Index(
                fields=["time_bank", "-recorded_at"],
                condition=Q(flagged_over_limit=True),
                name="exchange_flagged_by_bank",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.description} ({self.get_state_display()})"

    def parties(self) -> list[Person]:
        """Everyone who took part, through their own account or an organisation they represent."""
        accounts = Account.objects.filter(entries__journal_id=self.journal_id).exclude(kind="pot")
        return list(
            Person.objects.filter(
                Q(accounts__in=accounts) | Q(representative__organisation__accounts__in=accounts)
            ).distinct()
        )

    @property
    def is_open(self) -> bool:
        return self.state in {State.UNCONFIRMED, State.AWAITING_APPROVAL}


class DecisionAction(models.TextChoices):
    CONFIRM = "confirm", _("Confirmed")
    APPROVE = "approve", _("Approved")
    DECLINE = "decline", _("Declined")
    REVERSE = "reverse", _("Reversed")


class Decision(models.Model):
    """A decision on an exchange taken with the caller's idempotency key: a retry with the same
    key (and the same decision) finds it and answers as the first did; the key with another
    decision is a conflict. Decisions without a key (the web's forms, the automatic
    confirmation) leave none."""

    time_bank = models.ForeignKey(TimeBank, on_delete=models.PROTECT, related_name="+")
    exchange = models.ForeignKey(Exchange, on_delete=models.PROTECT, related_name="decisions")
    action = models.CharField(max_length=10, choices=DecisionAction.choices)
    idempotency_key = models.CharField(max_length=100)
    decided_by = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=500, blank=True)
    decided_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["time_bank", "idempotency_key"], name="decision_key_unique_per_bank"
            ),
            models.CheckConstraint(
                condition=Q(action__in=[a.value for a in DecisionAction]),
                name="decision_action_valid",
            ),
            models.CheckConstraint(condition=~Q(idempotency_key=""), name="decision_has_key"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()}: exchange {self.exchange_id}"
