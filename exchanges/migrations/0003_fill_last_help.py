"""Fill ``Membership.last_help_on``, ``last_gave_on`` and ``last_received_on`` from the
exchanges already recorded: the same recomputation as ``exchanges.services.refresh_activity``
for every membership, written against this migration's models."""

from django.db import migrations
from django.db.models import Max, OuterRef, Subquery

HELP = ["service", "group"]
LIVE = ["unconfirmed", "awaiting_approval", "completed"]


def fill(apps, schema_editor):
    Entry = apps.get_model("ledger", "Entry")
    Membership = apps.get_model("members", "Membership")

    def latest(states, sign=0):
        legs = Entry.objects.filter(
            account__time_bank_id=OuterRef("time_bank_id"),
            account__person_id=OuterRef("person_id"),
            journal__exchange__kind__in=HELP,
            journal__exchange__state__in=states,
        )
        if sign:
            legs = (
                legs.filter(amount_minutes__gt=0) if sign > 0 else legs.filter(amount_minutes__lt=0)
            )
        return Subquery(
            legs.order_by()
            .values("account__person_id")
            .annotate(latest=Max("journal__effective_date"))
            .values("latest")
        )

    Membership.objects.update(
        last_help_on=latest(LIVE),
        last_gave_on=latest(["completed"], 1),
        last_received_on=latest(["completed"], -1),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("exchanges", "0002_group_and_flagged_indexes"),
        ("ledger", "0003_account_by_balance"),
        ("members", "0010_membership_last_help"),
    ]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
