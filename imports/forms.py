from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .formats import MAX_BYTES
from .models import Source


class UploadForm(forms.Form):
    """The file to import, and (optionally) what it is."""

    file = forms.FileField(
        label=_("The file to import"),
        help_text=_(
            "A ZIP of CSV files (members.csv, exchanges.csv, opening_balances.csv, offers.csv), "
            "the filled-in spreadsheet template, TimeOverflow's users, transfers and posts files "
            "in a ZIP, or Komunitin's accounts.csv and transfers.csv in a ZIP. Up to 200 MB."
        ),
    )
    source = forms.ChoiceField(
        label=_("What is it?"),
        choices=[("", _("Work it out from the files"))] + list(Source.choices),
        required=False,
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_BYTES:
            raise forms.ValidationError(_("The file is larger than 200 MB."))
        if upload.size == 0:
            raise forms.ValidationError(_("The file is empty."))
        return upload


WHEN = [
    ("now", _("As soon as the import is done")),
    ("on", _("On a date I choose")),
    ("later", _("Not yet: I will send them from this page")),
]


class InvitationsForm(forms.Form):
    """When members with an email are invited to set a password."""

    when = forms.ChoiceField(
        label=_("When should members with an email be invited to set a password?"),
        choices=WHEN,
        initial="later",
        widget=forms.RadioSelect,
        help_text=_(
            "Each gets an email with a link to choose a password. Passwords are never "
            "imported. Members without an email become offline members: you record for them."
        ),
    )
    on = forms.DateField(
        label=_("Date to send the invitations (if on a date)"),
        required=False,
        help_text=_("For example 5/3/2026, or 2026-03-05."),
        input_formats=["%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y"],
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("when") == "on":
            day = data.get("on")
            if day is None:
                self.add_error("on", _("Give the date to send the invitations."))
            elif day < timezone.localdate():
                self.add_error("on", _("That date has passed: choose today or later."))
        return data

    def invite_on(self) -> date | None:
        when = self.cleaned_data["when"]
        if when == "now":
            return timezone.localdate()
        if when == "on":
            return self.cleaned_data["on"]
        return None
