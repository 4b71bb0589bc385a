from django.urls import path
from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
router.register("exchanges", api.ExchangeViewSet, basename="exchange")

urlpatterns = [
    path("donations/", api.DonationView.as_view(), name="api-donations"),
    path("grants/", api.GrantView.as_view(), name="api-grants"),
    path("balances/", api.BalancesView.as_view(), name="api-balances"),
    path("statement/", api.StatementView.as_view(), name="api-statement"),
    *router.urls,
]
