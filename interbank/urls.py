from django.urls import path

from . import views

urlpatterns = [
    path("banks/<slug:slug>/links/", views.links, name="interbank-links"),
    path("links/<int:pk>/change/", views.link_change, name="interbank-link-change"),
    path("banks/<slug:slug>/linked-banks/", views.neighbours, name="interbank-neighbours"),
    path("banks/<slug:slug>/record/linked-bank/", views.record, name="interbank-record"),
    path("exchanges/<int:pk>/between-banks/", views.exchange, name="interbank-exchange"),
]
