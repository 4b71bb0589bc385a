from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ledger.models import Account, AccountKind
from listings.models import Category, Listing
from members.models import Status, TimeBank

from .models import COPRODUCTION_IN_WORDS, CoProduction
from .services import Details


def trading_accounts(bank: TimeBank) -> QuerySet[Account]:
    """Accounts people can exchange with: approved members' and organisations'."""
    return (
        Account.objects.filter(time_bank=bank)
        .filter(
            Q(kind=AccountKind.ORGANISATION)
            | Q(
                kind=AccountKind.MEMBER,
                person__memberships__time_bank=bank,
                person__memberships__status=Status.APPROVED,
            )
        )
        .select_related("person", "organisation")
        .order_by("kind", "person__display_name", "organisation__name")
    )


def _choices(form: forms.BaseForm, name: str) -> forms.ModelChoiceField:
    """``form``'s field ``name``, a choice among rows (its queryset is set per time bank)."""
    field = form.fields[name]
    assert isinstance(field, forms.ModelChoiceField)
    return field


class AccountChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Account) -> str:
        area = obj.person.area if obj.person else obj.organisation.area if obj.organisation else ""
        return f"{obj.holder_name} ({area})" if area else obj.holder_name


class AccountsChoiceField(forms.ModelMultipleChoiceField):
    """Several accounts, each shown by its holder's name."""

    def label_from_instance(self, obj: Account) -> str:
        return obj.holder_name


