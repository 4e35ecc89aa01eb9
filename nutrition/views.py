"""Nutrition diary pages: a day's meals with totals against targets, adding from the food
catalogue (search as you type, or a plain search form without JavaScript) or as a custom entry,
water quick-add buttons, editing and deleting entries, and a photo per entry (served only
through the access-checked views here and in the API, never from a public path).

Thin views: entries are scoped through `accounts.access` (someone else's entry is a 404), the
ModelForms validate with the model's rules, `nutrition.services` writes.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import audit
from accounts.members import page_owner, page_writable, page_writer, with_member
from healthtrack.core import days as calendar
from healthtrack.core.pages import form_status, refused
from nutrition import photos, services
from nutrition.forms import CustomEntryForm, FoodEntryForm, MealPhotoForm, WaterForm, default_time
from nutrition.models import Food, MealPhoto, NutritionLog
from nutrition.targets import daily_targets, latest_weight_kg
from nutrition.validation import round_amount

SEARCH_RESULTS = 20
WATER_AMOUNTS = (250, 500)
TOTALS = (
    # field, label, unit, has a target
    ("calories", "Energy", "kcal", True),
    ("protein_g", "Protein", "g", True),
    ("water_ml", "Water", "ml", True),
    ("carbs_g", "Carbohydrate", "g", False),
    ("fat_g", "Fat", "g", False),
    ("fiber_g", "Fibre", "g", False),
    ("sugar_g", "Sugars", "g", False),
    ("sodium_mg", "Sodium", "mg", False),
)


def today_utc(user=None) -> date:
    """Today in the diary owner's zone (`healthtrack.core.days`; the name is kept for its
    callers)."""
    return calendar.today(user)


def _day_or_404(value: str | None, tz) -> date:
    if value is None:
        return today_utc(tz)
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise Http404 from None
    if day > today_utc(tz) or day.year < 2000:
        raise Http404
    return day


def _own_logs(request: HttpRequest):
    return page_writable(request, NutritionLog.objects.all())


def _day_url(day: date, request: HttpRequest | None = None) -> str:
    url = reverse("nutrition-day", args=[day.isoformat()])
    return with_member(request, url) if request is not None else url


def _totals(entries: list[NutritionLog], targets: dict) -> list[dict]:
    rows = []
    for field, label, unit, has_target in TOTALS:
        total = round_amount(sum(getattr(e, field) or 0 for e in entries))
        target = targets.get(field) if has_target else None
        row = {"field": field, "label": label, "unit": unit, "total": total, "target": target}
        if target:
            row["percent"] = round(100 * total / target)
            row["progress"] = min(100, row["percent"])
            if field == "water_ml" or field == "protein_g":
                row["status"], row["status_text"] = (
                    ("ok", "Reached")
                    if total >= target
                    else ("neutral", f"{target - total:,.0f} {unit} to go")
                )
            else:
                row["status"], row["status_text"] = _calorie_status(total, target)
        rows.append(row)
    return rows


def _calorie_status(total: float, target: float) -> tuple[str, str]:
    if total > target * 1.2:
        return "warning", "Above target"
    if total >= target * 0.8:
        return "ok", "Around target"
    return "neutral", f"{target - total:,.0f} kcal left"


@login_required
def nutrition_day(request: HttpRequest, day: str | None = None) -> HttpResponse:
    user = page_owner(request)
    tz = calendar.zone_of(user)
    shown = _day_or_404(day, tz)
    if request.GET.get("day"):  # the "go to day" form, without JavaScript
        try:
            day_asked = min(date.fromisoformat(request.GET["day"]), today_utc(tz))
            return redirect(_day_url(day_asked, request))
        except ValueError:
            messages.error(request, "That is not a date. Use the date picker, e.g. 2026-03-01.")
    entries = list(
        NutritionLog.objects.for_user(user)
        .on_days(shown, shown)
        .select_related("food", "photo")
        .order_by("logged_at", "id")
    )
    for entry in entries:
        entry.meal_photo = _photo_of(entry)
    targets = daily_targets(user=user, weight_kg=latest_weight_kg(user), on=shown)
    meals = []
    for value, label in NutritionLog.MealType.choices:
        items = [e for e in entries if e.meal_type == value]
        meals.append(
            {
                "value": value,
                "label": label,
                "entries": items,
                "calories": round_amount(sum(e.calories or 0 for e in items)),
            }
        )
    today = today_utc(tz)
    context = {
        "day": shown,
        "is_today": shown == today,
        "previous_day": shown - timedelta(days=1),
        "next_day": shown + timedelta(days=1) if shown < today else None,
        "today": today,
        "meals": meals,
        "has_entries": bool(entries),
        "totals": _totals(entries, targets),
        "targets": targets,
        "water_amounts": WATER_AMOUNTS,
        "add_url": with_member(request, reverse("nutrition-add", args=[shown.isoformat()])),
    }
    with timezone.override(tz):  # times of day in the owner's zone, as the day is
        return render(request, "nutrition/day.html", {**context, "time_zone": tz})


@login_required
def nutrition_add(request: HttpRequest, day: str) -> HttpResponse:
    """Choose a food from the catalogue (the search works as a plain GET form; the script
    food-search.js updates the same list as you type), or go on to a custom entry."""
    shown = _day_or_404(day, calendar.zone_of(page_writer(request)))
    query = request.GET.get("q", "").strip()[:100]
    foods = list(Food.objects.search(query)[:SEARCH_RESULTS]) if query else []
    return render(
        request,
        "nutrition/add.html",
        {
            "day": shown,
            "query": query,
            "foods": foods,
            "choose_url": with_member(
                request, reverse("nutrition-add-food", args=[shown.isoformat(), 0])
            ),
        },
    )


def _create(request: HttpRequest, owner, form, day: date, what: str) -> HttpResponse | None:
    try:
        services.nutrition_log_create(user=owner, **form.service_fields())
    except ValidationError as exc:
        form.add_service_errors(exc)
        return None
    messages.success(request, f"{what} added to your diary.")
    return redirect(_day_url(day, request))


@login_required
def nutrition_add_food(request: HttpRequest, day: str, food_id: int) -> HttpResponse:
    owner = page_writer(request)
    tz = calendar.zone_of(owner)
    shown = _day_or_404(day, tz)
    food = get_object_or_404(Food, pk=food_id)
    form = FoodEntryForm(request.POST or None, day=shown, food=food, tz=tz)
    if (
        request.method == "POST"
        and form.is_valid()
        and (response := _create(request, owner, form, shown, food.name))
    ):
        return response
    return render(
        request,
        "nutrition/entry_form.html",
        {"form": form, "day": shown, "food": food, "editing": False},
        status=form_status(form),
    )


@login_required
def nutrition_add_custom(request: HttpRequest, day: str) -> HttpResponse:
    owner = page_writer(request)
    tz = calendar.zone_of(owner)
    shown = _day_or_404(day, tz)
    form = CustomEntryForm(request.POST or None, day=shown, tz=tz)
    if (
        request.method == "POST"
        and form.is_valid()
        and (response := _create(request, owner, form, shown, "Your entry"))
    ):
        return response
    return render(
        request,
        "nutrition/entry_form.html",
        {"form": form, "day": shown, "editing": False},
        status=form_status(form),
    )


@login_required
@require_POST
def nutrition_water(request: HttpRequest, day: str) -> HttpResponse:
    owner = page_writer(request)
    tz = calendar.zone_of(owner)
    shown = _day_or_404(day, tz)
    form = WaterForm(request.POST)
    if not form.is_valid():
        return refused(
            request, message="Choose one of the water buttons.", back=_day_url(shown, request)
        )
    amount = form.cleaned_data["amount_ml"]
    try:
        services.nutrition_log_create(
            user=owner,
            meal_type=NutritionLog.MealType.DRINK,
            description="Water",
            water_ml=amount,
            logged_at=datetime.combine(shown, default_time(shown, tz), tzinfo=tz),
        )
    except ValidationError as exc:
        return refused(request, message=" ".join(exc.messages), back=_day_url(shown, request))
    messages.success(request, f"{amount:,.0f} ml of water added.")
    return redirect(_day_url(shown, request))


@login_required
def nutrition_edit(request: HttpRequest, pk: int) -> HttpResponse:
    log = get_object_or_404(_own_logs(request).select_related("food"), pk=pk)
    tz = calendar.zone_of(log.user)
    day = calendar.day_of(log.logged_at, tz)
    if log.food is not None:
        form = FoodEntryForm(request.POST or None, instance=log, day=day, food=log.food, tz=tz)
    else:
        form = CustomEntryForm(request.POST or None, instance=log, day=day, tz=tz)
    if request.method == "POST" and form.is_valid():
        try:
            services.nutrition_log_update(log=log, **form.service_fields())
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, "Diary entry changed.")
            return redirect(_day_url(day, request))
    return render(
        request,
        "nutrition/entry_form.html",
        {
            "form": form,
            "day": day,
            "food": log.food,
            "editing": True,
            "log": log,
            "meal_photo": _photo_of(log),
            "photo_form": MealPhotoForm(),
        },
        status=form_status(form),
    )


@login_required
def nutrition_delete(request: HttpRequest, pk: int) -> HttpResponse:
    log = get_object_or_404(_own_logs(request).select_related("food"), pk=pk)
    day = log.day
    if request.method == "POST":
        services.nutrition_log_delete(log=log)
        messages.success(request, "Diary entry deleted.")
        return redirect(_day_url(day, request))
    return render(request, "nutrition/confirm_delete.html", {"log": log, "day": day})


# --- Meal photos ------------------------------------------------------------------------------


def _photo_of(log: NutritionLog) -> MealPhoto | None:
    try:
        return log.photo
    except ObjectDoesNotExist:
        return None


def meal_photo_response(photo: MealPhoto, kind: str) -> FileResponse:
    """Stream a photo (`kind` "image") or its thumbnail from the private storage. Callers
    have checked that the viewer may read the entry."""
    if kind == "thumbnail":
        name, content_type, suffix = photo.thumbnail_name, "image/jpeg", "-thumbnail.jpg"
    else:
        name = photo.image_name
        content_type = photo.content_type
        suffix = "." + photo.image_name.rsplit(".", 1)[-1]
    response = FileResponse(
        photos.photo_storage().open(name, "rb"),
        content_type=content_type,
        as_attachment=False,
        filename=f"meal-photo-{photo.log_id}{suffix}",
    )
    # Health data: a browser may keep it briefly for the page, no shared cache may.
    response["Cache-Control"] = "private, max-age=300"
    response["Vary"] = "Cookie, Authorization"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def nutrition_photo(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: an entry's photo, for whoever may read the entry. POST: add or replace it."""
    if request.method == "POST":
        return _photo_upload(request, pk)
    photo = get_object_or_404(MealPhoto.objects.readable_by(request.user), log_id=pk)
    audit.record_read(request=request, owner_id=photo.log.user_id, obj=photo)
    return meal_photo_response(photo, "image")


