"""Seeds the rate table with the rates of the research notes (users.md section 5.4)."""

from datetime import date
from decimal import Decimal

from django.db import migrations

RATES = [
    ("Custom £8.00", Decimal("8.00"), None, "A custom rate, to reproduce older reports."),
    (
        "National Living Wage 2026",
        Decimal("12.71"),
        date(2026, 4, 1),
        "UK Government, National Living Wage from 1 April 2026 (age 21 and over).",
    ),
    (
        "Real Living Wage 2025-26",
        Decimal("13.45"),
        date(2025, 10, 22),
        "Living Wage Foundation, UK rate announced 22 October 2025 (outside London).",
    ),
]


def seed(apps, schema_editor):
    ValueRate = apps.get_model("reports", "ValueRate")
    for name, value, effective_from, source in RATES:
        ValueRate.objects.get_or_create(
            name=name,
            defaults={"pounds_per_hour": value, "effective_from": effective_from, "source": source},
        )


def unseed(apps, schema_editor):
    apps.get_model("reports", "ValueRate").objects.filter(name__in=[r[0] for r in RATES]).delete()


class Migration(migrations.Migration):
    dependencies = [("reports", "0002_commissioner_reports")]

    operations = [migrations.RunPython(seed, unseed)]
