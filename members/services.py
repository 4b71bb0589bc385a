"""Every write in the members domain: profiles, applying, deciding applications, offline
members, the bank's credit policy, broker notes, acting for a member and roles. (Offers and
requests live in ``listings.services``, safeguarding checks in ``safeguarding.services``.)
(Leaving and suspension void exchanges, so they live a layer up:
``exchanges.services.leave_time_bank`` and ``suspend_membership``.)

Each function is atomic; its emails are queued for the worker, which sends them after the
transaction commits (``members.emails``).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, replace

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from audit import services as audit
from audit.models import Action
from ledger import services as ledger
from ledger.exceptions import LimitsBelowBalance
from ledger.models import Account, AccountKind, Entry, JournalState

from . import emails
from .access import (
    Acting,
    is_broker,
    may_be_acted_for,
)
from .models import (
    BROKER_ROLES,
    LimitRule,
    Membership,
    Note,
    Person,
    Role,
    Status,
    TimeBank,
    User,
)


@dataclass(frozen=True)
class Profile:
    display_name: str
    bio: str = ""
    area: str = ""
    phone: str = ""
    contact_preference: str = "email"
    share_phone: bool = False
    # Optional monitoring answers ("" = not given): see ``Person``.
    age_band: str = ""
    gender: str = ""
    disability: str = ""
    carer: str = ""


# The optional equality-monitoring answers of a ``Profile``.
MONITORING_FIELDS = ("age_band", "gender", "disability", "carer")


@dataclass(frozen=True)
class Referees:
    referee_1_name: str
    referee_1_contact: str
    referee_2_name: str
    referee_2_contact: str


def _save_profile(person: Person, profile: Profile) -> None:
    for field, value in vars(profile).items():
        setattr(person, field, value)
    person.full_clean(exclude=["user", "created_by"])
    person.save()


@transaction.atomic
def update_profile(*, user: User, profile: Profile) -> Person:
    """A signed-in user creates or edits their own profile."""
    person = Person.objects.select_for_update().filter(user=user).first() or Person(
        user=user, created_by=user
    )
    _save_profile(person, profile)
    return person


@transaction.atomic
def apply_to_bank(
    *, user: User, time_bank: TimeBank, profile: Profile, referees: Referees, agrees_to_code: bool
) -> Membership:
    """A signed-in user applies to join a time bank.

    1. Creates or updates their profile (one person per login).
    2. Records the application with two referees and the time of agreeing to the code.
    Raises ValidationError if they did not agree, if the bank is closed to applications,
    or if they already have a membership there.
    """
    if not agrees_to_code:
        raise ValidationError(
            {"agrees_to_code": _("Please agree to the code of conduct to apply.")}
        )
    if not time_bank.accepting_applications:
        raise ValidationError(
            _("%(bank)s is not taking applications at the moment.") % {"bank": time_bank.name}
        )
    person = Person.objects.select_for_update().filter(user=user).first()
    if person is None:
        person = Person(user=user, created_by=user)
    _save_profile(person, profile)
    if Membership.objects.filter(person=person, time_bank=time_bank).exists():
        raise ValidationError(_("You have already applied to %(bank)s.") % {"bank": time_bank.name})
    now = timezone.now()
    try:
        with transaction.atomic():
            return Membership.objects.create(
                person=person,
                time_bank=time_bank,
                role=Role.MEMBER,
                status=Status.APPLIED,
                applied_at=now,
                agreed_code_of_conduct_at=now,
                **vars(referees),
            )
    except IntegrityError:
        # A double-submitted form racing itself: the first one won.
        raise ValidationError(
            _("You have already applied to %(bank)s.") % {"bank": time_bank.name}
        ) from None


def _lock_application(membership: Membership, broker: Person) -> Membership:
    """Lock the application row and check that ``broker`` may decide it (caller is atomic)."""
    locked = (
        Membership.objects.select_for_update(of=("self",))
        .select_related("person__user", "time_bank")
        .get(pk=membership.pk)
    )
    may_decide = Membership.objects.filter(
        person=broker,
        time_bank=locked.time_bank,
        status=Status.APPROVED,
        role__in=[Role.BROKER, Role.ADMIN],
    ).exists()
    if not may_decide:
        raise PermissionDenied(_("Only a broker of this time bank can decide its applications."))
    if locked.status != Status.APPLIED:
        raise ValidationError(
            _("This application has already been decided (%(status)s).")
            % {"status": locked.get_status_display().lower()}
        )
    return locked


@transaction.atomic
def approve_membership(*, membership: Membership, broker: Person) -> Membership:
    """A broker approves an application.

    1. Locks the application and checks the broker's role in that time bank.
    2. Marks it approved, recording who and when, and opens the member's hours account.
    3. After commit, emails the applicant (offline members have no email).
    """
    locked = _lock_application(membership, broker)
    locked.status = Status.APPROVED
    locked.decided_by = broker
    locked.decided_at = timezone.now()
    locked.save(update_fields=["status", "decided_by", "decided_at"])
    ledger.open_account(time_bank=locked.time_bank, person=locked.person)
    audit.record(
        action=Action.MEMBERSHIP_APPROVED, actor=broker, time_bank=locked.time_bank, obj=locked
    )
    emails.application_approved(locked)
    return locked


@transaction.atomic
def decline_membership(*, membership: Membership, broker: Person, reason: str) -> Membership:
    """A broker declines an application with a reason the applicant will read."""
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": _("Please give a reason: the applicant will read it.")})
    locked = _lock_application(membership, broker)
    locked.status = Status.DECLINED
    locked.decided_by = broker
    locked.decided_at = timezone.now()
    locked.decline_reason = reason
    locked.save(update_fields=["status", "decided_by", "decided_at", "decline_reason"])
    audit.record(
        action=Action.MEMBERSHIP_DECLINED, actor=broker, time_bank=locked.time_bank, obj=locked
    )
    emails.application_declined(locked)
    return locked


@transaction.atomic
def apply_credit_policy(*, time_bank: TimeBank, by: Person | None) -> int:
    """Apply the bank's credit limit policy, as it now stands, to every existing member and
    organisation account of the bank (new accounts get it from ``ledger.open_account``).

    Under "block" each account's limit becomes the bank's (``default_credit_limit_minutes``),
    which the ledger then holds; under "flag" accounts have no hard limit, and the bank's limit
    stays the threshold past which exchanges are recorded and flagged to the broker. An account
    already past the new limit is held where it is: its limit becomes its available balance,
    so it can go no lower (``ledger.set_limits`` refuses a limit an account is past). Each
    change goes through ``ledger.set_limits`` (under the account's lock) and is audited as
    ``account.limits_changed`` with the old and new limit. Safe to run twice. Returns how many
    accounts changed.
    """
    hard = (
        None if time_bank.limit_rule == LimitRule.FLAG else time_bank.default_credit_limit_minutes
    )
    changed = 0
    # Members' and organisations' accounts: the pot and the migration account have no limit.
    accounts = Account.objects.filter(
        time_bank=time_bank, kind__in=[AccountKind.MEMBER, AccountKind.ORGANISATION]
    )
    for account in accounts.order_by("pk"):
        old = account.credit_limit_minutes
        if old == hard:
            continue
        held = False
        try:
            updated = ledger.set_limits(
                account=account,
                credit_limit_minutes=hard,
                max_balance_minutes=account.max_balance_minutes,
            )
        except LimitsBelowBalance as past:
            held = True
            updated = ledger.set_limits(
                account=account,
                credit_limit_minutes=min(past.balance_minutes, 0),
                max_balance_minutes=account.max_balance_minutes,
            )
        if updated.credit_limit_minutes == old:
            continue
        audit.record(
            action=Action.ACCOUNT_LIMITS_CHANGED,
            actor=by,
            time_bank=time_bank,
            obj=account,
            details={
                "limit_rule": time_bank.limit_rule,
                "old_credit_limit": old,
                "new_credit_limit": updated.credit_limit_minutes,
                "held_at_balance": held,
            },
        )
        changed += 1
    return changed


def _check_joined_on(joined_on: datetime.date) -> None:
    if joined_on > timezone.localdate():
        raise ValidationError({"joined_on": _("The date they joined cannot be in the future.")})


@transaction.atomic
def create_offline_member(
    *,
    time_bank: TimeBank,
    broker: Person,
    profile: Profile,
    joined_on: datetime.date | None = None,
) -> Membership:
    """A broker adds a member who has no login; the broker records for them.

    The broker has met them, so the membership is approved at once and an account opened.
    ``joined_on``: the day they really joined (their paper form), when earlier than today, so
    that the help on their first slips can be entered.
    """
    if not Membership.objects.filter(
        person=broker,
        time_bank=time_bank,
        status=Status.APPROVED,
        role__in=[Role.BROKER, Role.ADMIN],
    ).exists():
        raise PermissionDenied(_("Only a broker of this time bank can add members."))
    if joined_on is not None:
        _check_joined_on(joined_on)
    person = Person(user=None, created_by=broker.user)
    _save_profile(person, profile)
    now = timezone.now()
    membership = Membership.objects.create(
        person=person,
        time_bank=time_bank,
        role=Role.MEMBER,
        status=Status.APPROVED,
        applied_at=now,
        decided_by=broker,
        decided_at=now,
        joined_on=joined_on,
    )
    ledger.open_account(time_bank=time_bank, person=person)
    audit.record(
        action=Action.MEMBER_ADDED_OFFLINE,
        actor=broker,
        time_bank=time_bank,
        obj=membership,
        details={"joined_on": joined_on.isoformat()} if joined_on else {},
    )
    return membership


@transaction.atomic
def set_joined_on(*, membership: Membership, joined_on: datetime.date, by: Person) -> Membership:
    """A broker sets the day a member really joined, so that help since then can be recorded
    (a paper form, or slips from before the broker entered them). Not in the future, and not
    after help already recorded for them (their earliest exchange still standing)."""
    if not is_broker(by, membership.time_bank_id):
        raise PermissionDenied(_("Only a broker of this time bank can change when someone joined."))
    locked = Membership.objects.select_for_update().get(pk=membership.pk)
    if locked.status != Status.APPROVED:
        raise ValidationError(_("Only a member of the time bank has a date they joined."))
    _check_joined_on(joined_on)
    earliest = (
        Entry.objects.filter(
            account__time_bank_id=locked.time_bank_id,
            account__person_id=locked.person_id,
        )
        .exclude(journal__state__in=[JournalState.VOIDED, JournalState.EXPIRED])
        .order_by("journal__effective_date")
        .values_list("journal__effective_date", flat=True)
        .first()
    )
    if earliest is not None and joined_on > earliest:
        raise ValidationError(
            {
                "joined_on": _(
                    "Help on %(date)s is already recorded for them: they joined on that day "
                    "at the latest."
                )
                % {"date": date_format(earliest, "DATE_FORMAT")}
            }
        )
    before = locked.joined
    locked.joined_on = joined_on
    locked.save(update_fields=["joined_on"])
    audit.record(
        action=Action.MEMBERSHIP_JOINED_ON,
        actor=by,
        time_bank=locked.time_bank,
        obj=locked,
        details={"from": before.isoformat() if before else None, "to": joined_on.isoformat()},
    )
    return locked


# --- Notes --------------------------------------------------------------------------------------


@transaction.atomic
def add_note(*, author: Person, membership: Membership, text: str) -> Note:
    """A broker writes a private note about a member of their bank."""
    if not is_broker(author, membership.time_bank_id):
        raise PermissionDenied(_("Only a broker of this time bank can write notes."))
    text = text.strip()
    if not text:
        raise ValidationError({"text": _("Please write the note.")})
    return Note.objects.create(
        person_id=membership.person_id,
        time_bank_id=membership.time_bank_id,
        author=author,
        text=text,
    )


# --- Acting for a member ------------------------------------------------------------------------


@transaction.atomic
def start_acting(*, acting: Acting) -> None:
    """Record that a broker starts acting for a member. The caller has checked ``acting``
    with ``access.get_acting_for`` and keeps it in the session."""
    audit.record(
        action=Action.ACTING_STARTED,
        actor=acting.broker,
        on_behalf_of=acting.member,
        time_bank=acting.time_bank,
        obj=acting.membership,
    )


@transaction.atomic
def stop_acting(*, acting: Acting) -> None:
    """Record that a broker stops acting for a member (they chose to)."""
    audit.record(
        action=Action.ACTING_STOPPED,
        actor=acting.broker,
        on_behalf_of=acting.member,
        time_bank=acting.time_bank,
        obj=acting.membership,
        details={"reason": "stopped"},
    )


@transaction.atomic
def stop_acting_automatically(*, broker: Person, held: dict) -> None:
    """Record that acting stopped because the broker may no longer act for the member held
    in their session (they lost the role, or the member left or changed)."""
    bank_id, member_id = _int_or_none(held.get("bank")), _int_or_none(held.get("person"))
    bank = TimeBank.objects.filter(pk=bank_id).first() if bank_id is not None else None
    member = Person.objects.filter(pk=member_id).first() if member_id is not None else None
    audit.record(
        action=Action.ACTING_STOPPED,
        actor=broker,
        on_behalf_of=member,
        time_bank=bank,
        details={"reason": "no_longer_allowed"},
    )


def _int_or_none(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


@transaction.atomic
def update_member_profile(*, acting: Acting, profile: Profile) -> Person:
    """A broker acting for a member edits the member's profile; audited as the broker on
    the member's behalf. Re-checks that the member may still be acted for."""
    membership = Membership.objects.select_related("person").filter(pk=acting.membership.pk).first()
    if (
        membership is None
        or not may_be_acted_for(membership)
        or not is_broker(acting.broker, acting.time_bank)
    ):
        raise PermissionDenied(_("You can no longer act for this member."))
    person = Person.objects.select_for_update().get(pk=acting.member.pk)
    if not person.is_offline:
        # A member with a login gave their monitoring answers for their eyes only: the broker
        # acting for them neither sees nor changes them.
        profile = replace(profile, **{name: getattr(person, name) for name in MONITORING_FIELDS})
    _save_profile(person, profile)
    audit.record(
        action=Action.PROFILE_UPDATED,
        actor=acting.broker,
        on_behalf_of=person,
        time_bank=acting.time_bank,
        obj=person,
    )
    return person


# --- Roles ----------------------------------------------------------------------------------------


@transaction.atomic
def change_role(
    *,
    membership: Membership,
    role: str,
    by: Person,
    safeguarding_lead: bool | None = None,
) -> Membership:
    """Change a member's role in their time bank (and whether they are its safeguarding lead).

    1. ``by`` must be an approved admin or broker of the bank. A broker may move people
       between member, broker and commissioner, but may not make an admin, change an
       admin's role, or name the safeguarding lead: those are an admin's decisions.
    2. Only an approved membership has a role to change.
    3. Locks the membership and the bank's brokers and admins (in id order), then refuses a
       change that would leave the bank with no admin (when it has one) or with nobody to
       broker it. So the last admin or broker can never be removed, by anyone.
    4. A person who stops being a broker or admin stops being the safeguarding lead.
    5. Records ``membership.role_changed`` with the old and new role and lead flag.
    Raises PermissionDenied or ValidationError (with a ``role`` message).
    """
    if role not in Role.values:
        raise ValidationError({"role": _("Choose one of the roles listed.")})
    bank_id = membership.time_bank_id
    if not is_broker(by, bank_id):
        raise PermissionDenied(_("Only an administrator or broker of this time bank can do that."))
    by_admin = Membership.objects.filter(
        person=by, time_bank_id=bank_id, status=Status.APPROVED, role=Role.ADMIN
    ).exists()
    locked = list(
        Membership.objects.select_for_update()
        .filter(
            Q(pk=membership.pk)
            | Q(time_bank_id=bank_id, status=Status.APPROVED, role__in=BROKER_ROLES)
        )
        .order_by("pk")
    )
    target = next(m for m in locked if m.pk == membership.pk)
    if target.status != Status.APPROVED:
        raise ValidationError({"role": _("Only an approved member's role can be changed.")})
    old_role, old_lead = target.role, target.safeguarding_lead
    new_lead = old_lead if safeguarding_lead is None else safeguarding_lead
    if role not in BROKER_ROLES:
        new_lead = False
    if not by_admin and (Role.ADMIN in (role, old_role) or new_lead != old_lead):
        raise PermissionDenied(
            _(
                "Only an administrator can make or change an administrator, or name the "
                "safeguarding lead."
            )
        )
    if role == old_role and new_lead == old_lead:
        raise ValidationError({"role": _("Nothing changed.")})
    others = [m for m in locked if m.pk != target.pk and m.status == Status.APPROVED]
    had_admin = any(m.role == Role.ADMIN for m in locked if m.status == Status.APPROVED)
    admins_after = sum(m.role == Role.ADMIN for m in others) + (role == Role.ADMIN)
    brokers_after = sum(m.role in BROKER_ROLES for m in others) + (role in BROKER_ROLES)
    if had_admin and admins_after == 0:
        raise ValidationError(
            {"role": _("This is the time bank's only administrator: make someone else one first.")}
        )
    if brokers_after == 0:
        raise ValidationError(
            {"role": _("This is the time bank's only broker: make someone else one first.")}
        )
    target.role, target.safeguarding_lead = role, new_lead
    target.save(update_fields=["role", "safeguarding_lead"])
    audit.record(
        action=Action.MEMBERSHIP_ROLE_CHANGED,
        actor=by,
        time_bank=target.time_bank,
        obj=target,
        details={
            "person": target.person_id,
            "old_role": old_role,
            "new_role": role,
            "old_safeguarding_lead": old_lead,
            "new_safeguarding_lead": new_lead,
        },
    )
    return target
