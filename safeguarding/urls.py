from django.urls import path

from . import views

urlpatterns = [
    # Safeguarding checks (the safeguarding lead only).
    path(
        "banks/<slug:slug>/members/<int:person_id>/safeguarding/",
        views.safeguarding,
        name="safeguarding",
    ),
    path("safeguarding/<int:pk>/edit/", views.safeguarding_edit, name="safeguarding-edit"),
    path("safeguarding/<int:pk>/delete/", views.safeguarding_delete, name="safeguarding-delete"),
]
