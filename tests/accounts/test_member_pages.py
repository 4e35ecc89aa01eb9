"""The browser pages act for a family member through `?member=<id>` (accounts.members): a
family manager reads and writes a dependent's data from the dashboard pages, a read-only member
only reads (writes are 404, as on the API, and the pages show no write actions), a stranger
gets 404 on every page; links, forms and redirects keep the member."""

from __future__ import annotations

from datetime import UTC, date, timedelta

import pytest
from auditlog.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from accounts import family
from accounts.models import AccessLog, FamilyMembership
from goals.models import HealthGoal
from insights.models import HealthInsight
from metrics.models import HealthMetric
from nutrition.models import NutritionLog
from tests.accounts.factories import UserFactory
from tests.accounts.family_factories import make_dependent
from tests.goals.factories import HealthGoalFactory
from tests.insights.factories import HealthInsightFactory
from tests.metrics.factories import HealthMetricFactory
from tests.nutrition.factories import NutritionLogFactory

pytestmark = pytest.mark.django_db


def today() -> date:
    return timezone.now().astimezone(UTC).date()


def when(hours_ago: int = 1) -> str:
    moment = timezone.now() - timedelta(hours=hours_ago)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def child(user):
    return make_dependent(user, first_name="Ada", date_of_birth=date(2018, 5, 1))


@pytest.fixture
def manager_client(page_client):
    return page_client  # `user` manages the child


@pytest.fixture
def stranger_client(client, other_user):
    client.force_login(other_user)
    return client


@pytest.fixture
def reader(child, user):
    """An adult (a doctor invited by the family) with read-only access to the child."""
    doctor = UserFactory(first_name="Dora")
    family.family_access_grant(
        granted_by=user,
        email=doctor.email,
        role=FamilyMembership.Role.READ_ONLY,
        member=child,
        relation=FamilyMembership.Relation.DOCTOR,
    )
    return doctor


def login(client, who):
    client.force_login(who)
    return client


def records(child):
    """One row of each kind the pages show, owned by `child`."""
    metric = HealthMetricFactory(user=child, metric_type="steps", value=4200, unit="count")
    log = NutritionLogFactory(user=child, calories=300)
    goal = HealthGoalFactory(user=child)
    insight = HealthInsightFactory(user=child)
    return {"metric": metric, "log": log, "goal": goal, "insight": insight}


def m(url: str, member) -> str:
    return f"{url}{'&' if '?' in url else '?'}member={member.pk}"


# --- the switcher ---------------------------------------------------------------------------


def test_dashboard_switcher_lists_me_and_the_members_i_manage_or_read(
    manager_client, user, child, other_user
):
    family.family_access_grant(
        granted_by=other_user,
        email=user.email,
        role=FamilyMembership.Role.READ_ONLY,
        relation=FamilyMembership.Relation.PARENT,
    )
    body = manager_client.get("/dashboard/").content.decode()
    assert 'name="member"' in body and 'action="/dashboard/"' in body
    assert '<option value="" selected>Me</option>' in body
    assert f'<option value="{child.pk}">Ada</option>' in body
    assert f'<option value="{other_user.pk}">' in body and "(read only)" in body


def test_a_user_without_family_sees_no_switcher(manager_client):
    assert 'name="member"' not in manager_client.get("/dashboard/").content.decode()


def test_the_switcher_reloads_the_page_for_the_member_and_links_keep_it(manager_client, child):
    response = manager_client.get(m("/dashboard/", child))
    body = response.content.decode()
    assert response.context["owner"] == child
    assert "Ada’s dashboard" in body
    assert f'<option value="{child.pk}" selected>Ada</option>' in body
    assert f'href="/goals/?member={child.pk}"' in body  # the navigation
    assert f'href="?days=30&amp;member={child.pk}"' in body or "No charts yet" in body
    assert f'action="/quick-log/water/?member={child.pk}"' in body


def test_the_switcher_is_in_the_header_of_every_patient_page(manager_client, child):
    for url in ("/metrics/", "/metrics/steps/", "/nutrition/", "/goals/", "/insights/"):
        body = manager_client.get(m(url, child)).content.decode()
        assert f'<option value="{child.pk}" selected>Ada</option>' in body, url


# --- a family manager writes for a dependent through the pages ------------------------------


