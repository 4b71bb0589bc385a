"""Commissioner grants, moved down from ``reports`` by state only (``members.access`` reads
them); the table keeps its name."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


def rename_content_types(apps, schema_editor, old, new, names):
    """Admin log entries and permissions point at content types: renaming them (not making
    new ones) keeps both. In a new database there are none yet (they are made after migrate)."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    for model in names:
        if ContentType.objects.using(db).filter(app_label=new, model=model).exists():
            continue
        ContentType.objects.using(db).filter(app_label=old, model=model).update(app_label=new)
    ContentType.objects.clear_cache()


def forwards(apps, schema_editor):
    rename_content_types(apps, schema_editor, "reports", "members", ["commissionergrant"])


def backwards(apps, schema_editor):
    rename_content_types(apps, schema_editor, "members", "reports", ["commissionergrant"])


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0013_pending_expiry"),
        ("reports", "0005_report_exports_and_pdf"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        # State only: the tables stay where they are, under their old names (Meta.db_table).
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="CommissionerGrant",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("starts_on", models.DateField(verbose_name="access from")),
                        (
                            "ends_on",
                            models.DateField(
                                blank=True, null=True, verbose_name="access until (included)"
                            ),
                        ),
                        (
                            "created_at",
                            models.DateTimeField(default=django.utils.timezone.now, editable=False),
                        ),
                        (
                            "granted_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="members.person",
                            ),
                        ),
                        (
                            "person",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="commissioner_grants",
                                to="members.person",
                            ),
                        ),
                        (
                            "time_bank",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="commissioner_grants",
                                to="members.timebank",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "reports_commissionergrant",
                        "ordering": ["time_bank", "-starts_on"],
                    },
                ),
                migrations.AddConstraint(
                    model_name="commissionergrant",
                    constraint=models.CheckConstraint(
                        condition=models.Q(
                            ("ends_on__isnull", True),
                            ("ends_on__gte", models.F("starts_on")),
                            _connector="OR",
                        ),
                        name="commissioner_grant_ends_after_start",
                    ),
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(forwards, backwards),
    ]
