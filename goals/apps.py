from django.apps import AppConfig


class GoalsConfig(AppConfig):
    name = "goals"

    def ready(self) -> None:
        from goals import demo
        from healthtrack.core import hooks

        hooks.demo_seeder_register(demo.seed)
        # The receivers connect themselves; care_programs.tasks is no app's `tasks` module, so
        # Celery's autodiscovery misses it (the outbox publishes its task by name).
        from goals import receivers  # noqa: F401
        from goals.care_programs import receivers as program_receivers  # noqa: F401
        from goals.care_programs import tasks as program_tasks  # noqa: F401
