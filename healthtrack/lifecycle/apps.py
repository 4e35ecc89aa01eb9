from django.apps import AppConfig


class LifecycleConfig(AppConfig):
    """Retention, Parquet archive, restore and rollup replay (docs/lifecycle.md). Project
    level: it reads metrics, insights, share grants and the audit logs."""

    name = "healthtrack.lifecycle"
    label = "lifecycle"
    verbose_name = "Data lifecycle"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from healthtrack.core import hooks
        from healthtrack.lifecycle import services, tasks  # noqa: F401

        hooks.encryption_rotation_hook_register(services.archive_keys_rotate)
