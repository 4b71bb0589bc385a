from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from exchanges.forms import DetailsForm, HoursField
from members.models import TimeBank

from .models import Sharing


class TrustField(forms.DecimalField):
    """A trust limit in whole or quarter hours, cleaned to minutes."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", _("Trust limit (hours)"))
        kwargs.setdefault(
            "help_text",
            _(
                "How many hours more your members may give to members of the other time bank "
                "than they receive from them. 0: none until they have received some."
            ),
        )
        super().__init__(
            min_value=Decimal("0"),
            max_value=Decimal("10000"),
            max_digits=7,
            decimal_places=2,
            **kwargs,
        )

    def clean(self, value: Any) -> int | None:
        hours = super().clean(value)
        if hours is None:
            return None
        minutes = hours * 60
        if minutes % 15:
            raise forms.ValidationError(_("Use quarter hours: for example 10, 12.5 or 20.25."))
        return int(minutes)


class TermsForm(forms.Form):
    trust_limit = TrustField()
    shares = forms.ChoiceField(
        label=_("What the other time bank's members may see of yours"),
        choices=Sharing.choices,
        initial=Sharing.MEMBERS,
        help_text=_("Never anyone's contact details. They see as much as their bank shares too."),
    )


class ProposeForm(TermsForm):
    partner = forms.ModelChoiceField(
        TimeBank.objects.none(), label=_("Time bank"), empty_label=_("Choose a time bank")
    )

    def __init__(self, *args: Any, bank: TimeBank, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        partner = self.fields["partner"]
        assert isinstance(partner, forms.ModelChoiceField)
        partner.queryset = TimeBank.objects.exclude(pk=bank.pk).order_by("name")
        self.order_fields(["partner", "trust_limit", "shares"])


CHANGES = ["accept", "decline", "suspend", "resume", "end", "terms"]


class ChangeForm(forms.Form):
    change = forms.ChoiceField(choices=[(c, c) for c in CHANGES])
    trust_limit = TrustField(required=False)
    shares = forms.ChoiceField(choices=Sharing.choices, required=False)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("change") in {"accept", "terms"}:
            if data.get("trust_limit") is None:
                self.add_error("trust_limit", _("Give your trust limit in hours."))
            if not data.get("shares"):
                self.add_error("shares", _("Choose what the other time bank may see."))
        return data


class CrossRecordForm(DetailsForm):
    """A member records help with a member of a linked time bank (``other``: "<bank
    id>:<person id>", among the members they may see there)."""

    direction = forms.ChoiceField(
        label=_("Which way did the help go?"),
        choices=[("gave", _("I gave help")), ("received", _("I received help"))],
        widget=forms.RadioSelect,
    )
    other = forms.ChoiceField(label=_("Who, in a linked time bank?"))
    minutes = HoursField()

    def __init__(
        self, *args: Any, bank: TimeBank, people: list[tuple[str, str]], **kwargs: Any
    ) -> None:
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("effective_date", timezone.localdate())
        kwargs["initial"].setdefault("idempotency_key", uuid.uuid4().hex)
        super().__init__(*args, bank=bank, **kwargs)
        other = self.fields["other"]
        assert isinstance(other, forms.ChoiceField)
        other.choices = [("", _("Choose a member")), *people]
        self.order_fields(
            ["direction", "other", "effective_date", "minutes", "description", "category"]
        )


class ReasonForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[(c, c) for c in ("confirm", "approve", "decline", "reverse")]
    )
    reason = forms.CharField(max_length=500, required=False)
