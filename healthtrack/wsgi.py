import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "healthtrack.settings")
application = get_wsgi_application()

# Answered in front of Django's handler and middleware chain: the liveness probe
# (healthtrack/health.py) and a person's own cached reads (healthtrack/front.py).
from healthtrack.front import CachedReadFront  # noqa: E402 - needs the settings module set
from healthtrack.health import LivenessProbe  # noqa: E402

application = LivenessProbe(CachedReadFront(application))
