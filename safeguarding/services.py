"""Every write on safeguarding checks (record, update, delete) and the retention job that
deletes them once they are past the bank's retention period.

Each function is atomic and leaves an audit event.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from audit import services as audit
from audit.models import Action
from members.access import is_safeguarding_lead
from members.models import Membership, Person, Status, TimeBank
from timebank.dates import add_months

from .models import CheckOutcome, CheckType, SafeguardingRecord

# --- Safeguarding checks --------------------------------------------------------------------------


@dataclass(frozen=True)
class SafeguardingCheck:
    """What a safeguarding lead records about a check: no certificate content."""

    check_type: str
    checked_on: datetime.date
    outcome: str
    reference_number: str = ""
    expires_on: datetime.date | None = None


def _apply_check(record: SafeguardingRecord, check: SafeguardingCheck) -> None:
    if check.check_type not in CheckType.values:
        raise ValidationError({"check_type": _("Choose one of the types of check listed.")})
    if check.outcome not in CheckOutcome.values:
        raise ValidationError({"outcome": _("Choose one of the outcomes listed.")})
    if check.checked_on > timezone.localdate():
        raise ValidationError({"checked_on": _("The date of the check cannot be in the future.")})
    if check.expires_on is not None and check.expires_on < check.checked_on:
        raise ValidationError(
            {"expires_on": _("The renewal date must be on or after the date of the check.")}
        )
    for field, value in vars(check).items():
        setattr(record, field, value.strip() if isinstance(value, str) else value)
    record.full_clean(exclude=["time_bank", "person", "recorded_by"])


def _check_lead(by: Person, time_bank_id: int) -> None:
    if not is_safeguarding_lead(by, time_bank_id):
        raise PermissionDenied(_("Only the safeguarding lead of this time bank can do that."))


def _safeguarding_details(check: SafeguardingRecord, **more: object) -> dict:
    return {"person": check.person_id, "check_type": check.check_type, **more}


@transaction.atomic
def record_safeguarding_check(
    *, membership: Membership, by: Person, check: SafeguardingCheck
) -> SafeguardingRecord:
    """The bank's safeguarding lead records a reference or check made on a member of the
    bank (applicants included). Audited as ``safeguarding.recorded`` (ids and type only)."""
    _check_lead(by, membership.time_bank_id)
    record = SafeguardingRecord(
        time_bank_id=membership.time_bank_id, person_id=membership.person_id, recorded_by=by
    )
    _apply_check(record, check)
    record.save()
    audit.record(
        action=Action.SAFEGUARDING_RECORDED,
        actor=by,
        time_bank=membership.time_bank,
        obj=record,
        details=_safeguarding_details(record),
    )
    return record


@transaction.atomic
def update_safeguarding_check(
    *, record: SafeguardingRecord, by: Person, check: SafeguardingCheck
) -> SafeguardingRecord:
    """The safeguarding lead corrects or renews a check. Audited as ``safeguarding.updated``."""
    _check_lead(by, record.time_bank_id)
    locked = SafeguardingRecord.objects.select_for_update().get(pk=record.pk)
    _apply_check(locked, check)
    locked.updated_at = timezone.now()
    locked.save()
    audit.record(
        action=Action.SAFEGUARDING_UPDATED,
        actor=by,
        time_bank=record.time_bank,
        obj=locked,
        details=_safeguarding_details(locked),
    )
    return locked


def _delete_check(record: SafeguardingRecord, *, by: Person | None, reason: str) -> None:
    """Delete one check and audit it (caller is atomic and holds the row lock)."""
    details = _safeguarding_details(record, record=record.pk, reason=reason)
    bank = TimeBank.objects.get(pk=record.time_bank_id)
    record.delete()
    audit.record(action=Action.SAFEGUARDING_DELETED, actor=by, time_bank=bank, details=details)


@transaction.atomic
def delete_safeguarding_check(*, record: SafeguardingRecord, by: Person) -> None:
    """The safeguarding lead deletes a check. Audited as ``safeguarding.deleted``."""
    _check_lead(by, record.time_bank_id)
    locked = SafeguardingRecord.objects.select_for_update().filter(pk=record.pk).first()
    if locked is not None:
        _delete_check(locked, by=by, reason="deleted")


def _past_retention(time_bank: TimeBank, today: datetime.date) -> QuerySet[SafeguardingRecord]:
    """The bank's checks whose retention period has passed on ``today`` (the rule below)."""
    cutoff = add_months(today, -time_bank.safeguarding_retention_months)
    ended = Membership.objects.filter(time_bank=time_bank).filter(
        Q(status=Status.LEFT, left_at__date__lte=cutoff)
        | Q(status=Status.DECLINED, decided_at__date__lte=cutoff)
    )
    return SafeguardingRecord.objects.filter(time_bank=time_bank).filter(
        Q(expires_on__lte=cutoff) | Q(person__in=ended.values("person"))
    )


def safeguarding_records_past_retention(
    *, today: datetime.date | None = None
) -> list[SafeguardingRecord]:
    """Checks whose retention period has passed, in every time bank.

    The rule: a check is kept while it is in force and its member belongs to the bank, then
    for the bank's ``safeguarding_retention_months`` (6 by default, after the DBS code of
    practice's "no more than about six months after the decision"). It is due for deletion
    that many months after the earlier of its renewal date and the day the member left (or
    was declined).
    """
    today = today or timezone.localdate()
    due: list[SafeguardingRecord] = []
    for bank in TimeBank.objects.order_by("pk"):
        due += _past_retention(bank, today).select_related("time_bank")
    return due


def delete_expired_safeguarding_records(*, today: datetime.date | None = None) -> int:
    """The retention job: delete every check past retention, each in its own transaction,
    audited as ``safeguarding.deleted`` by the system (no actor). Safe to run twice: a
    check already deleted is skipped, and so is one renewed (or whose member came back)
    since the list was made: the rule is checked again under the row's lock. Returns how
    many it deleted."""
    today = today or timezone.localdate()
    deleted = 0
    for record in safeguarding_records_past_retention(today=today):
        with transaction.atomic():
            locked = (
                _past_retention(record.time_bank, today)
                .select_for_update(of=("self",))
                .filter(pk=record.pk)
                .first()
            )
            if locked is None:
                continue
            _delete_check(locked, by=None, reason="retention")
            deleted += 1
    return deleted
