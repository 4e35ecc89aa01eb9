# A change-feed row names a span of consecutive ids (issue 15): `span` (1 for every existing
# row: no rewrite of the table) and the index on the last id a row names instead of the first.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("changes", "0001_change_feed"),
    ]

    operations = [
        migrations.AddField(
            model_name="changeevent",
            name="span",
            field=models.PositiveIntegerField(db_default=1, default=1),
        ),
        migrations.AddIndex(
            model_name="changeevent",
            index=models.Index(
                models.F("user_id"),
                models.F("resource"),
                models.F("object_id") + models.F("span") - 1,
                name="change_user_object_end",
            ),
        ),
        migrations.RemoveIndex(
            model_name="changeevent",
            name="change_user_object",
        ),
    ]
