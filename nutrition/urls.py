from django.urls import path, register_converter

from nutrition import views


class IsoDateConverter:
    """yyyy-mm-dd, passed on as the string (the view checks it is a real date)."""

    regex = r"\d{4}-\d{2}-\d{2}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value) -> str:
        return value if isinstance(value, str) else value.isoformat()


register_converter(IsoDateConverter, "isodate")

urlpatterns = [
    path("nutrition/", views.nutrition_day, name="nutrition"),
    path("nutrition/<isodate:day>/", views.nutrition_day, name="nutrition-day"),
    path("nutrition/<isodate:day>/add/", views.nutrition_add, name="nutrition-add"),
    path(
        "nutrition/<isodate:day>/add/food/<int:food_id>/",
        views.nutrition_add_food,
        name="nutrition-add-food",
    ),
    path(
        "nutrition/<isodate:day>/add/custom/",
        views.nutrition_add_custom,
        name="nutrition-add-custom",
    ),
    path("nutrition/<isodate:day>/water/", views.nutrition_water, name="nutrition-water"),
    path("nutrition/entries/<int:pk>/edit/", views.nutrition_edit, name="nutrition-edit"),
    path("nutrition/entries/<int:pk>/delete/", views.nutrition_delete, name="nutrition-delete"),
    path("nutrition/entries/<int:pk>/photo/", views.nutrition_photo, name="nutrition-photo"),
    path(
        "nutrition/entries/<int:pk>/photo/thumbnail/",
        views.nutrition_photo_thumbnail,
        name="nutrition-photo-thumbnail",
    ),
    path(
        "nutrition/entries/<int:pk>/photo/delete/",
        views.nutrition_photo_delete,
        name="nutrition-photo-delete",
    ),
]
