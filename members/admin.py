from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db import transaction
from django.http import HttpRequest

from audit import services as audit
from audit.models import Action

from . import services
from .access import signed_in
from .models import Membership, Note, Organisation, Person, Representative, TimeBank, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "is_staff", "is_active", "date_joined"]
    search_fields = ["email"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


# The fields of a bank's credit policy: a change reaches every existing account.
CREDIT_POLICY = ("limit_rule", "default_credit_limit_minutes")


@admin.register(TimeBank)
class TimeBankAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "area", "accepting_applications"]
    prepopulated_fields = {"slug": ["name"]}

    def save_model(self, request: HttpRequest, obj: TimeBank, form: Any, change: bool) -> None:
        # A change of the credit policy applies to the accounts already open, through
        # ledger.set_limits, each audited (members.services.apply_credit_policy).
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            if change and set(CREDIT_POLICY) & set(form.changed_data):
                services.apply_credit_policy(
                    time_bank=obj, by=Person.objects.filter(user=signed_in(request.user)).first()
                )


# Roles and the safeguarding lead flag change only through ``members.services.change_role``
# (the member page's "Change role"), which audits each change; the status only through its
# services (deciding an application; leaving, suspension and reinstatement, which cancel the
# exchanges that would debit the member: ``exchanges.services``). Here they are read-only.
ROLE_FIELDS = ["role", "safeguarding_lead", "status"]


class MembershipInline(admin.TabularInline):
    model = Membership
    fk_name = "person"
    extra = 0
    fields = ["time_bank", "role", "safeguarding_lead", "status", "applied_at", "decided_at"]
    readonly_fields = [*ROLE_FIELDS, "applied_at", "decided_at"]


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ["display_name", "area", "user", "contact_preference"]
    search_fields = ["display_name", "user__email", "area"]
    inlines = [MembershipInline]
    raw_id_fields = ["user", "created_by"]
    # Equality-monitoring answers are the member's to give (profile) and reach staff only as
    # suppressed counts in the commissioner report; the admin neither shows nor edits them.
    exclude = ["age_band", "gender", "disability", "carer"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["person", "time_bank", "role", "status", "applied_at"]
    list_filter = ["time_bank", "role", "status"]
    search_fields = ["person__display_name"]
    raw_id_fields = ["person", "decided_by"]

    def get_readonly_fields(self, request: HttpRequest, obj: Membership | None = None) -> list:
        # A new membership (say, a new bank's first admin) is given its role here, audited
        # in save_model; after that only change_role changes it.
        return ROLE_FIELDS if obj is not None else []

    def save_model(self, request: HttpRequest, obj: Membership, form: object, change: bool) -> None:
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            if not change:
                audit.record(
                    action=Action.MEMBERSHIP_ROLE_CHANGED,
                    actor=Person.objects.filter(user=signed_in(request.user)).first(),
                    time_bank=obj.time_bank,
                    obj=obj,
                    details={
                        "person": obj.person_id,
                        "old_role": None,
                        "new_role": obj.role,
                        "old_safeguarding_lead": None,
                        "new_safeguarding_lead": obj.safeguarding_lead,
                        "by_user": request.user.pk,
                        "via": "django_admin",
                    },
                )


class RepresentativeInline(admin.TabularInline):
    model = Representative
    extra = 0
    raw_id_fields = ["person"]


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "time_bank", "kind", "area"]
    list_filter = ["time_bank"]
    inlines = [RepresentativeInline]


@admin.register(Note)
class NoteAdmin(admin.ModelAdmin):
    list_display = ["person", "time_bank", "author", "created_at"]
    list_filter = ["time_bank"]
    raw_id_fields = ["person", "author"]
