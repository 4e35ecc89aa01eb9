"""The archive storage of each lifecycle test: a folder of its own (or the S3 server)."""

from __future__ import annotations

import pytest


def archive_settings(settings, options: dict, backend: str) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "lifecycle_archive": {"BACKEND": backend, "OPTIONS": options},
    }


@pytest.fixture(autouse=True)
def archive_root(settings, tmp_path):
    root = tmp_path / "archive"
    archive_settings(
        settings, {"location": str(root)}, "healthtrack.lifecycle.storage.ArchiveFileSystemStorage"
    )
    return root
