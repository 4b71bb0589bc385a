"""Every write of moving a time bank in and out: check an upload, import it, send the
invitations, export a bank.

The flow of an import (the page and ``manage.py import_bank`` call the same functions):

1. ``start_import`` stores the upload and its ``ImportRun`` (state checking) and runs the dry
   run (``check_run``): in the request for a small file, on the worker for a large one.
   The dry run writes nothing but the run's report: state ``invalid`` (problems) or ``ready``.
2. ``confirm_import`` (the admin has read the report, and chosen when invitations go out)
   claims the run (ready -> importing) and imports it (``run_import``): in the request for
   a small file, on the worker for a large one, with progress in the cache.
3. ``run_import`` reads and checks the file again inside the import's transaction (the bank
   may have changed since the dry run) and, if no problem remains, writes it all with
   ``write_plan``: one transaction, so it lands whole or not at all. Afterwards (on commit):
   the "import finished" email for a worker run, and the invitations due today.

Passwords are never imported. A member with an email gets a login with no usable password
and, on the day the admin chose, an invitation to set one (allauth's password reset link);
a member without email is an offline member, for whom the broker records.
"""

from __future__ import annotations

import csv
import io
import logging
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import DatabaseError, transaction
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from audit import services as audit
from audit.models import Action
from exchanges.models import Exchange as ExchangeRow
from exchanges.models import State
from exchanges.services import refresh_activity
from ledger import bulk
from ledger import services as ledger
from ledger.exceptions import LedgerError
from ledger.models import Account, format_hours
from listings.models import Listing, ListingState
from members.emails import send
from members.models import (
    ContactPreference,
    Membership,
    Note,
    Organisation,
    Person,
    Representative,
    Status,
    TimeBank,
    User,
)
from timebank.dates import add_months

from . import adapters, checking
from .checking import EXCHANGE_KEY, OPENING_KEY, Plan
from .formats import POT, Bundle, ImportError_, Problem, read_upload
from .models import ExternalFile, ExternalRecord, ImportRun, Invitation, RunState, Source

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
PROGRESS_SECONDS = 6 * 3600


class ImportRefused(Exception):
    """An import that cannot go ahead, with one sentence for the person who asked."""


# --- Reading an upload ---------------------------------------------------------------------------


def read_bundle(files: dict[str, bytes], source: str = "") -> Bundle:
    """The canonical rows of ``files`` in ``source`` (worked out from the files if empty).
    ``ImportError_`` (one sentence) for files that cannot be read, whatever went wrong."""
    source = source or adapters.detect(files)
    try:
        return adapters.read(files, source)
    except ImportError_:
        raise
    except Exception as error:
        # A reader meeting something no check foresaw: the person gets a sentence, never a 500.
        logger.exception("import: could not read the files as %s", source)
        raise ImportError_(
            _("The files could not be read as %(source)s: %(error)s.")
            % {"source": Source(source).label, "error": error}
        ) from None


def dry_run(
    *, files: dict[str, bytes], time_bank: TimeBank, actor: Person | None, source: str = ""
) -> Plan:
    """Everything parsed and checked against ``time_bank``; nothing written."""
    return checking.check(read_bundle(files, source), time_bank=time_bank, actor=actor)


