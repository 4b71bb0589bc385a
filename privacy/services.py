"""Data-protection rights: a person's export of everything held about them, and erasure.

Both are writes (each records an audit event). The top of the stack: it reads every app.

Erasure wipes identity and keeps the books: the person row, their accounts, journals,
entries, exchanges, memberships and reports all stay, attributed to a pseudonym, so every
balance, report figure and ``ledger_verify`` is unchanged. The one exception is the
demographic tables of a report period still open: the person's monitoring answers are wiped,
so they count as "not given" there; closed months show their stored anonymous snapshot.

Erasure leaves nothing: the free text they wrote, or that was written about them, is erased
field by field; then every text column of every table (found through Django's app registry,
not listed here) is searched for their name, email addresses and phone, in any case, and each
mention is replaced (the name by the pseudonym). The audit trail holds a reason code, never
free text. Two kinds of row are never rewritten, because nothing may change them: the audit
trail (ids, amounts, states and codes only, by its rule) and the ledger's journals (a journal's
description is the ledger's, immutable; what someone typed there about another person stays:
see ``ledger/models.py``). An exchange's description is a shared record and is kept, with any
mention of the person replaced.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import io
import re
import uuid
import zipfile
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext as _

from audit import services as audit
from audit.models import Action, AuditEvent
from exchanges.models import Exchange
from imports.models import ExternalRecord
from ledger.models import Account, Entry
from listings.models import Capability, Contact, Listing
from members.models import ErasureReason, Membership, Note, Person, Role, Status, TimeBank, User
from reports.models import MonthlyReport, Statement
from safeguarding.models import SafeguardingRecord
from timebank import spreadsheets

ERASED = "[erased]"
PSEUDONYM_PREFIX = "Former member"
# Email addresses under this domain can never receive mail (RFC 2606).
ERASED_EMAIL_DOMAIN = "erased.invalid"

# The tables of an export and their columns, in order: the CSV headers (stable snake_case).
EXPORT_COLUMNS: dict[str, list[str]] = {
    "person": [
        "id",
        "display_name",
        "bio",
        "area",
        "phone",
        "contact_preference",
        "share_phone",
        "age_band",
        "gender",
        "disability",
        "carer",
        "created_at",
    ],
    "login": ["email", "is_active", "date_joined", "last_login", "other_email_addresses"],
    "memberships": [
        "id",
        "time_bank",
        "role",
        "status",
        "applied_at",
        "agreed_code_of_conduct_at",
        "referee_1_name",
        "referee_1_contact",
        "referee_2_name",
        "referee_2_contact",
        "decided_by",
        "decided_at",
        "decline_reason",
        "left_at",
        "leave_reason",
    ],
    "listings": [
        "id",
        "time_bank",
        "kind",
        "category",
        "title",
        "description",
        "area",
        "availability",
        "expires_on",
        "state",
        "created_at",
        "closed_at",
    ],
    "contacts": [
        "id",
        "time_bank",
        "kind",
        "direction",
        "listing_id",
        "from_name",
        "to_name",
        "message",
        "created_at",
    ],
    "capabilities": ["id", "time_bank", "category", "description", "level", "created_at"],
    "notes": ["id", "time_bank", "author", "text", "created_at"],
    "accounts": [
        "id",
        "time_bank",
        "balance_minutes",
        "pending_in_minutes",
        "pending_out_minutes",
        "credit_limit_minutes",
        "opened_at",
    ],
    "entries": [
        "account_id",
        "journal_id",
        "date",
        "description",
        "minutes",
        "running_balance_minutes",
        "state",
        "posted_at",
    ],
    "exchanges": [
        "id",
        "time_bank",
        "kind",
        "state",
        "date",
        "minutes",
        "description",
        "parties",
        "recorded_at",
    ],
    "statements": [
        "month",
        "time_bank",
        "given_minutes",
        "received_minutes",
        "given_year_minutes",
        "received_year_minutes",
        "balance_minutes",
        "exchanged_with",
        "nudge",
    ],
    "safeguarding_checks": [
        "id",
        "time_bank",
        "check_type",
        "reference_number",
        "checked_on",
        "expires_on",
        "outcome",
        "recorded_by",
        "recorded_at",
    ],
    # The ids another platform knew them by, kept from a bank's import (``imports``).
    "imported_as": ["time_bank", "file", "external_id", "imported_on"],
    "audit_events": [
        "id",
        "created_at",
        "time_bank",
        "action",
        "actor",
        "on_behalf_of",
        "object_type",
        "object_id",
    ],
}


def _iso(value: datetime.date | datetime.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _name(person: Person | None) -> str | None:
    return person.display_name if person is not None else None


def _rows(table: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Check every row has exactly the table's columns, in order (the CSV relies on it)."""
    columns = EXPORT_COLUMNS[table]
    for row in rows:
        assert list(row) == columns, (table, list(row))
    return rows


