"""Admin scoping for health data, decided by `accounts.access`.

    from accounts.admin_access import PatientDataAdminMixin

    @admin.register(Measurement)
    class MeasurementAdmin(PatientDataAdminMixin, admin.ModelAdmin):
        owner_field = "user"           # FK path to the patient ("device__user" works too)
        list_select_related = ["user"]

- Superusers: everything, with the ModelAdmin's usual add/change/delete.
- Admin clinicians (staff, role clinician, in the "Clinicians" group): only rows of their
  care-team patients (and their own), read-only, whatever their model permissions.
- Other staff: nothing (the model is not even listed).
- Each GET of a change page of someone else's row is written to the access log.
"""

from __future__ import annotations

from django.db.models import Model

from accounts import access
from accounts.audit import record_access
from accounts.models import AccessLog


class PatientDataAdminMixin:
    #: Lookup path from the model to the owning user; None when the rows are users.
    owner_field: str | None = "user"

    def owner_id_of(self, obj: Model) -> int | None:
        if self.owner_field is None:
            return obj.pk
        target = obj
        parts = self.owner_field.split("__")
        for name in parts[:-1]:
            target = getattr(target, name, None)
            if target is None:
                return None
        return getattr(target, f"{parts[-1]}_id", None)

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return access.admin_readable(qs, request.user, self.owner_field)

    def has_module_permission(self, request) -> bool:
        user = request.user
        if user.is_active and user.is_superuser:
            return super().has_module_permission(request)
        return access.admin_can_view(user)

    def has_view_permission(self, request, obj=None) -> bool:
        user = request.user
        if user.is_active and user.is_superuser:
            return super().has_view_permission(request, obj)
        if not access.admin_can_view(user):
            return False
        return obj is None or access.admin_can_read(user, self.owner_id_of(obj))

    def _superuser_only(self, request) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_add_permission(self, request, *args) -> bool:
        return self._superuser_only(request) and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._superuser_only(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._superuser_only(request) and super().has_delete_permission(request, obj)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "GET" and getattr(response, "status_code", None) == 200:
            obj = getattr(request, "_ht_admin_viewed_object", None)
            if obj is not None:
                owner_id = self.owner_id_of(obj)
                if owner_id is not None:
                    record_access(
                        actor=request.user,
                        owner_id=owner_id,
                        via=AccessLog.Via.ADMIN,
                        request=request,
                        obj=obj,
                    )
        return response

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        # On the request, not on this ModelAdmin (one instance serves every thread).
        request._ht_admin_viewed_object = obj
        return obj


class ReadOnlyAdminMixin:
    """No add, change or delete for anyone, superusers included (audit trails)."""

    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_actions(self, request):
        return {}
