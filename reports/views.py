"""Broker pages for the monthly reports (and their CSV), member pages for statements."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from members.access import get_bank_for_broker, get_bank_for_member

from .access import get_report_for, get_statement_for
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