def _gather(person: Person) -> dict[str, Any]:
    user = person.user
    memberships = list(
        Membership.objects.filter(person=person).select_related("time_bank", "decided_by")
    )
    membership_ids = [m.pk for m in memberships]
    accounts = list(Account.objects.filter(person=person).select_related("time_bank"))
    exchanges = list(
        Exchange.objects.involving(accounts).select_related("time_bank").order_by("pk")
    )
    exchange_ids = [e.pk for e in exchanges]
    contacts = (
        Contact.objects.filter(Q(from_person=person) | Q(to_person=person) | Q(made_by=person))
        .select_related("time_bank", "from_person", "to_person", "to_organisation")
        .order_by("created_at", "pk")
    )
    audit_events = (
        AuditEvent.objects.filter(
            Q(actor=person)
            | Q(on_behalf_of=person)
            | Q(object_type="members.person", object_id=person.pk)
            | Q(object_type="members.membership", object_id__in=membership_ids)
            | Q(object_type="exchanges.exchange", object_id__in=exchange_ids)
        )
        .select_related("time_bank", "actor", "on_behalf_of")
        .order_by("created_at", "pk")
    )
    if user is not None:
        from allauth.account.models import EmailAddress

        others = EmailAddress.objects.filter(user=user).exclude(email__iexact=user.email)
        login = [
            {
                "email": user.email,
                "is_active": user.is_active,
                "date_joined": _iso(user.date_joined),
                "last_login": _iso(user.last_login),
                "other_email_addresses": " ".join(sorted(a.email for a in others)),
            }
        ]
    else:
        login = []
    return {
        "person": _rows(
            "person",
            [
                {
                    "id": person.pk,
                    "display_name": person.display_name,
                    "bio": person.bio,
                    "area": person.area,
                    "phone": person.phone,
                    "contact_preference": person.contact_preference,
                    "share_phone": person.share_phone,
                    "age_band": person.age_band,
                    "gender": person.gender,
                    "disability": person.disability,
                    "carer": person.carer,
                    "created_at": _iso(person.created_at),
                }
            ],
        ),
        "login": _rows("login", login),
        "memberships": _rows(
            "memberships",
            [
                {
                    "id": m.pk,
                    "time_bank": m.time_bank.name,
                    "role": m.role,
                    "status": m.status,
                    "applied_at": _iso(m.applied_at),
                    "agreed_code_of_conduct_at": _iso(m.agreed_code_of_conduct_at),
                    "referee_1_name": m.referee_1_name,
                    "referee_1_contact": m.referee_1_contact,
                    "referee_2_name": m.referee_2_name,
                    "referee_2_contact": m.referee_2_contact,
                    "decided_by": _name(m.decided_by),
                    "decided_at": _iso(m.decided_at),
                    "decline_reason": m.decline_reason,
                    "left_at": _iso(m.left_at),
                    "leave_reason": m.leave_reason,
                }
                for m in memberships
            ],
        ),
        "listings": _rows(
            "listings",
            [
                {
                    "id": x.pk,
                    "time_bank": x.time_bank.name,
                    "kind": x.kind,
                    "category": x.category.name,
                    "title": x.title,
                    "description": x.description,
                    "area": x.area,
                    "availability": x.availability,
                    "expires_on": _iso(x.expires_on),
                    "state": x.state,
                    "created_at": _iso(x.created_at),
                    "closed_at": _iso(x.closed_at),
                }
                for x in Listing.objects.filter(person=person)
                .select_related("time_bank", "category")
                .order_by("created_at", "pk")
            ],
        ),
        # Other people appear by their display name only: never their contact details.
        "contacts": _rows(
            "contacts",
            [
                {
                    "id": c.pk,
                    "time_bank": c.time_bank.name,
                    "kind": c.kind,
                    "direction": "received" if c.to_person_id == person.pk else "sent",
                    "listing_id": c.listing_id,
                    "from_name": c.from_person.display_name,
                    "to_name": _name(c.to_person)
                    or (c.to_organisation.name if c.to_organisation else None),
                    "message": c.message,
                    "created_at": _iso(c.created_at),
                }
                for c in contacts
            ],
        ),
        "capabilities": _rows(
            "capabilities",
            [
                {
                    "id": c.pk,
                    "time_bank": c.time_bank.name,
                    "category": c.category.name,
                    "description": c.description,
                    "level": c.level,
                    "created_at": _iso(c.created_at),
                }
                for c in Capability.objects.filter(person=person)
                .select_related("time_bank", "category")
                .order_by("pk")
            ],
        ),
        "notes": _rows(
            "notes",
            [
                {
                    "id": n.pk,
                    "time_bank": n.time_bank.name,
                    "author": n.author.display_name,
                    "text": n.text,
                    "created_at": _iso(n.created_at),
                }
                for n in Note.objects.filter(person=person)
                .select_related("time_bank", "author")
                .order_by("created_at", "pk")
            ],
        ),
        "accounts": _rows(
            "accounts",
            [
                {
                    "id": a.pk,
                    "time_bank": a.time_bank.name,
                    "balance_minutes": a.posted_minutes,
                    "pending_in_minutes": a.pending_in_minutes,
                    "pending_out_minutes": a.pending_out_minutes,
                    "credit_limit_minutes": a.credit_limit_minutes,
                    "opened_at": _iso(a.opened_at),
                }
                for a in accounts
            ],
        ),
        "entries": _rows(
            "entries",
            [
                {
                    "account_id": e.account_id,
                    "journal_id": e.journal_id,
                    "date": _iso(e.journal.effective_date),
                    "description": e.journal.description,
                    "minutes": e.amount_minutes,
                    "running_balance_minutes": e.balance_after,
                    "state": e.journal.state,
                    "posted_at": _iso(e.posted_at),
                }
                for e in Entry.objects.filter(account__in=accounts)
                .select_related("journal")
                .order_by("account_id", "journal__effective_date", "pk")
            ],
        ),
        "exchanges": _rows(
            "exchanges",
            [
                {
                    "id": x.pk,
                    "time_bank": x.time_bank.name,
                    "kind": x.kind,
                    "state": x.state,
                    "date": _iso(x.effective_date),
                    "minutes": x.minutes,
                    "description": x.description,
                    "parties": "; ".join(sorted(p.display_name for p in x.parties())),
                    "recorded_at": _iso(x.recorded_at),
                }
                for x in exchanges
            ],
        ),
        "statements": _rows(
            "statements",
            [
                {
                    "month": _iso(s.month),
                    "time_bank": s.membership.time_bank.name,
                    "given_minutes": s.given_minutes,
                    "received_minutes": s.received_minutes,
                    "given_year_minutes": s.given_year_minutes,
                    "received_year_minutes": s.received_year_minutes,
                    "balance_minutes": s.balance_minutes,
                    "exchanged_with": "; ".join(s.exchanged_with),
                    "nudge": s.nudge,
                }
                for s in Statement.objects.filter(membership__in=membership_ids)
                .select_related("membership__time_bank")
                .order_by("month", "pk")
            ],
        ),
        "safeguarding_checks": _rows(
            "safeguarding_checks",
            [
                {
                    "id": r.pk,
                    "time_bank": r.time_bank.name,
                    "check_type": r.check_type,
                    "reference_number": r.reference_number,
                    "checked_on": _iso(r.checked_on),
                    "expires_on": _iso(r.expires_on),
                    "outcome": r.outcome,
                    "recorded_by": _name(r.recorded_by),
                    "recorded_at": _iso(r.recorded_at),
                }
                for r in SafeguardingRecord.objects.filter(person=person)
                .select_related("time_bank", "recorded_by")
                .order_by("pk")
            ],
        ),
        "imported_as": _rows(
            "imported_as",
            [
                {
                    "time_bank": r.time_bank.name,
                    "file": r.file,
                    "external_id": r.external_id,
                    "imported_on": _iso(r.import_run.created_at),
                }
                for r in ExternalRecord.objects.filter(person=person)
                .select_related("time_bank", "import_run")
                .order_by("pk")
            ],
        ),
        "audit_events": _rows(
            "audit_events",
            [
                {
                    "id": ev.pk,
                    "created_at": _iso(ev.created_at),
                    "time_bank": ev.time_bank.name if ev.time_bank else None,
                    "action": ev.action,
                    "actor": _name(ev.actor),
                    "on_behalf_of": _name(ev.on_behalf_of),
                    "object_type": ev.object_type,
                    "object_id": ev.object_id,
                }
                for ev in audit_events
            ],
        ),
    }


