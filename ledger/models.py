"""The hour ledger: accounts, journals and their entries, in whole minutes.

Sign convention: an entry's ``amount_minutes`` is positive when its account gains hours and
negative when it gives them. A member who helps for 90 minutes gets ``+90``; the member helped
gets ``-90``. An account's posted balance is the sum of its posted entries, so in a time bank
(a mutual-credit system) the balances of all accounts add up to zero.

Balances kept on each account row (TigerBeetle-style, so reads are O(1)):
``posted_minutes`` (posted entries), ``pending_out_minutes`` / ``pending_in_minutes`` (the
hours reserved by pending journals), ``version`` (number of posted entries). Available hours
are ``posted - pending_out``: a hold lowers what the payer can spend at once; hours on their
way in count only once posted.

What holds, and what enforces it (both backends unless marked):

Accounts
- One account per member per time bank, one per organisation, one community pot and at most
  one migration account per time bank: partial unique constraints
  ``account_one_per_member_per_bank``, ``account_one_per_organisation``,
  ``account_one_pot_per_bank``, ``account_one_migration_per_bank``. (The migration account
  holds the other side of the opening balances a bank brought from its old system, so the
  bank still sums to zero; only ``services.migration_account`` opens it.)
- A member account has a person and no organisation, an organisation account the reverse, the
  pot and the migration account neither: check ``account_owner_matches_kind``.
- A mirror account (``interbank``) stands for one linked time bank in another: it has that
  bank as ``partner_bank`` (never its own), and there is one per partner per bank: checks
  ``account_owner_matches_kind``, ``account_partner_only_on_mirror``, unique
  ``account_one_mirror_per_partner``. Its credit limit is the bank's trust limit towards the
  partner. The mirror of A for B and the mirror of B for A are equal and opposite (posted, and
  holds out of one = holds into the other), as the two halves of a cross-bank exchange move
  together in one transaction: on PostgreSQL the deferred constraint trigger
  ``ledger_mirrors_opposite`` (migration 0006) at commit, and ``ledger_verify`` on both.
- The credit limit is stored resolved on the account (copied from the time bank's
  ``default_credit_limit_minutes`` when the account is opened; later policy changes are
  applied by a broker per account). ``NULL`` means no lower limit (the community pot).
  Limits are zero or below and a maximum balance is zero or above: checks.
- No account is ever past its limits: ``posted - pending_out >= credit_limit`` and
  ``posted + pending_in <= max_balance``: checks ``account_within_credit_limit`` and
  ``account_within_max_balance`` (the posting code checks first, to say which account).
  Pending totals are never negative: checks.

Journals
- The idempotency key is unique per time bank: unique ``journal_key_unique_per_bank``; the
  stored ``fingerprint`` of the payload tells a replay from a conflicting reuse (services).
- A journal is reversed at most once: partial unique ``journal_reversed_at_most_once``; a
  reversal is never reversed itself: trigger ``ledger_journal_no_reversal_of_reversal``
  (PostgreSQL and SQLite, migration 0004; ``services.reverse_journal`` says so first).
- ``state`` is one of pending, posted, voided, expired; a pending journal has no decision;
  a voided or expired one has a decision time; a voided one has a reason: checks.
- A journal is never deleted, and the only change ever made to one is the single transition
  pending -> posted / voided / expired (with who, when, why): triggers
  ``ledger_journal_no_delete`` and ``ledger_journal_only_resolve`` (PostgreSQL and SQLite,
  migration 0002). So a pending journal is resolved at most once. (Django alters a SQLite
  table by rebuilding it, which drops its triggers: a migration altering a ledger table must
  re-run ``install`` from migrations 0002 and 0005 on SQLite.)

Entries
- Amounts are whole minutes and never zero: check ``entry_amount_not_zero``; one leg per
  account per journal: unique ``entry_one_leg_per_account``.
- An entry is posted exactly when it has a running balance, an account version and a posting
  time (all three or none): check ``entry_posted_fields_together``; versions are contiguous
  per account and unique: unique ``entry_version_unique_per_account`` (+ ``ledger_verify``).
- ``posted_at`` comes from one clock, the database's (``ledger_post_journal`` and
  ``services.database_now``), read once the account's lock is held: so it never goes back
  along an account's versions, and a point-in-time balance counts exactly the entries posted
  by then (``ledger_verify`` checks the order).
- Entries are never deleted, and never updated except once, when their pending journal is
  posted (running balance, version and time filled in): triggers ``ledger_entry_no_delete``
  and ``ledger_entry_only_post`` (PostgreSQL and SQLite).
- A journal's entries sum to zero, with at least two legs: the posting code (both backends)
  and, on PostgreSQL, the deferred constraint trigger ``ledger_entry_journal_balanced`` at
  commit. On SQLite ``ledger_verify`` catches a raw-SQL insert that breaks it.

Across rows (checked by ``services.verify_ledger`` / ``manage.py ledger_verify`` nightly):
each time bank sums to zero; stored balance = sum of posted entries = last running balance;
pending totals = pending journals' entries; running balances chain; ``posted_at`` never goes
back along an account's versions; reversals mirror their originals and are never reversed;
entries and journals belong to the same time bank.

A journal's description and decision reason are what people typed, and immutable: erasure
(``privacy.services``) rewrites every other text column, never these.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from members.models import InBankQuerySet, Organisation, Person, TimeBank

if TYPE_CHECKING:
    from django.db.models import QuerySet


def format_hours(minutes: int) -> str:
    """Minutes as people say them: "45 minutes", "1 hour", "1.5 hours", "-2.25 hours".

    Whole quarter hours become decimal hours; anything else reads "1 hour 40 minutes".
    The one place hours become words: the ``hours`` template filter, emails, messages and
    the API's text fields all call it. Translated (ngettext); the number keeps its sign.
    """
    sign = "-" if minutes < 0 else ""
    whole_hours, rest = divmod(abs(minutes), 60)
    if minutes == 0:
        return gettext("0 hours")
    if whole_hours == 0:
        return ngettext("%(n)s minute", "%(n)s minutes", rest) % {"n": f"{sign}{rest}"}
    if rest % 15 == 0:
        hours = (Decimal(abs(minutes)) / 60).normalize()
        # "1.5 hours" is plural in English: only exactly one hour is singular.
        return ngettext("%(n)s hour", "%(n)s hours", 1 if hours == 1 else 2) % {
            "n": f"{sign}{hours:f}"
        }
    return gettext("%(hours)s %(minutes)s") % {
        "hours": ngettext("%(n)s hour", "%(n)s hours", whole_hours) % {"n": f"{sign}{whole_hours}"},
        "minutes": ngettext("%(n)s minute", "%(n)s minutes", rest) % {"n": rest},
    }


def balance_in_words(minutes: int, holder: str | None = None) -> str:
    """A balance as a sentence a member can read at a glance, never a bare "-9 hours": to the
    holder (``holder`` None) "You have 3 hours to spend." or "You have received 9 hours more
    than you have given."; to a broker, the same about ``holder`` by name."""
    amount = format_hours(abs(minutes))
    if holder is None:
        if minutes > 0:
            return gettext("You have %(hours)s to spend.") % {"hours": amount}
        if minutes < 0:
            return gettext("You have received %(hours)s more than you have given.") % {
                "hours": amount
            }
        return gettext("You have given as much as you have received: no hours to spend yet.")
    if minutes > 0:
        return gettext("%(name)s has %(hours)s to spend.") % {"name": holder, "hours": amount}
    if minutes < 0:
        return gettext("%(name)s has received %(hours)s more than they have given.") % {
            "name": holder,
            "hours": amount,
        }
    return gettext("%(name)s has given as much as they have received.") % {"name": holder}


