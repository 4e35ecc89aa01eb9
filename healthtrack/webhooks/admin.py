"""The delivery log (status codes, attempts, errors) and replay, for superusers. A time range
is replayed by narrowing the list by date (the date links) and selecting all."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction

from accounts.admin_care import SuperuserViewMixin
from healthtrack.webhooks import services
from healthtrack.webhooks.models import WebhookDelivery, WebhookSubscription


class _ReadOnly(SuperuserViewMixin, admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(_ReadOnly):
    list_display = ["id", "connected_app", "url", "events", "consecutive_failures", "disabled_at"]
    list_filter = [("disabled_at", admin.EmptyFieldListFilter)]
    exclude = ["secret"]  # never shown
    actions = ["enable"]

    @admin.action(description="Enable again (failures forgotten)")
    def enable(self, request, queryset):
        with transaction.atomic():
            count = queryset.update(disabled_at=None, disabled_reason="", consecutive_failures=0)
        messages.success(request, f"{count} subscription(s) enabled.")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(_ReadOnly):
    list_display = [
        "id",
        "subscription",
        "event_type",
        "sequence",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "created_at",
        "delivered_at",
        "next_attempt_at",
    ]
    list_filter = ["status", "event_type", "subscription"]
    date_hierarchy = "created_at"
    actions = ["replay"]

    @admin.action(description="Replay selected deliveries")
    def replay(self, request, queryset):
        count = services.replay(deliveries=queryset.order_by("subscription_id", "sequence"))
        messages.success(request, f"{count} deliver(y/ies) queued again.")