@transaction.atomic
def export_person_data(*, person: Person, file_format: str = "json") -> dict[str, Any]:
    """Everything held about ``person``, as tables of JSON-ready rows (``EXPORT_COLUMNS``).

    Returns ``{"exported_at": iso, "tables": {name: [row, ...]}}``; dates are ISO strings,
    hours are whole minutes. Records ``person.exported`` (with ``file_format``) first, so the
    export lists itself.
    """
    audit.record(
        action=Action.PERSON_EXPORTED, actor=person, obj=person, details={"format": file_format}
    )
    return {"exported_at": timezone.now().isoformat(), "tables": _gather(person)}


def export_zip(data: dict[str, Any]) -> bytes:
    """An export as a ZIP of CSV files, one per table (``<table>.csv``), with a header row of
    ``EXPORT_COLUMNS`` even when the table is empty."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for table, columns in EXPORT_COLUMNS.items():
            text = io.StringIO()
            writer = spreadsheets.DictWriter(text, fieldnames=columns)
            writer.writeheader()
            writer.writerows(data["tables"][table])
            archive.writestr(f"{table}.csv", text.getvalue())
    return buffer.getvalue()


def pseudonym_for(person: Person) -> str:
    """ "Former member 4F7K": stable for a person, derived from its id and the secret key (so
    not from the name, and not guessable from the id)."""
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"erase:{person.pk}".encode(), hashlib.sha256
    ).digest()
    code = base64.b32encode(digest).decode()
    # Four characters unless another person already has that pseudonym.
    for length in range(4, len(code)):
        name = f"{PSEUDONYM_PREFIX} {code[:length]}"
        if not Person.objects.filter(display_name=name).exclude(pk=person.pk).exists():
            return name
    raise RuntimeError("No free pseudonym.")  # pragma: no cover


def _check_may_erase(person: Person, admin: User) -> Person | None:
    """Staff, or an approved admin of every time bank ``person`` belongs to. Returns the
    admin's person (None for staff without a profile)."""
    actor = Person.objects.filter(user=admin).first()
    if admin.is_staff and admin.is_active:
        return actor
    banks = set(Membership.objects.filter(person=person).values_list("time_bank_id", flat=True))
    admin_of = set(
        Membership.objects.filter(
            person=actor, role=Role.ADMIN, status=Status.APPROVED
        ).values_list("time_bank_id", flat=True)
        if actor is not None
        else []
    )
    if not banks or not banks <= admin_of:
        raise PermissionDenied(
            _("Only an administrator of every time bank this person belongs to can erase them.")
        )
    return actor


