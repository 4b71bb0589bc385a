from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("banks/<slug:slug>/", views.dashboard, name="dashboard"),
    path("banks/<slug:slug>/record/", views.record, name="record-exchange"),
    path("banks/<slug:slug>/record/group/", views.record_group, name="record-group"),
    path("banks/<slug:slug>/donate/", views.donate, name="donate"),
    path("banks/<slug:slug>/grant/", views.grant, name="grant"),
    path("banks/<slug:slug>/statement/", views.statement, name="statement"),
    # On the broker's member page: leaving cancels the exchanges that would debit the member.
    path(
        "banks/<slug:slug>/members/<int:person_id>/leave/",
        views.mark_member_left,
        name="member-leave",
    ),
    path("exchanges/<int:pk>/", views.exchange_detail, name="exchange"),
    path("exchanges/<int:pk>/confirm/", views.confirm, name="confirm-exchange"),
    path("exchanges/<int:pk>/approve/", views.approve, name="approve-exchange"),
    path("exchanges/<int:pk>/decline/", views.decline, name="decline-exchange"),
    path("exchanges/<int:pk>/reverse/", views.reverse, name="reverse-exchange"),
]
