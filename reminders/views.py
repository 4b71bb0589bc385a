from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from desk.followups import LISTS, follow_up_list
from members.access import get_bank_for_broker, person_for

from . import services
from .models import EmailPreference, Kind


@csrf_exempt  # one-click unsubscribe (RFC 8058) posts without a session; the token is the secret
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str, kind: str) -> HttpResponse:
    """GET asks to confirm (mail scanners follow links); POST turns the email off."""
    if kind not in Kind.values or not EmailPreference.objects.filter(token=token).exists():
        raise Http404(_("This unsubscribe link is not valid."))
    if request.method == "POST":
        services.unsubscribe(token=token, kind=kind)
        return render(request, "reminders/unsubscribed.html", {"kind": Kind(kind)})
    return render(request, "reminders/unsubscribe.html", {"kind": Kind(kind)})


class PreferencesForm(forms.ModelForm):
    class Meta:
        model = EmailPreference
        fields = ["log_hours", "listing_expiry", "statement", "digest"]


@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    person = person_for(request.user)
    if person is None:
        messages.info(request, _("Fill in your profile first."))
        return redirect("profile")
    form = PreferencesForm(request.POST or None, instance=services.preference_for(person))
    if request.method == "POST" and form.is_valid():
        services.update_preferences(person=person, wanted=form.cleaned_data)
        messages.success(request, _("Your email choices are saved."))
        return redirect("email-preferences")
    return render(request, "reminders/preferences.html", {"form": form})


# Rows on one page of a full follow-up list.
FOLLOW_UP_PAGE = 50


@login_required
def follow_up_page(request: HttpRequest, slug: str, which: str) -> HttpResponse:
    """One follow-up list in full, a page at a time (the desk shows the first few)."""
    bank, _broker = get_bank_for_broker(request.user, slug)
    if which not in LISTS:
        raise Http404(_("No such follow-up list."))
    rows = follow_up_list(which, time_bank=bank)
    page = Paginator(rows, FOLLOW_UP_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "reminders/followup_list.html",
        {"bank": bank, "which": which, "title": LISTS[which], "page": page},
    )
