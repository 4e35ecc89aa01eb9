from django.apps import AppConfig


class NutritionConfig(AppConfig):
    name = "nutrition"

    def ready(self) -> None:
        from nutrition import receivers  # noqa: F401  (connects the file clean-up)