def _rename(names: list[str], old: str, new: str) -> tuple[list[str], bool]:
    renamed = [new if name == old else name for name in names]
    return renamed, renamed != names


# Rows nothing may rewrite (append-only by triggers): their content is kept free of personal
# text by their own rules instead (see the module docstring).
NEVER_REWRITTEN = {"ledger.journal", "ledger.entry", "audit.auditevent"}
# Tables of words, not people: Django's own catalogue of models and permissions.
NOT_ABOUT_PEOPLE = {"contenttypes.contenttype", "auth.permission", "sessions.session"}
# Other people's identities are not mentions of the person: someone else with the same name
# keeps it, and no one's login address is rewritten (hers is replaced on her own login).
NOT_MENTIONS = {
    ("members.person", "display_name"),
    ("members.user", "email"),
    ("account.emailaddress", "email"),
}
# Between the digits of a phone number, as people write it: spaces, dashes, dots, brackets.
PHONE_GAP = r"[ ().-]{0,3}"


@dataclass(frozen=True)
class Mention:
    """One way a person is named in text, and what replaces it."""

    # For the database's first pass (a portable regular expression, matched case-blind).
    rough: str
    # The exact test and replacement, in Python (word boundaries, any case).
    exact: re.Pattern[str]
    replacement: str


