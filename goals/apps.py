from django.apps import AppConfig


class GoalsConfig(AppConfig):
    name = "goals"

    def ready(self) -> None:
        from goals import demo
        from healthtrack.core import registry

        registry.demo_seeder_register(demo.seed)
        from goals import program_receivers, receivers  # noqa: F401  (connects the receivers)
