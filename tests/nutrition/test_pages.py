"""Nutrition diary pages: a day's meals and totals, catalogue search without JavaScript,
adding from the catalogue or as a custom entry, water buttons, edit and delete."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from django.utils import timezone

from nutrition.models import NutritionLog
from tests.nutrition.factories import FoodFactory, NutritionLogFactory, NutritionTargetsFactory

pytestmark = pytest.mark.django_db


def today():
    return timezone.now().astimezone(UTC).date()


def yesterday():
    return today() - timedelta(days=1)


@pytest.mark.parametrize(
    "url",
    [
        "/nutrition/",
        "/nutrition/2026-03-01/",
        "/nutrition/2026-03-01/add/",
        "/nutrition/2026-03-01/add/custom/",
        "/nutrition/2026-03-01/add/food/1/",
        "/nutrition/entries/1/edit/",
        "/nutrition/entries/1/delete/",
    ],
)
def test_logged_out_visitors_are_sent_to_log_in(client, url):
    response = client.get(url)
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_a_day_shows_its_meals_and_totals_against_targets(page_client, user, other_user):
    day = yesterday()
    at = datetime.combine(day, time(12, 30), tzinfo=UTC)
    NutritionLogFactory(user=user, logged_at=at, description="Lentil soup", calories=450)
    NutritionLogFactory(
        user=user, logged_at=at, meal_type="drink", description="", calories=None, water_ml=500
    )
    NutritionLogFactory(user=user, logged_at=at - timedelta(days=1), description="Old stew")
    NutritionLogFactory(user=other_user, logged_at=at, description="Their pizza")
    NutritionTargetsFactory(user=user, calories=1800, water_ml=2000)
    response = page_client.get(f"/nutrition/{day.isoformat()}/")
    body = response.content.decode()
    assert "Lentil soup" in body and "Water" in body
    assert "Old stew" not in body and "Their pizza" not in body
    totals = {row["field"]: row for row in response.context["totals"]}
    assert totals["calories"]["total"] == 450 and totals["calories"]["target"] == 1800
    assert totals["water_ml"]["percent"] == 25
    assert "450 of 1800 kcal" in body.replace(",", "")


def test_today_is_the_default_and_future_or_invalid_days_are_404(page_client):
    assert page_client.get("/nutrition/").context["day"] == today()
    future = (today() + timedelta(days=1)).isoformat()
    assert page_client.get(f"/nutrition/{future}/").status_code == 404
    assert page_client.get("/nutrition/2026-02-30/").status_code == 404


def test_the_go_to_day_form_works_without_javascript(page_client):
    response = page_client.get("/nutrition/?day=2026-03-01")
    assert response.status_code == 302 and response.url == "/nutrition/2026-03-01/"


def test_an_empty_day_says_what_to_do(page_client):
    body = page_client.get("/nutrition/").content.decode()
    assert "Nothing logged on this day" in body
    assert f'href="/nutrition/{today().isoformat()}/add/"' in body


def test_the_catalogue_search_works_as_a_plain_form(page_client):
    FoodFactory(name="Quokkafruit, raw", calories=89)
    FoodFactory(name="Bread, quokkafruit")
    FoodFactory(name="Apple, quokka")
    day = today().isoformat()
    response = page_client.get(f"/nutrition/{day}/add/?q=quokkafruit")
    names = [food.name for food in response.context["foods"]]
    assert names == ["Quokkafruit, raw", "Bread, quokkafruit"]  # the API's order: name starts first
    body = response.content.decode()
    assert "2 foods found" in body and "89 kcal per 100 g" in body
    food_id = response.context["foods"][0].pk
    assert f'href="/nutrition/{day}/add/food/{food_id}/"' in body
    assert 'src="/static/js/food-search.js"' in body and "data-food-search" in body


def test_adding_a_catalogue_food_computes_the_portion_from_the_catalogue(page_client, user):
    food = FoodFactory(name="Oats", calories=380, protein_g=13)
    day = yesterday()
    response = page_client.post(
        f"/nutrition/{day.isoformat()}/add/food/{food.pk}/",
        {"meal_type": "breakfast", "grams": "50", "time": "07:45"},
        follow=True,
    )
    assert "Oats added to your diary." in response.content.decode()
    log = NutritionLog.objects.get(user=user)
    assert (log.food, log.grams, log.calories, log.protein_g) == (food, 50, 190, 6.5)
    assert log.logged_at == datetime.combine(day, time(7, 45), tzinfo=UTC)


def test_a_refused_portion_keeps_the_input(page_client, user):
    food = FoodFactory()
    response = page_client.post(
        f"/nutrition/{yesterday().isoformat()}/add/food/{food.pk}/",
        {"meal_type": "lunch", "grams": "9000", "time": "12:00"},
    )
    assert response.status_code == 400
    assert response.context["form"].errors["grams"] == [
        "Ensure this value is less than or equal to 5000."
    ]
    assert 'value="9000"' in response.content.decode()
    assert not NutritionLog.objects.exists()


def test_a_custom_entry_follows_the_diary_rules_and_keeps_the_input(page_client, user):
    url = f"/nutrition/{yesterday().isoformat()}/add/custom/"
    response = page_client.post(
        url, {"meal_type": "dinner", "description": "Grandma's stew", "time": "19:00"}
    )
    errors = response.context["form"].errors
    assert errors["calories"] == ["Give calories or water_ml (or a food with grams)."]
    assert "Grandma&#x27;s stew" in response.content.decode()
    response = page_client.post(
        url,
        {
            "meal_type": "dinner",
            "description": "Grandma's stew",
            "calories": "640",
            "protein_g": "32",
            "time": "19:00",
        },
    )
    assert response.status_code == 302
    log = NutritionLog.objects.get(user=user)
    assert (log.description, log.calories, log.protein_g, log.food) == (
        "Grandma's stew",
        640,
        32,
        None,
    )


def test_a_time_in_the_future_is_refused(page_client, user):
    now = timezone.now().astimezone(UTC)
    if now.hour >= 22:
        pytest.skip("no later time left today to test with")
    later = (now + timedelta(hours=2)).strftime("%H:%M")
    response = page_client.post(
        f"/nutrition/{today().isoformat()}/add/custom/",
        {"meal_type": "snack", "calories": "100", "time": later},
    )
    assert response.context["form"].errors["time"] == ["Cannot be in the future."]


def test_water_buttons_log_a_drink(page_client, user):
    day = yesterday().isoformat()
    response = page_client.post(f"/nutrition/{day}/water/", {"amount_ml": "250"}, follow=True)
    assert "250 ml of water added." in response.content.decode()
    log = NutritionLog.objects.get(user=user)
    assert (log.meal_type, log.water_ml, log.calories, log.day) == ("drink", 250, None, yesterday())
    assert page_client.get(f"/nutrition/{day}/water/").status_code == 405  # POST only
    response = page_client.post(f"/nutrition/{day}/water/", {"amount_ml": "20000"})
    assert response.status_code == 400  # bad input: a 4xx page saying what is wrong
    assert "less than or equal to 10000" in response.content.decode()
    assert f'href="/nutrition/{day}/"' in response.content.decode()  # the way back
    assert NutritionLog.objects.count() == 1


def test_editing_an_entry_keeps_its_kind(page_client, user):
    food = FoodFactory(calories=100)
    log = NutritionLogFactory(
        user=user, food=food, grams=100, logged_at=datetime.combine(yesterday(), time(9), UTC)
    )
    form = page_client.get(f"/nutrition/entries/{log.pk}/edit/").context["form"]
    assert list(form.fields) == ["meal_type", "grams", "time"]
    response = page_client.post(
        f"/nutrition/entries/{log.pk}/edit/",
        {"meal_type": "lunch", "grams": "250", "time": "13:15"},
    )
    assert response.status_code == 302
    log.refresh_from_db()
    assert (log.grams, log.calories, log.meal_type) == (250, 250, "lunch")
    assert log.logged_at == datetime.combine(yesterday(), time(13, 15), UTC)


def test_deleting_an_entry_asks_first(page_client, user):
    log = NutritionLogFactory(user=user, logged_at=datetime.combine(yesterday(), time(9), UTC))
    assert (
        "Delete this entry?"
        in page_client.get(f"/nutrition/entries/{log.pk}/delete/").content.decode()
    )
    response = page_client.post(f"/nutrition/entries/{log.pk}/delete/")
    assert response.status_code == 302 and response.url == f"/nutrition/{yesterday()}/"
    assert not NutritionLog.objects.filter(pk=log.pk).exists()


def test_someone_elses_entry_is_404(page_client, other_user):
    log = NutritionLogFactory(user=other_user)
    for url in (f"/nutrition/entries/{log.pk}/edit/", f"/nutrition/entries/{log.pk}/delete/"):
        assert page_client.get(url).status_code == 404
        assert page_client.post(url, {"meal_type": "lunch", "calories": "1"}).status_code == 404
    assert NutritionLog.objects.filter(pk=log.pk).exists()
