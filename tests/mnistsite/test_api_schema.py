"""The OpenAPI schema is valid, documents every operation with the error
shape, and the interactive docs load from local static files only."""

import re

import pytest
import yaml
from django.contrib.staticfiles import finders
from openapi_spec_validator import validate

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(client) -> dict:
    response = client.get("/api/v1/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_the_served_schema_is_valid_openapi_3(schema):
    validate(schema)
    assert schema["openapi"].startswith("3.")


def test_every_operation_has_a_summary_and_documents_its_errors(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary"), (method, path)
            errors = {code for code in operation["responses"] if code.startswith(("4", "5"))}
            assert errors, (method, path)
            for code in [*errors, "default"]:
                body = operation["responses"][code]["content"]["application/json"]["schema"]
                assert body == {"$ref": "#/components/schemas/Error"}, (method, path, code)


def test_the_error_shape_is_documented(schema):
    error = schema["components"]["schemas"]["Error"]

    assert set(error["required"]) == {"code", "message", "details"}


def test_the_docs_page_loads_only_local_assets(client):
    response = client.get("/api/v1/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources, html[:500]
    for source in sources:
        assert not source.startswith(("http:", "https:", "//")), source
    for source in sources:
        if source.startswith("/static/"):
            assert finders.find(source.removeprefix("/static/")), source
