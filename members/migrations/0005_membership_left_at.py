"""Leaving a time bank: ``left_at`` and ``leave_reason``, and the check that a membership has
left exactly when ``left_at`` is set.

No membership is "left" before this migration, but any that were are given a ``left_at``
(their decision time, else their application time) before the constraint is added, so the
migration cannot fail on existing rows.
"""

from django.db import migrations, models
from django.db.models import F
from django.db.models.functions import Coalesce


def date_earlier_leavers(apps, schema_editor):  # type: ignore[no-untyped-def]
    Membership = apps.get_model("members", "Membership")
    Membership.objects.filter(status="left", left_at__isnull=True).update(
        left_at=Coalesce(F("decided_at"), F("applied_at"))
    )


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0004_seed_categories"),
    ]

    operations = [
        migrations.AddField(
            model_name="membership",
            name="leave_reason",
            field=models.TextField(blank=True, max_length=1000),
        ),
        migrations.AddField(
            model_name="membership",
            name="left_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(date_earlier_leavers, migrations.RunPython.noop, elidable=True),
        migrations.AddConstraint(
            model_name="membership",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("status", "left"), ("left_at__isnull", False)),
                    models.Q(
                        models.Q(("status", "left"), _negated=True), ("left_at__isnull", True)
                    ),
                    _connector="OR",
                ),
                name="membership_left_has_time",
            ),
        ),
    ]
