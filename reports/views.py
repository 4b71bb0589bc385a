"""Broker pages for the monthly reports (and their CSV), member pages for statements, and the
commissioner report (page, CSV, XLSX, PDF; large ones built by a worker and fetched from an
emailed link) for commissioners and brokers."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from audit import services as audit
from audit.models import Action
from members.access import get_bank_for_broker, get_bank_for_member, person_for
from members.models import TimeBank
from timebank import spreadsheets

from . import commissioning, exports, formats
from .access import (
    get_banks_for_commissioning,
    get_export_for,
    get_report_for,
    get_statement_for,
)
from .models import ExportState, MonthlyReport, ReportExport, Statement
from .reading import and_list, read
from .services import HEADLINE

CSV_HEADERS = ["time_bank", "month", "section", "key", "value", "previous_value"]
LISTS = ("givers_only", "receivers_only", "both", "inactive")
# A commissioner report table's name, as ``?table=`` gives it.
TABLE_NAME = re.compile(r"[a-z0-9_]{1,40}")


@login_required
def report_list(request: HttpRequest, slug: str) -> HttpResponse:
    bank, _ = get_bank_for_broker(request.user, slug)
    reports = MonthlyReport.objects.filter(time_bank=bank).only(
        "month", "state", "completed_at", "time_bank_id"
    )
    return render(request, "reports/report_list.html", {"bank": bank, "reports": reports})


@login_required
def report_detail(request: HttpRequest, slug: str, month: str) -> HttpResponse:
    report = get_report_for(request.user, slug, month)
    figures = report.figures
    trend = figures.get("trend", [])
    context = {
        "bank": report.time_bank,
        "report": report,
        "figures": figures,
        "trend": [
            {
                "month": date.fromisoformat(t["month"]),
                "percent": None if t["reciprocity"] is None else round(t["reciprocity"] * 100),
            }
            for t in trend
        ],
        "percent": None
        if figures.get("reciprocity") is None
        else round(figures["reciprocity"] * 100),
        "revisions": [{**r, "month": date.fromisoformat(r["month"])} for r in report.revisions],
        "lists": [(name, report.lists.get(name, [])) for name in LISTS],
    }
    return render(request, "reports/report_detail.html", context)


def report_rows(report: MonthlyReport) -> Iterator[list[object]]:
    """The report as rows under ``CSV_HEADERS``: stable snake_case keys, ISO dates, hours in
    minutes, reciprocity as a fraction."""
    bank, month = report.time_bank.slug, report.month.isoformat()
    figures = report.figures

    def row(section: str, key: str, value: object, previous: object = "") -> list[object]:
        return [bank, month, section, key, "" if value is None else value, previous]

    for key in (*HEADLINE, "window_start", "window_end"):
        yield row("figure", key, figures.get(key))
    for point in figures.get("trend", []):
        yield row("trend", point["month"], point["reciprocity"])
    for band in figures.get("balance_bands", []):
        yield row("balance_band", band["band"], band["members"])
    for revision in report.revisions:
        yield row(
            "revision",
            f"{revision['month']}:{revision['figure']}",
            revision["now"],
            "" if revision["was"] is None else revision["was"],
        )
    for name in LISTS:
        for person in report.lists.get(name, []):
            yield row(name, "member", person)


@login_required
def report_csv(request: HttpRequest, slug: str, month: str) -> HttpResponse:
    report = get_report_for(request.user, slug, month)
    # It names members: the download is in the bank's audit trail.
    audit.record(
        action=Action.REPORT_DOWNLOADED,
        actor=person_for(request.user),
        time_bank=report.time_bank,
        obj=report,
        details={"format": "csv", "month": f"{report.month:%Y-%m}"},
    )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{report.time_bank.slug}-report-{report.month:%Y-%m}.csv"'
    )
    writer = spreadsheets.Writer(response)
    writer.writerow(CSV_HEADERS)
    writer.writerows(report_rows(report))
    return response


@login_required
def statement_list(request: HttpRequest, slug: str) -> HttpResponse:
    bank, _, membership = get_bank_for_member(request.user, slug)
    statements = Statement.objects.filter(membership=membership).only(
        "month", "given_minutes", "received_minutes", "balance_minutes", "membership_id"
    )
    return render(request, "reports/statement_list.html", {"bank": bank, "statements": statements})


@login_required
def statement_detail(request: HttpRequest, slug: str, month: str) -> HttpResponse:
    statement = get_statement_for(request.user, slug, month)
    return render(
        request,
        "reports/statement_detail.html",
        {"bank": statement.membership.time_bank, "statement": statement},
    )


# --- The commissioner report -------------------------------------------------------------------


def _int_or_none(text: str | None) -> int | None:
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(_("A rate is chosen by its number.")) from None


@dataclass
class _Ask:
    """What a commissioner report request asks for, read from its query string."""

    banks: list[TimeBank]
    start: date
    end: date
    low: int | None
    high: int | None


def _ask(request: HttpRequest, slug: str) -> tuple[list[TimeBank], _Ask | None, str]:
    """The banks (``slug`` plus any in ``?with=a,b``, each checked by the access function)
    and the period asked for (``?preset=month|quarter`` or ``?start=&end=``, ISO dates;
    default the month just ended) with the rates (``?low=&high=``), or an error message."""
    also = [s.strip() for s in request.GET.get("with", "").split(",") if s.strip()]
    banks = get_banks_for_commissioning(request.user, [slug, *also])
    start, end = commissioning.preset_period(request.GET.get("preset", "month"))
    try:
        if request.GET.get("start") or request.GET.get("end"):
            try:
                start = date.fromisoformat(request.GET.get("start", ""))
                end = date.fromisoformat(request.GET.get("end", ""))
            except ValueError:
                raise ValueError(_("Give dates as YYYY-MM-DD.")) from None
        low, high = _int_or_none(request.GET.get("low")), _int_or_none(request.GET.get("high"))
    except ValueError as error:
        return banks, None, str(error)
    return banks, _Ask(banks, start, end, low, high), ""


def _commissioner_report(
    request: HttpRequest, slug: str
) -> tuple[list[TimeBank], commissioning.Report | None, str, dict[str, str]]:
    """The banks, the report asked for (see ``_ask``) or an error message, and the query to
    repeat."""
    banks, ask, error = _ask(request, slug)
    query = {
        key: request.GET[key]
        for key in ("with", "start", "end", "low", "high")
        if key in request.GET
    }
    if ask is None:
        return banks, None, error, query
    try:
        report = commissioning.commissioner_report(
            banks=banks, start=ask.start, end=ask.end, low_rate=ask.low, high_rate=ask.high
        )
    except ValueError as error:
        return banks, None, str(error) or _("Give dates as YYYY-MM-DD."), query
    query.update(start=ask.start.isoformat(), end=ask.end.isoformat())
    return banks, report, "", query


@login_required
@require_GET
def commissioner_report(request: HttpRequest, slug: str) -> HttpResponse:
    banks, report, error, query = _commissioner_report(request, slug)
    month, quarter = (commissioning.preset_period(p) for p in ("month", "quarter"))
    context = {
        "bank": banks[0],
        "banks": banks,
        "bank_names": and_list([bank.name for bank in banks]),
        "report": report,
        "reading": None if report is None else read(report),
        "error": error,
        "query": urlencode(query),
        "start": query.get("start", ""),
        "end": query.get("end", ""),
        "also": query.get("with", ""),
        "presets": [(_("Last month"), *month), (_("Last quarter"), *quarter)],
    }
    return render(request, "reports/commissioner.html", context, status=400 if error else 200)


def _download(request: HttpRequest, slug: str, format: str) -> HttpResponse:
    """One download of the commissioner report (``format`` csv, xlsx or pdf; for CSV the
    table ``?table=``, default ``summary``), audited. A large report (``exports.is_large``)
    is queued for a worker instead: 202 and a page saying a link will be emailed."""
    banks, ask, error = _ask(request, slug)
    table = request.GET.get("table", "summary") if format == "csv" else ""
    if ask is None:
        return HttpResponseBadRequest(error)
    if format == "csv" and not TABLE_NAME.fullmatch(table):
        raise Http404(_("No such table."))
    if exports.is_large(banks=len(banks), start=ask.start, end=ask.end):
        try:
            export = exports.request_export(
                user=request.user,
                banks=banks,
                start=ask.start,
                end=ask.end,
                format=format,
                table=table,
                low_rate=ask.low,
                high_rate=ask.high,
            )
        except ValueError as error:
            return HttpResponseBadRequest(str(error))
        return _export_page(request, export, banks, status=202)
    try:
        report = commissioning.commissioner_report(
            banks=banks, start=ask.start, end=ask.end, low_rate=ask.low, high_rate=ask.high
        )
        content = formats.render_file(report, format, table)
    except ValueError as error:
        return HttpResponseBadRequest(str(error))
    except KeyError:
        raise Http404(_("No such table.")) from None
    commissioning.record_download(
        user=request.user,
        banks=report.banks,
        start=report.start,
        end=report.end,
        format=format,
        table=table,
    )
    response = HttpResponse(content, content_type=formats.CONTENT_TYPES[format])
    response["Content-Disposition"] = (
        f'attachment; filename="{formats.filename(report.slugs, report.start, report.end, format, table)}"'
    )
    return response


@login_required
@require_GET
def commissioner_csv(request: HttpRequest, slug: str) -> HttpResponse:
    """One table per file: ``?table=<name>`` (default ``summary``)."""
    return _download(request, slug, "csv")


@login_required
@require_GET
def commissioner_xlsx(request: HttpRequest, slug: str) -> HttpResponse:
    return _download(request, slug, "xlsx")


@login_required
@require_GET
def commissioner_pdf(request: HttpRequest, slug: str) -> HttpResponse:
    """The page's own template, printed (``formats.to_pdf``)."""
    return _download(request, slug, "pdf")


