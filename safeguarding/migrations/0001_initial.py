"""Safeguarding checks, moved from ``members`` by state only (the table keeps its name)."""

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
    rename_content_types(apps, schema_editor, 'members', 'safeguarding', ['safeguardingrecord'])


def backwards(apps, schema_editor):
    rename_content_types(apps, schema_editor, 'safeguarding', 'members', ['safeguardingrecord'])


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ('members', '0013_pending_expiry'),
        ('contenttypes', '0002_remove_content_type_name'),
    ]

    operations = [
        # State only: the tables stay where they are, under their old names (Meta.db_table).
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='SafeguardingRecord',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('check_type', models.CharField(choices=[('reference', 'Reference'), ('id', 'ID check'), ('dbs_basic', 'DBS basic'), ('dbs_standard', 'DBS standard'), ('dbs_enhanced', 'DBS enhanced'), ('pvg', 'PVG (Scotland)')], max_length=20, verbose_name='type of check')),
                        ('reference_number', models.CharField(blank=True, help_text='The number only. Do not write what the certificate says.', max_length=40, verbose_name='reference or certificate number')),
                        ('checked_on', models.DateField(verbose_name='date of the check')),
                        ('expires_on', models.DateField(blank=True, help_text='Leave empty if it does not expire.', null=True, verbose_name='renew or review by')),
                        ('outcome', models.CharField(choices=[('clear', 'Clear'), ('concerns', 'Concerns noted')], max_length=10, verbose_name='outcome')),
                        ('recorded_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                        ('updated_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('person', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='members.person')),
                        ('recorded_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='members.person')),
                        ('time_bank', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='members.timebank')),
                    ],
                    options={
                        'db_table': 'members_safeguardingrecord',
                        'ordering': ['-checked_on', '-pk'],
                        'indexes': [models.Index(fields=['time_bank', 'person'], name='members_saf_time_ba_d2bc83_idx')],
                        'constraints': [models.CheckConstraint(condition=models.Q(('check_type__in', ['reference', 'id', 'dbs_basic', 'dbs_standard', 'dbs_enhanced', 'pvg'])), name='safeguarding_check_type_valid'), models.CheckConstraint(condition=models.Q(('outcome__in', ['clear', 'concerns'])), name='safeguarding_outcome_valid'), models.CheckConstraint(condition=models.Q(('expires_on__isnull', True), ('expires_on__gte', models.F('checked_on')), _connector='OR'), name='safeguarding_expires_after_check')],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(forwards, backwards),
    ]
