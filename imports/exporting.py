"""A time bank in the canonical import format (``formats.COLUMNS``): the same files the
import reads, so a bank can leave, or come back, with nothing lost.

External ids: a row imported from another system keeps the id it came with (its
``ExternalRecord``, or for an exchange its journal's key); a row made here gets one from its
own id (``m12`` a person, ``o3`` an organisation, ``l40`` an offer; an exchange its journal's
key). Importing an export and exporting again gives the same files.

Reads only, a fixed number of queries whatever the size of the bank (rows are streamed).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from typing import Any

from django.utils import timezone

from exchanges.models import Exchange, Kind, State
from ledger.models import Account, AccountKind, Entry
from listings.models import Listing
from members.models import Membership, Note, Organisation, Representative, Status, TimeBank

from .checking import EXCHANGE_KEY
from .formats import COLUMNS, POT, escape_cell
from .models import ExternalRecord

STATUS = {
    Status.APPROVED: "active",
    Status.APPLIED: "applicant",
    Status.SUSPENDED: "paused",
    Status.LEFT: "left",
}
EXCHANGE_STATE = {
    State.COMPLETED: "completed",
    State.UNCONFIRMED: "pending",
    State.AWAITING_APPROVAL: "pending",
    State.DECLINED: "declined",
    State.REVERSED: "reversed",
}


def _writer() -> tuple[io.StringIO, Any]:
    out = io.StringIO()
    return out, csv.writer(out)


def _text(value: object) -> str:
    if value is None:
        return ""
    return escape_cell(str(value))


def _local_date(moment: Any) -> str:
    return timezone.localtime(moment).date().isoformat() if moment else ""


def _moment(moment: Any) -> str:
    return timezone.localtime(moment).isoformat() if moment else ""


def external_ids(time_bank: TimeBank) -> tuple[dict[int, str], dict[int, str], dict[int, str]]:
    """The external id of every person, organisation and listing that came in by import."""
    people: dict[int, str] = {}
    organisations: dict[int, str] = {}
    listings: dict[int, str] = {}
    for external_id, person, organisation, listing in ExternalRecord.objects.filter(
        time_bank=time_bank
    ).values_list("external_id", "person_id", "organisation_id", "listing_id"):
        if person:
            people[person] = external_id
        elif organisation:
            organisations[organisation] = external_id
        elif listing:
            listings[listing] = external_id
    return people, organisations, listings


def bank_files(time_bank: TimeBank) -> dict[str, str]:
    """The four files of ``time_bank``, as CSV text with a header row each."""
    people, organisations, listings = external_ids(time_bank)

    def person_id(pk: int) -> str:
        return people.get(pk) or f"m{pk}"

    def organisation_id(pk: int) -> str:
        return organisations.get(pk) or f"o{pk}"

    accounts: dict[int, str] = {}
    balances: dict[str, int] = {}
    migration = None
    for pk, kind, person, organisation, posted, partner in Account.objects.filter(
        time_bank=time_bank
    ).values_list(
        "pk", "kind", "person_id", "organisation_id", "posted_minutes", "partner_bank__slug"
    ):
        if kind == AccountKind.MEMBER:
            accounts[pk] = person_id(person)
        elif kind == AccountKind.ORGANISATION:
            accounts[pk] = organisation_id(organisation)
        elif kind == AccountKind.POT:
            accounts[pk] = POT
        elif kind == AccountKind.MIRROR:
            # The other side of exchanges with a linked time bank (``interbank``).
            accounts[pk] = f"linked-bank-{partner}"
        else:
            migration = pk
        if pk in accounts:
            balances[accounts[pk]] = posted
    files = {
        "members.csv": _members(time_bank, person_id, organisation_id, balances),
        "exchanges.csv": _exchanges(time_bank, accounts, person_id),
        "opening_balances.csv": _openings(time_bank, accounts, migration),
        "offers.csv": _offers(time_bank, person_id, organisation_id, listings),
    }
    return files


def _members(
    time_bank: TimeBank, person_id: Any, organisation_id: Any, balances: dict[str, int]
) -> str:
    out, writer = _writer()
    writer.writerow(COLUMNS["members.csv"])
    notes: dict[int, list[str]] = defaultdict(list)
    for noted, text in (
        Note.objects.filter(time_bank=time_bank)
        .order_by("created_at", "pk")
        .values_list("person_id", "text")
    ):
        notes[noted].append(text)
    memberships = (
        Membership.objects.filter(time_bank=time_bank)
        .exclude(status=Status.DECLINED)
        .select_related("person", "person__user")
        .order_by("pk")
    )
    for membership in memberships.iterator(chunk_size=2000):
        person = membership.person
        ext = person_id(person.pk)
        joined = (
            membership.applied_at if membership.status == Status.APPLIED else membership.decided_at
        )
        row = {
            "external_id": ext,
            "display_name": person.display_name,
            "email": person.user.email if person.user else "",
            "phone": person.phone,
            "postcode": person.area,
            "gender": person.gender,
            "joined_on": _local_date(joined),
            "status": STATUS[Status(membership.status)],
            "account_type": "person",
            "notes_for_broker": "\n\n".join(notes.get(person.pk, [])),
            "role": membership.role,
            "left_on": _local_date(membership.left_at),
            "age_band": person.age_band,
            "disability": person.disability,
            "carer": person.carer,
            "bio": person.bio,
            "declared_balance_minutes": balances.get(ext, ""),
        }
        writer.writerow([_text(row.get(column, "")) for column in COLUMNS["members.csv"]])
    representatives: dict[int, list[str]] = defaultdict(list)
    for represented, representative in (
        Representative.objects.filter(organisation__time_bank=time_bank)
        .order_by("pk")
        .values_list("organisation_id", "person_id")
    ):
        representatives[represented].append(person_id(representative))
    for organisation in Organisation.objects.filter(time_bank=time_bank).order_by("pk"):
        ext = organisation_id(organisation.pk)
        row = {
            "external_id": ext,
            "display_name": organisation.name,
            "postcode": organisation.area,
            "account_type": "organisation",
            "bio": organisation.description,
            "organisation_kind": organisation.kind,
            "representatives": " ".join(representatives.get(organisation.pk, [])),
            "declared_balance_minutes": balances.get(ext, ""),
        }
        writer.writerow([_text(row.get(column, "")) for column in COLUMNS["members.csv"]])
    return out.getvalue()


def _exchanges(time_bank: TimeBank, accounts: dict[int, str], person_id: Any) -> str:
    out, writer = _writer()
    writer.writerow(COLUMNS["exchanges.csv"])
    in_bank = set(
        Membership.objects.filter(time_bank=time_bank)
        .exclude(status=Status.DECLINED)
        .values_list("person_id", flat=True)
    )
    # The legs of group exchanges, in the order they were written.
    legs: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for journal, account, minutes in (
        Entry.objects.filter(
            journal__exchange__time_bank=time_bank, journal__exchange__kind=Kind.GROUP
        )
        .order_by("journal_id", "pk")
        .values_list("journal_id", "account_id", "amount_minutes")
    ):
        legs[journal].append((account, minutes))
    exchanges = (
        Exchange.objects.filter(time_bank=time_bank)
        .select_related("journal", "category")
        .order_by("pk")
    )
    offers = _offer_ids(time_bank)

    def holder(account_id: int | None) -> str:
        """The external id of an account that a service, donation or grant moves hours on."""
        assert account_id is not None
        return accounts[account_id]

    for exchange in exchanges.iterator(chunk_size=2000):
        key = exchange.journal.idempotency_key
        base = {
            "external_id": key.removeprefix(EXCHANGE_KEY),
            "service_date": exchange.effective_date.isoformat(),
            "recorded_at": _moment(exchange.recorded_at),
            "category": exchange.category.slug if exchange.category else "",
            "description": exchange.description,
            "offer_external_id": offers.get(exchange.listing_id, "") if exchange.listing_id else "",
            "recorded_by_external_id": person_id(exchange.recorded_by_id)
            if exchange.recorded_by_id in in_bank
            else "",
            "state": EXCHANGE_STATE[State(exchange.state)],
            "kind": exchange.kind,
            "coproduction": exchange.coproduction,
        }
        if exchange.kind == Kind.GROUP:
            parts = [
                {
                    "provider_external_id" if minutes > 0 else "recipient_external_id": accounts[
                        account
                    ],
                    "minutes": abs(minutes),
                }
                for account, minutes in legs[exchange.journal_id]
            ]
        elif exchange.kind == Kind.SERVICE:
            parts = [
                {
                    "provider_external_id": holder(exchange.giver_id),
                    "recipient_external_id": holder(exchange.receiver_id),
                    "minutes": exchange.minutes,
                }
            ]
        else:
            # Donations and grants: the hours go from the giver (a donor, the pot) to the
            # receiver, so the receiver is the row's provider (whose hours go up).
            parts = [
                {
                    "provider_external_id": holder(exchange.receiver_id),
                    "recipient_external_id": holder(exchange.giver_id),
                    "minutes": exchange.minutes,
                }
            ]
        for part in parts:
            row = {**base, **part}
            writer.writerow([_text(row.get(column, "")) for column in COLUMNS["exchanges.csv"]])
    return out.getvalue()


def _offer_ids(time_bank: TimeBank) -> dict[int, str]:
    _, _, listings = external_ids(time_bank)
    return {
        pk: listings.get(pk) or f"l{pk}"
        for pk in Listing.objects.filter(time_bank=time_bank).values_list("pk", flat=True)
    }


def _openings(time_bank: TimeBank, accounts: dict[int, str], migration: int | None) -> str:
    out, writer = _writer()
    writer.writerow(COLUMNS["opening_balances.csv"])
    if migration is None:
        return out.getvalue()
    opened = Entry.objects.filter(journal__entries__account_id=migration).exclude(
        account_id=migration
    )
    for account, minutes, as_of in opened.order_by("journal_id", "pk").values_list(
        "account_id", "amount_minutes", "journal__effective_date"
    ):
        writer.writerow([_text(accounts[account]), minutes, as_of.isoformat()])
    return out.getvalue()


def _offers(
    time_bank: TimeBank, person_id: Any, organisation_id: Any, listings: dict[int, str]
) -> str:
    out, writer = _writer()
    writer.writerow(COLUMNS["offers.csv"])
    for listing in (
        Listing.objects.filter(time_bank=time_bank).select_related("category").order_by("pk")
    ):
        row = {
            "external_id": listings.get(listing.pk) or f"l{listing.pk}",
            "member_external_id": person_id(listing.person_id)
            if listing.person_id
            else organisation_id(listing.organisation_id),
            "kind": listing.kind,
            "title": listing.title,
            "description": listing.description,
            "category": listing.category.slug,
            "created_at": _moment(listing.created_at),
            "expires_on": listing.expires_on.isoformat(),
            "state": listing.state,
            "area": listing.area,
            "availability": listing.availability,
        }
        writer.writerow([_text(row.get(column, "")) for column in COLUMNS["offers.csv"]])
    return out.getvalue()
