from django.apps import AppConfig


class GoalsConfig(AppConfig):
    name = "goals"

    def ready(self) -> None:
        # The receivers connect themselves; program_tasks is no `tasks` module, so Celery's
        # autodiscovery misses it (the outbox publishes its task by name).
        from goals import program_receivers, program_tasks, receivers  # noqa: F401
