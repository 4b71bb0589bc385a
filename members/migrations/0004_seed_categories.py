"""Seed the categories of help a community time bank typically uses; admins may add more."""

from django.db import migrations

CATEGORIES = [
    ("Gardening", "gardening"),
    ("Lifts and transport", "lifts-and-transport"),
    ("Shopping and errands", "shopping-and-errands"),
    ("Company and befriending", "company-and-befriending"),
    ("Computers and phones", "computers-and-phones"),
    ("DIY and repairs", "diy-and-repairs"),
    ("Cooking and baking", "cooking-and-baking"),
    ("Sewing and knitting", "sewing-and-knitting"),
    ("Music and arts", "music-and-arts"),
    ("Teaching and tutoring", "teaching-and-tutoring"),
    ("Forms and paperwork", "forms-and-paperwork"),
    ("Pets", "pets"),
    ("Health and wellbeing", "health-and-wellbeing"),
    ("Childcare", "childcare"),
    ("Other", "other"),
]


def seed(apps, schema_editor):
    Category = apps.get_model("members", "Category")
    for name, slug in CATEGORIES:
        Category.objects.get_or_create(slug=slug, defaults={"name": name})


def unseed(apps, schema_editor):
    Category = apps.get_model("members", "Category")
    Category.objects.filter(slug__in=[slug for _name, slug in CATEGORIES], listings=None).delete()


class Migration(migrations.Migration):
    dependencies = [("members", "0003_listings_contacts_capabilities_notes")]

    operations = [migrations.RunPython(seed, unseed)]
