"""Broker pages for the monthly reports (and their CSV), member pages for statements, and the
commissioner report (page, CSV, XLSX) for commissioners and brokers."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.views.decorators.http import require_GET

from audit import services as audit
from audit.models import Action
from members.access import get_bank_for_broker, get_bank_for_member, person_for

from . import commissioning, formats
from .access import get_banks_for_commissioning, get_report_for, get_statement_for
from .models import MonthlyReport, Statement
from .services import HEADLINE

CSV_HEADERS = ["time_bank", "month", "section", "key", "value", "previous_value"]
LISTS = ("givers_only", "receivers_only", "both", "inactive")


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
    writer = csv.writer(response)
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
        raise ValueError("A rate is chosen by its number.") from None


def _commissioner_report(
    request: HttpRequest, slug: str
) -> tuple[list[object], commissioning.Report | None, str, dict[str, str]]:
    """The banks (``slug`` plus any in ``?with=a,b``, each checked by the access function),
    the report for the period asked for (``?preset=month|quarter`` or ``?start=&end=``, ISO
    dates; default the month just ended), or an error message, and the query to repeat."""
    also = [s.strip() for s in request.GET.get("with", "").split(",") if s.strip()]
    banks = get_banks_for_commissioning(request.user, [slug, *also])
    query = {
        key: request.GET[key]
        for key in ("with", "start", "end", "low", "high")
        if key in request.GET
    }
    start, end = commissioning.preset_period(request.GET.get("preset", "month"))
    try:
        if request.GET.get("start") or request.GET.get("end"):
            start = date.fromisoformat(request.GET.get("start", ""))
            end = date.fromisoformat(request.GET.get("end", ""))
        report = commissioning.commissioner_report(
            banks=banks,
            start=start,
            end=end,
            low_rate=_int_or_none(request.GET.get("low")),
            high_rate=_int_or_none(request.GET.get("high")),
        )
    except ValueError as error:
        return banks, None, str(error) or "Give dates as YYYY-MM-DD.", query
    query.update(start=start.isoformat(), end=end.isoformat())
    return banks, report, "", query


@login_required
@require_GET
def commissioner_report(request: HttpRequest, slug: str) -> HttpResponse:
    banks, report, error, query = _commissioner_report(request, slug)
    month, quarter = (commissioning.preset_period(p) for p in ("month", "quarter"))
    context = {
        "bank": banks[0],
        "banks": banks,
        "report": report,
        "error": error,
        "query": urlencode(query),
        "start": query.get("start", ""),
        "end": query.get("end", ""),
        "also": query.get("with", ""),
        "presets": [("Last month", *month), ("Last quarter", *quarter)],
        "no_cash_value": commissioning.NO_CASH_VALUE,
    }
    return render(request, "reports/commissioner.html", context, status=400 if error else 200)


def _filename(report: commissioning.Report, suffix: str) -> str:
    banks = "-".join(report.slugs)
    return f"{banks}-report-{report.start.isoformat()}-{report.end.isoformat()}{suffix}"


@login_required
@require_GET
def commissioner_csv(request: HttpRequest, slug: str) -> HttpResponse:
    """One table per file: ``?table=<name>`` (default ``summary``)."""
    _, report, error, _ = _commissioner_report(request, slug)
    if report is None:
        return HttpResponseBadRequest(error)
    name = request.GET.get("table", "summary")
    try:
        table = report.table(name)
    except KeyError:
        raise Http404("No such table.") from None
    commissioning.record_download(
        user=request.user,
        banks=report.banks,
        start=report.start,
        end=report.end,
        format="csv",
        table=name,
    )
    response = HttpResponse(formats.to_csv(table), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_filename(report, f"-{name}.csv")}"'
    return response


@login_required
@require_GET
def commissioner_xlsx(request: HttpRequest, slug: str) -> HttpResponse:
    _, report, error, _ = _commissioner_report(request, slug)
    if report is None:
        return HttpResponseBadRequest(error)
    commissioning.record_download(
        user=request.user, banks=report.banks, start=report.start, end=report.end, format="xlsx"
    )
    response = HttpResponse(
        formats.to_xlsx(report),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="{_filename(report, ".xlsx")}"'
    return response
