"""The outbox and the Idempotency-Key answers, moved from accounts (accounts 0012). State only:
the tables `accounts_outboxtask` and `accounts_idempotentrequest` already exist and keep their
names, constraints and indexes."""

import django.db.models.deletion
import django.utils.timezone
import fernet_fields.fields
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("accounts", "0012_outbox_and_idempotency_to_core"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="OutboxTask",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("task_name", models.CharField(max_length=200)),
                        ("kwargs", models.JSONField(blank=True, default=dict)),
                        ("dedupe_key", models.CharField(blank=True, max_length=200, null=True)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("attempts", models.PositiveIntegerField(default=0)),
                        ("last_error", models.CharField(blank=True, max_length=300)),
                        ("sent_at", models.DateTimeField(blank=True, null=True)),
                    ],
                    options={
                        "db_table": "accounts_outboxtask",
                        "ordering": ["id"],
                        "indexes": [
                            models.Index(
                                condition=models.Q(("sent_at__isnull", True)),
                                fields=["id"],
                                name="outbox_pending_idx",
                            ),
                            models.Index(fields=["sent_at"], name="outbox_sent_at_idx"),
                        ],
                        "constraints": [
                            models.UniqueConstraint(
                                condition=models.Q(("sent_at__isnull", True)),
                                fields=("dedupe_key",),
                                name="outbox_one_pending_per_key",
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="IdempotentRequest",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("key", models.CharField(max_length=200)),
                        ("request_hash", models.CharField(max_length=64)),
                        ("status_code", models.PositiveSmallIntegerField()),
                        ("response", fernet_fields.fields.EncryptedTextField()),
                        (
                            "created_at",
                            models.DateTimeField(db_index=True, default=django.utils.timezone.now),
                        ),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "accounts_idempotentrequest",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("user", "key"), name="idempotent_request_unique_key"
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
