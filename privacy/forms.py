from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from members.models import ErasureReason


class EraseForm(forms.Form):
    # A reason code, not free text: the audit trail keeps it, and must hold nothing about them.
    reason = forms.ChoiceField(
        label=_("Why"), choices=ErasureReason.choices, widget=forms.RadioSelect
    )
