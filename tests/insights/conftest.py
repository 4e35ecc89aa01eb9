from __future__ import annotations

import pytest

from accounts.care import care_team_add


@pytest.fixture
def care(db):
    """`care(clinician, patient)` puts the patient in the clinician's care (a real care team)."""

    def add(clinician, patient) -> None:
        care_team_add(clinician=clinician, patient=patient)

    return add