class AccountKind(models.TextChoices):
    MEMBER = "member", _("Member")
    ORGANISATION = "organisation", _("Organisation")
    POT = "pot", _("Community pot")
    MIGRATION = "migration", _("Migration account (opening balances)")
    # One per linked time bank (``interbank``): the other side of every exchange with it.
    MIRROR = "mirror", _("Another time bank (mirror account)")


# Accounts no person or organisation holds: never a party to an exchange, never on the desk.
SYSTEM_KINDS = (AccountKind.POT, AccountKind.MIGRATION, AccountKind.MIRROR)


class AccountQuerySet(InBankQuerySet["Account"]):
    def for_member(self, person: Person, time_bank: TimeBank) -> QuerySet[Account]:
        return self.filter(time_bank=time_bank, person=person)

    def held_by(self, person: Person) -> QuerySet[Account]:
        """``person``'s own accounts and those of the organisations they represent."""
        return self.filter(
            Q(person=person) | Q(organisation__representative__person=person)
        ).distinct()

    def in_bank(self, time_bank: TimeBank) -> QuerySet[Account]:
        return self.filter(time_bank=time_bank)


class Account(models.Model):
    """Hours held by a member, an organisation or a time bank's community pot."""

    time_bank = models.ForeignKey(TimeBank, on_delete=models.PROTECT, related_name="accounts")
    kind = models.CharField(max_length=20, choices=AccountKind.choices)
    person = models.ForeignKey(
        Person, on_delete=models.PROTECT, null=True, blank=True, related_name="accounts"
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="accounts"
    )
    # Resolved from the time bank's policy when opened; NULL: no lower limit (the pot).
    credit_limit_minutes = models.IntegerField(_("credit limit (minutes)"), null=True, blank=True)
    max_balance_minutes = models.IntegerField(_("maximum balance (minutes)"), null=True, blank=True)
    posted_minutes = models.BigIntegerField(default=0, editable=False)
    pending_out_minutes = models.BigIntegerField(default=0, editable=False)
    pending_in_minutes = models.BigIntegerField(default=0, editable=False)
    # Number of posted entries; the last one carries account_version == version.
    version = models.BigIntegerField(default=0, editable=False)
    opened_at = models.DateTimeField(default=timezone.now, editable=False)
    # A mirror account's linked time bank: it stands for that bank here (``interbank``).
    partner_bank = models.ForeignKey(
        TimeBank, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    objects = AccountQuerySet.as_manager()

    class Meta:
        ordering = ["time_bank", "kind", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["time_bank", "person"],
                condition=Q(person__isnull=False),
                name="account_one_per_member_per_bank",
            ),
            models.UniqueConstraint(
                fields=["organisation"],
                condition=Q(organisation__isnull=False),
                name="account_one_per_organisation",
            ),
            models.UniqueConstraint(
                fields=["time_bank"], condition=Q(kind="pot"), name="account_one_pot_per_bank"
            ),
            models.UniqueConstraint(
                fields=["time_bank"],
                condition=Q(kind="migration"),
                name="account_one_migration_per_bank",
            ),
            models.CheckConstraint(
                condition=Q(kind="member", person__isnull=False, organisation__isnull=True)
                | Q(kind="organisation", person__isnull=True, organisation__isnull=False)
                | Q(kind__in=["pot", "migration"], person__isnull=True, organisation__isnull=True)
                | Q(
                    kind="mirror",
                    person__isnull=True,
                    organisation__isnull=True,
                    partner_bank__isnull=False,
                ),
                name="account_owner_matches_kind",
            ),
            models.CheckConstraint(
                condition=Q(kind="mirror", partner_bank__isnull=False)
                & ~Q(partner_bank=F("time_bank"))
                | ~Q(kind="mirror") & Q(partner_bank__isnull=True),
                name="account_partner_only_on_mirror",
            ),
            models.UniqueConstraint(
                fields=["time_bank", "partner_bank"],
                condition=Q(kind="mirror"),
                name="account_one_mirror_per_partner",
            ),
            models.CheckConstraint(
                condition=Q(credit_limit_minutes__isnull=True) | Q(credit_limit_minutes__lte=0),
                name="account_credit_limit_not_positive",
            ),
            models.CheckConstraint(
                condition=Q(max_balance_minutes__isnull=True) | Q(max_balance_minutes__gte=0),
                name="account_max_balance_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(pending_out_minutes__gte=0, pending_in_minutes__gte=0, version__gte=0),
                name="account_pending_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(credit_limit_minutes__isnull=True)
                | Q(posted_minutes__gte=F("pending_out_minutes") + F("credit_limit_minutes")),
                name="account_within_credit_limit",
            ),
            models.CheckConstraint(
                condition=Q(max_balance_minutes__isnull=True)
                | Q(max_balance_minutes__gte=F("posted_minutes") + F("pending_in_minutes")),
                name="account_within_max_balance",
            ),
        ]
        indexes = [
            # The desk's "past their limit" list: lowest balances first, the first few.
            models.Index(fields=["time_bank", "posted_minutes", "id"], name="account_by_balance"),
        ]

    def __str__(self) -> str:
        return self.holder_name

    @property
    def holder_name(self) -> str:
        if self.kind == AccountKind.MEMBER and self.person is not None:
            return self.person.display_name
        if self.kind == AccountKind.ORGANISATION and self.organisation is not None:
            return self.organisation.name
        if self.kind == AccountKind.MIGRATION:
            return gettext("Migration account (opening balances)")
        if self.kind == AccountKind.MIRROR and self.partner_bank is not None:
            return self.partner_bank.name
        return gettext("Community pot")

    @property
    def available_minutes(self) -> int:
        return self.posted_minutes - self.pending_out_minutes


