from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InterbankConfig(AppConfig):
    name = "interbank"
    verbose_name = _("Exchanges between time banks")
