from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Signed webhooks to connected apps (docs/developers.md, "Webhooks")."""

    name = "healthtrack.webhooks"
    label = "webhooks"
    verbose_name = "Webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from healthtrack.webhooks import receivers, tasks  # noqa: F401

        receivers.connect()
