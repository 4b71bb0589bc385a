"""Admin for offers and requests, contacts, categories and capabilities."""

from django.contrib import admin

from .models import Capability, Category, Contact, Listing


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Listing)
class ListingAdmin(admin.ModelAdmin):
    list_display = ["title", "kind", "time_bank", "category", "person", "organisation", "state"]
    list_filter = ["time_bank", "kind", "state", "category"]
    search_fields = ["title", "person__display_name", "organisation__name"]
    raw_id_fields = ["person", "organisation", "created_by"]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = [
        "kind",
        "time_bank",
        "from_person",
        "to_person",
        "to_organisation",
        "created_at",
    ]
    list_filter = ["time_bank", "kind"]
    raw_id_fields = ["listing", "from_person", "to_person", "to_organisation", "made_by"]


@admin.register(Capability)
class CapabilityAdmin(admin.ModelAdmin):
    list_display = ["person", "time_bank", "category", "description", "level"]
    list_filter = ["time_bank", "category", "level"]
    raw_id_fields = ["person"]
