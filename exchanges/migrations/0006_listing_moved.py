"""The exchange's category and listing point at their models' new app (state only)."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("exchanges", "0005_decision"),
        ("listings", "0001_initial"),
    ]

    operations = [
        # State only: the tables stay where they are, under their old names (Meta.db_table).
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="exchange",
                    name="category",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="listings.category",
                    ),
                ),
                migrations.AlterField(
                    model_name="exchange",
                    name="listing",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="exchanges",
                        to="listings.listing",
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
