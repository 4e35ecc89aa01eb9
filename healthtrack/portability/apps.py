from django.apps import AppConfig


class PortabilityConfig(AppConfig):
    """Import, export and erasure: the project-level app that may read every other app."""

    name = "healthtrack.portability"
    label = "portability"
    verbose_name = "Import, export and erasure"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registered in every process, so the outbox can run `portability.import_file` by
        # name in eager mode before anything else imported the module.
        from healthtrack.portability import tasks  # noqa: F401
