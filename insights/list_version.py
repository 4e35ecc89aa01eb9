"""The version of a person's insights list, guarding its cached pages (`insights.api.views`).

`insights_changed(user_ids)` retires each person's token once the writing transaction commits
(readcache recreates a missing token with a new value on the next read), so no page computed
before the commit is served again; before the commit a reader could still see the old rows
and store them under a token the write had already replaced. It is called from the model layer
(the queryset in `insights.models`, the receivers below), not by each write function, because
insights rows change through many paths: saves and deletes of instances (the services, the
admin, alert handling, the retention's batches, cascades and the user's erasure: `pre_save`,
`post_save`, `post_delete`), the queryset's `update`, `bulk_create` and `bulk_update` (the
recommendation sets), the set replacement's one raw DELETE on PostgreSQL
(`insights.services._delete_insights`, by the owners it returns), and a change to another row
a page shows (the author's name of a clinician's note). The author or reviewer set to null
when that account is deleted is one of Django's queryset updates: the base manager is the
model's own (`Meta.base_manager_name`).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.cache import cache
from django.db import transaction


def list_version_key(user_id: int) -> str:
    return f"insights:user:{user_id}:list-version"


def insights_changed(user_ids: Iterable[int | None], *, using: str | None = None) -> None:
    """The insights of `user_ids` changed in the current transaction (of database `using`):
    retire their list versions when it commits (now, outside a transaction)."""
    keys = sorted({list_version_key(pk) for pk in user_ids if pk is not None})
    if keys:
        transaction.on_commit(lambda: _retire(keys), using=using, robust=True)


def _retire(keys: list[str]) -> None:
    cache.delete_many(keys)


# --- the signals of instance writes (connected in `InsightsConfig.ready`) -------------------

# The user fields a page shows of a clinician's note's author (`author_name`).
AUTHOR_NAME_FIELDS = frozenset({"username", "first_name", "last_name"})


def on_insight_saving(sender, instance, raw=False, update_fields=None, **kwargs) -> None:
    """A saved row may have moved to another owner (the admin's raw id field): the one it had
    loses it. One query per save of an existing row that may change `user`."""
    if raw or instance.pk is None or (update_fields is not None and "user" not in update_fields):
        return
    before = sender._base_manager.filter(pk=instance.pk).values_list("user_id", flat=True)
    insights_changed(before, using=kwargs.get("using"))


def on_insight_saved(sender, instance, **kwargs) -> None:
    insights_changed([instance.user_id], using=kwargs.get("using"))


def on_insight_deleted(sender, instance, **kwargs) -> None:
    """Every delete of rows (an instance's, a queryset's, a cascade's, the retention's): with
    this receiver connected Django never deletes them without loading them."""
    insights_changed([instance.user_id], using=kwargs.get("using"))


def on_user_saved(sender, instance, raw=False, update_fields=None, **kwargs) -> None:
    """A clinician's name is shown on their notes: the notes' owners' pages change with it."""
    if raw or (update_fields is not None and not AUTHOR_NAME_FIELDS & set(update_fields)):
        return
    from insights.models import HealthInsight

    notes = HealthInsight.objects.filter(author_id=instance.pk)
    insights_changed(
        notes.order_by().values_list("user_id", flat=True).distinct(), using=kwargs.get("using")
    )


def connect() -> None:
    from django.contrib.auth import get_user_model
    from django.db.models.signals import post_delete, post_save, pre_save

    from insights.models import HealthAlert, HealthInsight

    for model in (HealthInsight, HealthAlert):  # the proxy's saves name the proxy
        name = model.__name__
        pre_save.connect(on_insight_saving, sender=model, dispatch_uid=f"insights.list.{name}.pre")
        post_save.connect(on_insight_saved, sender=model, dispatch_uid=f"insights.list.{name}")
        post_delete.connect(
            on_insight_deleted, sender=model, dispatch_uid=f"insights.list.{name}.del"
        )
    post_save.connect(on_user_saved, sender=get_user_model(), dispatch_uid="insights.list.author")
