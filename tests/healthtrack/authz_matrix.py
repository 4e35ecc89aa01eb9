"""The authorisation matrix: for every URL pattern the project defines, which status class each
role gets for each method on patient A's objects. `tests/healthtrack/test_authorisation_matrix.py`
walks the URL resolver and checks every cell; a pattern missing from `EXPECTED` fails it.

Roles, in the order of each expectation string:
  anon    not signed in
  A       patient A, the owner of every object in the path
  B       patient B, a stranger to A
  care    a clinician (admin clinician) with A in an active care team
  nocare  a clinician (admin clinician) without A
  staff   staff, neither clinician nor superuser
  su      superuser
  fam     a family manager of A (A gave them manager access), acting for A: `?member=<A>`
  ro      a read-only family member of A (A gave them read-only access), acting for A
  Bm      patient B, a stranger, trying to act for A with `?member=<A>`
The last three send `?member=<A's id>` on every URL outside the admin (the one convention for
acting for someone, `accounts/access.py`); where a route ignores it, they act as themselves.
In each expectation string a space may separate the first seven roles from these three.

Status classes (one letter per role):
  A  allowed through: 2xx, a redirect that is not to a login page, or a 4xx about the request
     itself (400, 409, 415, 422: the empty body sent to writes) - authorisation passed
  D  denied: 401, 403, or a redirect to a login page
  N  not found: 404 (the admin's own "not found", a redirect to its index, counts too)
  M  405 method not allowed
Anything 5xx always fails.

Methods: GET, POST, PUT, PATCH, DELETE on every pattern outside the admin; GET and POST on the
admin's (the only methods Django's admin views handle)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, timedelta

from django.contrib import admin
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

ROLES = ("anon", "A", "B", "care", "nocare", "staff", "su", "fam", "ro", "Bm")
MEMBER_ROLES = ("fam", "ro", "Bm")  # they send ?member=<A> outside the admin
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
ADMIN_METHODS = ("GET", "POST")
LOGIN_PATHS = ("/accounts/login/", "/admin/login/")


def walk(resolver=None, prefix: str = "", namespace: str = ""):
    """Every URL pattern, depth first: (route, name, pattern). `route` is the concatenated
    pattern text, the key of `EXPECTED`."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = namespace
            if entry.namespace:
                ns = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from walk(entry, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            name = entry.name or ""
            yield prefix + str(entry.pattern), (f"{namespace}:{name}" if namespace else name), entry


def unmapped(patterns, expected) -> list[str]:
    """Routes of `patterns` ((route, name, pattern) triples) that `expected` has no entry for."""
    return [f"{route} (name {name!r})" for route, name, _ in patterns if route not in expected]


def classify(response, *, is_admin_object: bool = False) -> str:
    """The status class of `response` (see the module's docstring); `is_admin_object` for an
    admin page about one object, where a redirect to the admin's index means "not found"."""
    code = response.status_code
    if code >= 500:  # never expected: the walk reports it
        return f"E{code}"
    if code == 405:
        return "M"
    if code == 404:
        return "N"
    if code in (401, 403):
        return "D"
    if 300 <= code < 400:
        location = response.get("Location", "")
        if any(p in location for p in LOGIN_PATHS):
            return "D"
        if is_admin_object and location.rstrip("/").endswith("/admin"):
            return "N"  # the admin's "object not found": a redirect to its index
        return "A"
    if code in (200, 201, 202, 204, 400, 409, 415, 422):
        return "A"
    return f"?{code}"


def methods_for(route: str) -> tuple[str, ...]:
    return ADMIN_METHODS if route.startswith("admin/") else METHODS


# --- A's objects in the path ----------------------------------------------------------------


@dataclass
class Objects:
    """Patient A's objects that fill the path of each route (plus the world they live in)."""

    world: object
    manager: object  # A gave this user family-manager access
    reader: object  # A gave this user read-only family access
    dependent_id: int  # a family member A manages
    access_link_id: int  # A's read-only link to `reader`
    share_token: str  # A's share link
    api_token_id: int
    connected_app_id: int  # A's connection to an OAuth app
    today: str


def build_objects():
    from accounts import family, oauth, sharing
    from accounts.api_tokens import api_token_create
    from tests.accounts.factories import UserFactory
    from tests.accounts.oauth_helpers import public_app
    from tests.healthtrack.roles import build_world

    world = build_world()
    patient = world.patient
    dependent = family.family_member_create(manager=patient, first_name="Kid")
    reader = UserFactory()
    link = family.family_access_grant(granted_by=patient, email=reader.email, role="read_only")
    manager = UserFactory()
    family.family_access_grant(granted_by=patient, email=manager.email, role="manager")
    today = timezone.now().astimezone(UTC).date()
    share = sharing.share_grant_create(
        owner=patient, metric_types=["steps"], date_from=today - timedelta(days=7), date_to=today
    )
    token, _ = api_token_create(user=patient, name="matrix")
    connection = oauth.app_connection_approve(
        application=public_app(), patient=patient, approved_by=patient, scopes=["offline_access"]
    )
    _photo_on_the_diary_entry(world)
    return Objects(
        world=world,
        manager=manager,
        reader=reader,
        dependent_id=dependent.member_id,
        access_link_id=link.pk,
        share_token=share.token,
        api_token_id=token.pk,
        connected_app_id=connection.pk,
        today=today.isoformat(),
    )


def _photo_on_the_diary_entry(world) -> None:
    """A's diary entry carries a photo with its thumbnail, so the photo URLs have one to serve."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from nutrition import services as nutrition_services
    from nutrition.models import NutritionLog
    from tests.nutrition.photo_helpers import image_bytes

    upload = SimpleUploadedFile("meal.png", image_bytes("PNG"), content_type="image/png")
    photo = nutrition_services.meal_photo_set(log=world.rows[NutritionLog], upload=upload)
    nutrition_services.meal_photo_thumbnail_make(photo_id=photo.pk)


def _pk_for(route: str, o: Objects) -> int:
    from accounts.models import CareTeam, ShareGrant
    from goals.care_programs.models import CareProgram, ProgramLog
    from goals.models import HealthGoal
    from healthtrack.portability.models import ImportJob
    from insights.models import HealthInsight
    from metrics.models import Device, HealthMetric
    from nutrition.models import Food, NutritionLog

    rows = o.world.rows
    by_route = {
        "api/v1/care-team/<int:pk>/end": rows[CareTeam].pk,
        "settings/sharing/care-team/<int:pk>/end/": rows[CareTeam].pk,
        "api/v1/share-grants/<int:pk>/revoke": rows[ShareGrant].pk,
        "settings/sharing/grants/<int:pk>/revoke/": rows[ShareGrant].pk,
        "api/v1/family/members/<int:pk>": o.dependent_id,
        "api/v1/family/access/<int:pk>": o.access_link_id,
        "api/v1/users/<int:pk>": o.world.patient.pk,
        "api/v1/health-metrics/<int:pk>": rows[HealthMetric].pk,
        "metrics/<slug:code>/<int:pk>/edit/": rows[HealthMetric].pk,
        "metrics/<slug:code>/<int:pk>/delete/": rows[HealthMetric].pk,
        "api/v1/devices/<int:pk>": rows[Device].pk,
        "api/v1/devices/<int:pk>/sync": rows[Device].pk,
        "api/v1/nutrition-logs/<int:pk>": rows[NutritionLog].pk,
        "nutrition/entries/<int:pk>/edit/": rows[NutritionLog].pk,
        "nutrition/entries/<int:pk>/delete/": rows[NutritionLog].pk,
        "nutrition/entries/<int:pk>/photo/": rows[NutritionLog].pk,
        "nutrition/entries/<int:pk>/photo/thumbnail/": rows[NutritionLog].pk,
        "nutrition/entries/<int:pk>/photo/delete/": rows[NutritionLog].pk,
        "api/v1/nutrition-logs/<int:pk>/photo": rows[NutritionLog].pk,
        "api/v1/nutrition-logs/<int:pk>/photo/image": rows[NutritionLog].pk,
        "api/v1/nutrition-logs/<int:pk>/photo/thumbnail": rows[NutritionLog].pk,
        "api/v1/health-goals/<int:pk>": rows[HealthGoal].pk,
        "goals/<int:pk>/edit/": rows[HealthGoal].pk,
        "goals/<int:pk>/abandon/": rows[HealthGoal].pk,
        "api/v1/programs/<int:pk>": rows[CareProgram].pk,
        "api/v1/programs/<int:pk>/adherence": rows[CareProgram].pk,
        "api/v1/programs/<int:pk>/history": rows[CareProgram].pk,
        "api/v1/logs/<int:pk>/verify": rows[ProgramLog].pk,
        "api/v1/logs/<int:pk>/reject": rows[ProgramLog].pk,
        "programs/logs/<int:pk>/review/": rows[ProgramLog].pk,
        "api/v1/health-insights/<int:pk>": rows[HealthInsight].pk,
        "insights/<int:pk>/acknowledge/": rows[HealthInsight].pk,
        "insights/<int:pk>/read/": rows[HealthInsight].pk,
        "api/v1/imports/<int:pk>": rows[ImportJob].pk,
        # App tokens only: every role here is 401 before any lookup, whatever the id.
        "api/v1/webhooks/<int:pk>": 1,
        "api/v1/webhooks/<int:pk>/deliveries": 1,
        "api/v1/webhooks/<int:pk>/deliveries/<int:delivery_id>/replay": 1,
        "api/v1/webhooks/<int:pk>/replay": 1,
        "settings/tokens/<int:pk>/revoke/": o.api_token_id,
        "settings/apps/<int:pk>/revoke/": o.connected_app_id,
        "api/v1/foods/<int:pk>": Food.objects.order_by("pk").first().pk,
    }
    return by_route[route]


def _health_alert():
    from insights.models import HealthAlert

    return HealthAlert


def _admin_object(route: str, o: Objects):
    """A's row (or, for infrastructure, the world's row) of the model an admin route is for."""
    app_label, model_name = route.split("/")[1:3]
    for model, _ in admin.site._registry.items():
        if (model._meta.app_label, model._meta.model_name) == (app_label, model_name):
            return o.world.rows.get(model) or o.world.other_rows.get(model)
    raise KeyError(route)


def url_for(role: str, route: str, url: str, o: Objects) -> str:
    """The URL `role` requests for `route`: the family roles and Bm act for A outside the admin."""
    if role in MEMBER_ROLES and not route.startswith("admin/"):
        return f"{url}?member={o.world.patient.pk}"
    return url


def path_of(route: str, o: Objects) -> str:
    """The URL of `route` with A's objects in its path."""
    from django.contrib.auth.tokens import default_token_generator
    from django.contrib.contenttypes.models import ContentType
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from nutrition.models import Food

    patient = o.world.patient
    if route.startswith("admin/^(?P<app_label>"):
        return "/admin/metrics/"
    if route == "admin/(?P<url>.*)$":
        return "/admin/no-such-page/"
    values = {
        "user_id": patient.pk,
        "token": o.share_token,
        "day": o.today,
        "food_id": Food.objects.order_by("pk").first().pk,
        "goal_type": "steps",
        "kind": "water" if route.startswith("quick-log") else "metrics",
        "code": "steps",
        "uidb64": urlsafe_base64_encode(force_bytes(patient.pk)),
        "id": patient.pk,
        "username": patient.username,
        "alert_id": o.world.rows[_health_alert()].pk,
        "delivery_id": 1,  # webhook routes: app tokens only, 401 before any lookup
        "content_type_id": ContentType.objects.get_for_model(type(patient)).pk,
    }
    if route.startswith("fhir/"):
        values.update(fhir_ids(route, o), rest="Condition")
    if route.startswith("admin/password_reset") or "<uidb64>" in route:
        values["token"] = default_token_generator.make_token(patient)
    if "<path:object_id>" in route and route.startswith("admin/r/"):
        values["object_id"] = patient.pk
    elif "<path:object_id>" in route:
        values["object_id"] = _admin_object(route, o).pk
    if "<int:pk>" in route:
        if route.startswith("admin/otp_totp/"):
            values["pk"] = TOTPDevice.objects.order_by("pk").first().pk
        else:
            values["pk"] = _pk_for(route, o)

    def fill(match: re.Match) -> str:
        return str(values[match.group(2)])

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", fill, route)


