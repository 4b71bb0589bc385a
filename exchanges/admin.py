"""Exchanges in the admin: everything visible, nothing editable, and one action.

The action is where the site's administrator approves what no broker of a bank may: in a bank
with one broker, an exchange she took part in or recorded (``exchanges.rules``, point 7). It
calls ``services.approve_exchange`` like every other interface, so the same rule applies to the
administrator too (never one they took part in).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext, gettext_lazy

from ledger.exceptions import LedgerError
from members.models import Person, User

from . import services
from .models import Exchange


@admin.register(Exchange)
class ExchangeAdmin(admin.ModelAdmin):
    list_display = ["id", "time_bank", "kind", "state", "minutes", "effective_date", "recorded_at"]
    list_filter = ["state", "kind", "time_bank"]
    list_select_related = ["time_bank"]
    date_hierarchy = "recorded_at"
    actions = ["approve_exchanges"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=gettext_lazy("Approve the selected exchanges (the hours move)"))
    def approve_exchanges(self, request: HttpRequest, queryset: QuerySet[Exchange]) -> None:
        user = request.user
        me = Person.objects.filter(user=user).first() if isinstance(user, User) else None
        if me is None:
            self.message_user(
                request,
                gettext("Make your profile first: whoever approves an exchange is named on it."),
                messages.ERROR,
            )
            return
        approved = 0
        for exchange in queryset.order_by("pk"):
            try:
                services.approve_exchange(exchange=exchange, broker=me)
            except (PermissionDenied, LedgerError) as refusal:
                self.message_user(request, f"{exchange.pk}: {refusal}", messages.ERROR)
            else:
                approved += 1
        if approved:
            self.message_user(
                request, gettext("%(n)s exchanges approved.") % {"n": approved}, messages.SUCCESS
            )
