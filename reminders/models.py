"""Email preferences and the log of reminders sent.

What holds, and what enforces it:
- One preference row per person (one-to-one); a missing row means every kind is wanted.
- Each reminder is sent at most once per person, reason and period: unique constraint on
  ``SentReminder(person, reason, period)``. The row is claimed (inserted) before the email is
  queued, inside the same transaction, so two workers cannot both send it.
"""

from __future__ import annotations

import secrets

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import Person


class Kind(models.TextChoices):
    """Non-essential email a person may turn off. Essential mail (please confirm an exchange,
    an exchange declined or reversed, application decisions, password resets) always goes."""

    LOG_HOURS = "log_hours", _("Monthly reminder to log your hours")
    LISTING_EXPIRY = "listing_expiry", _("Your offers and requests are about to expire")
    STATEMENT = "statement", _("Your monthly statement")
    DIGEST = "digest", _("Weekly broker digest")


def _token() -> str:
    return secrets.token_urlsafe(24)


class EmailPreference(models.Model):
    person = models.OneToOneField(Person, on_delete=models.CASCADE, related_name="email_preference")
    log_hours = models.BooleanField(_("monthly reminder to log your hours"), default=True)
    listing_expiry = models.BooleanField(
        _("when your offers and requests are about to expire"), default=True
    )
    statement = models.BooleanField(_("your monthly statement"), default=True)
    digest = models.BooleanField(_("weekly digest (brokers)"), default=True)
    # The secret in one-click unsubscribe links: no sign-in needed, and it names one person.
    token = models.CharField(max_length=40, unique=True, default=_token, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Email preferences of {self.person}"

    def wants(self, kind: str) -> bool:
        return bool(getattr(self, Kind(kind).value))


class SentReminder(models.Model):
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=40)
    # The period the reminder is for, e.g. "2026-11" or "exchange-42-first".
    period = models.CharField(max_length=60)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["person", "reason", "period"], name="reminder_once_per_period"
            )
        ]

    def __str__(self) -> str:
        return f"{self.reason} for {self.person} ({self.period})"