def fhir_ids(route: str, o: Objects) -> dict[str, str]:
    """A's FHIR resource ids: `user-<id>`, `metric-<id>`, `goal-<id>`."""
    from goals.models import HealthGoal
    from metrics.models import HealthMetric

    if route.startswith("fhir/Observation/"):
        return {"id": f"metric-{o.world.rows[HealthMetric].pk}"}
    if route.startswith("fhir/Goal/"):
        return {"id": f"goal-{o.world.rows[HealthGoal].pk}"}
    return {"id": f"user-{o.world.patient.pk}"}


# --- The table --------------------------------------------------------------------------------


def every(default: str, **per_method: str) -> dict[str, str]:
    """`default` for every method but those named: every("DMMMMMM MMM", GET="DAAAAAA AAN")."""
    for letters in (default, *per_method.values()):
        assert len(letters.replace(" ", "")) in (7, len(ROLES)) and set(letters) <= set("ADNM "), (
            letters
        )
    return {method: per_method.get(method, default).replace(" ", "") for method in METHODS}


# Outside the admin. Reading the rows: anonymous is 401 on the API and sent to the login from
# pages; the owner A gets through; B, the clinician without A, staff and superusers get 404 on
# A's objects (the API and pages have no superuser door); the clinician with A in care reads
# (and may end the care team, set care plans; an insight they may read but not change is 403).
# Pages about "my own data" (no id in the path) serve every signed-in user their own.
#
# The family columns (fam ro Bm), all acting for A with `?member=<A>`: the manager gets what A
# gets; the read-only member reads what A reads but every write, and every page that is a form,
# is 404 (a page that answers any method with itself is let through, and must write nothing);
# the stranger B is 404 wherever the member is honoured. Where the three get what B gets, the
# route is about the signed-in account, not a person's data, and acts for the caller whatever
# `?member=` says: sign-in, profile, API tokens, account deletion, one's own family list, the
# grants one received, a clinician's patients, public pages. Data export, imports and family
# access are for those who may write for the member (the reader gets 404); a 400 about the
# query or body comes before the owner check (health-metrics/aggregates with no metric type).
APP = {
    # Probes, public pages, auth.
    "health": every("AAAAAAA AAA"),
    "ready": every("AAAAAAA AAA"),
    # Prometheus: staff only, everyone else 404 (the endpoint does not exist for them).
    "metrics": every("NNNAAAA NNN"),
    # A share link is public: the token is the secret, the page asks for the access code.
    "share/<str:token>": every("MMMMMMM MMM", GET="AAAAAAA AAA", POST="AAAAAAA AAA"),
    "api/v1/share/<str:token>": every("MMMMMMM MMM", GET="AAAAAAA AAA"),
    "favicon.ico": every("AAAAAAA AAA"),
    "": every("AAAAAAA AAA"),
    "accounts/signup/": every("AAAAAAA AAA"),
    "accounts/signup/sent/": every("MMMMMMM MMM", GET="AAAAAAA AAA"),
    "accounts/login/": every("AAAAAAA AAA", PATCH="MAAAAAA AAA", DELETE="MAAAAAA AAA"),
    "accounts/logout/": every("MMMMMMM MMM", POST="AAAAAAA AAA"),
    "accounts/password-reset/": every("AAAAAAA AAA", PATCH="MMMMMMM MMM", DELETE="MMMMMMM MMM"),
    "accounts/password-reset/sent/": every("MMMMMMM MMM", GET="AAAAAAA AAA"),
    "accounts/password-reset/<uidb64>/<token>/": every("AAAAAAA AAA"),
    "accounts/password-reset/complete/": every("MMMMMMM MMM", GET="AAAAAAA AAA"),
    "api/v1/users/register": every("MMMMMMM MMM", POST="AAAAAAA AAA"),
    "api/v1/auth/token/": every("MMMMMMM MMM", POST="AAAAAAA AAA"),
    "api/v1/auth/token/refresh/": every("MMMMMMM MMM", POST="AAAAAAA AAA"),
    "api/v1/auth/token/revoke/": every("MMMMMMM MMM", POST="AAAAAAA AAA"),
    "api/v1/metric-types": every("MMMMMMM MMM", GET="AAAAAAA AAA"),
    "api/schema/": every("MMMMMMM MMM", GET="AAAAAAA AAA"),
    "api/docs/": every("MMMMMMM MMM", GET="AAAAAAA AAA"),
    "api/redoc/": every("MMMMMMM MMM", GET="AAAAAAA AAA"),
    # Pages about the signed-in user's own data (or, with `?member=`, a family member's).
    "metrics/": every("DAAAAAA AAN"),
    "metrics/<slug:code>/": every("DAAAAAA AAN"),
    "metrics/<slug:code>/add/": every("DAAAAAA ANN"),
    "metrics/<slug:code>/<int:pk>/edit/": every("DANNNNN ANN"),
    "metrics/<slug:code>/<int:pk>/delete/": every("DANNNNN ANN"),
    "settings/devices/": every("DAAAAAA AAN"),
    "settings/sharing/": every("DAAAAAA AAN", POST="DAAAAAA ANN"),
    "settings/sharing/care-team/<int:pk>/end/": every("DMMMMMM MMM", POST="DANNNNN ANN"),
    "settings/sharing/grants/<int:pk>/revoke/": every("DMMMMMM MMM", POST="DANNNNN ANN"),
    "settings/data/": every("DAAAAAA AAN", POST="DAAAAAA ANN"),
    "nutrition/": every("DAAAAAA AAN"),
    "nutrition/<isodate:day>/": every("DAAAAAA AAN"),
    "nutrition/<isodate:day>/add/": every("DAAAAAA ANN"),
    "nutrition/<isodate:day>/add/food/<int:food_id>/": every("DAAAAAA ANN"),
    "nutrition/<isodate:day>/add/custom/": every("DAAAAAA ANN"),
    "nutrition/<isodate:day>/water/": every("DMMMMMM MMM", POST="DAAAAAA ANN"),
    "nutrition/entries/<int:pk>/edit/": every("DANNNNN ANN"),
    "nutrition/entries/<int:pk>/delete/": every("DANNNNN ANN"),
    # A meal photo: read by whoever may read the entry, changed by its owner only.
    "nutrition/entries/<int:pk>/photo/": every(
        "DMMMMMM MMM", GET="DANANNN AAN", POST="DANNNNN ANN"
    ),
    "nutrition/entries/<int:pk>/photo/thumbnail/": every("DMMMMMM MMM", GET="DANANNN AAN"),
    "nutrition/entries/<int:pk>/photo/delete/": every("DMMMMMM MMM", POST="DANNNNN ANN"),
    "goals/": every("DAAAAAA AAN"),
    "goals/new/": every("DAAAAAA ANN"),
    "goals/new/<slug:goal_type>/": every("DAAAAAA ANN"),
    "goals/<int:pk>/edit/": every("DANNNNN ANN"),
    "goals/<int:pk>/abandon/": every("DMMMMMM MMM", POST="DANNNNN ANN"),
    # The verification queue: everyone's own (empty unless they manage someone or care for
    # a patient); a review by a family manager or care-team clinician only.
    "programs/logs/queue/": every("DMMMMMM MMM", GET="DAAAAAA AAA"),
    "programs/logs/<int:pk>/review/": every("DMMMMMM MMM", POST="DNNANNN ANN"),
    "insights/": every("DAAAAAA AAN"),
    "insights/<int:pk>/acknowledge/": every("DMMMMMM MMM", POST="DANNNNN ANN"),
    "insights/<int:pk>/read/": every("DMMMMMM MMM", POST="DANNNNN ANN"),
    "quick-log/<slug:kind>/": every("DMMMMMM MMM", POST="DAAAAAA ANN"),
    "dashboard/": every("DAAAAAA AAN"),
    "settings/": every("DAAAAAA AAA"),
    "settings/profile/": every("DAAAAAA AAA"),
    "settings/password/": every("DAAAAAA AAA"),
    "settings/tokens/": every("DAAAAAA AAA"),
    "settings/tokens/<int:pk>/revoke/": every("DMMMMMM MMM", POST="DANNNNN NNN"),
    "settings/access-log/": every("DAAAAAA AAN"),
    "settings/export/": every("DAAAAAA AAA"),
    "settings/delete/": every("DAAAAAA AAA"),
    # The API.
    "api/v1/users/me": every("DMMMMMM MMM", GET="DAAAAAA AAA"),
    "api/v1/care-team/clinicians": every("DMMMMMM MMM", GET="DAAAAAA AAN", POST="DAAAAAA ANN"),
    "api/v1/care-team/patients": every("DMMMMMM MMM", GET="DAAAAAA AAA"),
    "api/v1/care-team/<int:pk>/end": every("DMMMMMM MMM", POST="DANANNN ANN"),
    "api/v1/share-grants": every("DMMMMMM MMM", GET="DAAAAAA AAN", POST="DAAAAAA ANN"),
    "api/v1/share-grants/received": every("DMMMMMM MMM", GET="DAAAAAA AAA"),
    "api/v1/share-grants/<int:pk>/revoke": every("DMMMMMM MMM", POST="DANNNNN ANN"),
    "api/v1/users/me/access-log": every("DMMMMMM MMM", GET="DAAAAAA AAN"),
    "api/v1/family/members": every("DMMMMMM MMM", GET="DAAAAAA AAA", POST="DAAAAAA AAA"),
    "api/v1/family/members/<int:pk>": every("DMMMMMM MMM", GET="DANNNNN NNN", DELETE="DANNNNN NNN"),
    "api/v1/family/access": every("DMMMMMM MMM", GET="DAAAAAA ANN", POST="DAAAAAA ANN"),
    "api/v1/family/access/<int:pk>": every("DMMMMMM MMM", DELETE="DANNNNN ANN"),
    # A manager edits A's profile; closing an adult's account is A's alone (a manager removes
    # only dependents, who have no login).
    "api/v1/users/<int:pk>": every(
        "DANNNNN ANN", GET="DANANNN AAN", POST="DMMMMMM MMM", DELETE="DANNNNN NNN"
    ),
    # The staff user directory: superusers and non-clinician staff; 404 for everyone else,
    # whatever the method (the 404 comes before the method check).
    "api/v1/users/": every("DNNNNMM NNN", GET="DNNNNAA NNN"),
    "api/v1/users/username/<str:username>": every("DNNNNMM NNN", GET="DNNNNAA NNN"),
    "api/v1/health-metrics": every("DMMMMMM MMM", GET="DAAAAAA AAN", POST="DAAAAAA ANN"),
    "api/v1/health-metrics/summary": every("DMMMMMM MMM", GET="DAAAAAA AAN"),
    "api/v1/health-metrics/aggregates": every("DMMMMMM MMM", GET="DAAAAAA AAA"),
    "api/v1/health-metrics/user/<int:user_id>": every("DMMMMMM MMM", GET="DANANNN AAN"),
    "api/v1/health-metrics/<int:pk>": every("DANNNNN ANN", GET="DANANNN AAN", POST="DMMMMMM MMM"),
    "api/v1/devices": every("DMMMMMM MMM", GET="DAAAAAA AAN", POST="DAAAAAA ANN"),
    "api/v1/devices/<int:pk>": every("DMMMMMM MMM", GET="DANANNN AAN", PATCH="DANNNNN ANN"),
    "api/v1/devices/<int:pk>/sync": every("DMMMMMM MMM", POST="DANNNNN ANN"),
    "api/v1/nutrition-logs": every("DMMMMMM MMM", GET="DAAAAAA AAN", POST="DAAAAAA ANN"),
    "api/v1/nutrition-logs/daily": every("DMMMMMM MMM", GET="DAAAAAA AAN"),
    "api/v1/nutrition-logs/user/<int:user_id>": every("DMMMMMM MMM", GET="DANANNN AAN"),
    "api/v1/nutrition-logs/<int:pk>": every("DANNNNN ANN", GET="DANANNN AAN", POST="DMMMMMM MMM"),
    "api/v1/nutrition-logs/<int:pk>/photo": every(
        "DANNNNN ANN", GET="DANANNN AAN", PUT="DMMMMMM MMM", PATCH="DMMMMMM MMM"
    ),
    "api/v1/nutrition-logs/<int:pk>/photo/image": every("DMMMMMM MMM", GET="DANANNN AAN"),
    "api/v1/nutrition-logs/<int:pk>/photo/thumbnail": every("DMMMMMM MMM", GET="DANANNN AAN"),
    "api/v1/foods": every("DMMMMMM MMM", GET="DAAAAAA AAA"),
    "api/v1/foods/<int:pk>": every("DMMMMMM MMM", GET="DAAAAAA AAA"),
    "api/v1/nutrition-targets": every(
        "DMMMMMM MMM", GET="DAAAAAA AAN", PUT="DAAAAAA ANN", PATCH="DAAAAAA ANN"
    ),
    "api/v1/health-goals": every("DMMMMMM MMM", GET="DAAAAAA AAN", POST="DAAAAAA ANN"),
    "api/v1/health-goals/user/<int:user_id>": every("DMMMMMM MMM", GET="DANANNN AAN"),
    "api/v1/health-goals/<int:pk>": every("DANNNNN ANN", GET="DANANNN AAN", POST="DMMMMMM MMM"),
    "api/v1/programs": every("DMMMMMM MMM", GET="DAAAAAA AAN", POST="DAAAAAA ANN"),
    "api/v1/programs/<int:pk>": every(
        "DMMMMMM MMM", GET="DANANNN AAN", PATCH="DANANNN ANN", DELETE="DANANNN ANN"
    ),
    "api/v1/programs/<int:pk>/adherence": every("DMMMMMM MMM", GET="DANANNN AAN"),
    "api/v1/programs/<int:pk>/history": every("DMMMMMM MMM", GET="DANANNN AAN"),
    # Daily logs: the program is named in the body, so the empty body is a 400 for everyone
    # signed in (tests/goals/test_program_logs.py covers who may log); a family manager or a
    # care-team clinician reviews, never the person, a read-only member or anyone else.
    "api/v1/logs": every("DMMMMMM MMM", POST="DAAAAAA AAA"),
    "api/v1/logs/<int:pk>/verify": every("DMMMMMM MMM", POST="DNNANNN ANN"),
    "api/v1/logs/<int:pk>/reject": every("DMMMMMM MMM", POST="DNNANNN ANN"),
    "api/v1/health-insights": every("DMMMMMM MMM", GET="DAAAAAA AAN", POST="DDDAADD DDD"),
    "api/v1/health-insights/user/<int:user_id>": every("DMMMMMM MMM", GET="DANANNN AAN"),
    "api/v1/health-insights/<int:pk>": every("DMMMMMM MMM", GET="DANANNN AAN", PATCH="DANDNNN ADN"),
    "api/v1/recommendations/cache-stats": every("DMMMMMM MMM", GET="DNNAAAA NNN"),
    "api/v1/recommendations/<int:user_id>": every("DMMMMMM MMM", GET="DANANNN AAN"),
    "api/v1/advice/water": every("DMMMMMM MMM", POST="DAAAAAA ANN"),
    "api/v1/advice/gym": every("DMMMMMM MMM", POST="DAAAAAA ANN"),
    "api/v1/advice/food": every("DMMMMMM MMM", POST="DAAAAAA ANN"),
    "api/v1/imports": every("DMMMMMM MMM", GET="DAAAAAA ANN", POST="DAAAAAA ANN"),
    "api/v1/imports/templates/<str:kind>.csv": every("DMMMMMM MMM", GET="DAAAAAA AAA"),
    "api/v1/imports/<int:pk>": every("DMMMMMM MMM", GET="DANNNNN ANN"),
    "api/v1/export": every("DMMMMMM MMM", GET="DAAAAAA ANN"),
    "api/v1/export/report": every("DMMMMMM MMM", GET="DAAAAAA AAN"),
    # The change feed (healthtrack/changes): one's own, or `?member=` one may read.
    "api/v1/changes": every("DMMMMMM MMM", GET="DAAAAAA AAN"),
    # Webhook subscriptions (healthtrack/webhooks): OAuth app tokens only, so every role here
    # (session, JWT) is 401 before the method is looked at (tests/webhooks test the tokens).
    "api/v1/webhooks": every("DDDDDDD DDD"),
    "api/v1/webhooks/<int:pk>": every("DDDDDDD DDD"),
    "api/v1/webhooks/<int:pk>/deliveries": every("DDDDDDD DDD"),
    "api/v1/webhooks/<int:pk>/deliveries/<int:delivery_id>/replay": every("DDDDDDD DDD"),
    "api/v1/webhooks/<int:pk>/replay": every("DDDDDDD DDD"),
    # OAuth (accounts/oauth.py). The consent page needs a signed-in user; without an app's
    # request it is a 400 page about the request. Tokens and revocation are for apps (400 on
    # an empty body); the metadata is public. Connected apps: as the access log (read) and the
    # sharing revocations (a manager disconnects A's apps, the reader may not).
    "o/authorize/": every("DAAAAAA AAA", PATCH="DMMMMMM MMM", DELETE="DMMMMMM MMM"),
    "o/token/": every("MMMMMMM MMM", POST="AAAAAAA AAA"),
    "o/revoke_token/": every("MMMMMMM MMM", POST="AAAAAAA AAA"),
    ".well-known/oauth-authorization-server": every("MMMMMMM MMM", GET="AAAAAAA AAA"),
    "settings/apps/": every("DMMMMMM MMM", GET="DAAAAAA AAN"),
    "settings/apps/<int:pk>/revoke/": every("DMMMMMM MMM", POST="DANNNNN ANN"),
    # FHIR (healthtrack/fhir): OAuth tokens only, so every signed-in session is 401 like
    # anonymous; what each token gets is the OAUTH table below. Metadata is public; any other
    # path under /fhir/ is an OperationOutcome 404.
    "fhir/metadata": every("MMMMMMM MMM", GET="AAAAAAA AAA"),
    "fhir/.well-known/smart-configuration": every("MMMMMMM MMM", GET="AAAAAAA AAA"),
    "fhir/Patient": every("DDDDDDD DDD"),  # tokens: OAUTH below
    "fhir/Patient/<str:id>": every("DDDDDDD DDD"),
    "fhir/Observation": every("DDDDDDD DDD"),
    "fhir/Observation/<str:id>": every("DDDDDDD DDD"),
    "fhir/Goal": every("DDDDDDD DDD"),
    "fhir/Goal/<str:id>": every("DDDDDDD DDD"),
    "fhir/<path:rest>": every("MMMMMMM MMM", GET="NNNNNNN NNN"),
}

