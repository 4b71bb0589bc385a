from django.urls import path

from . import views

urlpatterns = [
    path("email/", views.preferences, name="email-preferences"),
    path("banks/<slug:slug>/follow-up/<slug:which>/", views.follow_up_page, name="follow-up-list"),
    path("email/unsubscribe/<str:token>/<str:kind>/", views.unsubscribe, name="unsubscribe"),
]
