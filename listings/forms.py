from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Capability, Category, Listing, ListingKind
from .services import ListingDetails


class ListingForm(forms.ModelForm):
    """An offer or request. ``owners`` lists who the author may publish for, as
    ("person:<id>" or "organisation:<id>", label) pairs; the first is the default."""

    # Left empty, it is for the author.
    owner = forms.ChoiceField(label=_("Who is this for?"), required=False)

    class Meta:
        model = Listing
        fields = ["kind", "category", "title", "description", "area", "availability", "expires_on"]
        widgets = {
            "kind": forms.RadioSelect,
            "description": forms.Textarea(attrs={"rows": 4}),
            "expires_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }
        labels = {"kind": _("Are you offering help or asking for help?")}

    def __init__(
        self, *args: object, owners: list[tuple[str, str]] | None = None, **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        # Offer or request: two radio buttons, without the model form's empty "---------" one.
        kind, category, owner = (self.fields[n] for n in ("kind", "category", "owner"))
        assert isinstance(kind, forms.ChoiceField) and isinstance(owner, forms.ChoiceField)
        assert isinstance(category, forms.ModelChoiceField)
        kind.choices = ListingKind.choices
        self.fields["expires_on"].required = False
        self.fields["expires_on"].help_text = _("Leave empty for the usual time.")
        category.empty_label = _("Choose a category")
        if owners and len(owners) > 1:
            owner.choices = owners
            self.fields["owner"].initial = owners[0][0]
            self.order_fields(["owner"])
        else:
            del self.fields["owner"]

    def details(self) -> ListingDetails:
        data = self.cleaned_data
        return ListingDetails(
            kind=data["kind"],
            category=data["category"],
            title=data["title"],
            description=data["description"],
            area=data["area"],
            availability=data["availability"],
            expires_on=data["expires_on"],
        )


class ListingSearchForm(forms.Form):
    """Browse filters; every one optional, bad values just show an error."""

    q = forms.CharField(label=_("Words to look for"), required=False, max_length=100)
    kind = forms.ChoiceField(
        label=_("Offers or requests"),
        required=False,
        choices=[("", _("Both")), *ListingKind.choices],
    )
    category = forms.ModelChoiceField(
        label=_("Category"),
        required=False,
        queryset=Category.objects.all(),
        to_field_name="slug",
        empty_label=_("Any category"),
    )
    area = forms.CharField(label=_("Area"), required=False, max_length=40)


class ReplyForm(forms.Form):
    message = forms.CharField(
        label=_("Your message"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Say who you are and when you could help. Your email address is not shown."),
    )


class AnswerForm(ReplyForm):
    to_person = forms.IntegerField(widget=forms.HiddenInput)


class CapabilityForm(forms.ModelForm):
    class Meta:
        model = Capability
        fields = ["category", "description", "level"]
        widgets = {"level": forms.RadioSelect}

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        category = self.fields["category"]
        assert isinstance(category, forms.ModelChoiceField)
        category.empty_label = _("Choose a kind of help")


class IntroduceForm(forms.Form):
    message = forms.CharField(
        label=_("A word to both of them (optional)"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
