from django.apps import AppConfig


class ChangesConfig(AppConfig):
    """The change feed (`GET /api/v1/changes`): a per-person log of created, updated and deleted
    records, appended by receivers of the signals the data apps already send."""

    name = "healthtrack.changes"
    label = "changes"
    verbose_name = "Change feed"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from healthtrack.changes import receivers, tasks  # noqa: F401

        receivers.connect()
