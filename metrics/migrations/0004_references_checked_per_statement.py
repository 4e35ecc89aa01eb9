"""A measurement's user and device references, checked once per statement instead of once per
row (issue 15, device sync).

The foreign-key constraints checked every inserted row at commit, one index probe per row and
key: 10 ms of backend CPU in a 1,440-sample sync, the largest part of its commit. On
PostgreSQL they are replaced by triggers that keep the same guarantee (no measurement refers
to a user or device that does not exist, committed):

- Inserting or updating measurements: a statement-level trigger reads the statement's new rows
  (a transition table), locks each distinct user and device they name `FOR KEY SHARE`, as the
  foreign key's own check did per row, and fails the statement with `foreign_key_violation`
  when one is missing. A sync of 1,440 rows takes two locks instead of 2,880 checks.
- Deleting a user or a device (or changing its id): a deferred constraint trigger per deleted
  row fails the transaction at commit when measurements still refer to it, as the deferred
  foreign key did.

Why no orphan can appear when a write and a deletion race (READ COMMITTED, as the app runs):
the writer's `FOR KEY SHARE` lock conflicts with the deleter's row lock. A deletion that
locked the row first makes the writer wait; once it commits, the writer's lock finds the row
gone and its statement fails (once it rolls back, the writer goes on). A writer that locked
the row first makes the deletion wait until it commits; the deletion's check at commit then
runs in a new snapshot that sees the writer's rows and fails. Tested in
tests/metrics/test_references.py.

Django still cascades and restricts deletions in Python (`on_delete`), as before; SQLite (tests,
development) keeps no database-level check on these two columns.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

CHECK_NEW_ROWS = """
CREATE FUNCTION metrics_healthmetric_references_check() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    missing text;
BEGIN
    -- One statement (a one-row INSERT pays one query, ~20 us over the foreign keys' checks).
    SELECT COALESCE(
        (SELECT format('(user_id)=(%s)', n.user_id)
         FROM (SELECT DISTINCT user_id FROM new_rows) n
         WHERE NOT EXISTS (
             SELECT 1 FROM accounts_user u WHERE u.id = n.user_id FOR KEY SHARE OF u
         )
         LIMIT 1),
        (SELECT format('(device_id)=(%s)', n.device_id)
         FROM (SELECT DISTINCT device_id FROM new_rows WHERE device_id IS NOT NULL) n
         WHERE NOT EXISTS (
             SELECT 1 FROM metrics_device d WHERE d.id = n.device_id FOR KEY SHARE OF d
         )
         LIMIT 1)
    ) INTO missing;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'insert or update on table "metrics_healthmetric" violates a reference: '
            'key % is not present', missing
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER metrics_healthmetric_references_insert AFTER INSERT ON metrics_healthmetric
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION metrics_healthmetric_references_check();
CREATE TRIGGER metrics_healthmetric_references_update AFTER UPDATE ON metrics_healthmetric
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION metrics_healthmetric_references_check();

CREATE FUNCTION metrics_healthmetric_referenced_check() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.id = OLD.id THEN
        RETURN NULL;
    END IF;
    IF TG_TABLE_NAME = 'accounts_user' THEN
        PERFORM 1 FROM metrics_healthmetric WHERE user_id = OLD.id LIMIT 1;
    ELSE
        PERFORM 1 FROM metrics_healthmetric WHERE device_id = OLD.id LIMIT 1;
    END IF;
    IF FOUND THEN
        RAISE EXCEPTION 'update or delete on table "%" violates a reference: key (id)=(%) is '
            'still referenced from table "metrics_healthmetric"', TG_TABLE_NAME, OLD.id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER metrics_healthmetric_user_referenced
    AFTER DELETE OR UPDATE OF id ON accounts_user DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION metrics_healthmetric_referenced_check();
CREATE CONSTRAINT TRIGGER metrics_healthmetric_device_referenced
    AFTER DELETE OR UPDATE OF id ON metrics_device DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION metrics_healthmetric_referenced_check();
"""

DROP_CHECKS = """
DROP TRIGGER metrics_healthmetric_device_referenced ON metrics_device;
DROP TRIGGER metrics_healthmetric_user_referenced ON accounts_user;
DROP FUNCTION metrics_healthmetric_referenced_check();
DROP TRIGGER metrics_healthmetric_references_update ON metrics_healthmetric;
DROP TRIGGER metrics_healthmetric_references_insert ON metrics_healthmetric;
DROP FUNCTION metrics_healthmetric_references_check();
"""


def create_checks(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CHECK_NEW_ROWS, params=None)


def drop_checks(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_CHECKS, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("metrics", "0003_idempotency_key_length"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The triggers first: in the migration's transaction, no write goes unchecked.
        migrations.RunPython(create_checks, drop_checks),
        migrations.AlterField(
            model_name="healthmetric",
            name="device",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.RESTRICT,
                related_name="metrics",
                to="metrics.device",
            ),
        ),
        migrations.AlterField(
            model_name="healthmetric",
            name="user",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="health_metrics",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
    ]
