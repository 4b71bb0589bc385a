"""The audit trail: who did what, when, in which time bank.

What holds, and what enforces it:
- An event is never changed or deleted: triggers refuse UPDATE and DELETE on PostgreSQL and
  SQLite (``audit/migrations/0002_append_only.py``). PostgreSQL's TRUNCATE (test flushes)
  fires no row trigger; on SQLite no TransactionTestCase may write events, as for the ledger.
- An event is written inside the transaction of the change it describes (``audit.services
  .record``), so both commit or neither does.
- Its people and time bank cannot be deleted from under it (``PROTECT``).
- ``details`` holds ids, amounts and states only: never free text a person wrote, a password
  or a token.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import Person, TimeBank


class Action(models.TextChoices):
    EXCHANGE_RECORDED = "exchange.recorded", _("Exchange recorded")
    EXCHANGE_CONFIRMED = "exchange.confirmed", _("Exchange confirmed")
    EXCHANGE_APPROVED = "exchange.approved", _("Exchange approved")
    EXCHANGE_DECLINED = "exchange.declined", _("Exchange declined")
    EXCHANGE_REVERSED = "exchange.reversed", _("Exchange reversed")
    EXCHANGE_EXPIRED = "exchange.expired", _("Exchange expired: nobody decided in time")
    GRANT_MADE = "grant.made", _("Grant from the community pot")
    DONATION_MADE = "donation.made", _("Hours donated")
    MEMBERSHIP_APPROVED = "membership.approved", _("Application approved")
    MEMBERSHIP_DECLINED = "membership.declined", _("Application declined")
    MEMBERSHIP_LEFT = "membership.left", _("Member left the time bank")
    MEMBERSHIP_SUSPENDED = "membership.suspended", _("Member suspended")
    MEMBERSHIP_REINSTATED = "membership.reinstated", _("Member reinstated")
    ACCOUNT_LIMITS_CHANGED = (
        "account.limits_changed",
        _("Credit limit changed by the bank's policy"),
    )
    MEMBER_ADDED_OFFLINE = "member.added_offline", _("Member without email added")
    MEMBERSHIP_JOINED_ON = "membership.joined_on", _("Date joined changed")
    REPORT_DOWNLOADED = "report.downloaded", _("Report downloaded")
    PERSON_EXPORTED = "person.exported", _("Personal data exported")
    STATEMENT_DOWNLOADED = "statement.downloaded", _("Statement downloaded")
    AUDIT_DOWNLOADED = "audit.downloaded", _("Audit trail downloaded")
    PERSON_ERASED = "person.erased", _("Person erased")
    # Acting for a member: the broker starts and stops, and what they do in between.
    ACTING_STARTED = "acting.started", _("Broker started acting for a member")
    ACTING_STOPPED = "acting.stopped", _("Broker stopped acting for a member")
    LISTING_PUBLISHED = "listing.published", _("Offer or request published")
    LISTING_UPDATED = "listing.updated", _("Offer or request changed")
    LISTING_REPLIED = "listing.replied", _("Reply to an offer or request")
    PROFILE_UPDATED = "profile.updated", _("Profile updated")
    MEMBERSHIP_ROLE_CHANGED = "membership.role_changed", _("Role changed")
    SAFEGUARDING_RECORDED = "safeguarding.recorded", _("Safeguarding check recorded")
    SAFEGUARDING_UPDATED = "safeguarding.updated", _("Safeguarding check changed")
    SAFEGUARDING_DELETED = "safeguarding.deleted", _("Safeguarding check deleted")
    # Moving a time bank in and out (imports/): the import with its reconciliation figures.
    BANK_IMPORTED = "bank.imported", _("Time bank imported")
    BANK_EXPORTED = "bank.exported", _("Time bank exported")
    # Links between time banks (interbank/): their life and terms.
    LINK_PROPOSED = "link.proposed", _("Link to another time bank proposed")
    LINK_ACCEPTED = "link.accepted", _("Link to another time bank accepted")
    LINK_DECLINED = "link.declined", _("Link to another time bank declined")
    LINK_SUSPENDED = "link.suspended", _("Link to another time bank suspended")
    LINK_RESUMED = "link.resumed", _("Link to another time bank resumed")
    LINK_ENDED = "link.ended", _("Link to another time bank ended")
    LINK_TERMS_CHANGED = "link.terms_changed", _("Trust limit or sharing changed")


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def for_bank(self, time_bank: TimeBank) -> AuditEventQuerySet:
        """A bank's events, newest first, with the names the log shows."""
        return (
            self.filter(time_bank=time_bank)
            .select_related("actor", "on_behalf_of")
            .order_by("-created_at", "-pk")
        )


class AuditEvent(models.Model):
    """One thing someone (or the scheduler, with no actor) did. Append-only."""

    time_bank = models.ForeignKey(
        TimeBank, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # None: the system did it (for instance an automatic confirmation after the deadline).
    actor = models.ForeignKey(
        Person, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    on_behalf_of = models.ForeignKey(
        Person, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=40, choices=Action.choices)
    # What it was done to: an app label and model name ("exchanges.exchange") and its id.
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.BigIntegerField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["time_bank", "-created_at"], name="audit_bank_newest")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.object_type}:{self.object_id}"
