from django.urls import path
from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
router.register("applications", api.ApplicationViewSet, basename="application")

urlpatterns = [path("me/", api.MeView.as_view(), name="api-me"), *router.urls]
