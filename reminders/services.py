"""Email preferences and one-click unsubscribe; the reminder jobs and sending one reminder.

Every job is safe to run twice: each email is claimed once per person, reason and period
(``claim``) in the transaction that queues it, and sent after that transaction commits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, timedelta
from functools import partial
from typing import TypeVar

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from desk.followups import start_of
from exchanges.models import Exchange, State
from exchanges.services import confirm_overdue_exchanges
from listings.models import Contact, Listing
from members.emails import send
from members.models import BROKER_ROLES, Membership, Person, Representative
from reminders.recipients import digest, listings_expiring, log_hours_due, log_hours_window

from .models import EmailPreference, Kind, SentReminder

_M = TypeVar("_M", bound=models.Model)


def may_email(person: Person, kind: str | None = None) -> bool:
    """Whether ``person`` can be emailed at all (offline members cannot) and, for a
    non-essential ``kind``, whether they still want it."""
    if person.user_id is None:
        return False
    if kind is None:
        return True
    preference = EmailPreference.objects.filter(person=person).first()
    return preference is None or preference.wants(kind)


def preference_for(person: Person) -> EmailPreference:
    preference, _ = EmailPreference.objects.get_or_create(person=person)
    return preference


def unsubscribe_url(person: Person, kind: str) -> str:
    """A link that turns off ``kind`` for ``person`` in one click, without signing in."""
    token = preference_for(person).token
    return settings.SITE_URL + reverse("unsubscribe", args=[token, Kind(kind).value])


@transaction.atomic
def unsubscribe(*, token: str, kind: str) -> EmailPreference | None:
    """Turn off ``kind`` for the person the token belongs to; None if the token is unknown."""
    preference = EmailPreference.objects.select_for_update().filter(token=token).first()
    if preference is None:
        return None
    setattr(preference, Kind(kind).value, False)
    preference.save(update_fields=[Kind(kind).value, "updated_at"])
    return preference


@transaction.atomic
def update_preferences(*, person: Person, wanted: dict[str, bool]) -> EmailPreference:
    preference = preference_for(person)
    for kind, value in wanted.items():
        setattr(preference, Kind(kind).value, bool(value))
    preference.save()
    return preference


def claim(*, person: Person, reason: str, period: str) -> bool:
    """Record that ``reason`` is being sent to ``person`` for ``period``. True if this caller
    won the claim and should send; False if it was sent (or claimed) already. Call inside the
    transaction that queues the email, so a rollback releases the claim."""
    try:
        with transaction.atomic():
            SentReminder.objects.create(person=person, reason=reason, period=period)
    except IntegrityError:
        return False
    return True


# --- The reminder jobs ---------------------------------------------------------------------------
#
# Each job finds who is due with a few set-based queries, claims each email in a transaction
# (``claim``: the unique SentReminder row) and queues it after commit through the one task
# ``reminders.tasks.send_reminder_email``, which loads the rows and calls ``deliver_reminder``.
# A second run finds every claim taken and sends nothing.

LOG_HOURS = "log_hours"
PLEASE_CONFIRM = "please_confirm"
LISTING_EXPIRY = "listing_expiry"
DIGEST = "digest"
# Which preference turns a reminder off; None: essential, always sent (to people with a login).
PREFERENCE: dict[str, str | None] = {
    LOG_HOURS: Kind.LOG_HOURS,
    PLEASE_CONFIRM: None,
    LISTING_EXPIRY: Kind.LISTING_EXPIRY,
    DIGEST: Kind.DIGEST,
}
# Claims are made, and their emails queued, this many to a transaction.
BATCH_SIZE = 500
FIRST_NUDGE_DAYS = 3
SECOND_NUDGE_DAYS = 7

# (person id, period, id of the exchange / listing / time bank the email is about)
Due = tuple[int, str, int | None]


def _emailable(rows: QuerySet[_M], person: str, kind: str | None) -> QuerySet[_M]:
    """``rows`` whose person (at the lookup path ``person``) has a login and, for a
    non-essential ``kind``, has not turned it off: ``may_email`` as one filter."""
    rows = rows.filter(**{f"{person}__user__isnull": False})
    if kind is not None:
        rows = rows.exclude(**{f"{person}__email_preference__{Kind(kind).value}": False})
    return rows


def _queue(reason: str, due: Iterable[Due], *, eager: bool = False) -> int:
    """Claim and queue each due email; returns how many were claimed by this call.

    1. Per batch, one query drops what was sent before (the claim would refuse it anyway).
    2. In one transaction per batch, ``claim`` each; a claim lost to a concurrent run is skipped.
    3. After commit, queue ``send_reminder_email`` (``eager``: run it here, for a management
       command without a worker). A failing email is retried by its task and never stops
       the others.
    """
    # Imported here: the task module imports this one.
    from .tasks import send_reminder_email

    claimed = 0
    rows = list(due)
    for start in range(0, len(rows), BATCH_SIZE):
        batch = rows[start : start + BATCH_SIZE]
        sent_before = set(
            SentReminder.objects.filter(
                reason=reason,
                person_id__in={person_id for person_id, _, _ in batch},
                period__in={period for _, period, _ in batch},
            ).values_list("person_id", "period")
        )
        with transaction.atomic():
            for person_id, period, object_id in batch:
                if (person_id, period) in sent_before:
                    continue
                if not claim(person=Person(pk=person_id), reason=reason, period=period):
                    continue
                task_kwargs = {
                    "reason": reason,
                    "person_id": person_id,
                    "period": period,
                    "object_id": object_id,
                }
                if eager:
                    transaction.on_commit(partial(send_reminder_email.apply, kwargs=task_kwargs))
                else:
                    send_reminder_email.delay_on_commit(**task_kwargs)
                claimed += 1
    return claimed


def send_log_hours_reminders(*, today: date | None = None, eager: bool = False) -> int:
    """Monthly: "did you help each other? log your hours", to members put in touch with
    someone (since the first of last month) who have recorded no exchange since. Period
    "YYYY-MM": once a month per person, however many banks or contacts."""
    today = today or timezone.localdate()
    period = f"{today:%Y-%m}"
    people = set(
        _emailable(log_hours_due(today), "person", Kind.LOG_HOURS).values_list(
            "person_id", flat=True
        )
    )
    return _queue(LOG_HOURS, [(pk, period, None) for pk in sorted(people)], eager=eager)


def send_confirm_nudges(*, today: date | None = None, eager: bool = False) -> int:
    """Daily: "please confirm" to whoever an unconfirmed exchange waits for, on the 3rd day
    after it was recorded (period "exchange-<id>-first") and once more from the 7th
    ("exchange-<id>-second"). Essential: sent whatever the preferences."""
    today = today or timezone.localdate()
    first_due = start_of(today - timedelta(days=FIRST_NUDGE_DAYS - 1))
    second_due = start_of(today - timedelta(days=SECOND_NUDGE_DAYS - 1))
    rows = _emailable(
        Exchange.objects.filter(state=State.UNCONFIRMED, recorded_at__lt=first_due),
        "awaiting_confirmation_from",
        None,
    ).values_list("pk", "awaiting_confirmation_from_id", "recorded_at")
    due: list[Due] = [
        (person_id, f"exchange-{pk}-{'second' if recorded_at < second_due else 'first'}", pk)
        for pk, person_id, recorded_at in rows.order_by("pk")
    ]
    return _queue(PLEASE_CONFIRM, due, eager=eager)


def confirm_overdue(*, today: date | None = None, eager: bool = False) -> int:
    """Daily: confirm the exchanges whose bank's deadline has passed (see
    ``exchanges.services.confirm_overdue_exchanges``; ``eager`` is accepted for symmetry)."""
    return confirm_overdue_exchanges(today=today)


def send_listing_expiry_reminders(*, today: date | None = None, eager: bool = False) -> int:
    """Daily: to the owner of each open listing expiring within a week (a member, or each
    representative of an organisation), once per listing per expiry date (period
    "listing-<id>-<expires_on>"), so renewing it and letting it near expiry again reminds
    again."""
    today = today or timezone.localdate()
    expiring = listings_expiring(today).order_by("pk")
    personal = _emailable(expiring, "person", Kind.LISTING_EXPIRY).values_list(
        "pk", "person_id", "expires_on"
    )
    # An organisation's listings go to each of its representatives who wants them (a
    # representative who opted out must not stop the others): two queries, joined here.
    organisation_listings = list(
        expiring.filter(organisation__isnull=False).values_list(
            "pk", "organisation_id", "expires_on"
        )
    )
    representatives: dict[int, list[int]] = {}
    for organisation_id, person_id in _emailable(
        Representative.objects.filter(
            organisation_id__in={org for _, org, _ in organisation_listings}
        ),
        "person",
        Kind.LISTING_EXPIRY,
    ).values_list("organisation_id", "person_id"):
        representatives.setdefault(organisation_id, []).append(person_id)
    due: list[Due] = [
        (person_id, f"listing-{pk}-{expires_on.isoformat()}", pk)
        for pk, person_id, expires_on in personal
    ]
    due += [
        (person_id, f"listing-{pk}-{expires_on.isoformat()}", pk)
        for pk, organisation_id, expires_on in organisation_listings
        for person_id in representatives.get(organisation_id, [])
    ]
    return _queue(LISTING_EXPIRY, due, eager=eager)


def send_broker_digests(*, today: date | None = None, eager: bool = False) -> int:
    """Weekly: to each approved broker and admin with a login, one digest per time bank they
    broker (period "<ISO year>-W<week>-bank-<id>"). The digest itself is read when sent."""
    today = today or timezone.localdate()
    year, week, _ = today.isocalendar()
    brokers = _emailable(
        Membership.objects.approved().filter(role__in=BROKER_ROLES), "person", Kind.DIGEST
    ).values_list("person_id", "time_bank_id")
    due: list[Due] = [
        (person_id, f"{year}-W{week:02d}-bank-{bank_id}", bank_id)
        for person_id, bank_id in brokers.order_by("time_bank_id", "person_id")
    ]
    return _queue(DIGEST, due, eager=eager)


JOBS: dict[str, Callable[..., int]] = {
    "log_hours": send_log_hours_reminders,
    "confirm": send_confirm_nudges,
    "auto_confirm": confirm_overdue,
    "expiry": send_listing_expiry_reminders,
    "digest": send_broker_digests,
}


def run_job(*, job: str, today: date | None = None, eager: bool = False) -> int:
    """Run one job by name (the task and the management command both call this)."""
    return JOBS[job](today=today, eager=eager)


# --- Sending one reminder (the task calls this) -------------------------------------------------


def deliver_reminder(*, reason: str, person: Person, period: str, object_id: int | None) -> bool:
    """Render and send the reminder claimed for ``person``. Checked again now, since things
    change between queueing and sending: the person may email and still wants this kind, the
    exchange still waits for them, the listing is still open, they still broker the bank.
    Returns whether an email went. Raises the mail backend's errors (the task retries them)."""
    kind = PREFERENCE[reason]
    if not may_email(person, kind):
        return False
    context = _CONTEXT[reason](person, period, object_id)
    if context is None:
        return False
    assert person.user is not None
    send(
        f"reminder-{reason.replace('_', '-')}",
        to=person.user.email,
        context={"person": person, **context},
        unsubscribe=unsubscribe_url(person, kind) if kind else None,
    )
    return True


