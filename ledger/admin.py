"""The ledger in the admin: everything visible, nothing editable.

Hours move only through ``ledger.services``; the database refuses changes to posted rows
anyway (see ``ledger/models.py``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .models import Account, Entry, Journal, format_hours


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


ENTRY_FIELDS = ("account", "amount_minutes", "balance_after", "account_version", "posted_at")


class EntryInline(admin.TabularInline):
    model = Entry
    fields = ENTRY_FIELDS
    readonly_fields = ENTRY_FIELDS
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["id", "holder", "kind", "time_bank", "posted", "pending_out", "credit_limit"]
    list_filter = ["kind", "time_bank"]
    list_select_related = ["person", "organisation", "time_bank"]
    search_fields = ["person__display_name", "organisation__name"]

    @admin.display(description="holder")
    def holder(self, account: Account) -> str:
        return account.holder_name

    @admin.display(description=_("balance"), ordering="posted_minutes")
    def posted(self, account: Account) -> str:
        return format_hours(account.posted_minutes)

    @admin.display(description=_("held for pending exchanges"))
    def pending_out(self, account: Account) -> str:
        return format_hours(account.pending_out_minutes)

    @admin.display(description=_("credit limit"))
    def credit_limit(self, account: Account) -> str:
        limit = account.credit_limit_minutes
        return gettext("none") if limit is None else format_hours(limit)


@admin.register(Journal)
class JournalAdmin(ReadOnlyAdmin):
    list_display = ["id", "time_bank", "state", "effective_date", "description", "recorded_at"]
    list_filter = ["state", "time_bank"]
    search_fields = ["description", "idempotency_key"]
    date_hierarchy = "recorded_at"
    inlines = [EntryInline]


@admin.register(Entry)
class EntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "journal", "account", "amount_minutes", "balance_after", "posted_at"]
    list_select_related = ["journal", "account"]
    raw_id_fields = ["journal", "account"]