def _mentions(name: str, emails: list[str], phone: str, pseudonym: str) -> list[Mention]:
    """How ``name``, ``emails`` and ``phone`` may appear in text. A name is matched whole and
    in any case, whatever the spaces between its words; too short a name (one or two letters)
    matches nothing, rather than every word it is part of. A phone with fewer than six digits
    is not looked for either."""
    found: list[Mention] = []
    words = name.split()
    if len("".join(words)) >= 3:
        gap = r"[ \t\r\n]+"
        rough = gap.join(re.escape(word) for word in words)
        exact = re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, words)) + r"(?!\w)", re.I)
        found.append(Mention(rough, exact, pseudonym))
    for email in {e.strip().lower() for e in emails if e.strip()}:
        # Whole: not the end of a longer address ("xalice@..." is someone else's).
        exact = re.compile(r"(?<![\w.+-])" + re.escape(email) + r"(?![\w.-])", re.I)
        found.append(Mention(re.escape(email), exact, ERASED))
    digits = re.sub(r"\D", "", phone)
    if len(digits) >= 6:
        pattern = PHONE_GAP.join(digits)
        exact = re.compile(r"(?<!\d)" + pattern + r"(?!\d)")
        found.append(Mention(pattern, exact, ERASED))
    return found


def _scrubbed(value: Any, mentions: list[Mention]) -> Any:
    """``value`` (text, or JSON: lists, dicts and strings) with every mention replaced."""
    if isinstance(value, str):
        for mention in mentions:
            value = mention.exact.sub(mention.replacement, value)
        return value
    if isinstance(value, list):
        return [_scrubbed(item, mentions) for item in value]
    if isinstance(value, dict):
        return {key: _scrubbed(item, mentions) for key, item in value.items()}
    return value


