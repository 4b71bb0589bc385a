"""Large commissioner reports: built by a worker, stored, and sent as a link (never figures).

A download (CSV, XLSX or PDF) of a report covering more than ``REPORT_ASYNC_BANK_MONTHS``
bank-months (``is_large``) is not built in the request:

1. ``request_export`` stores a ``ReportExport`` (who asked, banks, period, rates, format) and
   queues ``reports.tasks.build_report_export`` after commit.
2. ``build_export`` (the task) claims the row (queued -> building), checks the requester may
   still see every bank, builds the file with the same code as the direct downloads
   (``formats.render_file``), stores it in the default storage (under MEDIA_ROOT) and marks
   the row ready, or failed with a reason; then queues the email.
3. ``send_export_email`` emails the requester a link to ``commissioner-export`` (at most once).
   That page checks access again and records the download in the audit log.
4. ``expire_exports`` (beat, daily; ``manage.py expire_report_exports``) deletes files older
   than ``REPORT_EXPORT_DAYS`` and keeps the rows as expired. Safe to run twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from members.emails import send
from members.models import TimeBank

from . import commissioning, formats
from .access import get_banks_for_commissioning
from .models import BUILD_TIMEOUT, ExportState, ReportExport


def months_in(start: date, end: date) -> int:
    """Calendar months the period touches (a part month counts whole)."""
    return (end.year - start.year) * 12 + end.month - start.month + 1


def is_large(*, banks: int, start: date, end: date) -> bool:
    """Whether a report is built by a worker: more than REPORT_ASYNC_BANK_MONTHS bank-months.

    Every figure is a set-based query over the banks' exchanges in the period (plus the
    fixed 12-month trend and reciprocity window), so the work grows with banks x months."""
    return banks * months_in(start, end) > settings.REPORT_ASYNC_BANK_MONTHS


@transaction.atomic
def request_export(
    *,
    user: Any,
    banks: Sequence[TimeBank],
    start: date,
    end: date,
    format: str,
    table: str = "",
    low_rate: int | None = None,
    high_rate: int | None = None,
) -> ReportExport:
    """Queue the build of one large download and return its row.

    Preconditions: the caller may see every bank (``reports.access``). ValueError (with a
    message for the requester) if the period or the rates would not make a report. The same
    request made again while the first is still waiting or being built returns that one.
    """
    commissioning.check_period(start, end)
    commissioning.rates_for(end, low_rate, high_rate)
    wanted = {
        "user": user,
        "bank_slugs": ",".join(bank.slug for bank in banks),
        "start": start,
        "end": end,
        "format": format,
        "table": table,
        "low_rate": low_rate,
        "high_rate": high_rate,
    }
    pending = (
        ReportExport.objects.filter(**wanted, state__in=[ExportState.QUEUED, ExportState.BUILDING])
        .order_by("-created_at")
        .first()
    )
    if pending is not None:
        return pending
    export = ReportExport.objects.create(**wanted)
    export.time_banks.set(banks)
    from . import tasks

    tasks.build_report_export.delay_on_commit(export.pk)
    return export


def build_export(*, export_id: int) -> str:
    """Build one queued export (the numbered steps of the module docstring, 2).

    Returns "ready", "failed", or "skipped" when another worker holds it (or it is done). A
    builder that died leaves the row building; after BUILD_TIMEOUT it may be claimed again,
    and the first builder's late result is then thrown away ("superseded")."""
    now = timezone.now()
    claimed = (
        ReportExport.objects.filter(pk=export_id)
        .filter(
            Q(state=ExportState.QUEUED)
            | Q(state=ExportState.BUILDING, started_at__lt=now - BUILD_TIMEOUT)
        )
        .update(state=ExportState.BUILDING, started_at=now)
    )
    if not claimed:
        return "skipped"
    export = ReportExport.objects.select_related("user").get(pk=export_id)
    try:
        banks = get_banks_for_commissioning(export.user, export.slugs)
    except (PermissionDenied, Http404):
        return _finish_failed(
            export, now, _("You no longer have access to every time bank in this report.")
        )
    try:
        report = commissioning.commissioner_report(
            banks=banks,
            start=export.start,
            end=export.end,
            low_rate=export.low_rate,
            high_rate=export.high_rate,
        )
        content = formats.render_file(report, export.format, export.table)
    except KeyError:
        return _finish_failed(export, now, _("The report has no table called %s.") % export.table)
    except ValueError as error:
        return _finish_failed(export, now, str(error))
    # A short stored name; the download page names the file for the requester.
    name = default_storage.save(
        f"report-exports/{export.token}.{export.format}", ContentFile(content)
    )
    done = ReportExport.objects.filter(
        pk=export.pk, state=ExportState.BUILDING, started_at=now
    ).update(state=ExportState.READY, file=name, finished_at=timezone.now())
    if not done:
        default_storage.delete(name)
        return "superseded"
    _queue_email(export.pk)
    return "ready"


def _finish_failed(export: ReportExport, started_at: datetime, failure: str) -> str:
    done = ReportExport.objects.filter(
        pk=export.pk, state=ExportState.BUILDING, started_at=started_at
    ).update(state=ExportState.FAILED, failure=failure[:300], finished_at=timezone.now())
    if not done:
        return "superseded"
    _queue_email(export.pk)
    return "failed"


def _queue_email(export_id: int) -> None:
    from . import tasks

    tasks.send_report_export_email.delay_on_commit(export_id)


def expires_at(export: ReportExport) -> datetime | None:
    if export.finished_at is None:
        return None
    return export.finished_at + timedelta(days=settings.REPORT_EXPORT_DAYS)


def send_export_email(*, export_id: int) -> bool:
    """Email the requester the link to a ready (or failed) export, at most once. Returns
    whether it was sent. The email names the banks, the period and the format only."""
    claimed = ReportExport.objects.filter(
        pk=export_id,
        emailed_at__isnull=True,
        state__in=[ExportState.READY, ExportState.FAILED],
        user__email__gt="",
    ).update(emailed_at=timezone.now())
    if not claimed:
        return False
    export = ReportExport.objects.select_related("user").get(pk=export_id)
    context = {
        "export": export,
        "ready": export.state == ExportState.READY,
        "banks": ", ".join(bank.name for bank in export.time_banks.order_by("name")),
        "link": settings.SITE_URL + reverse("commissioner-export", args=[export.token]),
        "expires_at": expires_at(export),
    }
    try:
        send("report-ready", to=export.user.email, context=context)
    except OSError:
        # Let a retry send it: release the claim.
        ReportExport.objects.filter(pk=export_id).update(emailed_at=None)
        raise
    return True


def expire_exports(*, now: datetime | None = None) -> int:
    """Delete the files of exports built more than REPORT_EXPORT_DAYS ago; the rows stay, as
    expired. Returns how many expired now. Safe to run twice (the second finds none)."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.REPORT_EXPORT_DAYS)
    expired = 0
    old = ReportExport.objects.filter(state=ExportState.READY, finished_at__lt=cutoff)
    for pk, name in old.values_list("pk", "file"):
        # Claim first: a run racing this one deletes nothing twice.
        if ReportExport.objects.filter(pk=pk, state=ExportState.READY).update(
            state=ExportState.EXPIRED, file=""
        ):
            default_storage.delete(name)
            expired += 1
    return expired
