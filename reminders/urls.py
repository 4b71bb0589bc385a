from django.urls import path

from . import views

urlpatterns = [
    path("email/", views.preferences, name="email-preferences"),
    path("email/unsubscribe/<str:token>/<str:kind>/", views.unsubscribe, name="unsubscribe"),
]