def test_manager_logs_a_reading_for_a_dependent_through_the_pages(manager_client, user, child):
    response = manager_client.post(
        m("/metrics/weight/add/", child),
        {"value": "21.5", "unit": "kg", "recorded_at": when(), "notes": ""},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == f"/metrics/weight/?member={child.pk}"
    metric = HealthMetric.objects.get(metric_type="weight")
    assert metric.user == child
    assert not HealthMetric.objects.filter(user=user).exists()
    assert LogEntry.objects.get_for_object(metric).get().actor == user
    body = response.content.decode()
    assert f"/metrics/weight/{metric.pk}/edit/?member={child.pk}" in body


def test_manager_edits_and_deletes_a_dependents_reading(manager_client, child):
    metric = HealthMetricFactory(user=child, metric_type="weight", value=20, unit="kg")
    url = m(f"/metrics/weight/{metric.pk}/edit/", child)
    assert manager_client.get(url).status_code == 200
    response = manager_client.post(url, {"value": "22", "unit": "kg", "recorded_at": when()})
    assert response.status_code == 302
    metric.refresh_from_db()
    assert metric.value == 22
    # Without the member, the record is not on the manager's own pages.
    assert manager_client.get(f"/metrics/weight/{metric.pk}/edit/").status_code == 404
    response = manager_client.post(m(f"/metrics/weight/{metric.pk}/delete/", child))
    assert response.url == f"/metrics/weight/?member={child.pk}"
    assert not HealthMetric.objects.filter(pk=metric.pk).exists()


def test_manager_logs_a_meal_and_water_for_a_dependent(manager_client, user, child):
    day = today().isoformat()
    response = manager_client.post(
        m(f"/nutrition/{day}/add/custom/", child),
        {"meal_type": "lunch", "description": "Pasta", "calories": "450", "time": "12:00"},
    )
    assert response.url == f"/nutrition/{day}/?member={child.pk}"
    log = NutritionLog.objects.get(calories=450)
    assert log.user == child
    assert LogEntry.objects.get_for_object(log).get().actor == user
    response = manager_client.post(m(f"/nutrition/{day}/water/", child), {"amount_ml": "250"})
    assert response.url == f"/nutrition/{day}/?member={child.pk}"
    assert NutritionLog.objects.filter(user=child, water_ml=250).exists()
    assert not NutritionLog.objects.filter(user=user).exists()
    body = manager_client.get(m(f"/nutrition/{day}/", child)).content.decode()
    assert "Pasta" in body and f'name="member" value="{child.pk}"' in body


def test_manager_sets_edits_and_abandons_a_goal_for_a_dependent(manager_client, user, child):
    response = manager_client.post(
        m("/goals/new/steps/", child),
        {"target_value": "9000", "unit": "count", "priority": "medium", "period_days": "7"},
    )
    assert response.url == f"/goals/?member={child.pk}"
    goal = HealthGoal.objects.get()
    assert goal.user == child
    assert LogEntry.objects.get_for_object(goal).first().actor == user
    body = manager_client.get(m("/goals/", child)).content.decode()
    assert f"/goals/{goal.pk}/edit/?member={child.pk}" in body
    response = manager_client.post(m(f"/goals/{goal.pk}/abandon/", child))
    assert response.url == f"/goals/?member={child.pk}"
    goal.refresh_from_db()
    assert goal.status == HealthGoal.Status.ABANDONED


def test_manager_acknowledges_a_dependents_insight(manager_client, child):
    insight = HealthInsightFactory(user=child)
    response = manager_client.post(m(f"/insights/{insight.pk}/acknowledge/", child))
    assert response.url == f"/insights/?member={child.pk}"
    insight.refresh_from_db()
    assert insight.acknowledged_at is not None


def test_manager_quick_logs_water_for_a_dependent_from_the_dashboard(manager_client, child):
    response = manager_client.post(m("/quick-log/water/", child), {"amount_ml": "300"})
    assert response.url == f"/dashboard/?member={child.pk}"
    assert NutritionLog.objects.filter(user=child, water_ml=300).exists()


def test_reading_a_members_page_is_in_their_access_log(manager_client, user, child):
    manager_client.get(m("/goals/", child))
    entry = AccessLog.objects.get(owner=child)
    assert entry.actor == user and entry.via == "family"


# --- a read-only member reads only ------------------------------------------------------------


def test_read_only_member_reads_the_pages_without_write_actions(client, reader, child):
    rows = records(child)
    login(client, reader)
    day = rows["log"].logged_at.astimezone(UTC).date().isoformat()
    for url in ("/dashboard/", "/metrics/steps/", f"/nutrition/{day}/", "/goals/", "/insights/"):
        response = client.get(m(url, child))
        assert response.status_code == 200, url
        body = response.content.decode()
        assert 'method="post"' not in body.replace(
            'method="post" action="/accounts/logout/"', ""
        ), url
        assert "/edit/" not in body and "/add/" not in body, url
        assert "(read only)" in body


@pytest.mark.parametrize(
    "method,url",
    [
        ("get", "/metrics/weight/add/"),
        ("post", "/metrics/weight/add/"),
        ("get", "/metrics/steps/{metric}/edit/"),
        ("post", "/metrics/steps/{metric}/delete/"),
        ("get", "/nutrition/{day}/add/"),
        ("post", "/nutrition/{day}/add/custom/"),
        ("post", "/nutrition/{day}/water/"),
        ("get", "/nutrition/entries/{log}/edit/"),
        ("post", "/nutrition/entries/{log}/delete/"),
        ("get", "/goals/new/"),
        ("post", "/goals/new/steps/"),
        ("get", "/goals/{goal}/edit/"),
        ("post", "/goals/{goal}/abandon/"),
        ("post", "/insights/{insight}/acknowledge/"),
        ("post", "/insights/{insight}/read/"),
        ("post", "/quick-log/water/"),
    ],
)
def test_read_only_member_cannot_write(client, reader, child, method, url):
    rows = records(child)
    before = (
        HealthMetric.objects.count(),
        NutritionLog.objects.count(),
        HealthGoal.objects.count(),
    )
    login(client, reader)
    url = url.format(day=today().isoformat(), **{k: v.pk for k, v in rows.items()})
    data = {"value": "5", "unit": "kg", "recorded_at": when(), "amount_ml": "250"}
    response = getattr(client, method)(m(url, child), data if method == "post" else None)
    assert response.status_code == 404
    after = (HealthMetric.objects.count(), NutritionLog.objects.count(), HealthGoal.objects.count())
    assert after == before
    assert not HealthInsight.objects.filter(acknowledged_at__isnull=False).exists()


# --- strangers ----------------------------------------------------------------------------------

PAGES = [
    ("dashboard", []),
    ("metrics-index", []),
    ("metrics-type", ["steps"]),
    ("metrics-add", ["steps"]),
    ("metrics-edit", ["steps", "{metric}"]),
    ("metrics-delete", ["steps", "{metric}"]),
    ("nutrition", []),
    ("nutrition-day", ["{day}"]),
    ("nutrition-add", ["{day}"]),
    ("nutrition-add-custom", ["{day}"]),
    ("nutrition-edit", ["{log}"]),
    ("nutrition-delete", ["{log}"]),
    ("goals", []),
    ("goals-new", []),
    ("goals-create", ["steps"]),
    ("goals-edit", ["{goal}"]),
    ("insights", []),
]
POSTS = [
    ("nutrition-water", ["{day}"]),
    ("goals-abandon", ["{goal}"]),
    ("insights-acknowledge", ["{insight}"]),
    ("insights-read", ["{insight}"]),
    ("quick-log", ["water"]),
]


def _url(name, args, rows, member):
    values = {"day": today().isoformat(), **{k: v.pk for k, v in rows.items()}}
    return m(reverse(name, args=[str(a).format(**values) for a in args]), member)


@pytest.mark.parametrize("name,args", PAGES, ids=[p[0] for p in PAGES])
def test_a_strangers_member_parameter_is_404_on_every_page(stranger_client, child, name, args):
    url = _url(name, args, records(child), child)
    assert stranger_client.get(url).status_code == 404


@pytest.mark.parametrize("name,args", POSTS, ids=[p[0] for p in POSTS])
def test_a_strangers_member_parameter_is_404_on_every_action(stranger_client, child, name, args):
    url = _url(name, args, records(child), child)
    assert stranger_client.post(url, {"amount_ml": "250"}).status_code == 404
    assert not NutritionLog.objects.filter(water_ml=250).exists()


def test_a_removed_dependent_is_404(manager_client, user, child):
    family.family_member_remove(manager=user, member=child)
    assert manager_client.get(m("/dashboard/", child)).status_code == 404


@pytest.mark.parametrize("value", ["abc", "0", "-1", "999999"])
def test_a_bad_member_parameter_is_404(manager_client, value):
    assert manager_client.get(f"/dashboard/?member={value}").status_code == 404


def test_naming_yourself_is_your_own_page(manager_client, user):
    response = manager_client.get(f"/dashboard/?member={user.pk}")
    assert response.status_code == 200 and response.context["owner"] == user


def test_switching_from_a_record_page_goes_to_the_members_dashboard(manager_client, child):
    metric = HealthMetricFactory(user=child, metric_type="weight", value=20, unit="kg")
    body = manager_client.get(m(f"/metrics/weight/{metric.pk}/edit/", child)).content.decode()
    assert 'class="member-switcher form-inline" method="get" action="/dashboard/"' in body
    body = manager_client.get(m("/goals/", child)).content.decode()
    assert 'method="get" action="/goals/"' in body