def _export_page(
    request: HttpRequest, export: ReportExport, banks: list[TimeBank], *, status: int = 200
) -> HttpResponse:
    context = {
        "export": export,
        "banks": banks,
        "bank": banks[0],
        "just_asked": status == 202,
        "expires_at": exports.expires_at(export),
        "days": settings.REPORT_EXPORT_DAYS,
    }
    return render(request, "reports/commissioner_export.html", context, status=status)


@login_required
@require_GET
def commissioner_export(request: HttpRequest, token: uuid.UUID) -> HttpResponseBase:
    """The link emailed for a worker-built download: the file once it is ready (audited),
    else a page saying where it is. 410 and the expired page once expired: marked so by the
    daily clean-up, past ``exports.expires_at`` before the clean-up has run, or with its file
    gone."""
    export, banks = get_export_for(request.user, token)
    if export.state != ExportState.READY:
        status = 410 if export.state == ExportState.EXPIRED else 200
        return _export_page(request, export, banks, status=status)
    ends = exports.expires_at(export)
    try:
        if ends is not None and timezone.now() >= ends:
            raise FileNotFoundError(export.file.name)
        file = export.file.open("rb")
    except OSError:
        # Shown as expired (not saved: the clean-up marks the row and deletes the file).
        export.state = ExportState.EXPIRED
        return _export_page(request, export, banks, status=410)
    commissioning.record_download(
        user=request.user,
        banks=banks,
        start=export.start,
        end=export.end,
        format=export.format,
        table=export.table,
    )
    return FileResponse(
        file,
        as_attachment=True,
        filename=formats.filename(
            export.slugs, export.start, export.end, export.format, export.table
        ),
        content_type=formats.CONTENT_TYPES[export.format],
    )
