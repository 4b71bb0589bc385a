from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Person, Role, Status
from .services import Profile, Referees

DEMOGRAPHICS = ["age_band", "gender", "disability", "carer"]
WHY_WE_ASK = _(
    "Optional. We ask so the time bank can show the council and other funders that it reaches "
    "everyone in the community. Only anonymous counts are reported, and small groups are never "
    "shown. Other members and funders never see your answers."
)


class ProfileForm(forms.ModelForm):
    """A person's profile, with the optional monitoring questions (``DEMOGRAPHICS``) last."""

    class Meta:
        model = Person
        fields = [
            "display_name",
            "area",
            "bio",
            "phone",
            "share_phone",
            "contact_preference",
            *DEMOGRAPHICS,
        ]
        widgets = {
            "bio": forms.Textarea(attrs={"rows": 3}),
            **{name: forms.RadioSelect for name in DEMOGRAPHICS},
        }
        labels = {
            "age_band": _("Your age (optional)"),
            "gender": _("How would you describe your gender? (optional)"),
            "disability": _(
                "Do you have a disability, or a physical or mental health condition or illness "
                "that has lasted or is expected to last 12 months or more? (optional)"
            ),
            "carer": _(
                "Do you look after, or give help or support to, a family member, friend or "
                "neighbour because of a long-term condition, disability or old age, other than "
                "as a paid job? (optional)"
            ),
        }

    def __init__(self, *args: Any, demographics: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not demographics:
            # Without them (a broker acting for a member with a login), the stored answers stay.
            for name in DEMOGRAPHICS:
                del self.fields[name]
            return
        for name in DEMOGRAPHICS:
            field = self.fields[name]
            assert isinstance(field, forms.ChoiceField)
            field.required = False
            # The blank choice reads as what it means: leaving the question unanswered.
            field.choices = [("", _("Leave unanswered")), *cast(list, field.choices)[1:]]
        self.fields[DEMOGRAPHICS[0]].help_text = WHY_WE_ASK

    def profile(self) -> Profile:
        return Profile(
            **{name: self.cleaned_data[name] for name in self.Meta.fields if name in self.fields}
        )


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
        data = super().clean() or {}
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


class LeaveForm(forms.Form):
    reason = forms.CharField(
        label=_("Why they left (optional, for brokers only)"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class JoinedOnForm(forms.Form):
    """When a member really joined (a paper form), so their earliest slips can be entered."""

    joined_on = forms.DateField(
        label=_("Date they joined"),
        help_text=_(
            "For example the date on their paper form. Help from that day on can be recorded."
        ),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


class OfflineMemberForm(ProfileForm):
    """A broker adds a member who will not use the website. The monitoring questions are
    asked only if the member wants to answer them: a broker never guesses."""

    joined_on = forms.DateField(
        label=_("Date they joined (optional)"),
        required=False,
        help_text=_(
            "If they joined before today (the date on their paper form), so that you can "
            "record help from that day. Leave empty for today."
        ),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Name and date first: a broker copying a paper form starts at its top.
        self.order_fields(["display_name", "joined_on"])
        self.fields[DEMOGRAPHICS[0]].help_text = _(
            "These four questions are optional. Ask them only if the member is happy to "
            "answer, and leave them unanswered otherwise: never guess. Only anonymous counts "
            "are reported, and small groups are never shown."
        )

    @property
    def about_them(self) -> list:
        """The member's details: what the page shows open."""
        return [self[name] for name in self.fields if name not in DEMOGRAPHICS]

    @property
    def monitoring(self) -> list:
        """The optional monitoring questions, folded away on the page until opened."""
        return [self[name] for name in DEMOGRAPHICS if name in self.fields]

    @property
    def monitoring_errors(self) -> bool:
        return any(self[name].errors for name in DEMOGRAPHICS if name in self.fields)


class MemberSearchForm(forms.Form):
    name = forms.CharField(label=_("Name"), required=False, max_length=80)
    area = forms.CharField(label=_("Area"), required=False, max_length=40)
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any")), *Status.choices]
    )


class NoteForm(forms.Form):
    text = forms.CharField(
        label=_("Add a private note"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Only brokers of this time bank see notes. The member may ask to read them."),
    )


class RoleForm(forms.Form):
    """An admin (or, within limits, a broker) changes a member's role."""

    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
    safeguarding_lead = forms.BooleanField(
        label=_("Safeguarding lead (sees references and checks; brokers and admins only)"),
        required=False,
    )