class JournalState(models.TextChoices):
    PENDING = "pending", _("Waiting for approval")
    POSTED = "posted", _("Posted")
    VOIDED = "voided", _("Voided")
    EXPIRED = "expired", _("Expired")


class Journal(models.Model):
    """One exchange of hours (two or more entries that sum to zero), as recorded."""

    time_bank = models.ForeignKey(
        TimeBank, on_delete=models.PROTECT, related_name="journals", db_index=False
    )
    state = models.CharField(max_length=10, choices=JournalState.choices)
    effective_date = models.DateField(_("date the help happened"))
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(
        Person, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    description = models.CharField(max_length=500)
    category = models.CharField(max_length=60, blank=True)
    idempotency_key = models.CharField(max_length=100)
    # sha256 of the caller's payload: a replay with the same key must match it exactly.
    fingerprint = models.CharField(max_length=64)
    reverses = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reversals",
        db_index=False,
    )
    decided_by = models.ForeignKey(
        Person, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-recorded_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["time_bank", "idempotency_key"], name="journal_key_unique_per_bank"
            ),
            models.UniqueConstraint(
                fields=["reverses"],
                condition=Q(reverses__isnull=False),
                name="journal_reversed_at_most_once",
            ),
            models.CheckConstraint(
                condition=Q(state__in=["pending", "posted", "voided", "expired"]),
                name="journal_state_valid",
            ),
            models.CheckConstraint(
                condition=Q(state="pending", decided_at__isnull=True, decided_by__isnull=True)
                | Q(state="posted")
                | Q(state__in=["voided", "expired"], decided_at__isnull=False),
                name="journal_decision_matches_state",
            ),
            models.CheckConstraint(
                condition=~Q(state="voided") | ~Q(decision_reason=""),
                name="journal_void_has_reason",
            ),
            models.CheckConstraint(condition=~Q(idempotency_key=""), name="journal_has_key"),
        ]
        indexes = [
            models.Index(
                fields=["time_bank", "recorded_at"],
                condition=Q(state="pending"),
                name="journal_pending_by_bank",
            ),
            models.Index(fields=["time_bank", "effective_date"], name="journal_bank_effective"),
        ]

    def __str__(self) -> str:
        return f"Journal {self.pk}: {self.description}"

    @property
    def reversed_by(self) -> Journal | None:
        return self.reversals.first()


