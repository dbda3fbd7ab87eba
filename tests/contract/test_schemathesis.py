"""The OpenAPI document is exact: schemathesis generates requests from it, sends each as every
kind of caller, and every answer must be documented (status, media type, headers, body) and
never a server error. The committed document is the served one (tests/test_openapi.py)."""

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from service.api.ogc.schemas import MAX_LIMIT
from service.config import PROJECT_DIR

SCHEMA = schemathesis.openapi.from_path(PROJECT_DIR / "openapi" / "openapi.json")
# Cases per operation in `make test`; `make fuzz` runs many more (CONTRACT_EXAMPLES).
EXAMPLES = int(os.environ.get("CONTRACT_EXAMPLES", 5))
# The bounded run of `make test` sends the same cases every time; `make fuzz` explores.
DERANDOMIZE = "CONTRACT_EXAMPLES" not in os.environ
# Requests the schema allows may still be refused with a 400 that says why: unknown query
# parameters (OGC API Features Part 1 requires it), a cursor this server did not issue, a box
# whose south lies north of its north. Every other check applies.
NOT_CHECKED = [schemathesis.checks.positive_data_acceptance]


@pytest.fixture
def callers(make_user) -> dict[str, dict]:
    """The headers of each kind of caller."""
    headers = {"anonymous": {}}
    for role in ("contributor", "moderator"):
        _user, token = make_user(role)
        headers[role] = {"Authorization": f"Bearer {token}"}
    return headers


@SCHEMA.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=DERANDOMIZE,
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_follows_the_contract(case, callers, live_server):
    excluded = NOT_CHECKED + ([] if within_maximum_limit(case) else SERVED_AS_THE_MAXIMUM)
    for headers in callers.values():
        case.call_and_validate(base_url=live_server, headers=headers, excluded_checks=excluded)


# An OGC API page size above its maximum is served as the maximum, as the standard's example
# has it, not refused (service/api/ogc/schemas.py, PageSize).
SERVED_AS_THE_MAXIMUM = [schemathesis.checks.negative_data_rejection]


def within_maximum_limit(case) -> bool:
    limit = str((case.query or {}).get("limit", ""))
    return not (case.path.startswith("/ogc/") and limit.isdigit() and int(limit) > MAX_LIMIT)
