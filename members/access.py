"""One access function per object type: load what a user asked for, refuse what they may not touch.

Every view and API endpoint that loads a user-requested object goes through here. Objects
outside the caller's time banks are reported as not found (404), so their existence is not
revealed; objects the caller can see but may not change raise PermissionDenied (403).

The tenant rule is applied inside: every lookup by id starts from its model's
``reachable_by(user)`` (``members.models.InBankQuerySet``), so while a broker acts for a member
nothing outside the bank acted in is found (404); a bank named by its slug answers 403 with a
plain message (``confine_to_acting_bank``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from .models import (
    BROKER_ROLES,
    TRADING_ROLES,
    ContactPreference,
    Membership,
    Person,
    Role,
    Status,
    TimeBank,
    User,
)


def person_for(user: object) -> Person | None:
    """Whom a signed-in user is, for every access check: their own profile, or the member a
    broker is acting for (``user.acting_for``, set by ``members.middleware``). None if they
    have not made a profile yet."""
    if not getattr(user, "is_authenticated", False):
        return None
    acting_for = getattr(user, "acting_for", None)
    if acting_for is not None:
        return acting_for
    return own_person_for(user)


def person_required(user: object) -> Person:
    """``person_for`` where a view needs someone: refused (403) for a user with no profile."""
    person = person_for(user)
    if person is None:
        raise PermissionDenied(_("Please make your profile first."))
    return person


def signed_in(user: object) -> User:
    """The signed-in user of a view that needs one (``login_required``, the API's
    ``IsAuthenticated``): anyone else is refused (403)."""
    if not isinstance(user, User) or not user.is_authenticated:
        raise PermissionDenied(_("Please sign in."))
    return user


def own_person_for(user: object) -> Person | None:
    """The signed-in user's own profile, even while they act for a member. The request's
    user comes with it (``members.mfa`` backends), so this costs no query there."""
    if not getattr(user, "is_authenticated", False):
        return None
    try:
        return user.person  # type: ignore[attr-defined]
    except Person.DoesNotExist:
        return None


def get_bank_for_broker(user: object, slug: str) -> tuple[TimeBank, Person]:
    """The time bank ``slug`` and the broker's person, if ``user`` is a broker there."""
    person = person_for(user)
    membership = _membership_in(person, slug, roles=BROKER_ROLES)
    bank = membership.time_bank if membership else get_object_or_404(TimeBank, slug=slug)
    confine_to_acting_bank(user, bank)
    if person is None or membership is None:
        raise PermissionDenied(_("Only a broker of this time bank can do that."))
    return bank, person


def _membership_in(
    person: Person | None, slug: str, *, roles: tuple[Role, ...]
) -> Membership | None:
    """``person``'s approved membership with one of ``roles`` in the bank ``slug``, with the
    bank (one query: the bank itself is read apart only when there is none)."""
    if person is None:
        return None
    return (
        Membership.objects.filter(
            person=person, time_bank__slug=slug, status=Status.APPROVED, role__in=roles
        )
        .select_related("time_bank")
        .order_by("pk")  # one at most; not the default order, which joins the person
        .first()
    )


