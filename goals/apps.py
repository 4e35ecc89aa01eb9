from django.apps import AppConfig


class GoalsConfig(AppConfig):
    name = "goals"

    def ready(self) -> None:
        from goals import demo
        from healthtrack.core import registry

        registry.demo_seeder_register(demo.seed)
        from goals import receivers  # noqa: F401  (connects the receivers)
        from goals.care_programs import receivers as program_receivers  # noqa: F401