def _erase_mentions(mentions: list[Mention]) -> int:
    """Replace every mention in every text column of every model (Django's app registry),
    but the rows nothing may rewrite. Returns how many cells changed. One query per text
    column finds the rows (portable regular expressions, case-blind); each row found is
    rewritten by its primary key."""
    if not mentions:
        return 0
    rough = "|".join(f"({m.rough})" for m in mentions)
    changed = 0
    for model in apps.get_models(include_auto_created=True):
        label = model._meta.label_lower
        if label in NEVER_REWRITTEN or label in NOT_ABOUT_PEOPLE or not model._meta.managed:
            continue
        for field in model._meta.concrete_fields:
            if (
                field.primary_key
                or (label, field.name) in NOT_MENTIONS
                or not isinstance(field, models.CharField | models.TextField | models.JSONField)
            ):
                continue
            rows = (
                model._base_manager.annotate(_as_text=Cast(field.attname, models.TextField()))
                .filter(_as_text__iregex=rough)
                .values_list("pk", field.attname)
            )
            for pk, value in list(rows):
                new = _scrubbed(value, mentions)
                if isinstance(field, models.EmailField) and new != value:
                    new = ""  # an address with someone's address in it is no address
                if new != value:
                    model._base_manager.filter(pk=pk).update(**{field.attname: new})
                    changed += 1
    return changed


def _rewrite_admin_log(person: Person, user: User | None, pseudonym: str) -> None:
    """Django's admin log names each object it records (``object_repr``), as it was then: an
    older name too. Rename the entries about the person, their login and memberships."""
    from django.contrib.admin.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    about = [
        (Person, [person.pk], pseudonym),
        (
            Membership,
            list(Membership.objects.filter(person=person).values_list("pk", flat=True)),
            ERASED,
        ),
    ]
    if user is not None:
        about.append((User, [user.pk], ERASED))
    for model, ids, name in about:
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(model),
            object_id__in=[str(pk) for pk in ids],
        ).update(object_repr=name)


