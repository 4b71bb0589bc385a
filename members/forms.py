from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Person
from .services import Profile, Referees


class ProfileForm(forms.ModelForm):
    class Meta:
        model = Person
        fields = ["display_name", "area", "bio", "phone", "share_phone", "contact_preference"]
        widgets = {"bio": forms.Textarea(attrs={"rows": 3})}

    def profile(self) -> Profile:
        return Profile(**{name: self.cleaned_data[name] for name in self.Meta.fields})


class ApplicationForm(ProfileForm):
    """Apply to a time bank: a profile, two referees and agreement to the code of conduct."""

    referee_1_name = forms.CharField(label=_("First referee's name"), max_length=80)
    referee_1_contact = forms.CharField(label=_("First referee's phone or email"), max_length=120)
    referee_2_name = forms.CharField(label=_("Second referee's name"), max_length=80)
    referee_2_contact = forms.CharField(label=_("Second referee's phone or email"), max_length=120)
    agrees_to_code = forms.BooleanField(
        label=_("I have read the code of conduct and agree to it"),
        error_messages={"required": _("Please agree to the code of conduct to apply.")},
    )

    def clean(self) -> dict:
        data = super().clean()
        first = (data.get("referee_1_name") or "").strip().lower()
        second = (data.get("referee_2_name") or "").strip().lower()
        if first and first == second:
            self.add_error("referee_2_name", _("Please give two different referees."))
        return data

    def referees(self) -> Referees:
        return Referees(**{name: self.cleaned_data[name] for name in Referees.__dataclass_fields__})


class DeclineForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (the applicant will read this)"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class OfflineMemberForm(ProfileForm):
    """A broker adds a member who will not use the website."""