def get_application_for(user: object, pk: int, *, write: bool = False) -> Membership:
    """A membership application, visible to brokers of its own time bank only.

    A broker of another time bank, a member or a commissioner gets 404: to them it does not
    exist. ``write`` is accepted for symmetry with the other access functions; every broker
    who can see an application may decide it.
    """
    found = (
        Membership.objects.brokered_by(user)
        .select_related("person", "person__user", "time_bank")
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise Http404(_("No such application."))
    return found


def is_broker(person: Person | None, time_bank: TimeBank | int) -> bool:
    """Whether ``person`` is an approved broker or admin of ``time_bank``."""
    if person is None:
        return False
    return Membership.objects.filter(
        person=person, time_bank=time_bank, status=Status.APPROVED, role__in=BROKER_ROLES
    ).exists()


def is_trading_member(person: Person | None, time_bank: TimeBank | int) -> bool:
    """Whether ``person`` is an approved member, broker or admin (not a commissioner) there."""
    if person is None:
        return False
    return Membership.objects.filter(
        person=person, time_bank=time_bank, status=Status.APPROVED, role__in=TRADING_ROLES
    ).exists()


def get_bank_for_member(user: object, slug: str) -> tuple[TimeBank, Person, Membership]:
    """The time bank ``slug``, the caller's person and membership, if they trade there.

    Approved members, brokers and admins pass. Applicants, commissioners (aggregates only)
    and people of other time banks get PermissionDenied; the bank itself is public.
    """
    person = person_for(user)
    membership = _membership_in(person, slug, roles=TRADING_ROLES)
    bank = membership.time_bank if membership else get_object_or_404(TimeBank, slug=slug)
    confine_to_acting_bank(user, bank)
    if person is None or membership is None:
        raise PermissionDenied(_("Only members of this time bank can see this page."))
    return bank, person, membership


def get_member_for_broker(user: object, slug: str, person_id: int) -> tuple[Membership, Person]:
    """A person's membership of the bank ``slug`` and the broker's person, for its brokers.

    Non-brokers get 403 (as for the bank's other broker pages); a person who is not in
    that bank is 404.
    """
    bank, broker = get_bank_for_broker(user, slug)
    membership = (
        Membership.objects.filter(time_bank=bank, person_id=person_id)
        .select_related("person", "person__user", "time_bank")
        .first()
    )
    if membership is None:
        raise Http404(_("No such member."))
    return membership, broker


def get_member_for_admin(user: object, slug: str, person_id: int) -> Membership:
    """A person's membership of the bank ``slug``, for that bank's approved admins only.

    Anyone else gets 403 (brokers included: erasure is an admin's decision); a person who is
    not in that bank is 404.
    """
    bank = get_object_or_404(TimeBank, slug=slug)
    confine_to_acting_bank(user, bank)
    me = person_for(user)
    if (
        me is None
        or not Membership.objects.filter(
            person=me, time_bank=bank, status=Status.APPROVED, role=Role.ADMIN
        ).exists()
    ):
        raise PermissionDenied(_("Only an administrator of this time bank can do that."))
    membership = (
        Membership.objects.filter(time_bank=bank, person_id=person_id)
        .select_related("person", "time_bank")
        .first()
    )
    if membership is None:
        raise Http404(_("No such member."))
    return membership


# --- Acting for a member ---------------------------------------------------------------------


@dataclass(frozen=True)
class Acting:
    """A broker acting for a member of the bank they broker."""

    time_bank: TimeBank
    broker: Person
    member: Person
    membership: Membership


def may_be_acted_for(membership: Membership) -> bool:
    """Whether a broker may act for this member: an approved member (not a broker, admin,
    commissioner or applicant) who has no login or asked for help through their broker.

    Acting lends the broker the member's identity, so someone with powers anywhere is never
    acted for: a broker, admin or commissioner membership in any time bank, a commissioner
    grant in force, staff or superuser, or two-factor sign-in (which acting would skip)."""
    from allauth.mfa.models import Authenticator

    from members.models import CommissionerGrant

    person = membership.person
    if not (
        membership.status == Status.APPROVED
        and membership.role == Role.MEMBER
        and (person.is_offline or person.contact_preference == ContactPreference.BROKER)
    ):
        return False
    if Membership.objects.filter(
        person=person, role__in=[Role.BROKER, Role.ADMIN, Role.COMMISSIONER]
    ).exists():
        return False
    if CommissionerGrant.objects.in_force().filter(person=person).exists():
        return False
    user = person.user
    if user is None:
        return True
    return not (
        user.is_staff or user.is_superuser or Authenticator.objects.filter(user=user).exists()
    )


def confine_to_acting_bank(user: object, time_bank: TimeBank | int) -> None:
    """While a broker acts for a member, only the bank they act in is open: any other bank's
    page answers 403 with a plain message (the member's other memberships lend nothing)."""
    bank_id = getattr(user, "acting_bank_id", None)
    if bank_id is None:
        return
    if (time_bank.pk if isinstance(time_bank, TimeBank) else time_bank) != bank_id:
        raise acting_elsewhere(user.acting_for, TimeBank.objects.get(pk=bank_id))  # type: ignore[attr-defined]


def acting_elsewhere(member: Person, acting_bank: TimeBank) -> PermissionDenied:
    """The refusal of another time bank's page while acting for ``member`` in ``acting_bank``."""
    return PermissionDenied(
        _("You are acting for %(name)s in %(bank)s: stop acting to use another time bank.")
        % {"name": member.display_name, "bank": acting_bank.name}
    )


def get_acting_for(user: object, *, time_bank_id: int, person_id: int) -> Acting:
    """The one check for acting for a member, made when a broker starts and again on every
    request while they act (``members.middleware``).

    The signed-in user (never the member acted for) must be an approved broker or admin of
    the bank, and the person an approved member of the same bank who may be acted for
    (``may_be_acted_for``). Anything else is PermissionDenied: another bank's member, an
    applicant, a fellow broker, or a broker who has lost the role.
    """
    broker = own_person_for(user)
    if broker is None or not is_broker(broker, time_bank_id):
        raise PermissionDenied(_("Only a broker of this time bank can act for its members."))
    membership = (
        Membership.objects.filter(time_bank_id=time_bank_id, person_id=person_id)
        .select_related("person", "time_bank")
        .first()
    )
    if membership is None or membership.person_id == broker.pk:
        raise PermissionDenied(_("You can act only for a member of your own time bank."))
    if not may_be_acted_for(membership):
        raise PermissionDenied(
            _("You can act only for an approved member who has no login or asked for help.")
        )
    return Acting(
        time_bank=membership.time_bank,
        broker=broker,
        member=membership.person,
        membership=membership,
    )


# --- Safeguarding ----------------------------------------------------------------------------


def is_safeguarding_lead(person: Person | None, time_bank: TimeBank | int) -> bool:
    """Whether ``person`` is an approved safeguarding lead of ``time_bank`` (a broker or admin
    with the flag; commissioners never are, by constraint)."""
    if person is None:
        return False
    return Membership.objects.filter(
        person=person,
        time_bank=time_bank,
        status=Status.APPROVED,
        role__in=BROKER_ROLES,
        safeguarding_lead=True,
    ).exists()