# The admin, per registered model (see tests/healthtrack/test_admin_every_model.py): health
# data is scoped per patient (the clinician with A in care reads A's rows read-only, the one
# without gets the admin's "not found"), audit trails and infrastructure are superusers' only,
# the food catalogue is reference data clinicians may look up; patients and anonymous are sent
# to the admin's login. Superusers may add / change / delete what the model's admin allows.
ADMIN_HEALTH = {
    "accounts.careteam": {"add", "change", "delete"},
    "accounts.sharegrant": {"change", "delete"},
    "accounts.user": {"add", "change", "delete"},
    "metrics.device": {"change", "delete"},
    "metrics.healthmetric": set(),
    "metrics.hourlyrollup": set(),
    "metrics.dailyrollup": set(),
    "metrics.idempotencyrecord": set(),
    "nutrition.nutritionlog": {"delete"},
    "nutrition.nutritiontargets": {"change", "delete"},
    "goals.healthgoal": {"delete"},
    "goals.careprogram": {"delete"},
    "goals.programadherence": set(),
    "goals.programlog": set(),
    "insights.healthinsight": {"add", "change", "delete"},
    "insights.healthalert": {"add", "change", "delete"},
    "portability.importjob": {"delete"},
    "lifecycle.archivedmonth": set(),
}
ADMIN_SUPERUSER_ONLY = {
    "oauth2_provider.application": {"add", "change", "delete"},
    "accounts.accesslog": set(),
    "auditlog.logentry": set(),
    "token_blacklist.outstandingtoken": set(),
    "token_blacklist.blacklistedtoken": {"add", "change", "delete"},
    "auth.group": {"add", "change", "delete"},
    "otp_totp.totpdevice": {"add", "change", "delete"},
    "django_celery_beat.periodictask": {"add", "change", "delete"},
    "django_celery_beat.clockedschedule": {"add", "change", "delete"},
    "django_celery_beat.crontabschedule": {"add", "change", "delete"},
    "django_celery_beat.solarschedule": {"add", "change", "delete"},
    "django_celery_beat.intervalschedule": {"add", "change", "delete"},
    "lifecycle.retentionjob": set(),
    "webhooks.webhooksubscription": set(),
    "webhooks.webhookdelivery": set(),
}
ADMIN_CLINICIANS_LOOK_UP = {"nutrition.food": {"add", "change", "delete"}}


