from django.contrib.admin.apps import AdminConfig


class HealthTrackAdminConfig(AdminConfig):
    """django.contrib.admin, with HealthTrack's admin site as `admin.site`."""

    default_site = "healthtrack.admin_site.HealthTrackAdminSite"