def _log_hours_context(person: Person, period: str, object_id: int | None) -> dict | None:
    year, month = (int(part) for part in period.split("-"))
    start, _ = log_hours_window(date(year, month, 1))
    contacts = (
        Contact.objects.filter(created_at__gte=start)
        .filter(Q(from_person=person) | Q(to_person=person))
        .select_related("time_bank", "from_person", "to_person", "to_organisation")
        .order_by("time_bank__name", "created_at")
    )
    banks: dict[int, dict] = {}
    for contact in contacts:
        if contact.from_person_id == person.pk:
            other = contact.to_person or contact.to_organisation
        else:
            other = contact.from_person
        entry = banks.setdefault(
            contact.time_bank_id,
            {
                "bank": contact.time_bank,
                "names": [],
                "link": settings.SITE_URL
                + reverse("record-exchange", args=[contact.time_bank.slug]),
            },
        )
        name = str(other)
        if name not in entry["names"]:
            entry["names"].append(name)
    if not banks:
        return None
    return {"banks": list(banks.values())}


def _please_confirm_context(person: Person, period: str, object_id: int | None) -> dict | None:
    if object_id is None:
        return None
    exchange = (
        Exchange.objects.filter(
            pk=object_id, state=State.UNCONFIRMED, awaiting_confirmation_from=person
        )
        .select_related(
            "time_bank", "recorded_by", "giver__person", "giver__organisation", "receiver__person"
        )
        .select_related("receiver__organisation")
        .first()
    )
    if exchange is None:
        return None  # confirmed, declined or decided meanwhile
    return {
        "exchange": exchange,
        "second": period.endswith("-second"),
        "link": settings.SITE_URL + reverse("exchange", args=[exchange.pk]),
    }


def _listing_expiry_context(person: Person, period: str, object_id: int | None) -> dict | None:
    if object_id is None:
        return None
    listing = (
        Listing.objects.filter(pk=object_id).select_related("time_bank", "organisation").first()
    )
    if listing is None or not listing.is_open:
        return None  # closed or already expired
    return {
        "listing": listing,
        "link": settings.SITE_URL + reverse("listing-detail", args=[listing.pk]),
    }


def _digest_context(person: Person, period: str, object_id: int | None) -> dict | None:
    membership = (
        Membership.objects.approved()
        .filter(person=person, time_bank_id=object_id, role__in=BROKER_ROLES)
        .select_related("time_bank")
        .first()
    )
    if membership is None:
        return None  # no longer brokers this bank
    bank = membership.time_bank
    return {
        "digest": digest(time_bank=bank),
        "desk_link": settings.SITE_URL + reverse("desk", args=[bank.slug]),
        "site_url": settings.SITE_URL,
    }


_CONTEXT: dict[str, Callable[[Person, str, int | None], dict | None]] = {
    LOG_HOURS: _log_hours_context,
    PLEASE_CONFIRM: _please_confirm_context,
    LISTING_EXPIRY: _listing_expiry_context,
    DIGEST: _digest_context,
}
