from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The plumbing is an installed app only because the outbox and the Idempotency-Key
    answers are models (label `core`; their tables keep their `accounts_` names)."""

    name = "healthtrack.core"
    label = "core"
