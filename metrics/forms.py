"""Forms of the metrics pages. They only collect input: every rule is `metrics.validation`'s
(through `metrics.services`, as for the API), and its errors are shown on the fields."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from healthtrack.core import days as calendar
from metrics import services
from metrics.models import HealthMetric
from metrics.registry import METRIC_TYPE_CHOICES, MetricType, get_metric_type
from metrics.validation import WHOLE_NUMBER_TYPES, blood_pressure_errors, clean_measurement

BP_SYSTOLIC, BP_DIASTOLIC = "blood_pressure_systolic", "blood_pressure_diastolic"
DATETIME_INPUT_FORMATS = [
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
]
# What a unit code reads as on a page ("count" of steps reads as "steps").
UNIT_LABELS = {"count": "steps", "h": "hours", "min": "minutes"}


def unit_label(mtype: MetricType, unit: str) -> str:
    return UNIT_LABELS.get(unit, unit)


def now_input() -> str:
    return timezone.now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def _value_widget() -> forms.NumberInput:
    return forms.NumberInput(attrs={"step": "any", "inputmode": "decimal", "class": "input-number"})


def _recorded_at_field() -> forms.DateTimeField:
    return forms.DateTimeField(
        label="Date and time (UTC)",
        input_formats=DATETIME_INPUT_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="When you took the reading, in UTC (like every time on HealthTrack).",
    )


def _notes_field() -> forms.CharField:
    return forms.CharField(
        label="Notes",
        required=False,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Anything worth remembering about this reading. Stored encrypted.",
    )


class ServiceErrorsMixin:
    """Put a `ValidationError` raised by a service (keyed by the API's field names) on the
    matching form fields; `field_map` renames API fields to form fields."""

    field_map: dict[str, str] = {}

    def add_service_errors(self, exc: ValidationError, field_map: dict[str, str] | None = None):
        mapping = {**self.field_map, **(field_map or {})}
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc)
            return
        for name, errors in exc.error_dict.items():
            field = mapping.get(name, name)
            self.add_error(field if field in self.fields else None, errors)


class ReadingForm(ServiceErrorsMixin, forms.Form):
    """One reading of one metric type, in any unit the registry accepts for it."""

    value = forms.CharField(label="Value", widget=_value_widget())
    unit = forms.ChoiceField(label="Unit")
    recorded_at = _recorded_at_field()
    notes = _notes_field()

    def __init__(self, *args, metric_type: MetricType, **kwargs):
        super().__init__(*args, **kwargs)
        self.metric_type = metric_type
        self.fields["value"].label = metric_type.name
        self.fields["unit"].choices = [(u, unit_label(metric_type, u)) for u in metric_type.units]
        self.fields["unit"].initial = metric_type.unit
        self.fields["value"].help_text = (
            f"Between {metric_type.min_value:g} and {metric_type.max_value:g} "
            f"{unit_label(metric_type, metric_type.unit)}."
        )
        if metric_type.code in WHOLE_NUMBER_TYPES:
            self.fields["value"].widget.attrs.update(step="1", inputmode="numeric")
        if len(metric_type.units) == 1:
            self.fields["unit"].widget = forms.HiddenInput()
        if not self.is_bound and "recorded_at" not in self.initial:
            self.initial["recorded_at"] = now_input()

    @classmethod
    def for_metric(cls, metric: HealthMetric, **kwargs) -> ReadingForm:
        initial = {
            "value": f"{metric.value:g}",
            "unit": metric.unit,
            "recorded_at": metric.recorded_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M"),
            "notes": metric.notes,
        }
        return cls(initial=initial, metric_type=get_metric_type(metric.metric_type), **kwargs)

    def _fields(self) -> dict:
        data = self.cleaned_data
        return {
            "value": data["value"],
            "unit": data["unit"],
            "recorded_at": data["recorded_at"],
            "notes": data["notes"],
        }

    def save(self, *, user, metric: HealthMetric | None = None) -> HealthMetric | None:
        """Create (or change `metric`) through the service; None, with the errors on the
        form, when the service refuses it."""
        try:
            if metric is None:
                return services.metric_create(
                    user=user, metric_type=self.metric_type.code, **self._fields()
                )
            return services.metric_update(metric=metric, **self._fields())
        except ValidationError as exc:
            self.add_service_errors(exc)
            return None


class BloodPressureForm(ServiceErrorsMixin, forms.Form):
    """One blood-pressure reading: two values written as a systolic and a diastolic
    measurement at the same instant, both or neither."""

    systolic = forms.CharField(
        label="Systolic (upper number)", widget=_value_widget(), help_text="In mmHg."
    )
    diastolic = forms.CharField(
        label="Diastolic (lower number)", widget=_value_widget(), help_text="In mmHg."
    )
    recorded_at = _recorded_at_field()
    notes = _notes_field()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound and "recorded_at" not in self.initial:
            self.initial["recorded_at"] = now_input()

    @classmethod
    def for_pair(cls, systolic: HealthMetric | None, diastolic: HealthMetric | None, **kwargs):
        first = systolic or diastolic
        initial = {
            "systolic": f"{systolic.value:g}" if systolic else "",
            "diastolic": f"{diastolic.value:g}" if diastolic else "",
            "recorded_at": first.recorded_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M"),
            "notes": first.notes,
        }
        return cls(initial=initial, **kwargs)

    def _measurement(self, field: str, code: str) -> dict:
        return {
            "metric_type": code,
            "value": self.cleaned_data[field],
            "unit": "mmHg",
            "recorded_at": self.cleaned_data["recorded_at"],
            "notes": self.cleaned_data["notes"],
        }

    def save(
        self,
        *,
        user,
        systolic: HealthMetric | None = None,
        diastolic: HealthMetric | None = None,
    ) -> tuple[HealthMetric, HealthMetric] | None:
        """Write both values (creating or changing them) in one transaction; None, with the
        errors on the form, when either is refused."""
        pairs = (("systolic", BP_SYSTOLIC, systolic), ("diastolic", BP_DIASTOLIC, diastolic))
        # The shared validator first, so both values' errors are reported at once.
        for field, code, _ in pairs:
            _, errors = clean_measurement(self._measurement(field, code))
            items = errors.items
            if field == "diastolic":  # the shared fields' errors are reported once
                items = {name: msgs for name, msgs in items.items() if name == "value"}
            if items:
                self.add_service_errors(ValidationError(items), {"value": field})
        if self.errors:
            return None
        # Then the two as one reading (the same rule the API and sync apply), on both fields.
        values = {f: float(self.cleaned_data[f]) for f in ("systolic", "diastolic")}
        messages = blood_pressure_errors(values["systolic"], values["diastolic"])
        if messages:
            for field in ("systolic", "diastolic"):
                self.add_error(field, messages)
            return None
        saved = []
        try:
            with transaction.atomic():
                for field, code, metric in pairs:
                    data = self._measurement(field, code)
                    other = values["diastolic" if field == "systolic" else "systolic"]
                    try:
                        if metric is None:
                            saved.append(
                                services.metric_create(user=user, partner_value=other, **data)
                            )
                        else:
                            data.pop("metric_type")
                            saved.append(
                                services.metric_update(metric=metric, partner_value=other, **data)
                            )
                    except ValidationError as exc:
                        self.add_service_errors(exc, {"value": field})
                        raise
        except ValidationError:
            return None
        return saved[0], saved[1]


# --- settings: sharing ----------------------------------------------------------------------


class CareTeamAddForm(forms.Form):
    email = forms.EmailField(
        label="Your clinician's e-mail",
        max_length=254,
        help_text="They must already have a HealthTrack clinician account.",
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )


SHARE_CHOICES = [
    (code, name) for code, name in METRIC_TYPE_CHOICES if code not in (BP_SYSTOLIC, BP_DIASTOLIC)
] + [("blood_pressure", "Blood pressure")]
SHARE_CHOICES.sort(key=lambda choice: choice[1])


class ShareGrantForm(ServiceErrorsMixin, forms.Form):
    """What to share, for which days, until when, with whom. The rules are
    `accounts.sharing.share_grant_create`'s."""

    field_map = {"clinician_email": "clinician_email", "expires_at": "expires_on"}

    metric_types = forms.MultipleChoiceField(
        label="What to share",
        choices=SHARE_CHOICES,
        widget=forms.CheckboxSelectMultiple,
    )
    date_from = forms.DateField(
        label="Readings from", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    date_to = forms.DateField(
        label="Readings until", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    expires_on = forms.DateField(
        label="Access ends on",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="The share stops working at the start of this day (your time zone).",
    )
    clinician_email = forms.EmailField(
        label="Share with a clinician (e-mail)",
        required=False,
        max_length=254,
        help_text="Leave empty to get a link and an access code to pass on instead.",
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    label = forms.CharField(
        label="Label",
        required=False,
        max_length=100,
        help_text="For you, e.g. “Cardiology appointment”.",
    )

    def __init__(self, *args, owner=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.zone = calendar.zone_of(owner)  # the owner's days (healthtrack.core.days)
        today = calendar.today(self.zone)
        self.initial.setdefault("date_from", today - timedelta(days=30))
        self.initial.setdefault("date_to", today)
        self.initial.setdefault("expires_on", today + timedelta(days=14))

    def metric_type_codes(self) -> list[str]:
        codes = []
        for code in self.cleaned_data["metric_types"]:
            codes += [BP_SYSTOLIC, BP_DIASTOLIC] if code == "blood_pressure" else [code]
        return codes

    def expires_at(self) -> datetime:
        return calendar.day_start(self.cleaned_data["expires_on"], self.zone)
