from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The plumbing is an installed app only because the outbox and the Idempotency-Key
    answers are models (label `core`; their tables keep their `accounts_` names)."""

    name = "healthtrack.core"
    label = "core"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from healthtrack.core import timestamps

        connection_created.connect(timestamps.on_connection_created, dispatch_uid="core.timestamps")
