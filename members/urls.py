from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("profile/", views.edit_profile, name="profile"),
    path("banks/<slug:slug>/apply/", views.apply, name="apply"),
    path("banks/<slug:slug>/applications/", views.application_queue, name="application-queue"),
    path("banks/<slug:slug>/members/new/", views.add_offline_member, name="add-offline-member"),
    path("applications/<int:pk>/approve/", views.approve_application, name="approve-application"),
    path("applications/<int:pk>/decline/", views.decline_application, name="decline-application"),
]
