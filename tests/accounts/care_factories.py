from __future__ import annotations

from datetime import date, timedelta

import factory
from django.utils import timezone

from accounts.models import AccessLog, CareTeam, ShareGrant
from tests.accounts.factories import ClinicianFactory, UserFactory


class CareTeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CareTeam

    clinician = factory.SubFactory(ClinicianFactory)
    patient = factory.SubFactory(UserFactory)
    source = CareTeam.Source.ADMIN


class ShareGrantFactory(factory.django.DjangoModelFactory):
    """A named-clinician grant; for links use `accounts.sharing.share_grant_create`."""

    class Meta:
        model = ShareGrant

    owner = factory.SubFactory(UserFactory)
    kind = ShareGrant.Kind.CLINICIAN
    grantee = factory.SubFactory(ClinicianFactory)
    metric_types = factory.LazyFunction(lambda: ["blood_pressure"])
    date_from = factory.LazyFunction(lambda: date.today() - timedelta(days=30))
    date_to = factory.LazyFunction(date.today)
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))


class AccessLogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AccessLog

    actor = factory.SubFactory(ClinicianFactory)
    actor_label = factory.LazyAttribute(lambda row: row.actor.username if row.actor else "x")
    owner = factory.SubFactory(UserFactory)
    via = AccessLog.Via.CARE_TEAM
    endpoint = "GET /api/v1/users/1"
