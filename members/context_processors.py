from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest

from .models import Membership, Status


def memberships(request: HttpRequest) -> dict:
    """The signed-in person's memberships, for the navigation, and who to ask for help.

    One query, evaluated lazily: ``help_contact`` reads the same queryset as the navigation,
    so a page that shows both still asks the database once.
    """
    mine = Membership.objects.for_user(request.user).select_related("time_bank")

    def help_contact() -> dict[str, str]:
        # Their own time bank's broker contact (an approved membership first, then an
        # application); the scheme's general contact for everyone else.
        ranked = sorted(mine, key=lambda m: m.status != Status.APPROVED)
        for m in ranked:
            bank = m.time_bank
            if m.status in {Status.APPROVED, Status.APPLIED} and (
                bank.contact_email or bank.contact_phone
            ):
                return {"bank": bank.name, "email": bank.contact_email, "phone": bank.contact_phone}
        return {
            "bank": "",
            "email": settings.HELP_CONTACT_EMAIL,
            "phone": settings.HELP_CONTACT_PHONE,
        }

    contact: Callable[[], dict[str, str]] = help_contact
    return {"my_memberships": mine, "help_contact": contact}
