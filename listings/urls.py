from django.urls import path

from . import views

urlpatterns = [
    # Offers and requests.
    path("banks/<slug:slug>/listings/", views.browse_listings, name="listings"),
    path("banks/<slug:slug>/listings/new/", views.new_listing, name="listing-new"),
    path("listings/<int:pk>/", views.listing_detail, name="listing-detail"),
    path("listings/<int:pk>/edit/", views.edit_listing, name="listing-edit"),
    path("listings/<int:pk>/renew/", views.renew_listing, name="listing-renew"),
    path("listings/<int:pk>/close/", views.close_listing, name="listing-close"),
    path("listings/<int:pk>/matches/", views.listing_matches, name="listing-matches"),
    path(
        "listings/<int:pk>/introduce/<int:person_id>/",
        views.introduce,
        name="listing-introduce",
    ),
    # Capabilities: your own, or a member's for their broker.
    path("banks/<slug:slug>/skills/", views.capabilities, name="capabilities"),
    path(
        "banks/<slug:slug>/members/<int:person_id>/skills/",
        views.capabilities,
        name="member-capabilities",
    ),
    path("skills/<int:pk>/delete/", views.delete_capability, name="capability-delete"),
]
