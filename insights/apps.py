from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "insights"

    def ready(self) -> None:
        from healthtrack.core import hooks
        from insights import demo

        hooks.demo_seeder_register(demo.seed)
        from insights import list_version, receivers

        receivers.connect()
        list_version.connect()