def _admin(get: str, post: str | None = None) -> dict[str, str]:
    """GET and POST letters for the first seven roles. In the admin the three family roles are
    patients who are not staff, like A: they get A's letter (the admin takes no `?member=`)."""

    def all_roles(letters: str) -> str:
        assert len(letters) == len(ROLES) - len(MEMBER_ROLES), letters
        return letters + letters[ROLES.index("A")] * len(MEMBER_ROLES)

    return {"GET": all_roles(get), "POST": all_roles(post or get)}


def _admin_model(label: str) -> dict[str, dict[str, str]] | None:
    su_may = (
        ADMIN_HEALTH.get(label)
        if label in ADMIN_HEALTH
        else ADMIN_SUPERUSER_ONLY.get(label, ADMIN_CLINICIANS_LOOK_UP.get(label))
    )
    if su_may is None:
        return None  # a model nobody decided about: its routes stay unmapped
    if label in ADMIN_HEALTH:  # the clinician without A: "not found" (staff too, on history)
        lists, objects, history = "DDDAADA", "DDDANDA", "DDDANNA"
    elif label in ADMIN_CLINICIANS_LOOK_UP:
        lists, objects, history = "DDDAADA", "DDDAADA", "DDDAADA"
    else:
        lists, objects, history = "DDDDDDA", "DDDDDDA", "DDDDDDA"

    def su(action: str) -> str:
        return "DDDDDDA" if action in su_may else "DDDDDDD"  # _admin adds the family roles

    app_label, model_name = label.split(".")
    base = f"admin/{app_label}/{model_name}/"
    return {
        base: _admin(lists),
        f"{base}add/": _admin(su("add")),
        f"{base}<path:object_id>/history/": _admin(history),
        f"{base}<path:object_id>/delete/": _admin(su("delete")),
        f"{base}<path:object_id>/change/": _admin(objects, su("change")),
        # Django's bare-id URL: a redirect to the change page, whoever asks (staff only).
        f"{base}<path:object_id>/": _admin("DDDAAAA"),
    }


