from django.urls import path

from . import views

urlpatterns = [
    path("profile/", views.edit_profile, name="profile"),
    path("banks/<slug:slug>/apply/", views.apply, name="apply"),
    path("banks/<slug:slug>/applications/", views.application_queue, name="application-queue"),
    path("banks/<slug:slug>/members/new/", views.add_offline_member, name="add-offline-member"),
    path("applications/<int:pk>/approve/", views.approve_application, name="approve-application"),
    path("applications/<int:pk>/decline/", views.decline_application, name="decline-application"),
    # The broker's member search and member page.
    path("banks/<slug:slug>/members/", views.member_search, name="member-search"),
    path("banks/<slug:slug>/members/<int:person_id>/", views.member_page, name="member-page"),
    path(
        "banks/<slug:slug>/members/<int:person_id>/joined/",
        views.set_member_joined,
        name="member-joined",
    ),
    # Acting for a member (a broker, for an offline member or one who asked for help).
    path(
        "banks/<slug:slug>/members/<int:person_id>/act/",
        views.start_acting,
        name="acting-start",
    ),
    path("acting/stop/", views.stop_acting, name="acting-stop"),
    # Roles.
    path(
        "banks/<slug:slug>/members/<int:person_id>/role/",
        views.change_role,
        name="member-role",
    ),
]
