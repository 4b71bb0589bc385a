from django.urls import path

from . import views

urlpatterns = [
    path("profile/", views.edit_profile, name="profile"),
    path("profile/export/", views.export_my_data, name="profile-export"),
    path("banks/<slug:slug>/apply/", views.apply, name="apply"),
    path("banks/<slug:slug>/applications/", views.application_queue, name="application-queue"),
    path("banks/<slug:slug>/members/new/", views.add_offline_member, name="add-offline-member"),
    path("applications/<int:pk>/approve/", views.approve_application, name="approve-application"),
    path("applications/<int:pk>/decline/", views.decline_application, name="decline-application"),
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
    # The broker's member search and member page.
    path("banks/<slug:slug>/members/", views.member_search, name="member-search"),
    path("banks/<slug:slug>/members/<int:person_id>/", views.member_page, name="member-page"),
    path(
        "banks/<slug:slug>/members/<int:person_id>/joined/",
        views.set_member_joined,
        name="member-joined",
    ),
    path(
        "banks/<slug:slug>/members/<int:person_id>/erase/",
        views.erase_member,
        name="member-erase",
    ),
    # Acting for a member (a broker, for an offline member or one who asked for help).
    path(
        "banks/<slug:slug>/members/<int:person_id>/act/",
        views.start_acting,
        name="acting-start",
    ),
    path("acting/stop/", views.stop_acting, name="acting-stop"),
    # Roles, and safeguarding checks (the safeguarding lead only).
    path(
        "banks/<slug:slug>/members/<int:person_id>/role/",
        views.change_role,
        name="member-role",
    ),
    path(
        "banks/<slug:slug>/members/<int:person_id>/safeguarding/",
        views.safeguarding,
        name="safeguarding",
    ),
    path("safeguarding/<int:pk>/edit/", views.safeguarding_edit, name="safeguarding-edit"),
    path("safeguarding/<int:pk>/delete/", views.safeguarding_delete, name="safeguarding-delete"),
]