ADMIN_SITE = {
    "admin/": _admin("DDDAAAA"),
    "admin/login/": _admin("AAAAAAA"),
    "admin/logout/": _admin("AAAMMMM", "AAAAAAA"),
    "admin/password_change/": _admin("DDDAAAA"),
    "admin/password_change/done/": _admin("DDDAAAA", "DDDMMMM"),
    "admin/autocomplete/": _admin("DDDDDDD", "DDDMMMM"),
    "admin/jsi18n/": _admin("DDDAAAA", "DDDMMMM"),
    "admin/2fa/enrol/": _admin("DDDAAAA"),
    # A one-time enrolment link (here an unknown one): staff get "not found"; a POST is sent
    # back to the enrolment page.
    "admin/2fa/enrol/<str:token>/": _admin("DDDNNNN", "DDDAAAA"),
    # The patient page, its audit trail and one of A's alerts (GET shows it; the empty POST is
    # a 400 about the form): superusers and A's clinicians; the others "not found".
    "admin/patients/<int:user_id>/": _admin("DDDANNA"),
    "admin/patients/<int:user_id>/audit/": _admin("DDDANNA"),
    "admin/alerts/<int:alert_id>/": _admin("DDDANNA"),
    # The note box: A's clinicians write notes; superusers read the page but write none (403).
    "admin/patients/<int:user_id>/notes/": _admin("DDDANNA", "DDDANND"),
    # "View on site" for A's user: users have no public page.
    "admin/r/<path:content_type_id>/<path:object_id>/": _admin("DDDNNNN"),
    "admin/accounts/user/<id>/password/": _admin("DDDDDDA"),
    "admin/otp_totp/totpdevice/<int:pk>/config/": _admin("DDDDDDD"),
    "admin/otp_totp/totpdevice/<int:pk>/qrcode/": _admin("DDDDDDD"),
    # An app's index (metrics): staff with no model of it get 404.
    "admin/^(?P<app_label>auth|token_blacklist|otp_totp|django_celery_beat|accounts|auditlog"
    "|oauth2_provider|metrics|nutrition|goals|insights|portability|lifecycle|webhooks)/$": _admin(
        "DDDAANA"
    ),
    "admin/(?P<url>.*)$": _admin("DDDNNNN"),
}


