from django.urls import path

from . import views

urlpatterns = [
    path("profile/export/", views.export_my_data, name="profile-export"),
    path(
        "banks/<slug:slug>/members/<int:person_id>/erase/",
        views.erase_member,
        name="member-erase",
    ),
]
