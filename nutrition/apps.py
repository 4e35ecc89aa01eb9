from django.apps import AppConfig


class NutritionConfig(AppConfig):
    name = "nutrition"

    def ready(self) -> None:
        from healthtrack.core import hooks
        from nutrition import demo

        hooks.demo_seeder_register(demo.seed)
        from nutrition import receivers  # noqa: F401  (file clean-up, daily cache)