# --- OAuth tokens on the FHIR API -------------------------------------------------------------
# Each token holder, in the order of the letters: A's token with every patient scope, then
# with one scope only, then with none that reads (offline_access); B's token with every scope;
# clinic back-ends (client credentials, every system scope) of the clinician with A in care
# and of the one without; A's token after A disconnected the app. The search URLs ask for A
# (`?patient=user-<A>`, `?_id=` for Patient), the reads name A's resources. Only GET is
# served (405 otherwise).
OAUTH_ROLES = ("all", "Pat", "Obs", "Goal", "none", "B", "care", "nocare", "revoked")
OAUTH_SCOPES = {
    "all": "patient/Patient.rs patient/Observation.rs patient/Goal.rs offline_access",
    "Pat": "patient/Patient.rs",
    "Obs": "patient/Observation.rs",
    "Goal": "patient/Goal.rs",
    "none": "offline_access",
    "B": "patient/Patient.rs patient/Observation.rs patient/Goal.rs",
    "care": "system/Patient.rs system/Observation.rs system/Goal.rs",
    "nocare": "system/Patient.rs system/Observation.rs system/Goal.rs",
    "revoked": "patient/Patient.rs patient/Observation.rs patient/Goal.rs",
}


def _oauth(get: str, other: str = "MMMMMMMMD") -> dict[str, str]:
    assert len(get) == len(other) == len(OAUTH_ROLES)
    return {method: get if method == "GET" else other for method in METHODS}


