"""``manage.py membership_status SLUG PERSON_ID suspend|reinstate|leave --by EMAIL [--reason]``

Suspend a member, lift a suspension, or mark them as left, as the broker whose login is
``EMAIL`` (audited as them). Suspending or leaving cancels the member's open exchanges that
would debit them (``exchanges.services``); the admin shows a membership's status read-only, so
this and the member page are the ways to change it.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from exchanges import services
from members.models import Membership, Person

ACTIONS = {
    "suspend": lambda membership, by, reason: services.suspend_membership(
        membership=membership, by=by
    ),
    "reinstate": lambda membership, by, reason: services.reinstate_membership(
        membership=membership, by=by
    ),
    "leave": lambda membership, by, reason: services.leave_time_bank(
        membership=membership, by=by, reason=reason
    ),
}


class Command(BaseCommand):
    help = "Suspend, reinstate or mark as left a member of a time bank, as one of its brokers."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("bank", metavar="SLUG", help="The time bank's short name.")
        parser.add_argument("person", metavar="PERSON_ID", type=int, help="The member's id.")
        parser.add_argument("action", choices=sorted(ACTIONS))
        parser.add_argument("--by", required=True, metavar="EMAIL", help="The broker's login.")
        parser.add_argument("--reason", default="", help="Why they left (leave only).")

    def handle(self, *args: Any, **options: Any) -> None:
        membership = Membership.objects.filter(
            time_bank__slug=options["bank"], person_id=options["person"]
        ).first()
        if membership is None:
            raise CommandError(f"No member {options['person']} in {options['bank']!r}.")
        by = Person.objects.filter(user__email__iexact=options["by"]).first()
        if by is None:
            raise CommandError(f"No one signs in as {options['by']!r}.")
        try:
            done = ACTIONS[options["action"]](membership, by, options["reason"])
        except (PermissionDenied, ValidationError) as refusal:
            message = " ".join(getattr(refusal, "messages", [str(refusal)]))
            raise CommandError(message) from None
        self.stdout.write(f"{done.person.display_name} in {done.time_bank.slug}: {done.status}")
