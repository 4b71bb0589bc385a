"""Offers and requests, contacts, categories and capabilities, moved from ``members`` by state
only: the tables keep their names and every row stays where it is."""

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
    rename_content_types(apps, schema_editor, 'members', 'listings', ['category', 'listing', 'contact', 'capability'])


def backwards(apps, schema_editor):
    rename_content_types(apps, schema_editor, 'listings', 'members', ['category', 'listing', 'contact', 'capability'])


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
                    name='Category',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=60, unique=True, verbose_name='name')),
                        ('slug', models.SlugField(max_length=60, unique=True, verbose_name='short name for web addresses')),
                    ],
                    options={
                        'verbose_name_plural': 'categories',
                        'db_table': 'members_category',
                        'ordering': ['name'],
                    },
                ),
                migrations.CreateModel(
                    name='Listing',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('offer', 'Offer of help'), ('request', 'Request for help')], max_length=10, verbose_name='offer or request')),
                        ('title', models.CharField(help_text='For example: Help with the garden.', max_length=100, verbose_name='title')),
                        ('description', models.TextField(blank=True, max_length=2000, verbose_name='more about it')),
                        ('area', models.CharField(blank=True, help_text='For example a postcode district such as GL50.', max_length=40, verbose_name='area')),
                        ('availability', models.CharField(blank=True, help_text='For example: weekday mornings.', max_length=120, verbose_name='when')),
                        ('expires_on', models.DateField(verbose_name='show until')),
                        ('state', models.CharField(choices=[('open', 'Open'), ('closed', 'Closed')], default='open', max_length=10)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                        ('closed_at', models.DateTimeField(blank=True, null=True)),
                        ('category', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='listings', to='listings.category', verbose_name='category')),
                        ('created_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='members.person')),
                        ('organisation', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='listings', to='members.organisation')),
                        ('person', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='listings', to='members.person')),
                        ('time_bank', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='listings', to='members.timebank')),
                    ],
                    options={
                        'db_table': 'members_listing',
                        'ordering': ['-created_at', '-pk'],
                    },
                ),
                migrations.CreateModel(
                    name='Contact',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('reply', 'Reply to a listing'), ('introduction', 'Introduction by a broker'), ('accepted', 'Offer or request accepted')], max_length=20)),
                        ('message', models.TextField(blank=True, max_length=2000)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                        ('from_person', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='members.person')),
                        ('made_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='members.person')),
                        ('time_bank', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='contacts', to='members.timebank')),
                        ('to_organisation', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='members.organisation')),
                        ('to_person', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='members.person')),
                        ('listing', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='contacts', to='listings.listing')),
                    ],
                    options={
                        'db_table': 'members_contact',
                        'ordering': ['-created_at', '-pk'],
                    },
                ),
                migrations.CreateModel(
                    name='Capability',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('description', models.CharField(help_text='For example: pruning, hedges.', max_length=200, verbose_name='what, in your words')),
                        ('level', models.CharField(choices=[('does', 'I do this'), ('encouragement', 'I could with encouragement'), ('share', "I'm willing to share or teach this")], default='does', max_length=20, verbose_name='how')),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                        ('person', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='capabilities', to='members.person')),
                        ('time_bank', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='capabilities', to='members.timebank')),
                        ('category', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='listings.category', verbose_name='category')),
                    ],
                    options={
                        'verbose_name_plural': 'capabilities',
                        'db_table': 'members_capability',
                        'ordering': ['category__name', 'pk'],
                        'indexes': [models.Index(fields=['time_bank', 'person'], name='members_cap_time_ba_a89743_idx')],
                        'constraints': [models.CheckConstraint(condition=models.Q(('level__in', ['does', 'encouragement', 'share'])), name='capability_level_valid')],
                    },
                ),
                migrations.AddIndex(
                    model_name='listing',
                    index=models.Index(fields=['time_bank', 'state', 'kind', 'expires_on'], name='members_lis_time_ba_8d20e3_idx'),
                ),
                migrations.AddConstraint(
                    model_name='listing',
                    constraint=models.CheckConstraint(condition=models.Q(models.Q(('person__isnull', False), ('organisation__isnull', True)), models.Q(('person__isnull', True), ('organisation__isnull', False)), _connector='OR'), name='listing_has_one_owner'),
                ),
                migrations.AddConstraint(
                    model_name='listing',
                    constraint=models.CheckConstraint(condition=models.Q(('kind__in', ['offer', 'request'])), name='listing_kind_valid'),
                ),
                migrations.AddConstraint(
                    model_name='listing',
                    constraint=models.CheckConstraint(condition=models.Q(('state__in', ['open', 'closed'])), name='listing_state_valid'),
                ),
                migrations.AddIndex(
                    model_name='contact',
                    index=models.Index(fields=['time_bank', 'created_at'], name='members_con_time_ba_afe98d_idx'),
                ),
                migrations.AddConstraint(
                    model_name='contact',
                    constraint=models.CheckConstraint(condition=models.Q(models.Q(('to_person__isnull', False), ('to_organisation__isnull', True)), models.Q(('to_person__isnull', True), ('to_organisation__isnull', False)), _connector='OR'), name='contact_has_one_recipient'),
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(forwards, backwards),
    ]
