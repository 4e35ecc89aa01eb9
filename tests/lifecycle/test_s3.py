"""The archive on real object storage: moto's S3 server over HTTP on 127.0.0.1 (its
ThreadedMotoServer), reached by boto3 through django-storages' S3Storage."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

from healthtrack.lifecycle import archive, retention, services
from healthtrack.lifecycle.models import ArchivedMonth
from healthtrack.portability import services as portability
from metrics.models import HealthMetric
from tests.lifecycle.conftest import archive_settings
from tests.lifecycle.data import month_of_samples, months_ago, rollup_snapshot

pytestmark = pytest.mark.django_db
BUCKET = "healthtrack-archive-test"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@pytest.fixture(scope="module")
def s3_server():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(settings, s3_server):
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1", **CREDENTIALS)
    bucket = f"{BUCKET}-{id(settings) % 100000}"
    client.create_bucket(Bucket=bucket)
    settings.LIFECYCLE_ARCHIVE_S3_BUCKET = bucket
    archive_settings(
        settings,
        {
            "bucket_name": bucket,
            "endpoint_url": s3_server,
            "region_name": "us-east-1",
            "access_key": CREDENTIALS["aws_access_key_id"],
            "secret_key": CREDENTIALS["aws_secret_access_key"],
            "location": "archive",
            "default_acl": "private",
            "file_overwrite": True,
            "client_config": Config(connect_timeout=1, retries={"max_attempts": 1}),
        },
        "storages.backends.s3.S3Storage",
    )
    yield client, bucket
    for item in client.list_objects_v2(Bucket=bucket).get("Contents", []):
        client.delete_object(Bucket=bucket, Key=item["Key"])
    client.delete_bucket(Bucket=bucket)


def _keys(client, bucket) -> set[str]:
    return {o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])}


def test_archive_restore_and_erasure_through_s3(s3, user):
    client, bucket = s3
    year, month = months_ago(7)
    made = month_of_samples(user, year, month)
    before = rollup_snapshot(user)

    job = retention.run_archive()

    assert job.status == "done" and job.rows_archived == len(made)
    assert _keys(client, bucket) == {
        f"archive/{user.pk}/{year}/{month:02d}/steps.parquet",
        f"archive/{user.pk}/{year}/{month:02d}/heart_rate.parquet",
    }
    stored = client.get_object(
        Bucket=bucket, Key=f"archive/{user.pk}/{year}/{month:02d}/steps.parquet"
    )["Body"].read()
    import hashlib

    steps = ArchivedMonth.objects.get(user=user, data_type="steps")
    assert hashlib.sha256(stored).hexdigest() == steps.sha256
    assert not HealthMetric.objects.filter(user=user).exists()

    services.archive_restore(user_id=user.pk, first=(year, month), last=(year, month))
    services.archive_restore(user_id=user.pk, first=(year, month), last=(year, month))
    assert HealthMetric.objects.filter(user=user).count() == len(made)
    assert rollup_snapshot(user) == before

    portability.account_purge(user=user)
    assert _keys(client, bucket) == set()


def test_a_crash_before_the_delete_on_s3_leaves_rows_hot_and_the_rerun_overwrites(
    s3, user, monkeypatch
):
    client, bucket = s3
    year, month = months_ago(7)
    made = month_of_samples(user, year, month, days=1)
    monkeypatch.setattr(archive, "_delete_hot_rows", lambda ids: 1 / 0)
    assert retention.run_archive().status == "failed"
    assert HealthMetric.objects.filter(user=user).count() == len(made)
    assert len(_keys(client, bucket)) == 2  # written, verified, not recorded
    monkeypatch.undo()
    assert retention.run_archive().status == "done"
    assert len(_keys(client, bucket)) == 2
    assert sum(a.rows for a in ArchivedMonth.objects.all()) == len(made)


def test_ready_reports_the_archive_storage(s3, client, settings):
    body = client.get("/ready").json()
    assert body["checks"]["archive_storage"]["ok"] is True
    settings.LIFECYCLE_ARCHIVE_S3_BUCKET = "no-such-bucket-here"
    archive_settings(
        settings,
        {**settings.STORAGES["lifecycle_archive"]["OPTIONS"], "bucket_name": "no-such-bucket-here"},
        "storages.backends.s3.S3Storage",
    )
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["archive_storage"] == {
        "ok": False,
        "error": "ClientError",
        "latency_ms": response.json()["checks"]["archive_storage"]["latency_ms"],
    }


def test_ready_does_not_check_a_local_archive(client):
    assert "archive_storage" not in client.get("/ready").json()["checks"]


def test_ready_is_503_when_the_archive_server_is_down(s3, client, settings):
    gone = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    gone.start()
    host, port = gone.get_host_and_port()
    gone.stop()
    archive_settings(
        settings,
        {
            **settings.STORAGES["lifecycle_archive"]["OPTIONS"],
            "endpoint_url": f"http://{host}:{port}",
        },
        "storages.backends.s3.S3Storage",
    )
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["archive_storage"]["ok"] is False
