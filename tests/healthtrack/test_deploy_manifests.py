"""The Kubernetes manifests parse, probe real URLs, and keep beat a singleton."""

from __future__ import annotations

from pathlib import Path

import yaml
from django.urls import resolve

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"


def documents() -> list[dict]:
    return [doc for f in sorted(K8S.glob("*.yaml")) for doc in yaml.safe_load_all(f.read_text())]


def deployments() -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in documents() if d["kind"] == "Deployment"}


def test_web_probes_point_at_the_health_endpoints():
    container = deployments()["healthtrack-web"]["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    resolve("/health")
    resolve("/ready")


def test_beat_is_a_singleton_and_every_queue_has_a_worker():
    found = deployments()
    assert found["healthtrack-beat"]["spec"]["replicas"] == 1
    queues = set()
    for deployment in found.values():
        command = deployment["spec"]["template"]["spec"]["containers"][0]["command"]
        if "worker" in command:
            queues.update(command[command.index("-Q") + 1].split(","))
    assert queues == {"default", "ingest", "recommendations", "imports", "maintenance"}


def test_no_secret_values_in_the_manifests():
    text = "".join(f.read_text() for f in K8S.glob("*.yaml"))
    for name in ("SECRET_KEY:", "FERNET_KEYS:", "JWT_SIGNING_KEY:", "DATABASE_URL:"):
        assert name not in text


def test_every_worker_has_a_liveness_probe_that_pings_its_own_node():
    workers = [d for d in deployments().values() if d["metadata"]["labels"].get("tier") == "worker"]
    assert workers
    for deployment in workers:
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        probe = " ".join(container["livenessProbe"]["exec"]["command"])
        assert "inspect ping -d celery@$HOSTNAME" in probe


def test_compose_restarts_every_app_process():
    compose = yaml.safe_load((K8S.parents[1] / "docker-compose.yml").read_text())
    for name in ("web", "worker", "beat"):
        assert compose["services"][name]["restart"] == "unless-stopped"
    assert "inspect ping" in " ".join(compose["services"]["worker"]["healthcheck"]["test"])
