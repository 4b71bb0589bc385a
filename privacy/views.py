"""The person's own data export, and an admin's erasure of a member (the top of the stack:
these read every app)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from members.access import get_member_for_admin, person_for, signed_in

from .forms import EraseForm
from .services import erase_person, export_person_data, export_zip


@login_required
@require_GET
def export_my_data(request: HttpRequest) -> HttpResponse:
    """Everything held about the signed-in person: JSON (default) or a ZIP of CSV files."""
    if request.acting is not None:  # type: ignore[attr-defined]
        raise PermissionDenied(_("Only the member can export their data: stop acting first."))
    person = person_for(request.user)
    if person is None:
        raise Http404(_("You have no profile yet, so nothing is held about you beyond your login."))
    as_csv = request.GET.get("format") == "csv"
    data = export_person_data(person=person, file_format="csv" if as_csv else "json")
    stamp = timezone.localdate().isoformat()
    if as_csv:
        response = HttpResponse(export_zip(data), content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="my-data-{stamp}.zip"'
        return response
    response = JsonResponse(data, json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="my-data-{stamp}.json"'
    return response


@login_required
def erase_member(request: HttpRequest, slug: str, person_id: int) -> HttpResponse:
    """For an admin: confirm (GET), then erase (POST) a member's identity, keeping their hours."""
    membership = get_member_for_admin(request.user, slug, person_id)
    form = EraseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            person = erase_person(
                person=membership.person,
                admin=signed_in(request.user),
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                _("Erased. They are now shown as %(name)s.") % {"name": person.display_name},
            )
            return redirect("member-page", slug=slug, person_id=person_id)
    return render(
        request,
        "privacy/erase.html",
        {"bank": membership.time_bank, "membership": membership, "form": form},
    )
