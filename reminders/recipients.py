"""Who gets which reminder: the monthly "log your hours" nudge, listings about to expire, and
the broker's digest (built from the desk's follow-up lists)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from desk.followups import LONG_WAIT, FollowUps, follow_ups, start_of
from exchanges.models import Exchange, State
from ledger.models import SYSTEM_KINDS, Account
from listings.models import Contact, Listing, ListingState
from members.models import TRADING_ROLES, Membership, Person, TimeBank
from timebank.dates import add_months

# Listings expiring within this many days are reminded about.
EXPIRY_NOTICE_DAYS = 7


def log_hours_window(today: date) -> tuple[datetime, datetime]:
    """Contacts made from the first of last month until the end of ``today`` count, so a
    monthly run on the 1st reminds about each contact once."""
    first_of_last_month = add_months(today.replace(day=1), -1)
    return start_of(first_of_last_month), start_of(today + timedelta(days=1))


def log_hours_due(today: date) -> QuerySet[Membership]:
    """Approved memberships whose person had a contact in that bank (a reply, an introduction,
    an accepted listing; as sender or recipient) in the window, and has recorded no exchange
    there since their latest such contact. (A completed exchange recorded after the contact
    is such an exchange, so "after their last completed exchange" needs no separate test.)
    Each row is annotated with ``last_contact``."""
    start, end = log_hours_window(today)
    person, bank = OuterRef("person_id"), OuterRef("time_bank_id")
    last_contact = (
        Contact.objects.filter(time_bank_id=bank, created_at__gte=start, created_at__lt=end)
        .filter(Q(from_person_id=person) | Q(to_person_id=person))
        .order_by("-created_at")
        .values("created_at")[:1]
    )
    recorded_since = (
        Exchange.objects.filter(time_bank_id=OuterRef("time_bank_id"))
        .filter(recorded_at__gte=OuterRef("last_contact"))
        .exclude(state=State.DECLINED)
        .filter(
            Q(recorded_by_id=OuterRef("person_id"))
            | Q(journal__entries__account__person_id=OuterRef("person_id"))
        )
    )
    return (
        Membership.objects.approved()
        .filter(role__in=TRADING_ROLES)
        .annotate(last_contact=Subquery(last_contact))
        .filter(last_contact__isnull=False)
        .filter(~Exists(recorded_since))
    )


def listings_expiring(today: date) -> QuerySet[Listing]:
    """Open listings that expire within the next week (today included)."""
    return Listing.objects.filter(
        state=ListingState.OPEN,
        expires_on__gte=today,
        expires_on__lte=today + timedelta(days=EXPIRY_NOTICE_DAYS),
    )


@dataclass(frozen=True)
class Digest:
    time_bank: TimeBank
    week_start: date
    applications_waiting: int
    exchanges_to_approve: int
    long_unconfirmed: list[Exchange]
    flagged_accounts: list[Account]
    flagged_exchanges: list[Exchange]
    new_applications: list[Membership]
    followups: FollowUps
    # Offline members (no email) the broker should phone, each with why.
    offline_to_phone: list[tuple[Person, list[str]]] = field(default_factory=list)

    @property
    def approval_queue(self) -> int:
        return self.applications_waiting + self.exchanges_to_approve


def digest(*, time_bank: TimeBank, today: date | None = None) -> Digest:
    """Everything in one broker's weekly digest for ``time_bank``. Twelve queries."""
    today = today or timezone.localdate()
    week_ago = start_of(today - timedelta(days=7))
    in_bank_exchanges = Exchange.objects.filter(time_bank=time_bank)
    parties = ("giver__person", "giver__organisation", "receiver__person", "receiver__organisation")
    followups = follow_ups(time_bank=time_bank, today=today)

    offline: dict[int, tuple[Person, list[str]]] = {
        pk: (person, reasons)
        for pk, (person, reasons) in followups.reasons_by_person().items()
        if person.user_id is None
    }
    for membership in (
        log_hours_due(today)
        .filter(time_bank=time_bank, person__user__isnull=True)
        .select_related("person")
    ):
        offline.setdefault(membership.person_id, (membership.person, []))[1].append(
            _("was put in touch with someone and has not recorded hours since")
        )
    for listing in (
        listings_expiring(today)
        .filter(time_bank=time_bank, person__isnull=False, person__user__isnull=True)
        .select_related("person")
    ):
        assert listing.person is not None
        offline.setdefault(listing.person.pk, (listing.person, []))[1].append(
            _('"%(title)s" stops showing after %(date)s')
            % {"title": listing.title, "date": date_format(listing.expires_on, "MONTH_DAY_FORMAT")}
        )

    return Digest(
        time_bank=time_bank,
        week_start=today - timedelta(days=7),
        applications_waiting=Membership.objects.filter(time_bank=time_bank)
        .awaiting_decision()
        .count(),
        exchanges_to_approve=in_bank_exchanges.awaiting_broker().count(),
        long_unconfirmed=list(
            in_bank_exchanges.unconfirmed_since(timezone.now() - LONG_WAIT).select_related(
                "awaiting_confirmation_from", *parties
            )
        ),
        flagged_accounts=list(
            Account.objects.filter(time_bank=time_bank)
            .exclude(kind__in=SYSTEM_KINDS)
            .filter(posted_minutes__lt=time_bank.default_credit_limit_minutes)
            .select_related("person", "organisation")
            .order_by("posted_minutes", "pk")
        ),
        flagged_exchanges=list(
            in_bank_exchanges.filter(flagged_over_limit=True, recorded_at__gte=week_ago)
            .order_by("-recorded_at")
            .select_related(*parties)
        ),
        new_applications=list(
            Membership.objects.filter(time_bank=time_bank, applied_at__gte=week_ago)
            .select_related("person")
            .order_by("applied_at", "pk")
        ),
        followups=followups,
        offline_to_phone=sorted(offline.values(), key=lambda item: item[0].display_name),
    )
