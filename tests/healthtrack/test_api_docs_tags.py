"""The API docs group every operation under a declared tag and give each a summary."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

pytestmark = pytest.mark.django_db
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield f"{method.upper()} {path}", operation


def test_every_operation_has_a_summary(schema):
    assert [name for name, op in operations(schema) if not op.get("summary")] == []


def test_every_operation_has_one_declared_tag(schema):
    declared = {tag["name"] for tag in schema["tags"]}
    wrong = [
        (name, op.get("tags"))
        for name, op in operations(schema)
        if len(op.get("tags") or []) != 1 or op["tags"][0] not in declared
    ]
    assert wrong == []


def test_operations_are_grouped_by_area(schema):
    tags = {name: op["tags"][0] for name, op in operations(schema)}
    assert tags["GET /api/v1/health-metrics"] == "Measurements"
    assert tags["GET /api/v1/changes"] == "Change feed"
    assert tags["GET /fhir/Observation"] == "FHIR"
    assert tags["POST /api/v1/users/register"] == "Users"
