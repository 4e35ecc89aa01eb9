from __future__ import annotations

from datetime import date

import factory
from rest_framework.test import APIClient

from accounts.models import User

PASSWORD = "Correct-horse-9!"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    first_name = "Pat"
    last_name = factory.Sequence(lambda n: f"Patient{n}")
    role = User.Role.PATIENT
    sex = User.Sex.FEMALE
    height_cm = 170.0
    date_of_birth = date(1985, 3, 14)
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save(update_fields=["password"])


class ClinicianFactory(UserFactory):
    role = User.Role.CLINICIAN
    is_staff = True


def client_for(user) -> APIClient:
    """An API client signed in as `user` (no token round trip)."""
    client = APIClient()
    client.force_authenticate(user)
    return client
