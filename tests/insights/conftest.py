from __future__ import annotations

import pytest

from accounts import access


@pytest.fixture
def care(monkeypatch):
    """`care(clinician, patient)` puts the patient in the clinician's care for the test, by
    extending `accounts.access` (the care-team model comes with the clinician issue)."""
    pairs: set[tuple[int, int]] = set()
    original = access.readable_user_ids

    def readable_user_ids(viewer):
        ids = list(original(viewer))
        viewer_id = getattr(viewer, "pk", None)
        return ids + [patient for clinician, patient in pairs if clinician == viewer_id]

    monkeypatch.setattr(access, "readable_user_ids", readable_user_ids)

    def add(clinician, patient) -> None:
        pairs.add((clinician.pk, patient.pk))

    return add
