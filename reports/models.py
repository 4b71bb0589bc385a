"""Monthly reciprocity reports (for brokers) and member statements, stored once per month.

A report is a snapshot: its figures are computed once, when the month is reported, and never
recomputed in place. A later change to a reported month (an exchange recorded late, a
reversal) shows as a revision line in the next month's report instead.

What holds, and what enforces it:
- One report per time bank and month: unique ``report_once_per_bank_and_month``. The row is
  the claim: a builder inserts it (state ``building``, a fresh ``claim_token``) in its own
  short transaction; whoever fails the insert does not build. A ``building`` row whose
  ``heartbeat_at`` is older than ``BUILD_TIMEOUT`` (its worker died) is reclaimed by a
  conditional update that swaps the token; only the holder of the current token may write
  the figures and move it to ``done`` (another conditional update).
- ``state`` is building or done, and a done report has a completion time: checks.
- ``month`` is the first day of the month: check.
- One statement per membership and month: unique ``statement_once_per_member_and_month``;
  statements are inserted with ``ON CONFLICT DO NOTHING``, so a retried build skips the
  batches already written.
- A statement is emailed at most once: the send claims it by the conditional update
  ``emailed_at IS NULL -> now`` and releases it only if the mail server refused.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import Membership, TimeBank

# A builder that has not finished a batch for this long is presumed dead.
BUILD_TIMEOUT = timedelta(minutes=10)


class ReportState(models.TextChoices):
    BUILDING = "building", _("Being built")
    DONE = "done", _("Done")


class MonthlyReport(models.Model):
    """A time bank's reciprocity report for one month, as brokers saw it.

    ``figures`` (JSON, stable snake_case keys, hours in minutes):
    ``month``, ``window_start``, ``window_end`` (ISO dates), ``members``, ``active``,
    ``givers_only``, ``receivers_only``, ``both``, ``inactive`` (counts over the 12 months
    ending with the month), ``reciprocity`` (both / active, 0..1, 4 places; null with no one
    active), ``trend`` (the 11 previous months' reciprocity, oldest first, then this month's:
    ``[{"month": "YYYY-MM", "reciprocity": x}]``), ``balance_bands``
    (``[{"band": key, "label": text, "members": n}]``), ``new_members``, ``exchanges``,
    ``hours_minutes`` (the month's completed help).
    ``lists``: ``givers_only``, ``receivers_only``, ``both``, ``inactive``: display names,
    for brokers only. ``revisions``: ``[{"month", "figure", "was", "now"}]``.
    """

    time_bank = models.ForeignKey(TimeBank, on_delete=models.PROTECT, related_name="reports")
    month = models.DateField(_("month (its first day)"))
    state = models.CharField(
        max_length=10, choices=ReportState.choices, default=ReportState.BUILDING
    )
    claim_token = models.UUIDField(default=uuid.uuid4)
    heartbeat_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveSmallIntegerField(default=1)
    started_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    figures = models.JSONField(default=dict)
    lists = models.JSONField(default=dict)
    revisions = models.JSONField(default=list)

    class Meta:
        ordering = ["time_bank", "-month"]
        constraints = [
            models.UniqueConstraint(
                fields=["time_bank", "month"], name="report_once_per_bank_and_month"
            ),
            models.CheckConstraint(
                condition=Q(state="building") | Q(state="done", completed_at__isnull=False),
                name="report_state_valid",
            ),
            models.CheckConstraint(condition=Q(month__day=1), name="report_month_first_day"),
        ]

    def __str__(self) -> str:
        return f"{self.time_bank} {self.month:%Y-%m} ({self.get_state_display()})"

    @property
    def is_done(self) -> bool:
        return self.state == ReportState.DONE


class Nudge(models.TextChoices):
    NONE = "", _("No nudge")
    SPEND = "spend", _("Only gave: hours to spend")
    HELP = "help", _("Only received: requests to help with")


class Statement(models.Model):
    """One member's monthly statement: hours given and received (the month and the 12 months
    ending with it), balance at the end of the month, who they exchanged with, and a nudge
    with real open listings when they only gave or only received."""

    report = models.ForeignKey(MonthlyReport, on_delete=models.PROTECT, related_name="statements")
    membership = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="statements")
    month = models.DateField()
    given_minutes = models.BigIntegerField(default=0)
    received_minutes = models.BigIntegerField(default=0)
    given_year_minutes = models.BigIntegerField(default=0)
    received_year_minutes = models.BigIntegerField(default=0)
    balance_minutes = models.BigIntegerField(default=0)
    # Display names, as they were that month.
    exchanged_with = models.JSONField(default=list)
    nudge = models.CharField(max_length=10, choices=Nudge.choices, blank=True, default="")
    # Snapshot of the suggested listings: [{"id", "title", "owner", "area"}].
    suggestions = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-month", "membership"]
        constraints = [
            models.UniqueConstraint(
                fields=["membership", "month"], name="statement_once_per_member_and_month"
            ),
            models.CheckConstraint(
                condition=Q(nudge__in=["", "spend", "help"]), name="statement_nudge_valid"
            ),
        ]
        indexes = [models.Index(fields=["report", "emailed_at"])]

    def __str__(self) -> str:
        return f"Statement {self.month:%Y-%m} for membership {self.membership_id}"
