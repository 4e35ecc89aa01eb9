from django.urls import path

from metrics import share_views

# Pages of the metrics app. `/share/<token>` is `accounts.sharing.SHARE_LINK_PATH`.
urlpatterns = [
    path("share/<str:token>", share_views.share_page, name="share-page"),
]
