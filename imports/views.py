"""The bank admin's pages: upload, the dry run's report, confirm; progress while a worker
imports; the reconciliation; the spreadsheet template; the bank's export."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from audit import services as audit
from audit.models import Action
from timebank import spreadsheets

from . import adapters, services
from .access import get_bank_for_admin, get_import_for
from .forms import InvitationsForm, UploadForm
from .models import ImportRun, RunState

RECENT = 10


@login_required
def import_start(request: HttpRequest, slug: str) -> HttpResponse:
    """Upload a file: it is checked at once (or by the worker, for a large one)."""
    bank, me = get_bank_for_admin(request.user, slug)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            run = services.start_import(
                time_bank=bank,
                by=me,
                data=upload.read(),
                file_name=upload.name,
                source=form.cleaned_data["source"],
            )
        except services.ImportRefused as error:
            form.add_error("file", str(error))
        else:
            return redirect("import-run", token=run.token)
    runs = ImportRun.objects.filter(time_bank=bank).select_related("created_by")[:RECENT]
    return render(request, "imports/start.html", {"bank": bank, "form": form, "runs": runs})


@login_required
@require_GET
def import_template(request: HttpRequest, slug: str) -> HttpResponse:
    get_bank_for_admin(request.user, slug)
    response = HttpResponse(
        adapters.template_workbook(),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = 'attachment; filename="time-bank-import-template.xlsx"'
    return response


@login_required
def import_run(request: HttpRequest, token: str) -> HttpResponse:
    """One upload: its dry-run report and the confirm button; the progress of a worker's
    import (``?format=json`` for the page's script); after it, the reconciliation and the
    invitations."""
    run, me = get_import_for(request.user, token, write=request.method == "POST")
    if request.GET.get("format") == "json":
        return JsonResponse(
            {
                "state": run.state,
                "label": run.get_state_display(),
                "progress": services.progress_of(run),
            }
        )
    form = InvitationsForm(request.POST or None)
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == "confirm" and run.state == RunState.READY:
            if form.is_valid():
                try:
                    run = services.confirm_import(run=run, by=me, invite_on=form.invite_on())
                except services.ImportRefused as error:
                    messages.error(request, str(error))
                return redirect("import-run", token=run.token)
        elif action == "invitations" and run.state == RunState.DONE:
            if form.is_valid():
                services.schedule_invitations(run=run, invite_on=form.invite_on())
                messages.success(request, _("Saved: the invitations go out as you chose."))
                return redirect("import-run", token=run.token)
        else:
            messages.error(
                request,
                _("This import is %(state)s: nothing to do.")
                % {"state": run.get_state_display().lower()},
            )
            return redirect("import-run", token=run.token)
    report = run.report
    reconciliation = run.reconciliation
    invitations = run.invitations.all()
    context = {
        "bank": run.time_bank,
        "run": run,
        "report": report,
        "reconciliation": reconciliation,
        "mismatched": [m for m in reconciliation.get("members", []) if m.get("difference")],
        "form": form,
        "progress": services.progress_of(run) if run.state == RunState.IMPORTING else None,
        "invitations_waiting": invitations.filter(sent_at__isnull=True).count(),
        "invitations_sent": invitations.filter(sent_at__isnull=False).count(),
        "today": timezone.localdate(),
    }
    return render(request, "imports/run.html", context)


@login_required
@require_GET
def import_reconciliation(request: HttpRequest, token: str) -> HttpResponse:
    """The reconciliation as CSV (names members and balances: in the audit trail)."""
    run, me = get_import_for(request.user, token)
    if run.state != RunState.DONE:
        return redirect("import-run", token=run.token)
    audit.record(
        action=Action.REPORT_DOWNLOADED,
        actor=me,
        time_bank=run.time_bank,
        obj=run,
        details={"format": "csv", "report": "import-reconciliation"},
    )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{run.time_bank.slug}-import-{run.created_at:%Y-%m-%d}-reconciliation.csv"'
    )
    # Names come from the imported file: written as text, never as a formula.
    spreadsheets.Writer(response).writerows(services.reconciliation_rows(run))
    return response


@login_required
@require_GET
def bank_export(request: HttpRequest, slug: str) -> HttpResponse:
    """The whole bank in the import's own format (a ZIP of CSV files), for its admin."""
    bank, me = get_bank_for_admin(request.user, slug)
    data = services.export_bank(time_bank=bank, by=me)
    response = HttpResponse(data, content_type="application/zip")
    response["Content-Disposition"] = (
        f'attachment; filename="{bank.slug}-export-{timezone.localdate():%Y-%m-%d}.zip"'
    )
    return response