@transaction.atomic
def erase_person(*, person: Person, admin: User, reason: str) -> Person:
    """An administrator erases a person on request: identity wiped, books kept.

    1. Checks ``admin`` is staff or an approved admin of every bank the person belongs to,
       and that ``reason`` is one of ``ErasureReason`` (a code: never free text); locks the
       person.
    2. Replaces the display name with a pseudonym; empties bio, area, phone, the monitoring
       answers (age band, gender, disability, carer) and referees; replaces why they left
       (``leave_reason``) and why they were declined, their listings' text, contact messages to
       or from them, their capabilities' descriptions and broker notes about them with
       "[erased]"; deletes safeguarding checks about them (each audited as
       ``safeguarding.deleted``).
    3. Deactivates their login, gives it an unusable unique email address, and deletes its
       email addresses and API tokens.
    4. Renames them in stored monthly report lists and statements (figures unchanged), and in
       Django's admin log.
    5. Replaces every remaining mention of their name, email addresses or phone, in any text
       column of any table others wrote (a referee, a note about someone else, a message),
       but the append-only ledger journals and audit trail.
    6. Records ``person.erased`` in each of their banks: who (by id) and the reason code.
    Accounts, journals, entries, exchanges, memberships and report figures are not touched,
    nor the id another platform knew them by (``imports.ExternalRecord``, in their export):
    it names no one here, and it is what stops a re-import of the old file bringing them back.
    """
    if reason not in ErasureReason.values:
        raise ValidationError({"reason": _("Choose one of the reasons listed.")})
    actor = _check_may_erase(person, admin)
    person = Person.objects.select_for_update(of=("self",)).select_related("user").get(pk=person.pk)
    old_name = person.display_name
    old_phone = person.phone
    new_name = pseudonym_for(person)
    user = person.user
    emails: list[str] = []
    if user is not None:
        from allauth.account.models import EmailAddress

        emails = [
            user.email,
            *EmailAddress.objects.filter(user=user).values_list("email", flat=True),
        ]

    # 2. Identity and the free text about them.
    person.display_name = new_name
    person.bio = person.area = person.phone = ""
    person.share_phone = False
    # The monitoring answers go too. Closed months keep their figures: the report of a closed
    # month reads its snapshot of anonymous counts (``MonthlyReport.commissioner``), which
    # names no one; a period still open counts the person as "not given" from now on.
    person.age_band = person.gender = person.disability = person.carer = ""
    person.save(
        update_fields=[
            "display_name",
            "bio",
            "area",
            "phone",
            "share_phone",
            "age_band",
            "gender",
            "disability",
            "carer",
        ]
    )
    memberships = Membership.objects.filter(person=person)
    memberships.update(
        referee_1_name="", referee_1_contact="", referee_2_name="", referee_2_contact=""
    )
    memberships.exclude(decline_reason="").update(decline_reason=ERASED)
    # Why they left is theirs (it may say something about their health): it goes too.
    memberships.exclude(leave_reason="").update(leave_reason=ERASED)
    listings = Listing.objects.filter(person=person)
    listing_ids = set(listings.values_list("pk", flat=True))
    listings.update(title=ERASED, area="", availability="")
    listings.exclude(description="").update(description=ERASED)
    Contact.objects.filter(Q(from_person=person) | Q(to_person=person) | Q(made_by=person)).exclude(
        message=""
    ).update(message=ERASED)
    Capability.objects.filter(person=person).update(description=ERASED)
    Note.objects.filter(person=person).update(text=ERASED)
    # Safeguarding checks about them go entirely (each deletion audited in its bank).
    for check in SafeguardingRecord.objects.select_for_update().filter(person=person):
        audit.record(
            action=Action.SAFEGUARDING_DELETED,
            actor=actor,
            time_bank=check.time_bank,
            details={
                "record": check.pk,
                "person": person.pk,
                "check_type": check.check_type,
                "reason": "erasure",
            },
        )
        check.delete()

    # 3. The login.
    if user is not None:
        from allauth.account.models import EmailAddress
        from rest_framework.authtoken.models import Token

        EmailAddress.objects.filter(user=user).delete()
        Token.objects.filter(user=user).delete()
        user.email = f"erased-{uuid.uuid4().hex}@{ERASED_EMAIL_DOMAIN}"
        user.is_active = False
        user.set_unusable_password()
        user.save(update_fields=["email", "is_active", "password"])

    # 4. Stored snapshots that carry the name: brokers' lists and statements; the admin log.
    banks = Membership.objects.filter(person=person).values("time_bank")
    for report in MonthlyReport.objects.select_for_update(of=("self",)).filter(time_bank__in=banks):
        changed = False
        lists = {}
        for key, names in report.lists.items():
            lists[key], renamed = _rename(names, old_name, new_name)
            changed = changed or renamed
        if changed:
            report.lists = lists
            report.save(update_fields=["lists"])
    statements = Statement.objects.select_for_update(of=("self",)).filter(
        report__time_bank__in=banks
    )
    for statement in statements.only("exchanged_with", "suggestions"):
        exchanged_with, changed = _rename(statement.exchanged_with, old_name, new_name)
        suggestions = [
            {
                **s,
                "owner": new_name if s.get("owner") == old_name else s.get("owner"),
                "title": ERASED if s.get("id") in listing_ids else s.get("title"),
            }
            for s in statement.suggestions
        ]
        if changed or suggestions != statement.suggestions:
            statement.exchanged_with = exchanged_with
            statement.suggestions = suggestions
            statement.save(update_fields=["exchanged_with", "suggestions"])
    _rewrite_admin_log(person, user, new_name)

    # 5. Every mention others wrote, anywhere.
    _erase_mentions(_mentions(old_name, emails, old_phone, new_name))

    # 6. The trail, in each of their banks' logs: who erased whom (by id) and the reason code.
    details = {"by_user": admin.pk, "reason": reason}
    for bank in TimeBank.objects.filter(pk__in=banks) or [None]:
        audit.record(
            action=Action.PERSON_ERASED, actor=actor, time_bank=bank, obj=person, details=details
        )
    return person
