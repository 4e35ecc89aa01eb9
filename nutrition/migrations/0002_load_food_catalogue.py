from django.db import migrations

from nutrition.catalogue import load_foods, read_foods


def load(apps, schema_editor):
    load_foods(apps.get_model("nutrition", "Food"))


def unload(apps, schema_editor):
    names = [row["name"] for row in read_foods()]
    # Foods that diary entries were computed from stay (the foreign key protects them).
    foods = apps.get_model("nutrition", "Food").objects.filter(name__in=names)
    foods.filter(logs__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("nutrition", "0001_initial")]

    operations = [migrations.RunPython(load, unload)]
