"""Safeguarding checks on members. Moved out of ``members`` by state only: the table keeps its
name (``Meta.db_table``).

What holds, and what enforces it:
- A safeguarding check has a known type and outcome, and expires no earlier than it was
  made (check constraints); it holds no certificate content, only its reference number.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import InBankQuerySet, Person, TimeBank


class CheckType(models.TextChoices):
    REFERENCE = "reference", _("Reference")
    ID_CHECK = "id", _("ID check")
    DBS_BASIC = "dbs_basic", _("DBS basic")
    DBS_STANDARD = "dbs_standard", _("DBS standard")
    DBS_ENHANCED = "dbs_enhanced", _("DBS enhanced")
    PVG = "pvg", _("PVG (Scotland)")


class CheckOutcome(models.TextChoices):
    CLEAR = "clear", _("Clear")
    CONCERNS = "concerns", _("Concerns noted")


class SafeguardingRecord(models.Model):
    """A reference or check made on a member: its type, reference number, dates and outcome.

    Metadata only: never the certificate's content or a copy, and no free text about what it
    said. Seen only by the bank's safeguarding leads; deleted by the retention job
    (``safeguarding.services.delete_expired_safeguarding_records``).
    """

    time_bank = models.ForeignKey(TimeBank, on_delete=models.PROTECT, related_name="+")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    check_type = models.CharField(_("type of check"), max_length=20, choices=CheckType.choices)
    reference_number = models.CharField(
        _("reference or certificate number"),
        max_length=40,
        blank=True,
        help_text=_("The number only. Do not write what the certificate says."),
    )
    checked_on = models.DateField(_("date of the check"))
    expires_on = models.DateField(
        _("renew or review by"),
        null=True,
        blank=True,
        help_text=_("Leave empty if it does not expire."),
    )
    outcome = models.CharField(_("outcome"), max_length=10, choices=CheckOutcome.choices)
    recorded_by = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = InBankQuerySet["SafeguardingRecord"].as_manager()

    class Meta:
        db_table = "members_safeguardingrecord"
        ordering = ["-checked_on", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    check_type__in=[
                        "reference",
                        "id",
                        "dbs_basic",
                        "dbs_standard",
                        "dbs_enhanced",
                        "pvg",
                    ]
                ),
                name="safeguarding_check_type_valid",
            ),
            models.CheckConstraint(
                condition=Q(outcome__in=["clear", "concerns"]),
                name="safeguarding_outcome_valid",
            ),
            models.CheckConstraint(
                condition=Q(expires_on__isnull=True) | Q(expires_on__gte=models.F("checked_on")),
                name="safeguarding_expires_after_check",
            ),
        ]
        indexes = [models.Index(fields=["time_bank", "person"])]

    def __str__(self) -> str:
        return f"{self.get_check_type_display()} for {self.person_id} ({self.checked_on})"
