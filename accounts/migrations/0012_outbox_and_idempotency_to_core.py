"""The outbox and the Idempotency-Key answers are plumbing: their models moved to
healthtrack.core (core 0001). State only: the tables stay where they are, with their names."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0011_user_time_zone"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="OutboxTask"),
                migrations.DeleteModel(name="IdempotentRequest"),
            ],
            database_operations=[],
        ),
    ]