class HoursField(forms.DecimalField):
    """Hours in quarter-hour steps ("1.5"), cleaned to whole minutes."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", _("Hours"))
        kwargs.setdefault(
            "help_text", _("In quarter hours: 0.25 is 15 minutes, 1.5 is an hour and a half.")
        )
        super().__init__(min_value=Decimal("0.25"), max_digits=5, decimal_places=2, **kwargs)
        self.widget.attrs.update({"step": "0.25", "inputmode": "decimal"})

    def clean(self, value: Any) -> int | None:
        hours = super().clean(value)
        if hours is None:
            return None
        try:
            minutes = hours * 60
        except InvalidOperation:
            raise forms.ValidationError(_("Enter a number of hours.")) from None
        if minutes % 15:
            raise forms.ValidationError(_("Use quarter hours: for example 0.25, 0.5, 1 or 1.75."))
        return int(minutes)


class IdempotencyKeyField(forms.CharField):
    """The hidden key of a form shown once: a double-clicked submit records it once. As long as
    the API's keys (64), so a key namespaced per caller fits the ledger's 100 characters."""

    def __init__(self, **kwargs: Any) -> None:
        # Only a tampered (or very old) page sends a bad key: the person can only reload it.
        expired = _("This form has expired: please open the page again.")
        super().__init__(
            widget=forms.HiddenInput,
            max_length=64,
            error_messages={
                "required": expired,
                "max_length": expired,
                "null_characters_not_allowed": expired,
            },
            **kwargs,
        )


class DetailsForm(forms.Form):
    """What every exchange says about the help. ``broker``: the form of a broker (or of an
    organisation's representative recording a group), which also asks what the help was part
    of, for the commissioners' reports; members are not asked."""

    effective_date = forms.DateField(
        label=_("Date the help happened"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    description = forms.CharField(
        label=_("What was the help?"),
        max_length=200,
        help_text=_("A few words, e.g. 'Weeded the front garden'."),
    )
    category = forms.ModelChoiceField(
        Category.objects.all(),
        label=_("Kind of help (optional)"),
        required=False,
        empty_label=_("Choose a kind of help"),
    )
    coproduction = forms.ChoiceField(
        label=_("What was the help part of? (for reports to funders)"),
        choices=list(COPRODUCTION_IN_WORDS.items()),
        initial=CoProduction.DELIVERY,
        required=False,
        widget=forms.RadioSelect,
    )
    idempotency_key = IdempotencyKeyField()

    def __init__(self, *args: Any, bank: TimeBank, broker: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("effective_date", timezone.localdate())
        # A fresh key per form shown: a double-clicked submit records the exchange once.
        kwargs["initial"].setdefault("idempotency_key", uuid.uuid4().hex)
        super().__init__(*args, **kwargs)
        self.bank = bank
        if not broker:
            del self.fields["coproduction"]

    def details(self, listing: Listing | None = None) -> Details:
        data = self.cleaned_data
        return Details(
            effective_date=data["effective_date"],
            description=data["description"],
            category=data.get("category"),
            coproduction=data.get("coproduction") or CoProduction.DELIVERY,
            listing=listing,
        )


class PastLimitMixin(forms.Form):
    """For a broker: after a refusal at a limit, a box to record the exchange anyway, for a
    broker to approve (hidden until then)."""

    past_limit = forms.BooleanField(
        label=_("Record it anyway, for a broker to approve"),
        required=False,
        widget=forms.HiddenInput,
    )

    def offer_past_limit(self) -> None:
        self.fields["past_limit"].widget = forms.CheckboxInput()


class RecordForm(PastLimitMixin, DetailsForm):
    """Gave or received, with whom, when and how long: a member for themselves, or a broker
    for one member (``subject``: their name, which the labels then use)."""

    direction = forms.ChoiceField(
        label=_("Did you give or receive help?"),
        choices=[("gave", _("I gave help")), ("received", _("I received help"))],
        widget=forms.RadioSelect,
    )
    other = AccountChoiceField(
        queryset=Account.objects.none(), label=_("Who with?"), empty_label=_("Choose a person")
    )
    minutes = HoursField()
    field_order = [
        "direction",
        "other",
        "effective_date",
        "minutes",
        "description",
        "category",
        "coproduction",
        "past_limit",
    ]

    def __init__(
        self,
        *args: Any,
        bank: TimeBank,
        own: Account,
        subject: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, bank=bank, broker=subject is not None, **kwargs)
        _choices(self, "other").queryset = trading_accounts(bank).exclude(pk=own.pk)
        if subject is None:
            del self.fields["past_limit"]
        else:
            self.fields["direction"].label = _("Did %(name)s give or receive help?") % {
                "name": subject
            }
            direction = self.fields["direction"]
            assert isinstance(direction, forms.ChoiceField)
            direction.choices = [
                ("gave", _("%(name)s gave help") % {"name": subject}),
                ("received", _("%(name)s received help") % {"name": subject}),
            ]
            self.fields["other"].label = _("Who with?")


class BrokerRecordForm(PastLimitMixin, DetailsForm):
    """A broker records between any two members or organisations."""

    giver = AccountChoiceField(
        queryset=Account.objects.none(),
        label=_("Who gave the help?"),
        empty_label=_("Choose a person"),
    )
    receiver = AccountChoiceField(
        queryset=Account.objects.none(),
        label=_("Who received it?"),
        empty_label=_("Choose a person"),
    )
    minutes = HoursField()
    field_order = [
        "giver",
        "receiver",
        "effective_date",
        "minutes",
        "description",
        "category",
        "coproduction",
        "past_limit",
    ]

    def __init__(self, *args: Any, bank: TimeBank, **kwargs: Any) -> None:
        super().__init__(*args, bank=bank, broker=True, **kwargs)
        _choices(self, "giver").queryset = trading_accounts(bank)
        _choices(self, "receiver").queryset = trading_accounts(bank)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("giver") and data.get("giver") == data.get("receiver"):
            self.add_error("receiver", _("Choose two different people."))
        return data


class GroupForm(DetailsForm):
    """One provider to many receivers (a class), or many providers to one (a lunch)."""

    providers = AccountsChoiceField(
        Account.objects.none(), label=_("Who gave help?"), widget=forms.CheckboxSelectMultiple
    )
    provider_minutes = HoursField(label=_("Hours each of them earns"))
    receivers = AccountsChoiceField(
        Account.objects.none(), label=_("Who received help?"), widget=forms.CheckboxSelectMultiple
    )
    receiver_minutes = HoursField(label=_("Hours each of them gives"))
    field_order = [
        "providers",
        "provider_minutes",
        "receivers",
        "receiver_minutes",
        "effective_date",
        "category",
        "description",
        "coproduction",
    ]

    def __init__(self, *args: Any, bank: TimeBank, **kwargs: Any) -> None:
        super().__init__(*args, bank=bank, broker=True, **kwargs)
        for name in ("providers", "receivers"):
            _choices(self, name).queryset = trading_accounts(bank)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if set(data.get("providers") or []) & set(data.get("receivers") or []):
            self.add_error(
                "receivers", _("Someone cannot both give and receive in one group exchange.")
            )
        return data


class DonationForm(forms.Form):
    to_account = AccountChoiceField(
        queryset=Account.objects.none(), label=_("Give hours to"), empty_label=None
    )
    minutes = HoursField()
    note = forms.CharField(label=_("A note (optional)"), max_length=200, required=False)
    idempotency_key = IdempotencyKeyField()

    def __init__(
        self, *args: Any, bank: TimeBank, own: Account, pot: Account, **kwargs: Any
    ) -> None:
        kwargs.setdefault("initial", {"idempotency_key": uuid.uuid4().hex, "to_account": pot.pk})
        super().__init__(*args, **kwargs)
        _choices(self, "to_account").queryset = (
            trading_accounts(bank) | Account.objects.filter(pk=pot.pk)
        ).exclude(pk=own.pk)


class GrantForm(forms.Form):
    to_account = AccountChoiceField(
        queryset=Account.objects.none(),
        label=_("Give hours from the pot to"),
        empty_label=_("Choose a person"),
    )
    minutes = HoursField()
    reason = forms.CharField(label=_("Why (shown on the pot's statement)"), max_length=200)
    idempotency_key = IdempotencyKeyField()

    def __init__(self, *args: Any, bank: TimeBank, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"idempotency_key": uuid.uuid4().hex})
        super().__init__(*args, **kwargs)
        _choices(self, "to_account").queryset = trading_accounts(bank)


class DecisionForm(forms.Form):
    """Confirm or approve: nothing to fill in; a refusal (already decided) shows on it."""


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (both people will read it)"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class StatementForm(forms.Form):
    start = forms.DateField(
        label=_("From"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        required=False,
    )
    end = forms.DateField(
        label=_("To"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        required=False,
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            self.add_error("end", _("The end date must be on or after the start date."))
        return data
