"""Listings, contacts, categories, capabilities and safeguarding checks now belong to
``listings`` and ``safeguarding`` (state only: no table changes)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0014_commissioner_grant"),
        ("listings", "0001_initial"),
        ("safeguarding", "0001_initial"),
        ("exchanges", "0006_listing_moved"),
        ("imports", "0002_listing_moved"),
    ]

    operations = [
        # State only: the tables stay where they are, under their old names (Meta.db_table).
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name="listing",
                    name="category",
                ),
                migrations.RemoveField(
                    model_name="contact",
                    name="from_person",
                ),
                migrations.RemoveField(
                    model_name="contact",
                    name="listing",
                ),
                migrations.RemoveField(
                    model_name="contact",
                    name="made_by",
                ),
                migrations.RemoveField(
                    model_name="contact",
                    name="time_bank",
                ),
                migrations.RemoveField(
                    model_name="contact",
                    name="to_organisation",
                ),
                migrations.RemoveField(
                    model_name="contact",
                    name="to_person",
                ),
                migrations.RemoveField(
                    model_name="listing",
                    name="created_by",
                ),
                migrations.RemoveField(
                    model_name="listing",
                    name="organisation",
                ),
                migrations.RemoveField(
                    model_name="listing",
                    name="person",
                ),
                migrations.RemoveField(
                    model_name="listing",
                    name="time_bank",
                ),
                migrations.RemoveField(
                    model_name="safeguardingrecord",
                    name="person",
                ),
                migrations.RemoveField(
                    model_name="safeguardingrecord",
                    name="recorded_by",
                ),
                migrations.RemoveField(
                    model_name="safeguardingrecord",
                    name="time_bank",
                ),
                migrations.DeleteModel(
                    name="Capability",
                ),
                migrations.DeleteModel(
                    name="Category",
                ),
                migrations.DeleteModel(
                    name="Contact",
                ),
                migrations.DeleteModel(
                    name="Listing",
                ),
                migrations.DeleteModel(
                    name="SafeguardingRecord",
                ),
            ],
            database_operations=[],
        ),
    ]
