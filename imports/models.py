"""Moving a time bank in: each upload and what became of it, and which rows came from where.

What holds, and what enforces it:
- An import run's ``state`` is one of six, and a finished run (done or failed) has a finish
  time: checks. A run moves checking -> invalid | ready -> importing -> done | failed
  (or back to invalid when the check made inside the import finds a new problem); each move
  is a conditional UPDATE on the state it leaves, so a confirm pressed twice imports once.
- An external id names one row per time bank and file: unique ``external_once_per_bank``.
  A row of members.csv maps to a person or an organisation, a row of offers.csv to a listing,
  exactly one: check ``external_record_target``. Re-importing a file finds these rows and
  creates only what is new. Exchanges need no row here: their journal's idempotency key is
  ``import:<external id>`` (the ledger's own replay rule makes a second import a no-op).
- An invitation to set a password is sent at most once: unique ``invitation_once_per_person``
  per run, and the sender claims it by the conditional update ``sent_at IS NULL -> now``.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from listings.models import Listing
from members.models import Organisation, Person, TimeBank


class Source(models.TextChoices):
    CANONICAL = "canonical", _("This platform's own format (a ZIP of CSV files)")
    SPREADSHEET = "spreadsheet", _("The spreadsheet template (XLSX)")
    TIMEOVERFLOW = "timeoverflow", _("TimeOverflow (users, transfers and posts CSV files)")
    KOMUNITIN = "komunitin", _("Komunitin (accounts.csv and transfers.csv exports)")
    KOMUNITIN_UPLOAD = "komunitin_upload", _("Komunitin's 4-column transfer upload")


class RunState(models.TextChoices):
    CHECKING = "checking", _("Being checked")
    INVALID = "invalid", _("Has problems to fix")
    READY = "ready", _("Checked: ready to import")
    IMPORTING = "importing", _("Importing")
    DONE = "done", _("Imported")
    FAILED = "failed", _("Could not be imported")


class ImportRun(models.Model):
    """One upload into one time bank: the stored file, its dry-run report, and after the
    import its reconciliation (declared against computed balances, counts, what was skipped).

    ``report`` (JSON): ``source``, ``counts`` (per file: ``rows``, ``new``, ``existing``,
    ``skipped``), ``problems`` and ``warnings`` (``[{"file", "line", "column", "message"}]``,
    the first ``MAX_LISTED`` of each) with ``problem_count`` / ``warning_count``, ``skipped``
    (rows left out and why), ``creates`` (what the import will create, in words).
    ``reconciliation`` (JSON, after the import): ``members`` (``[{"external_id", "name",
    "declared", "opening", "history", "computed", "difference"}]``, minutes), ``bank_sum``
    (minutes, zero), ``counts``, ``skipped``, ``widened_limits``, ``closed_months``.
    """

    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    time_bank = models.ForeignKey(TimeBank, on_delete=models.PROTECT, related_name="+")
    # The admin who uploaded it; None when run by ``manage.py import_bank`` without --by.
    created_by = models.ForeignKey(
        Person, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    source = models.CharField(max_length=20, choices=Source.choices)
    # The name the file had, shown on the page; the file itself is stored apart.
    file_name = models.CharField(max_length=200)
    file = models.FileField(blank=True, max_length=100)
    state = models.CharField(max_length=10, choices=RunState.choices, default=RunState.CHECKING)
    report = models.JSONField(default=dict)
    reconciliation = models.JSONField(default=dict)
    # When invitations to set a password go out: None means not until someone sends them.
    invite_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Why it could not be imported, in words for the admin.
    failure = models.CharField(max_length=500, blank=True)
    # Claimed by the "import finished" email (NULL -> now), so it is sent at most once.
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    state__in=["checking", "invalid", "ready", "importing", "done", "failed"]
                ),
                name="import_run_state_valid",
            ),
            models.CheckConstraint(
                condition=~Q(state__in=["done", "failed"]) | Q(finished_at__isnull=False),
                name="import_run_finished_has_time",
            ),
            models.CheckConstraint(
                condition=Q(
                    source__in=[
                        "canonical",
                        "spreadsheet",
                        "timeoverflow",
                        "komunitin",
                        "komunitin_upload",
                    ]
                ),
                name="import_run_source_valid",
            ),
        ]
        indexes = [models.Index(fields=["time_bank", "-created_at"], name="import_run_by_bank")]

    def __str__(self) -> str:
        return f"{self.file_name} into {self.time_bank_id} ({self.state})"


class ExternalFile(models.TextChoices):
    MEMBERS = "members", "members.csv"
    OFFERS = "offers", "offers.csv"


class ExternalRecord(models.Model):
    """A row of an imported file and what it became: ``external_id`` as the old system knew
    it. Export writes these ids back, so a bank's own ids survive a round trip."""

    time_bank = models.ForeignKey(TimeBank, on_delete=models.PROTECT, related_name="+")
    file = models.CharField(max_length=10, choices=ExternalFile.choices)
    external_id = models.CharField(max_length=100)
    person = models.ForeignKey(
        Person, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    listing = models.ForeignKey(
        Listing, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    import_run = models.ForeignKey(ImportRun, on_delete=models.PROTECT, related_name="records")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["time_bank", "file", "external_id"], name="external_once_per_bank"
            ),
            models.CheckConstraint(
                condition=Q(
                    file="members",
                    listing__isnull=True,
                    person__isnull=False,
                    organisation__isnull=True,
                )
                | Q(
                    file="members",
                    listing__isnull=True,
                    person__isnull=True,
                    organisation__isnull=False,
                )
                | Q(
                    file="offers",
                    listing__isnull=False,
                    person__isnull=True,
                    organisation__isnull=True,
                ),
                name="external_record_target",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.file} {self.external_id}"


class Invitation(models.Model):
    """An imported member with an email, to be invited to set a password (allauth's reset)."""

    import_run = models.ForeignKey(ImportRun, on_delete=models.PROTECT, related_name="invitations")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["import_run", "person"], name="invitation_once_per_person"
            )
        ]
        indexes = [models.Index(fields=["import_run", "sent_at"], name="invitation_by_run")]

    def __str__(self) -> str:
        return f"Invitation of {self.person_id} ({'sent' if self.sent_at else 'waiting'})"
