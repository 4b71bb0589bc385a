"""Safeguarding checks on a member: seen and kept by the bank's safeguarding lead only."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import services
from .access import get_safeguarding_member_for, get_safeguarding_record_for
from .forms import SafeguardingForm
from .models import SafeguardingRecord


@login_required
def safeguarding(request: HttpRequest, slug: str, person_id: int) -> HttpResponse:
    """For the safeguarding lead only: a member's references and checks, and a form to add one."""
    membership, lead = get_safeguarding_member_for(request.user, slug, person_id)
    form = SafeguardingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.record_safeguarding_check(membership=membership, by=lead, check=form.check())
        except ValidationError as error:
            form.add_error(None, error.messages)
        else:
            messages.success(request, _("The check is recorded."))
            return redirect("safeguarding", slug=slug, person_id=person_id)
    records = SafeguardingRecord.objects.filter(
        time_bank=membership.time_bank, person=membership.person
    ).select_related("recorded_by")
    return render(
        request,
        "safeguarding/safeguarding.html",
        {
            "bank": membership.time_bank,
            "membership": membership,
            "records": records,
            "form": form,
        },
    )


@login_required
def safeguarding_edit(request: HttpRequest, pk: int) -> HttpResponse:
    record, lead = get_safeguarding_record_for(request.user, pk, write=True)
    form = SafeguardingForm(request.POST or None, instance=record)
    back = redirect("safeguarding", slug=record.time_bank.slug, person_id=record.person_id)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_safeguarding_check(record=record, by=lead, check=form.check())
        except ValidationError as error:
            form.add_error(None, error.messages)
        else:
            messages.success(request, _("The check is changed."))
            return back
    return render(request, "safeguarding/safeguarding_edit.html", {"record": record, "form": form})


@login_required
@require_POST
def safeguarding_delete(request: HttpRequest, pk: int) -> HttpResponse:
    record, lead = get_safeguarding_record_for(request.user, pk, write=True)
    services.delete_safeguarding_check(record=record, by=lead)
    messages.success(request, _("The check is deleted."))
    return redirect("safeguarding", slug=record.time_bank.slug, person_id=record.person_id)
