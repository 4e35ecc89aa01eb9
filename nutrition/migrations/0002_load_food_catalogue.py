from django.db import migrations

from nutrition.catalogue import load_foods, read_foods


def load(apps, schema_editor):
    load_foods(apps.get_model("nutrition", "Food"))


def unload(apps, schema_editor):
    names = [row["name"] for row in read_foods()]
    apps.get_model("nutrition", "Food").objects.filter(name__in=names).delete()


class Migration(migrations.Migration):
    dependencies = [("nutrition", "0001_initial")]

    operations = [migrations.RunPython(load, unload)]
