"""The audit trail page of a time bank, for its brokers and admins: filter, page, CSV."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from members.access import get_bank_for_broker
from timebank import spreadsheets

from . import services as audit
from .models import Action, AuditEvent

EVENTS_PER_PAGE = 50
CSV_HEADERS = [
    "created_at",
    "action",
    "actor_id",
    "actor_name",
    "on_behalf_of_id",
    "on_behalf_of_name",
    "object_type",
    "object_id",
    "details",
]


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _filtered(request: HttpRequest, events: QuerySet[AuditEvent]) -> tuple[QuerySet, dict]:
    """Apply the query string's filters (unknown or malformed values are ignored)."""
    action = request.GET.get("action", "")
    actor = request.GET.get("actor", "").strip()[:80]
    since, until = _day(request.GET.get("since")), _day(request.GET.get("until"))
    if action in Action.values:
        events = events.filter(action=action)
    else:
        action = ""
    if actor:
        events = events.filter(actor__display_name__icontains=actor)
    zone = timezone.get_current_timezone()
    if since:
        events = events.filter(created_at__gte=datetime.combine(since, time.min, zone))
    if until:
        events = events.filter(
            created_at__lt=datetime.combine(until + timedelta(days=1), time.min, zone)
        )
    return events, {"action": action, "actor": actor, "since": since, "until": until}


@login_required
@require_GET
def audit_log(request: HttpRequest, slug: str) -> HttpResponse:
    """Newest first, 50 a page; ``?format=csv`` downloads every event the filters select."""
    bank, broker = get_bank_for_broker(request.user, slug)
    events, filters = _filtered(request, AuditEvent.objects.for_bank(bank))
    if request.GET.get("format") == "csv":
        # The download is itself in the trail (filters by action and dates; never the name).
        audit.record(
            action=Action.AUDIT_DOWNLOADED,
            actor=broker,
            time_bank=bank,
            details={
                "action": filters["action"],
                "since": filters["since"].isoformat() if filters["since"] else None,
                "until": filters["until"].isoformat() if filters["until"] else None,
            },
        )
        return _csv(bank.slug, events)
    page = Paginator(events, EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "bank": bank,
        "page": page,
        "filters": filters,
        "actions": Action.choices,
        "query": query.urlencode(),
    }
    return render(request, "audit/audit_log.html", context)


def _csv(slug: str, events: QuerySet[AuditEvent]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{slug}-audit-trail.csv"'
    writer = spreadsheets.Writer(response)
    writer.writerow(CSV_HEADERS)
    for event in events.iterator(chunk_size=500):
        writer.writerow(
            [
                event.created_at.isoformat(),
                event.action,
                event.actor_id or "",
                event.actor.display_name if event.actor else "",
                event.on_behalf_of_id or "",
                event.on_behalf_of.display_name if event.on_behalf_of else "",
                event.object_type,
                event.object_id if event.object_id is not None else "",
                json.dumps(event.details, sort_keys=True),
            ]
        )
    return response