@login_required
@require_GET
def nutrition_photo_thumbnail(request: HttpRequest, pk: int) -> HttpResponse:
    """The thumbnail, or the photo itself while the thumbnail task has not run yet."""
    photo = get_object_or_404(MealPhoto.objects.readable_by(request.user), log_id=pk)
    audit.record_read(request=request, owner_id=photo.log.user_id, obj=photo)
    return meal_photo_response(photo, "thumbnail" if photo.has_thumbnail else "image")


def _photo_upload(request: HttpRequest, pk: int) -> HttpResponse:
    log = get_object_or_404(_own_logs(request), pk=pk)
    form = MealPhotoForm(request.POST, request.FILES)
    back = with_member(request, reverse("nutrition-edit", args=[log.pk]))
    if not form.is_valid():
        return refused(request, message="Choose a photo to upload.", back=back)
    try:
        services.meal_photo_set(log=log, upload=form.cleaned_data["photo"])
    except ValidationError as exc:
        return refused(request, message=" ".join(exc.messages), back=back)
    messages.success(request, "Photo added to your diary entry.")
    return redirect(_day_url(log.day, request))


@login_required
@require_POST
def nutrition_photo_delete(request: HttpRequest, pk: int) -> HttpResponse:
    photo = get_object_or_404(MealPhoto.objects.filter(log__in=_own_logs(request)), log_id=pk)
    day = photo.log.day
    services.meal_photo_delete(photo=photo)
    messages.success(request, "Photo removed.")
    return redirect(_day_url(day, request))
