"""Admin for the commissioner reports: grants, the value rate table and the download log."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from members.models import CommissionerGrant

from .models import ReportDownload, ValueRate


@admin.register(ValueRate)
class ValueRateAdmin(admin.ModelAdmin):
    list_display = ["name", "pounds_per_hour", "effective_from", "source"]
    search_fields = ["name"]


@admin.register(CommissionerGrant)
class CommissionerGrantAdmin(admin.ModelAdmin):
    list_display = ["person", "time_bank", "starts_on", "ends_on", "granted_by"]
    list_filter = ["time_bank"]
    raw_id_fields = ["person", "granted_by"]


@admin.register(ReportDownload)
class ReportDownloadAdmin(admin.ModelAdmin):
    list_display = ["downloaded_at", "user", "bank_slugs", "start", "end", "format", "table"]
    list_filter = ["format"]

    # The audit log is read-only, even for staff.
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
