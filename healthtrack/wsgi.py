import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "healthtrack.settings")
application = get_wsgi_application()

# The liveness probe is answered in front of Django's middleware chain (healthtrack/health.py).
from healthtrack.health import LivenessProbe  # noqa: E402 - needs the settings module set

application = LivenessProbe(application)
