"""Schema-driven fuzzing of the whole API with schemathesis, in process
against the real application and test database: generated valid and invalid
requests for every operation, as a staff token (so every route is reached).
No answer may be a server error or differ from the schema.

The budget is small for CI (FUZZ_MAX_EXAMPLES per operation, default 15);
raise it for a longer run.
"""

import os

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode

from tests.figures import record

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "15"))

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api_schema(settings, active_model):
    # Plain HTTP inside the process: no redirect to HTTPS.
    settings.SECURE_SSL_REDIRECT = False
    return schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application())


@pytest.fixture
def staff_token(django_user_model) -> str:
    user = django_user_model.objects.create_superuser(username="fuzz-staff", password="x" * 20)
    return Token.objects.create(user=user).key


def test_no_server_error_and_every_answer_matches_the_schema(api_schema, staff_token):
    headers = {"Authorization": f"Token {staff_token}"}
    checks = [
        schemathesis.checks.not_a_server_error,
        schemathesis.checks.response_schema_conformance,
    ]
    operations = [result.ok() for result in api_schema.get_all_operations()]
    tried: dict[str, int] = {}

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @hypothesis_settings(
                max_examples=MAX_EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def call(case) -> None:
                response = case.call(headers=headers)
                case.validate_response(response, checks=checks)
                tried[case.operation.label] = tried.get(case.operation.label, 0) + 1

            try:
                call()
            except Unsatisfiable:
                # Nothing in this operation can be made invalid (no body,
                # no constrained parameter): there are no negative cases.
                assert mode is GenerationMode.NEGATIVE, operation.label

    assert len(tried) == len(operations) >= 16, sorted(tried)
    # Reaching here means every response passed both checks.
    record(
        "hostile-4",
        title="Schema-driven fuzzing (schemathesis, in process, staff token)",
        command="make test ARGS='tests/fuzz'",
        outcome="0 server errors, 0 schema violations",
        requests=sum(tried.values()),
        operations=len(tried),
        examples_per_operation_and_mode=MAX_EXAMPLES,
        server_errors=0,
        schema_violations=0,
    )