OAUTH = {
    "fhir/metadata": _oauth("AAAAAAAAA", "MMMMMMMMM"),
    "fhir/.well-known/smart-configuration": _oauth("AAAAAAAAA", "MMMMMMMMM"),
    "fhir/Patient": _oauth("AADDDNAND"),
    "fhir/Patient/<str:id>": _oauth("AADDDNAND"),
    "fhir/Observation": _oauth("ADADDNAND"),
    "fhir/Observation/<str:id>": _oauth("ADADDNAND"),
    "fhir/Goal": _oauth("ADDADNAND"),
    "fhir/Goal/<str:id>": _oauth("ADDADNAND"),
    "fhir/<path:rest>": _oauth("NNNNNNNNN", "MMMMMMMMM"),
}


def oauth_tokens(o: Objects) -> dict[str, str]:
    """One access token per OAUTH_ROLES holder (see above)."""
    from accounts import oauth
    from accounts.models import ConnectedApp
    from tests.accounts.oauth_helpers import clinic_app, clinic_token, issued_token, public_app

    w = o.world
    tokens = {}
    for role in ("all", "Pat", "Obs", "Goal", "none", "revoked"):
        tokens[role] = issued_token(w.patient, public_app(name=f"App {role}"), OAUTH_SCOPES[role])
    tokens["B"] = issued_token(w.stranger, public_app(name="B's app"), OAUTH_SCOPES["B"])
    for role, clinician in (("care", w.caring), ("nocare", w.other_doctor)):
        app = clinic_app(clinician, name=f"Clinic {role}")
        tokens[role] = clinic_token(None, app, OAUTH_SCOPES[role])["access_token"]
    revoked = ConnectedApp.objects.get(application__name="App revoked")
    oauth.app_connection_revoke(connection=revoked, revoked_by=w.patient)
    return tokens


def oauth_url(route: str, o: Objects) -> str:
    url = path_of(route, o)
    if route == "fhir/Patient":
        url += f"?_id=user-{o.world.patient.pk}"
    elif route in ("fhir/Observation", "fhir/Goal"):
        url += f"?patient=user-{o.world.patient.pk}"
    return url


def expected() -> dict[str, dict[str, str]]:
    """{route: {method: letters}} for every route the table knows."""
    table = {**APP, **ADMIN_SITE}
    for model in admin.site._registry:
        rows = _admin_model(model._meta.label_lower)
        if rows:
            table.update(rows)
    return table
