"""Metrics pages: index, per-type page, add / edit / delete, blood pressure as one form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from metrics import services
from metrics.models import DailyRollup, HealthMetric
from tests.metrics.factories import DeviceFactory

pytestmark = pytest.mark.django_db

SYS, DIA = "blood_pressure_systolic", "blood_pressure_diastolic"


def recent(hours: int = 1) -> datetime:
    return (timezone.now() - timedelta(hours=hours)).replace(second=0, microsecond=0)


def when(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def weight(user):
    return services.metric_create(
        user=user, metric_type="weight", value=72.5, unit="kg", recorded_at=recent()
    )


@pytest.mark.parametrize(
    "url",
    [
        "/metrics/",
        "/metrics/steps/",
        "/metrics/steps/add/",
        "/metrics/blood_pressure/",
        "/metrics/blood_pressure/add/",
        "/metrics/weight/1/edit/",
        "/metrics/weight/1/delete/",
        "/settings/devices/",
        "/settings/sharing/",
    ],
)
def test_logged_out_visitors_are_sent_to_log_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/?next=")


def test_index_lists_every_type_with_the_latest_daily_value(page_client, weight):
    body = page_client.get("/metrics/").content.decode()
    assert "Weight" in body and "72.5" in body and "Latest on" in body
    assert body.count("No readings yet") >= 10  # the other types say what to do
    assert 'href="/metrics/blood_pressure/add/"' in body
    assert "/metrics/blood_pressure_systolic/" not in body  # one entry for the pair


def test_type_page_shows_a_chart_and_only_your_own_readings(page_client, weight, other_user):
    services.metric_create(
        user=other_user, metric_type="weight", value=99.9, unit="kg", recorded_at=recent()
    )
    response = page_client.get("/metrics/weight/?days=30")
    body = response.content.decode()
    assert response.status_code == 200
    assert '<svg class="chart-svg"' in body and "Last 30 days" in body
    assert "72.5" in body and "99.9" not in body
    assert f'href="/metrics/weight/{weight.pk}/edit/"' in body
    assert response.context["page"].paginator.count == 1


def test_readings_are_paginated(page_client, user):
    start = recent(hours=30)
    for i in range(25):
        HealthMetric.objects.create(
            user=user,
            metric_type="heart_rate",
            value=60 + i,
            unit="bpm",
            recorded_at=start + timedelta(minutes=i),
        )
    first = page_client.get("/metrics/heart_rate/")
    assert len(first.context["rows"]) == 20 and "Page 1 of 2" in first.content.decode()
    second = page_client.get("/metrics/heart_rate/?page=2&days=7")
    assert len(second.context["rows"]) == 5
    assert second.context["rows"][-1]["value"] == "60"  # oldest last


def test_unknown_types_are_404_and_one_half_of_blood_pressure_leads_to_the_pair(page_client):
    assert page_client.get("/metrics/cholesterol/").status_code == 404
    assert page_client.get("/metrics/cholesterol/add/").status_code == 404
    response = page_client.get(f"/metrics/{SYS}/")
    assert response.status_code == 302 and response.url == "/metrics/blood_pressure/"


def test_adding_a_reading_goes_through_the_service_and_converts_the_unit(page_client, user):
    at = recent()
    response = page_client.post(
        "/metrics/weight/add/",
        {"value": "160", "unit": "lb", "recorded_at": when(at), "notes": "after breakfast"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/metrics/weight/"
    assert "Weight reading added." in response.content.decode()
    metric = HealthMetric.objects.get(user=user, metric_type="weight")
    assert metric.unit == "kg" and metric.value == pytest.approx(72.5747, abs=1e-3)
    assert metric.recorded_at == at and metric.notes == "after breakfast"
    assert DailyRollup.objects.filter(user=user, metric_type="weight").exists()


def test_the_unit_choice_comes_from_the_registry(page_client):
    form = page_client.get("/metrics/body_temperature/add/").context["form"]
    assert [c[0] for c in form.fields["unit"].choices] == ["°C", "°F"]
    form = page_client.get("/metrics/steps/add/").context["form"]
    assert form.fields["unit"].widget.is_hidden  # one unit: nothing to choose


def test_a_refused_reading_keeps_the_input_and_shows_the_apis_message(page_client, user):
    response = page_client.post(
        "/metrics/weight/add/",
        {"value": "900", "unit": "kg", "recorded_at": when(recent()), "notes": "typo?"},
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert form.errors["value"] == ["Outside the plausible range for weight: 1 to 500 kg."]
    body = response.content.decode()
    assert 'value="900"' in body and "typo?" in body
    assert not HealthMetric.objects.filter(user=user).exists()


def test_a_time_in_the_future_is_refused_by_the_shared_rule(page_client, user):
    response = page_client.post(
        "/metrics/steps/add/",
        {"value": "100", "unit": "count", "recorded_at": when(recent(hours=-3))},
    )
    assert response.context["form"].errors["recorded_at"] == [
        "Cannot be more than 1 hour in the future."
    ]
    assert not HealthMetric.objects.filter(user=user).exists()


def test_blood_pressure_is_one_form_that_writes_two_readings(page_client, user):
    at = recent()
    response = page_client.post(
        "/metrics/blood_pressure/add/",
        {"systolic": "128", "diastolic": "84", "recorded_at": when(at)},
    )
    assert response.status_code == 302 and response.url == "/metrics/blood_pressure/"
    rows = dict(HealthMetric.objects.filter(user=user).values_list("metric_type", "value"))
    assert rows == {SYS: 128.0, DIA: 84.0}
    assert set(HealthMetric.objects.filter(user=user).values_list("recorded_at", flat=True)) == {at}
    body = page_client.get("/metrics/blood_pressure/").content.decode()
    assert "128/84" in body


def test_a_refused_blood_pressure_value_writes_neither_and_keeps_both_inputs(page_client, user):
    response = page_client.post(
        "/metrics/blood_pressure/add/",
        {"systolic": "128", "diastolic": "500", "recorded_at": when(recent())},
    )
    form = response.context["form"]
    assert list(form.errors) == ["diastolic"]
    assert "Outside the plausible range" in form.errors["diastolic"][0]
    body = response.content.decode()
    assert 'value="128"' in body and 'value="500"' in body
    assert not HealthMetric.objects.filter(user=user).exists()


def test_editing_a_blood_pressure_reading_changes_both_values(page_client, user):
    at = recent()
    sys_ = services.metric_create(user=user, metric_type=SYS, value=150, recorded_at=at)
    dia = services.metric_create(user=user, metric_type=DIA, value=95, recorded_at=at)
    form = page_client.get(f"/metrics/blood_pressure/{dia.pk}/edit/").context["form"]
    assert (form.initial["systolic"], form.initial["diastolic"]) == ("150", "95")
    response = page_client.post(
        f"/metrics/blood_pressure/{sys_.pk}/edit/",
        {"systolic": "132", "diastolic": "86", "recorded_at": when(at)},
    )
    assert response.status_code == 302
    sys_.refresh_from_db()
    dia.refresh_from_db()
    assert (sys_.value, dia.value) == (132.0, 86.0)
    assert HealthMetric.objects.filter(user=user).count() == 2


def test_deleting_a_blood_pressure_reading_deletes_both_values(page_client, user):
    at = recent()
    sys_ = services.metric_create(user=user, metric_type=SYS, value=150, recorded_at=at)
    services.metric_create(user=user, metric_type=DIA, value=95, recorded_at=at)
    confirm = page_client.get(f"/metrics/blood_pressure/{sys_.pk}/delete/")
    assert "150/95" in confirm.content.decode()
    response = page_client.post(f"/metrics/blood_pressure/{sys_.pk}/delete/")
    assert response.status_code == 302
    assert not HealthMetric.objects.filter(user=user).exists()


def test_editing_a_reading_keeps_the_input_on_error_then_saves(page_client, weight):
    url = f"/metrics/weight/{weight.pk}/edit/"
    assert page_client.get(url).context["form"].initial["value"] == "72.5"
    response = page_client.post(url, {"value": "-3", "unit": "kg", "recorded_at": when(recent())})
    assert "value" in response.context["form"].errors and 'value="-3"' in response.content.decode()
    response = page_client.post(url, {"value": "71.9", "unit": "kg", "recorded_at": when(recent())})
    assert response.status_code == 302
    weight.refresh_from_db()
    assert weight.value == 71.9


def test_someone_elses_reading_is_404_everywhere(page_client, other_user):
    theirs = services.metric_create(
        user=other_user, metric_type="weight", value=80, recorded_at=recent()
    )
    their_bp = services.metric_create(
        user=other_user, metric_type=SYS, value=120, recorded_at=recent()
    )
    for url in (
        f"/metrics/weight/{theirs.pk}/edit/",
        f"/metrics/weight/{theirs.pk}/delete/",
        f"/metrics/blood_pressure/{their_bp.pk}/edit/",
        f"/metrics/blood_pressure/{their_bp.pk}/delete/",
    ):
        assert page_client.get(url).status_code == 404
        assert (
            page_client.post(url, {"value": "1", "recorded_at": when(recent())}).status_code == 404
        )
    assert HealthMetric.objects.filter(user=other_user).count() == 2


def test_a_reading_is_found_only_under_its_own_type(page_client, weight):
    assert page_client.get(f"/metrics/steps/{weight.pk}/edit/").status_code == 404


def test_deleting_a_reading_asks_first_then_deletes(page_client, weight):
    assert (
        "Delete this weight reading?"
        in page_client.get(f"/metrics/weight/{weight.pk}/delete/").content.decode()
    )
    assert HealthMetric.objects.filter(pk=weight.pk).exists()
    response = page_client.post(f"/metrics/weight/{weight.pk}/delete/", follow=True)
    assert "Weight reading deleted." in response.content.decode()
    assert not HealthMetric.objects.filter(pk=weight.pk).exists()


def test_devices_page_lists_only_your_devices(page_client, user, other_user):
    DeviceFactory(user=user, name="My watch")
    DeviceFactory(user=other_user, name="Their scale")
    body = page_client.get("/settings/devices/").content.decode()
    assert "My watch" in body and "Their scale" not in body


def test_devices_page_without_devices_says_what_to_do(page_client):
    body = page_client.get("/settings/devices/").content.decode()
    assert "No devices yet" in body and 'href="/settings/tokens/"' in body


def test_the_metrics_page_and_the_prometheus_endpoint_live_side_by_side(page_client, weight):
    from django.urls import reverse

    assert reverse("metrics-index") == "/metrics/"
    page = page_client.get("/metrics/weight/")
    assert 'href="/metrics/"' in page.content.decode()  # the breadcrumb: the page, not /metrics
    assert page_client.get("/metrics/").templates[0].name == "metrics/index.html"


def test_the_period_figures_never_count_todays_partial_steps_as_a_day(page_client, user):
    """Issue 16: a partial "today" (427 steps) counts as a day. The metric page's average and
    lowest are of finished days; today is stated "so far"."""
    today = timezone.now().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    for back, steps in ((2, 7600), (1, 8400), (0, 427)):
        services.metric_create(
            user=user, metric_type="steps", value=steps, recorded_at=today - timedelta(days=back)
        )
    figures = dict(page_client.get("/metrics/steps/?days=7").context["figures"])
    assert figures["Average per day (finished days)"] == "8,000 steps"
    assert (figures["Lowest"], figures["Highest"]) == ("7,600 steps", "8,400 steps")
    assert figures["Today so far"] == "427 steps"
    assert figures["Days with readings"] == "3 of 7"


def test_the_blood_pressure_figures_state_the_readings_like_the_chart(page_client, user):
    at = recent()
    for minutes, (systolic, diastolic) in ((0, (150, 95)), (10, (120, 70))):
        for code, value in ((SYS, systolic), (DIA, diastolic)):
            services.metric_create(
                user=user,
                metric_type=code,
                value=value,
                recorded_at=at - timedelta(days=1, minutes=minutes),
            )
    response = page_client.get("/metrics/blood_pressure/?days=90")
    figures = dict(response.context["figures"])
    # The day's mean is 135/82.5, stated 135/83 (halves away from zero, as everywhere); its
    # highest systolic and lowest diastolic readings are 150 and 70.
    assert figures["Average per day (finished days)"] == "135/83 mmHg"
    assert (figures["Highest systolic"], figures["Lowest diastolic"]) == ("150 mmHg", "70 mmHg")
    chart = response.context["chart"]
    assert chart.kind == "bp-band" and "Highest systolic: 150 mmHg" in chart.summary
    assert "mean 83 mmHg" in str(chart.svg)  # the chart rounds the same way