class Entry(models.Model):
    """One leg of a journal: ``amount_minutes`` added to (or, negative, taken from) an account."""

    # Indexed by entry_one_leg_per_account, which starts with the journal.
    journal = models.ForeignKey(
        Journal, on_delete=models.PROTECT, related_name="entries", db_index=False
    )
    # Indexed by the two composite indexes below, which both start with the account.
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="entries", db_index=False
    )
    amount_minutes = models.BigIntegerField()
    # Not stored: the balance after this line, set on a statement page's lines
    # (``running_balances``).
    running_balance: int
    # Filled in when the journal posts: the account's balance just after this entry, its
    # position in the account's history, and the moment it counted.
    balance_after = models.BigIntegerField(null=True, blank=True)
    account_version = models.BigIntegerField(null=True, blank=True)
    posted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["account", "account_version"]
        verbose_name_plural = "entries"
        constraints = [
            models.CheckConstraint(condition=~Q(amount_minutes=0), name="entry_amount_not_zero"),
            models.CheckConstraint(
                condition=Q(
                    balance_after__isnull=True, account_version__isnull=True, posted_at__isnull=True
                )
                | Q(
                    balance_after__isnull=False,
                    account_version__gt=0,
                    posted_at__isnull=False,
                ),
                name="entry_posted_fields_together",
            ),
            models.UniqueConstraint(
                fields=["journal", "account"], name="entry_one_leg_per_account"
            ),
            models.UniqueConstraint(
                fields=["account", "account_version"], name="entry_version_unique_per_account"
            ),
        ]
        indexes = [
            # Point-in-time balance: the latest posted entry at or before a moment.
            models.Index(fields=["account", "posted_at"], name="entry_account_posted_at"),
        ]

    def __str__(self) -> str:
        return f"{format_hours(self.amount_minutes)} on account {self.account_id}"
