"""Links between time banks on this install, and the exchanges their members make across them.

How a cross-bank exchange is booked (the model of CES's virtual users and Credit Commons'
mirror accounts; ``/work/shared/research/turn2_peers.md`` §2): each bank of a link holds one
mirror account (``ledger.models.AccountKind.MIRROR``) standing for the other bank. When a member
of A helps a member of B for m minutes, one database transaction writes two journals, each
balanced in its own bank: in A, the member +m and A's mirror for B -m; in B, B's mirror for A +m
and the member -m. So every bank still sums to zero on its own, and the two mirrors stay equal
and opposite (``ledger_verify``; on PostgreSQL a deferred trigger at commit). A mirror's credit
limit is its bank's trust limit towards the other: how far A's members may give to B's beyond
what they received from them. The ledger checks it inside its account locks, like any limit.

Each journal is told as an ``exchanges.Exchange`` in its own bank (``between_banks``), so each
bank's pages, statements, reports and approval rule work on its own half; a
``CrossBankExchange`` ties the two halves together and carries what a relay between installs
needs.

Ready for a relay to another install (not built): both journals' idempotency key is
``interbank-<transaction_id>``, a UUID fixed when the exchange is recorded, and each half keeps
the remote party's reference (``<bank slug>/<person id>``). A relay would keep only the local
half here: the service that records it would write the local journal and an outbox row (the
transaction id, the remote reference, the minutes and the state) in the same transaction, and
a Celery task would post the outbox to the other install, which books its half with the same
key; a retry is a replay there and changes nothing, and a refusal comes back as a void of the
local half. Confirmations, approvals, declines and reversals travel the same way, as state
changes keyed by the transaction id. The ledger does not change: the mirror account is the
Credit Commons "vostro", its limit the trust limit, and the pairing check becomes a
reconciliation of the mirror against the remote side's figures.

What holds, and what enforces it:
- A link joins two different banks, and two banks have at most one live link (proposed,
  active or suspended): checks ``link_two_banks`` and unique ``link_one_live_per_pair`` (on
  the pair in either order). Trust limits are zero or more minutes: checks.
- An active or suspended link has both mirror accounts: check ``link_active_has_mirrors``.
- A cross-bank exchange has one half in each bank and one transaction id: unique fields.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.db.models.functions import Greatest, Least
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from exchanges.models import Exchange
from ledger.models import Account
from members.models import Person, TimeBank


class LinkStatus(models.TextChoices):
    PROPOSED = "proposed", _("Proposed, waiting for the other time bank")
    ACTIVE = "active", _("Active")
    DECLINED = "declined", _("Declined")
    SUSPENDED = "suspended", _("Suspended")
    ENDED = "ended", _("Ended")


LIVE_LINK = [LinkStatus.PROPOSED, LinkStatus.ACTIVE, LinkStatus.SUSPENDED]


class Sharing(models.TextChoices):
    """What a bank lets the members of a linked bank see of it (never contact details). A
    member sees it only where their own bank shares as much (``Link.visible``)."""

    NOTHING = "nothing", _("Nothing: exchanges only with people members already know")
    MEMBERS = "members", _("Members' names")
    OFFERS = "offers", _("Members' names and their offers")


SHARING_ORDER: list[str] = [Sharing.NOTHING, Sharing.MEMBERS, Sharing.OFFERS]


class LinkQuerySet(models.QuerySet["Link"]):
    def of_bank(self, time_bank: TimeBank | int) -> LinkQuerySet:
        return self.filter(Q(proposer=time_bank) | Q(partner=time_bank))

    def active(self) -> LinkQuerySet:
        return self.filter(status=LinkStatus.ACTIVE)

    def between(self, one: TimeBank | int, other: TimeBank | int) -> LinkQuerySet:
        return self.filter(Q(proposer=one, partner=other) | Q(proposer=other, partner=one))


class Link(models.Model):
    """Two time banks agree that their members may exchange hours. Each side is described by
    the ``proposer_*`` or ``partner_*`` fields: its trust limit, what it shares, its mirror."""

    proposer = models.ForeignKey(TimeBank, on_delete=models.PROTECT, related_name="+")
    partner = models.ForeignKey(TimeBank, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=LinkStatus.choices)
    proposed_by = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        Person, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    # Who suspended it (a resumption is theirs to make) or ended it, and when.
    changed_by = models.ForeignKey(
        Person, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    changed_by_bank = models.ForeignKey(
        TimeBank, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField(null=True, blank=True)
    proposer_limit_minutes = models.PositiveIntegerField(_("trust limit (minutes)"), default=0)
    partner_limit_minutes = models.PositiveIntegerField(_("trust limit (minutes)"), default=0)
    proposer_shares = models.CharField(
        max_length=10, choices=Sharing.choices, default=Sharing.MEMBERS
    )
    partner_shares = models.CharField(
        max_length=10, choices=Sharing.choices, default=Sharing.MEMBERS
    )
    proposer_mirror = models.ForeignKey(
        Account, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    partner_mirror = models.ForeignKey(
        Account, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    objects = LinkQuerySet.as_manager()

    class Meta:
        ordering = ["-proposed_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(proposer=models.F("partner")), name="link_two_banks"
            ),
            models.UniqueConstraint(
                Least("proposer", "partner"),
                Greatest("proposer", "partner"),
                condition=Q(status__in=["proposed", "active", "suspended"]),
                name="link_one_live_per_pair",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in LinkStatus]), name="link_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["active", "suspended"])
                | Q(proposer_mirror__isnull=False, partner_mirror__isnull=False),
                name="link_active_has_mirrors",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.proposer} – {self.partner} ({self.get_status_display()})"

    def other(self, bank: TimeBank | int) -> TimeBank:
        bank_id = getattr(bank, "pk", bank)
        return self.partner if bank_id == self.proposer_id else self.proposer

    def side(self, bank: TimeBank | int) -> str:
        """ "proposer" or "partner": which side ``bank`` is on (ValueError: neither)."""
        bank_id = getattr(bank, "pk", bank)
        if bank_id == self.proposer_id:
            return "proposer"
        if bank_id == self.partner_id:
            return "partner"
        raise ValueError(f"bank {bank_id} is not in link {self.pk}")

    def limit_of(self, bank: TimeBank | int) -> int:
        return getattr(self, f"{self.side(bank)}_limit_minutes")

    def shares_of(self, bank: TimeBank | int) -> str:
        return getattr(self, f"{self.side(bank)}_shares")

    def mirror_of(self, bank: TimeBank | int) -> Account | None:
        return getattr(self, f"{self.side(bank)}_mirror")

    def visible(self, viewer_bank: TimeBank | int) -> str:
        """What members of ``viewer_bank`` see of the other bank: the lesser of what each
        shares (a bank that shows nothing of itself sees nothing of the other)."""
        other = self.other(viewer_bank)
        mine, theirs = self.shares_of(viewer_bank), self.shares_of(other)
        return min(mine, theirs, key=SHARING_ORDER.index)


class CrossBankExchange(models.Model):
    """One exchange between members of two linked banks: its two halves, one per bank.

    ``giving`` is the half in the giver's bank (giver: the member, receiver: the bank's mirror
    for the other); ``receiving`` the half in the receiver's (giver: the mirror, receiver: the
    member). Both halves always have the same state; each has its own bank's approval.
    """

    link = models.ForeignKey(Link, on_delete=models.PROTECT, related_name="exchanges")
    # Stable across installs: both journals' idempotency key is ``interbank-<transaction_id>``.
    transaction_id = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    giving = models.OneToOneField(Exchange, on_delete=models.PROTECT, related_name="+")
    receiving = models.OneToOneField(Exchange, on_delete=models.PROTECT, related_name="+")
    # The remote party as the other bank knows them: "<bank slug>/<person id>".
    giver_reference = models.CharField(max_length=100)
    receiver_reference = models.CharField(max_length=100)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-recorded_at", "-pk"]

    def __str__(self) -> str:
        return f"Exchange between time banks {self.transaction_id}"

    def halves(self) -> list[Exchange]:
        return [self.giving, self.receiving]

    def half_in(self, bank: TimeBank | int) -> Exchange | None:
        bank_id = getattr(bank, "pk", bank)
        return next((h for h in self.halves() if h.time_bank_id == bank_id), None)
