"""System checks: no model is registered with django-auditlog in a way that would copy the
decrypted plaintext of an encrypted field into LogEntry (changes or serialized_data); share
grants have a metric-type catalogue to check codes against."""

from __future__ import annotations

from auditlog.registry import auditlog
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from accounts import sharing
from healthtrack.core.encryption import encrypted_fields


@checks.register(checks.Tags.security)
def auditlog_excludes_encrypted_fields(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    errors = []
    globally_excluded = set(getattr(settings, "AUDITLOG_EXCLUDE_TRACKING_FIELDS", ()))
    for model, names in encrypted_fields():
        if not auditlog.contains(model):
            continue
        fields = auditlog.get_model_fields(model)
        include, exclude = set(fields["include_fields"]), set(fields["exclude_fields"])
        leaking = [
            name
            for name in names
            if name not in exclude | globally_excluded and (not include or name in include)
        ]
        if leaking:
            errors.append(
                checks.Error(
                    f"{model._meta.label} is registered with django-auditlog without excluding "
                    f"its encrypted field(s) {', '.join(leaking)}: their plaintext would be "
                    "stored in LogEntry.",
                    hint="auditlog.register(Model, exclude_fields=[...encrypted fields...])",
                    obj=model,
                    id="accounts.E001",
                )
            )
        options = auditlog.get_serialize_options(model)
        if options["serialize_data"] and not options["serialize_auditlog_fields_only"]:
            errors.append(
                checks.Error(
                    f"{model._meta.label} serializes its data into LogEntry including encrypted "
                    "fields (serialize_auditlog_fields_only is off).",
                    hint="Pass serialize_auditlog_fields_only=True, or serialize_data=False.",
                    obj=model,
                    id="accounts.E002",
                )
            )
    return errors


@checks.register()
def share_grants_know_the_metric_types(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    try:
        sharing.known_metric_types()
    except ImproperlyConfigured as exc:
        return [
            checks.Error(
                str(exc),
                hint="Install the metrics app (it registers its catalogue in ready()).",
                id="accounts.E003",
            )
        ]
    return []
