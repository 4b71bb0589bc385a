from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
router.register("listings", api.ListingViewSet, basename="api-listing")
router.register("categories", api.CategoryViewSet, basename="api-category")

urlpatterns = router.urls
