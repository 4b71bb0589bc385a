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
- A value rate is positive; a report
  download's format is csv, xlsx, json or pdf: checks. Every download writes a ``ReportDownload``
  (in the view that serves it, before the response).
- A statement is emailed at most once: the send claims it by the conditional update
  ``emailed_at IS NULL -> now`` and releases it only if the mail server refused.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
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
    ``commissioner``: the month's raw figures by the commissioner report's definitions
    (``reports.commissioning.month_figures``: counts, minutes, and anonymous demographic
    counts; never a name), which the commissioner report shows for a closed month. Empty
    for reports made before it was added: their months read as not closed.
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
    commissioner = models.JSONField(default=dict)

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


# --- Commissioner reports -----------------------------------------------------------------------


class ValueRate(models.Model):
    """A named, dated rate per hour for the equivalent value of hours exchanged (admin-kept)."""

    name = models.CharField(_("name"), max_length=80, unique=True)
    pounds_per_hour = models.DecimalField(_("value per hour (£)"), max_digits=8, decimal_places=2)
    # Null: a custom rate with no start date, in force for any period.
    effective_from = models.DateField(_("in force from"), null=True, blank=True)
    source = models.CharField(_("source"), max_length=300, blank=True)

    class Meta:
        ordering = ["pounds_per_hour", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(pounds_per_hour__gt=0), name="value_rate_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.name} (£{self.pounds_per_hour})"


class ReportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "XLSX"
    JSON = "json", "JSON"
    PDF = "pdf", "PDF"


class ReportDownload(models.Model):
    """The audit log: one row for every download of a commissioner report (CSV, XLSX, API)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="report_downloads"
    )
    time_banks = models.ManyToManyField(TimeBank, related_name="+")
    # The slugs as they were, so the log reads the same after a bank is renamed.
    bank_slugs = models.CharField(max_length=500)
    start = models.DateField()
    end = models.DateField()
    format = models.CharField(max_length=10, choices=ReportFormat.choices)
    # For CSV: the one table downloaded.
    table = models.CharField(max_length=40, blank=True)
    downloaded_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-downloaded_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(format__in=["csv", "xlsx", "json", "pdf"]),
                name="report_download_format_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.format} {self.bank_slugs} {self.start}..{self.end}"


# --- Large commissioner reports, built by a worker ----------------------------------------------


class ExportState(models.TextChoices):
    QUEUED = "queued", _("Waiting to be built")
    BUILDING = "building", _("Being built")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Could not be built")
    EXPIRED = "expired", _("Expired")


class ReportExport(models.Model):
    """A commissioner report file too large to build in the request (``reports.exports``).

    The row records who asked for what; a worker builds the file with the same code as the
    direct downloads, stores it in the default storage (under MEDIA_ROOT) and emails the
    requester a link to the download page (``token``; never the figures). Only the requester
    may download it, only while they may still see every bank, and each download is audited.
    After ``REPORT_EXPORT_DAYS`` the file is deleted and the row kept as ``expired``.

    What holds, and what enforces it: ``state`` and ``format`` are among their choices; a
    ready export has a file and a finish time (checks). The worker claims a queued export by
    a conditional update (queued -> building), so a redelivered task builds it once.
    """

    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="report_exports"
    )
    time_banks = models.ManyToManyField(TimeBank, related_name="+")
    # The slugs in the order asked for (the first is the page the request came from).
    bank_slugs = models.CharField(max_length=500)
    start = models.DateField()
    end = models.DateField()
    low_rate = models.PositiveIntegerField(null=True, blank=True)
    high_rate = models.PositiveIntegerField(null=True, blank=True)
    format = models.CharField(max_length=10, choices=ReportFormat.choices)
    # For CSV: the one table.
    table = models.CharField(max_length=40, blank=True)
    state = models.CharField(max_length=10, choices=ExportState.choices, default=ExportState.QUEUED)
    # Saved by ``reports.exports`` as report-exports/<token>.<format>.
    file = models.FileField(blank=True, max_length=100)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Why it could not be built (a failed export), in words for the requester.
    failure = models.CharField(max_length=300, blank=True)
    # Claimed by the email task (NULL -> now), so the link is sent at most once.
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=["queued", "building", "ready", "failed", "expired"]),
                name="report_export_state_valid",
            ),
            models.CheckConstraint(
                condition=Q(format__in=["csv", "xlsx", "pdf"]), name="report_export_format_valid"
            ),
            models.CheckConstraint(
                condition=~Q(state="ready") | (~Q(file="") & Q(finished_at__isnull=False)),
                name="report_export_ready_has_file",
            ),
        ]
        indexes = [models.Index(fields=["state", "finished_at"])]

    def __str__(self) -> str:
        return (
            f"{self.user} {self.format} {self.bank_slugs} {self.start}..{self.end} ({self.state})"
        )

    @property
    def slugs(self) -> list[str]:
        return self.bank_slugs.split(",")
