from __future__ import annotations

from django import forms

from .models import CheckOutcome, CheckType, SafeguardingRecord
from .services import SafeguardingCheck


class SafeguardingForm(forms.ModelForm):
    """A reference or check: its type, number, dates and outcome. Never what it said."""

    class Meta:
        model = SafeguardingRecord
        fields = ["check_type", "reference_number", "checked_on", "expires_on", "outcome"]
        widgets = {
            "checked_on": forms.DateInput(attrs={"type": "date"}),
            "expires_on": forms.DateInput(attrs={"type": "date"}),
            "outcome": forms.RadioSelect,
        }

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        for name, choices in (("check_type", CheckType.choices), ("outcome", CheckOutcome.choices)):
            field = self.fields[name]
            assert isinstance(field, forms.ChoiceField)
            field.choices = choices

    def check(self) -> SafeguardingCheck:
        return SafeguardingCheck(**{name: self.cleaned_data[name] for name in self.Meta.fields})
