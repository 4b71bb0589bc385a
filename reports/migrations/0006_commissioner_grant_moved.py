"""Commissioner grants now belong to ``members`` (state only: no table changes)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0005_report_exports_and_pdf"),
        ("members", "0014_commissioner_grant"),
    ]

    operations = [
        # State only: the tables stay where they are, under their old names (Meta.db_table).
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(
                    name="CommissionerGrant",
                ),
            ],
            database_operations=[],
        ),
    ]
