from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "metrics"

    def ready(self) -> None:
        from healthtrack.core import hooks
        from metrics import demo

        hooks.demo_seeder_register(demo.seed)
        from accounts import sharing
        from metrics import receivers
        from metrics.registry import METRIC_TYPES

        receivers.connect()  # a change of time zone recuts the rollups

        # Share grants (accounts) name metric types; the catalogue is ours. A live view of the
        # registry's keys: one source of truth, nothing copied.
        sharing.register_metric_type_catalogue(METRIC_TYPES.keys())