# --- Writing a checked plan ------------------------------------------------------------------------


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def write_plan(
    *,
    plan: Plan,
    run: ImportRun,
    actor: Person | None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Write a checked plan (no problems left) into its bank, in the caller's transaction or
    its own. Returns the reconciliation. A fixed number of statements per few thousand rows.

    1. Locks the bank's row (the caller should have, before checking the plan): two imports
       into one bank run one after the other.
    2. People and organisations: logins (no usable password) for new emails, people,
       memberships with their original dates, organisations and their representatives,
       notes for brokers, and the external ids.
    3. Hours accounts (``ledger.open_accounts``), and the pot and migration account if used.
    4. History: every exchange and opening balance through ``ledger.post_history`` (set-based,
       original dates; limits widened where the old system let a member go further).
    5. Offers and requests, then the exchange records, then each member's dates of help.
    6. The reconciliation: declared against computed balances, the bank's sum, counts.
    """
    if plan.problems:
        raise ImportRefused(_("The files still have problems: nothing was imported."))
    bank = plan.time_bank
    report = progress or (lambda stage, done, total: None)
    with transaction.atomic():
        _lock_bank(bank)
        now = timezone.now()
        today = timezone.localdate()
        first_help = _first_help(plan)

        # 2. People.
        report(_("Members"), 0, len(plan.members))
        new_people = [m for m in plan.members if m.new and not m.organisation]
        fresh = [m for m in new_people if m.email and not m.user_id and not m.person_id]
        users = User.objects.bulk_create(
            [User(email=m.email, password=make_password(None)) for m in fresh], batch_size=1000
        )
        for member, user in zip(fresh, users, strict=True):
            member.user_id = user.pk
        EmailAddress.objects.bulk_create(
            [
                EmailAddress(user_id=m.user_id, email=m.email, verified=True, primary=True)
                for m in fresh
            ],
            batch_size=1000,
        )
        creating = [m for m in new_people if not m.person_id]
        people = Person.objects.bulk_create(
            [
                Person(
                    user_id=m.user_id,
                    display_name=m.display_name,
                    bio=m.bio,
                    area=m.area,
                    phone=m.phone,
                    # Without a login, members are reached through their broker.
                    contact_preference=ContactPreference.EMAIL
                    if m.user_id
                    else ContactPreference.BROKER,
                    age_band=m.age_band,
                    gender=m.gender,
                    disability=m.disability,
                    carer=m.carer,
                    created_at=now,
                    created_by_id=actor.user_id if actor else None,
                )
                for m in creating
            ],
            batch_size=1000,
        )
        for member, person in zip(creating, people, strict=True):
            member.person_id = person.pk
        memberships = []
        for member in new_people:
            if member.member_here:
                continue
            joined = _midnight(member.joined_on or first_help.get(member.external_id, today))
            decided = member.status != Status.APPLIED
            memberships.append(
                Membership(
                    person_id=member.person_pk,
                    time_bank=bank,
                    role=member.role,
                    status=member.status,
                    applied_at=joined,
                    decided_at=joined if decided else None,
                    decided_by=actor if decided else None,
                    left_at=_midnight(member.left_on) if member.left_on else None,
                )
            )
        Membership.objects.bulk_create(memberships, batch_size=1000)
        new_orgs = [m for m in plan.members if m.new and m.organisation]
        organisations = Organisation.objects.bulk_create(
            [
                Organisation(
                    time_bank=bank,
                    name=m.display_name,
                    kind=m.organisation_kind,
                    description=m.bio,
                    area=m.area,
                )
                for m in new_orgs
            ],
            batch_size=1000,
        )
        for member, organisation in zip(new_orgs, organisations, strict=True):
            member.organisation_id = organisation.pk
        Representative.objects.bulk_create(
            [
                Representative(organisation_id=m.organisation_pk, person_id=person_id)
                for m in new_orgs
                for person_id in dict.fromkeys(
                    plan.must(who).person_pk for who in m.representatives
                )
            ],
            ignore_conflicts=True,
        )
        if actor is not None:
            Note.objects.bulk_create(
                [
                    Note(person_id=m.person_pk, time_bank=bank, author=actor, text=m.notes)
                    for m in new_people
                    if m.notes
                ],
                batch_size=1000,
            )
        ExternalRecord.objects.bulk_create(
            [
                ExternalRecord(
                    time_bank=bank,
                    file=ExternalFile.MEMBERS,
                    external_id=m.external_id,
                    person_id=None if m.organisation else m.person_id,
                    organisation_id=m.organisation_id if m.organisation else None,
                    import_run=run,
                )
                for m in plan.members
                if m.new
            ],
            batch_size=1000,
        )
        report(_("Members"), len(plan.members), len(plan.members))

        # 3. Accounts: every trading member, every organisation, and anyone with hours.
        parties = {who for e in plan.exchanges for who, _m in e.legs} | {
            o.member for o in plan.openings
        }
        holders = [plan.member(who) for who in sorted(parties - {POT})] + [
            m for m in plan.members if m.new and m.has_account
        ]
        by_person, by_org = ledger.open_accounts(
            time_bank=bank,
            person_ids=[m.person_id for m in holders if m and not m.organisation and m.person_id],
            organisation_ids=[m.organisation_id for m in holders if m and m.organisation_id],
        )
        accounts: dict[str, int] = {}
        for member in [*plan.members, *plan.known.values()]:
            if member.organisation:
                account = by_org.get(member.organisation_id) if member.organisation_id else None
            else:
                account = by_person.get(member.person_id) if member.person_id else None
            if account is not None:
                accounts[member.external_id] = account.pk
        if POT in parties:
            accounts[POT] = ledger.community_pot(time_bank=bank).pk

        # 5a. Offers first: exchanges may name them.
        listings = _write_offers(plan, run, actor, now)

        # 4. History, in one set-based posting.
        journals = []
        recorder = actor.pk if actor else None
        person_of = {m.external_id: m.person_id for m in [*plan.members, *plan.known.values()]}
        for exchange in plan.exchanges:
            journals.append(
                ledger.HistoricalJournal(
                    idempotency_key=EXCHANGE_KEY + exchange.external_id,
                    legs=tuple((accounts[who], m) for who, m in exchange.legs),
                    effective_date=exchange.service_date,
                    recorded_at=exchange.recorded_at,
                    description=exchange.description,
                    category=exchange.journal_category,
                    recorded_by_id=person_of.get(exchange.recorded_by) or recorder,
                    pending=exchange.state == "pending",
                )
            )
        if plan.openings:
            migration = ledger.migration_account(time_bank=bank).pk
            description = _("Opening balance brought forward (%(source)s)") % {
                "source": Source(plan.source).label
            }
            for opening in plan.openings:
                # The end of the day the balance was struck: before any later exchange.
                at = min(_midnight(opening.as_of + timedelta(days=1)) - timedelta(seconds=1), now)
                journals.append(
                    ledger.HistoricalJournal(
                        idempotency_key=OPENING_KEY + opening.member,
                        legs=(
                            (accounts[opening.member], opening.minutes),
                            (migration, -opening.minutes),
                        ),
                        effective_date=opening.as_of,
                        recorded_at=at,
                        description=description[:500],
                        recorded_by_id=recorder,
                    )
                )
        posted = ledger.post_history(
            time_bank=bank,
            journals=journals,
            widen_limits=True,
            progress=lambda done, total: report(_("Exchanges"), done, total),
        )

        # 5b. The exchange records, pointing at their journals: streamed in one statement
        # (200,000 model instances would cost more than the rest of the import). Every column
        # the model has; those not given take the field's default, as the ORM would.
        fields = [f for f in ExchangeRow._meta.concrete_fields if not f.primary_key]
        defaults = {f.attname: f.get_default() for f in fields}

        def exchange_rows() -> Any:
            for exchange in plan.exchanges:
                giver, receiver = exchange.giver, exchange.receiver
                pending = exchange.state == "pending"
                values = {
                    **defaults,
                    "time_bank_id": bank.pk,
                    "kind": exchange.kind,
                    "journal_id": posted.journal_ids[EXCHANGE_KEY + exchange.external_id],
                    "state": State.AWAITING_APPROVAL.value if pending else State.COMPLETED.value,
                    "minutes": exchange.minutes,
                    "effective_date": exchange.service_date,
                    "description": exchange.description,
                    "category_id": exchange.category.pk if exchange.category else None,
                    "listing_id": listings.get(exchange.offer),
                    "coproduction": exchange.coproduction,
                    "giver_id": accounts[giver] if giver else None,
                    "receiver_id": accounts[receiver] if receiver else None,
                    "recorded_by_id": person_of.get(exchange.recorded_by)
                    or recorder
                    or _first_person(exchange, person_of),
                    "recorded_at": exchange.recorded_at,
                    "needs_approval": pending,
                }
                yield tuple(values[f.attname] for f in fields)

        report(_("Exchange records"), 0, len(plan.exchanges))
        bulk.insert_rows(ExchangeRow, [f.column for f in fields], exchange_rows())
        report(_("Dates of help"), 0, len(plan.members))
        refresh_activity(time_bank=bank)
        report(_("Reconciliation"), 0, 1)

        # Invitations: only for the logins made here; someone who had one keeps it.
        Invitation.objects.bulk_create(
            [Invitation(import_run=run, person_id=m.person_pk) for m in fresh], batch_size=1000
        )
        reconciliation = _reconcile(plan, accounts, posted.widened)
        audit.record(
            action=Action.BANK_IMPORTED,
            actor=actor,
            time_bank=bank,
            obj=run,
            details={
                "source": plan.source,
                "counts": reconciliation["counts"],
                "bank_sum_minutes": reconciliation["bank_sum"],
                "mismatches": reconciliation["mismatches"],
                "widened_limits": len(posted.widened),
                "skipped": len(plan.skipped),
            },
        )
        # What is left is the commit, where the database checks every journal sums to zero.
        report(_("Saving"), 0, 1)
    return reconciliation


def _lock_bank(time_bank: TimeBank) -> None:
    """Hold the bank's row until the transaction ends: imports into one bank run one after
    the other, each checking the files against what the one before it wrote."""
    TimeBank.objects.select_for_update().filter(pk=time_bank.pk).first()


def _first_help(plan: Plan) -> dict[str, date]:
    """The date of each member's first exchange in the files: when they joined, if the file
    does not say."""
    first: dict[str, date] = {}
    for exchange in plan.exchanges:
        for who, _m in exchange.legs:
            if who not in first or exchange.service_date < first[who]:
                first[who] = exchange.service_date
    return first


def _first_person(exchange: checking.Exchange, person_of: dict[str, int | None]) -> int | None:
    for who, _m in exchange.legs:
        if person_of.get(who):
            return person_of[who]
    return None


def _write_offers(
    plan: Plan, run: ImportRun, actor: Person | None, now: datetime
) -> dict[str, int]:
    """Create the new offers and requests; return every offer id the exchanges may name."""
    bank = plan.time_bank
    owners = {m.external_id: m for m in [*plan.members, *plan.known.values()]}
    # An organisation's offer is published by its first representative.
    representative: dict[int | None, int] = {}
    for organisation_id, person_id in (
        Representative.objects.filter(
            organisation_id__in=[m.organisation_id for m in owners.values() if m.organisation_id]
        )
        .order_by("since", "pk")
        .values_list("organisation_id", "person_id")
    ):
        representative.setdefault(organisation_id, person_id)
    listings = []
    for offer in plan.offers:
        owner = owners[offer.owner]
        if owner.organisation:
            reps = [owners[r].person_id for r in owner.representatives if r in owners]
            author = reps[0] if reps else representative.get(owner.organisation_id)
        else:
            author = owner.person_id
        # Else whoever runs the import publishes it.
        created_by = author or (actor.pk if actor else None)
        assert created_by is not None, offer.external_id
        expires = offer.expires_on or add_months(
            timezone.localtime(offer.created_at).date(), bank.listing_months
        )
        listings.append(
            Listing(
                time_bank=bank,
                kind=offer.kind,
                person_id=None if owner.organisation else owner.person_id,
                organisation_id=owner.organisation_id if owner.organisation else None,
                category=offer.category,
                title=offer.title,
                description=offer.description,
                area=offer.area,
                availability=offer.availability,
                expires_on=expires,
                state=ListingState(offer.state),
                created_by_id=created_by,
                created_at=offer.created_at,
                closed_at=now if offer.state == "closed" else None,
            )
        )
    created = Listing.objects.bulk_create(listings, batch_size=1000)
    ExternalRecord.objects.bulk_create(
        [
            ExternalRecord(
                time_bank=bank,
                file=ExternalFile.OFFERS,
                external_id=offer.external_id,
                listing_id=listing.pk,
                import_run=run,
            )
            for offer, listing in zip(plan.offers, created, strict=True)
        ],
        batch_size=1000,
    )
    ids = {
        offer.external_id: listing.pk for offer, listing in zip(plan.offers, created, strict=True)
    }
    named = sorted({e.offer for e in plan.exchanges if e.offer} - set(ids))
    for start in range(0, len(named), 2000):
        ids.update(
            ExternalRecord.objects.filter(
                time_bank=bank,
                file=ExternalFile.OFFERS,
                external_id__in=named[start : start + 2000],
            ).values_list("external_id", "listing_id")
        )
    return ids


def _reconcile(
    plan: Plan, accounts: dict[str, int], widened: list[tuple[Any, ...]]
) -> dict[str, Any]:
    """Declared against computed balances per member, the bank's sum (zero), counts, what
    was skipped and why, and limits widened. Two queries."""
    bank = plan.time_bank
    actual = (
        dict(
            Account.objects.filter(pk__in=list(accounts.values())).values_list(
                "pk", "posted_minutes"
            )
        )
        if len(accounts) < 30000
        else dict(Account.objects.filter(time_bank=bank).values_list("pk", "posted_minutes"))
    )
    bank_sum = (
        Account.objects.filter(time_bank=bank).aggregate(total=Sum("posted_minutes"))["total"] or 0
    )
    members = []
    mismatches = 0
    for external_id, entry in sorted(plan.balances.items()):
        account = accounts.get(external_id)
        computed = actual.get(account) if account else None
        declared = entry.get("declared")
        difference = declared - computed if declared is not None and computed is not None else None
        if difference:
            mismatches += 1
        member = plan.member(external_id)
        members.append(
            {
                "external_id": external_id,
                "name": member.display_name if member else external_id,
                "declared": declared,
                "before": entry.get("before") or 0,
                "opening": entry.get("opening") or 0,
                "history": entry.get("history") or 0,
                "computed": computed,
                "difference": difference,
            }
        )
    holders = {account: ext for ext, account in accounts.items()}
    return {
        "members": members,
        "bank_sum": bank_sum,
        "mismatches": mismatches,
        "counts": plan.count_rows(),
        "skipped": [p.as_dict() for p in plan.skipped[: checking.MAX_LISTED]],
        "skipped_count": len(plan.skipped),
        "warnings": [p.as_dict() for p in plan.warnings[: checking.MAX_LISTED]],
        "widened_limits": [
            {
                "external_id": holders.get(account_id, str(account_id)),
                "old_limit": old_limit,
                "new_limit": new_limit,
                "old_maximum": old_max,
                "new_maximum": new_max,
            }
            for account_id, old_limit, new_limit, old_max, new_max in widened
        ],
        "closed_months": plan.closed_months,
    }


def reconciliation_rows(run: ImportRun) -> list[list[Any]]:
    """The reconciliation as CSV rows: a section column, then its fields (hours as h:mm)."""
    data = run.reconciliation
    rows: list[list[Any]] = [
        [
            "section",
            "key",
            "name",
            "declared",
            "already_here",
            "opening",
            "exchanges",
            "computed",
            "difference",
        ]
    ]
    rows.append(
        ["bank", "bank_sum", run.time_bank.name, "", "", "", "", _hm(data.get("bank_sum", 0)), ""]
    )
    for member in data.get("members", []):
        rows.append(
            [
                "member",
                member["external_id"],
                member["name"],
                _hm(member["declared"]),
                _hm(member["before"]),
                _hm(member["opening"]),
                _hm(member["history"]),
                _hm(member["computed"]),
                _hm(member["difference"]),
            ]
        )
    for counts in data.get("counts", []):
        for key in ("rows", "new", "existing", "skipped"):
            rows.append(["count", f"{counts['file']}:{key}", "", "", "", "", "", counts[key], ""])
    for limit in data.get("widened_limits", []):
        rows.append(
            ["widened_limit", limit["external_id"], "", "", "", "", "", _hm(limit["new_limit"]), ""]
        )
    for item in data.get("skipped", []):
        rows.append(
            [
                "skipped",
                f"{item['file']}:{item['line'] or ''}",
                item["message"],
                "",
                "",
                "",
                "",
                "",
                "",
            ]
        )
    for month in data.get("closed_months", []):
        rows.append(
            [
                "closed_month",
                month,
                _("shown as revisions in the next report"),
                "",
                "",
                "",
                "",
                "",
                "",
            ]
        )
    return rows


def _hm(minutes: int | None) -> str:
    if minutes is None:
        return ""
    sign = "-" if minutes < 0 else ""
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours}:{rest:02d}"


# --- Runs: upload, dry run, confirm, import -------------------------------------------------------


def _in_request(size: int) -> bool:
    return size <= settings.IMPORT_ASYNC_BYTES


def start_import(
    *, time_bank: TimeBank, by: Person, data: bytes, file_name: str, source: str = ""
) -> ImportRun:
    """Store an upload and its run, and check it: now for a small file (the run comes back
    ``invalid`` or ``ready``), on the worker for a large one (``checking`` until it is done).
    ``ImportRefused`` when the file cannot be read at all."""
    name = Path(file_name).name[:200] or "upload"
    try:
        files = read_upload(data=data, name=name)
        source = source or adapters.detect(files)
    except ImportError_ as error:
        raise ImportRefused(str(error)) from None
    suffix = (
        Path(name).suffix.lower()
        if Path(name).suffix.lower() in {".zip", ".csv", ".txt", ".xlsx"}
        else ""
    )
    with transaction.atomic():
        run = ImportRun.objects.create(
            time_bank=time_bank, created_by=by, source=source, file_name=name
        )
        stored = default_storage.save(f"imports/{run.token}{suffix}", ContentFile(data))
        ImportRun.objects.filter(pk=run.pk).update(file=stored)
        run.file.name = stored
        if not _in_request(len(data)):
            from . import tasks

            tasks.check_import.delay_on_commit(run.pk)
            return run
    check_run(run_id=run.pk)
    run.refresh_from_db()
    return run


def _files_of(run: ImportRun) -> dict[str, bytes]:
    with default_storage.open(run.file.name, "rb") as stored:
        data = stored.read()
    return read_upload(data=data, name=run.file_name)


def check_run(*, run_id: int) -> str:
    """The dry run of a stored upload: its report, and state ``invalid`` or ``ready``.
    Returns the state; "skipped" if the run is no longer being checked."""
    run = ImportRun.objects.select_related("time_bank", "created_by").get(pk=run_id)
    if run.state != RunState.CHECKING:
        return "skipped"
    try:
        plan = dry_run(
            files=_files_of(run), time_bank=run.time_bank, actor=run.created_by, source=run.source
        )
        report, state = plan.report(), RunState.READY if plan.ok else RunState.INVALID
    except (ImportError_, OSError) as error:
        report = _failure_report(run, str(error))
        state = RunState.INVALID
    except Exception:
        logger.exception("import run %s: the check failed", run.pk)
        report = _failure_report(
            run,
            _(
                "The files could not be checked because of an unexpected error; the site's "
                "administrators have been told."
            ),
        )
        state = RunState.INVALID
    ImportRun.objects.filter(pk=run.pk, state=RunState.CHECKING).update(state=state, report=report)
    return state


def _failure_report(run: ImportRun, message: str) -> dict[str, Any]:
    problem = Problem(run.file_name, None, None, message)
    return {
        "source": run.source,
        "counts": [],
        "problem_count": 1,
        "problems": [problem.as_dict()],
        "warning_count": 0,
        "warnings": [],
        "skipped_count": 0,
        "skipped": [],
        "creates": [],
    }


def confirm_import(*, run: ImportRun, by: Person, invite_on: date | None) -> ImportRun:
    """The admin confirms a checked run: claim it (ready -> importing, so a second press does
    nothing) and import it, now for a small file or on the worker for a large one."""
    claimed = ImportRun.objects.filter(pk=run.pk, state=RunState.READY).update(
        state=RunState.IMPORTING, invite_on=invite_on, started_at=timezone.now()
    )
    if not claimed:
        raise ImportRefused(_("This import is not waiting for confirmation."))
    size = default_storage.size(run.file.name) if run.file else 0
    if _in_request(size):
        run_import(run_id=run.pk, by_id=by.pk, background=False)
    else:
        from . import tasks

        transaction.on_commit(lambda: tasks.run_import.delay(run.pk, by.pk))
    run.refresh_from_db()
    return run


def _progress_key(run: ImportRun) -> str:
    return f"import-progress:{run.token}"


def progress_of(run: ImportRun) -> dict[str, Any] | None:
    """Where a worker's import stands (a short-lived cache entry, never the source of truth)."""
    return cache.get(_progress_key(run))


def run_import(*, run_id: int, by_id: int | None, background: bool) -> str:
    """Import a confirmed run (state importing): check it again and write it in one
    transaction (``write_plan``). Returns "done", "invalid" (a new problem: nothing written),
    "failed" (the database refused; nothing written) or "skipped"."""
    run = ImportRun.objects.select_related("time_bank").get(pk=run_id)
    if run.state != RunState.IMPORTING:
        return "skipped"
    actor = Person.objects.filter(pk=by_id).select_related("user").first() if by_id else None

    def progress(stage: str, done: int, total: int) -> None:
        if background:
            cache.set(
                _progress_key(run), {"stage": stage, "done": done, "total": total}, PROGRESS_SECONDS
            )

    try:
        files = _files_of(run)
        with transaction.atomic():
            _lock_bank(run.time_bank)
            plan = dry_run(files=files, time_bank=run.time_bank, actor=actor, source=run.source)
            if plan.problems:
                ImportRun.objects.filter(pk=run.pk).update(
                    state=RunState.INVALID, report=plan.report()
                )
                return "invalid"
            reconciliation = write_plan(plan=plan, run=run, actor=actor, progress=progress)
            ImportRun.objects.filter(pk=run.pk).update(
                state=RunState.DONE,
                report=plan.report(),
                reconciliation=reconciliation,
                finished_at=timezone.now(),
            )
            _after_import(run, background=background)
    except (ImportError_, OSError, LedgerError, ImportRefused, DatabaseError) as error:
        logger.warning("import run %s failed: %s", run.pk, error)
        _fail(
            run,
            str(error).splitlines()[0] if str(error) else type(error).__name__,
            background=background,
        )
        return "failed"
    except Exception:
        logger.exception("import run %s failed", run.pk)
        _fail(
            run,
            _(
                "The import stopped on an unexpected error: nothing was imported. "
                "The site's administrators have been told."
            ),
            background=background,
        )
        return "failed"
    return "done"


def _fail(run: ImportRun, message: str, *, background: bool) -> None:
    ImportRun.objects.filter(pk=run.pk, state=RunState.IMPORTING).update(
        state=RunState.FAILED, failure=message[:500], finished_at=timezone.now()
    )
    if background:
        _queue_done_email(run.pk)


def _after_import(run: ImportRun, *, background: bool) -> None:
    """After commit: the stored upload deleted (it holds people's details), the email for a
    worker run, and the invitations if they are due today."""
    name = run.file.name

    def delete_file() -> None:
        if name:
            default_storage.delete(name)
            ImportRun.objects.filter(pk=run.pk).update(file="")

    transaction.on_commit(delete_file)
    if background:
        _queue_done_email(run.pk)
    run.refresh_from_db(fields=["invite_on"])
    if run.invite_on is not None and run.invite_on <= timezone.localdate():
        from . import tasks

        tasks.send_invitations.delay_on_commit(run.pk)


def _queue_done_email(run_id: int) -> None:
    from . import tasks

    tasks.send_import_email.delay_on_commit(run_id)


def send_done_email(*, run_id: int) -> bool:
    """Tell the admin who confirmed a worker's import that it is done (or why it failed), at
    most once. The email has counts and a link, no one's details."""
    claimed = ImportRun.objects.filter(
        pk=run_id,
        emailed_at__isnull=True,
        state__in=[RunState.DONE, RunState.FAILED],
        created_by__user__isnull=False,
    ).update(emailed_at=timezone.now())
    if not claimed:
        return False
    run = ImportRun.objects.select_related("time_bank", "created_by__user").get(pk=run_id)
    assert run.created_by is not None and run.created_by.user is not None
    context = {
        "run": run,
        "done": run.state == RunState.DONE,
        "bank": run.time_bank,
        "link": settings.SITE_URL + reverse("import-run", args=[run.token]),
        "counts": run.reconciliation.get("counts", {}),
        "mismatches": run.reconciliation.get("mismatches", 0),
        "bank_sum": format_hours(run.reconciliation.get("bank_sum", 0)),
    }
    try:
        send("import-done", to=run.created_by.user.email, context=context)
    except OSError:
        ImportRun.objects.filter(pk=run_id).update(emailed_at=None)
        raise
    return True


# --- From the command line --------------------------------------------------------------------------


@dataclass
class CommandResult:
    plan: Plan
    run: ImportRun | None
    reconciliation: dict[str, Any] | None


def import_from_path(
    *,
    path: str | Path,
    time_bank: TimeBank,
    actor: Person | None,
    source: str = "",
    dry: bool = False,
    invite_on: date | None = None,
    progress: Progress | None = None,
) -> CommandResult:
    """``manage.py import_bank``: ``import_files`` on a ZIP, a folder or a file.
    ``ImportRefused`` if they cannot be read."""
    try:
        files = read_upload(path)
    except ImportError_ as error:
        raise ImportRefused(str(error)) from None
    return import_files(
        files=files,
        file_name=Path(path).name,
        time_bank=time_bank,
        actor=actor,
        source=source,
        dry=dry,
        invite_on=invite_on,
        progress=progress,
    )


def import_files(
    *,
    files: dict[str, bytes],
    file_name: str,
    time_bank: TimeBank,
    actor: Person | None,
    source: str = "",
    dry: bool = False,
    invite_on: date | None = None,
    progress: Progress | None = None,
) -> CommandResult:
    """The dry run, and unless ``dry`` (or a problem remains, or nothing is new) the import,
    in one transaction, with its run and reconciliation kept for the import page. The dry
    run writes nothing at all. ``ImportRefused`` if the files cannot be read."""
    try:
        bundle = read_bundle(files, source)
    except ImportError_ as error:
        raise ImportRefused(str(error)) from None
    report = progress or (lambda stage, done, total: None)
    report(_("Checking"), 0, 1)
    if dry:
        plan = checking.check(bundle, time_bank=time_bank, actor=actor)
        report(_("Checking"), 1, 1)
        return CommandResult(plan, None, None)
    try:
        return _import_bundle(bundle, file_name, time_bank, actor, invite_on, report)
    except (DatabaseError, LedgerError) as error:
        # The checks above should leave nothing for the database to refuse; if it does, the
        # transaction is rolled back whole and the command says so in one line.
        logger.exception("import into %s refused by the database", time_bank.slug)
        raise ImportRefused(
            _("The database refused the import, so nothing was imported: %(error)s")
            % {"error": str(error).splitlines()[0] if str(error) else type(error).__name__}
        ) from None


def _import_bundle(
    bundle: Bundle,
    file_name: str,
    time_bank: TimeBank,
    actor: Person | None,
    invite_on: date | None,
    report: Progress,
) -> CommandResult:
    with transaction.atomic():
        _lock_bank(time_bank)
        plan = checking.check(bundle, time_bank=time_bank, actor=actor)
        report(_("Checking"), 1, 1)
        if plan.problems or plan.nothing_new:
            return CommandResult(plan, None, None)
        run = ImportRun.objects.create(
            time_bank=time_bank,
            created_by=actor,
            source=bundle.source,
            file_name=file_name[:200],
            state=RunState.IMPORTING,
            invite_on=invite_on,
            started_at=timezone.now(),
        )
        reconciliation = write_plan(plan=plan, run=run, actor=actor, progress=report)
        ImportRun.objects.filter(pk=run.pk).update(
            state=RunState.DONE,
            report=plan.report(),
            reconciliation=reconciliation,
            finished_at=timezone.now(),
        )
        _after_import(run, background=False)
    run.refresh_from_db()
    return CommandResult(plan, run, reconciliation)


# --- Invitations -------------------------------------------------------------------------------------


def schedule_invitations(*, run: ImportRun, invite_on: date | None) -> None:
    """Change when a done run's invitations go out; today sends them now (after commit)."""
    ImportRun.objects.filter(pk=run.pk).update(invite_on=invite_on)
    if invite_on is not None and invite_on <= timezone.localdate():
        from . import tasks

        tasks.send_invitations.delay_on_commit(run.pk)


def send_invitations(*, run_id: int | None = None, today: date | None = None) -> int:
    """Send the invitations that are due (their run's ``invite_on`` has come), or all of one
    run's. Each at most once: claimed ``sent_at IS NULL -> now`` first, released if the mail
    server refuses. Safe to run twice. Returns how many were sent."""
    today = today or timezone.localdate()
    waiting = Invitation.objects.filter(
        sent_at__isnull=True,
        import_run__state=RunState.DONE,
        import_run__invite_on__lte=today,
    )
    if run_id is not None:
        waiting = waiting.filter(import_run_id=run_id)
    sent = 0
    for invitation in (
        waiting.select_related("person__user", "import_run__time_bank")
        .order_by("pk")
        .iterator(chunk_size=500)
    ):
        claimed_at = timezone.now()
        if not Invitation.objects.filter(pk=invitation.pk, sent_at__isnull=True).update(
            sent_at=claimed_at
        ):
            continue
        try:
            _invite(invitation)
        except OSError:
            Invitation.objects.filter(pk=invitation.pk, sent_at=claimed_at).update(sent_at=None)
            logger.exception(
                "invitation %s: the mail server refused; the next run retries", invitation.pk
            )
            continue
        sent += 1
    return sent


def _invite(invitation: Invitation) -> None:
    """One invitation: a link to set a password (allauth's reset key, valid for
    ``PASSWORD_RESET_TIMEOUT``), and how to get another when it has expired."""
    from allauth.account.forms import default_token_generator
    from allauth.account.utils import user_pk_to_url_str

    user = invitation.person.user
    if user is None or not user.is_active:
        return
    key = default_token_generator.make_token(user)
    path = reverse(
        "account_reset_password_from_key", kwargs={"uidb36": user_pk_to_url_str(user), "key": key}
    )
    context = {
        "person": invitation.person,
        "bank": invitation.import_run.time_bank,
        "link": settings.SITE_URL + path,
        "reset": settings.SITE_URL + reverse("account_reset_password"),
        "days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
        "email": user.email,
    }
    send("import-invitation", to=user.email, context=context)


def expire_uploads(*, now: datetime | None = None) -> int:
    """Delete stored uploads never imported (checked, or with problems) after
    ``REPORT_EXPORT_DAYS``: they hold people's details. Safe to run twice."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.REPORT_EXPORT_DAYS)
    old = (
        ImportRun.objects.filter(created_at__lt=cutoff)
        .exclude(file="")
        .exclude(state__in=[RunState.CHECKING, RunState.IMPORTING])
    )
    deleted = 0
    for pk, name in old.values_list("pk", "file"):
        if ImportRun.objects.filter(pk=pk, file=name).update(file=""):
            default_storage.delete(name)
            deleted += 1
    return deleted


# --- Export ---------------------------------------------------------------------------------------


def export_bank(*, time_bank: TimeBank, by: Person | None) -> bytes:
    """The bank in the canonical format, as a ZIP (``exporting.bank_files``), recorded in
    the audit trail: a bank is never locked in."""
    from .exporting import bank_files

    files = bank_files(time_bank)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    with transaction.atomic():
        audit.record(
            action=Action.BANK_EXPORTED,
            actor=by,
            time_bank=time_bank,
            details={name: text.count("\n") - 1 for name, text in files.items()},
        )
    return out.getvalue()


def csv_text(rows: list[list[Any]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()
