"""The service describing itself: health says only "up" to the public, versions to admins."""

import pytest

from tests.helpers import PROBLEM


def test_health_tells_the_public_only_that_vigie_is_up(client):
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


@pytest.mark.parametrize("role", ["contributor", "moderator"])
def test_health_hides_versions_from_non_admins(as_user, role):
    assert as_user(role).get("/api/v1/health").get_json() == {"status": "ok"}


def test_health_shows_versions_to_admins(as_user):
    body = as_user("admin").get("/api/v1/health").get_json()
    assert body["status"] == "ok"
    assert body["database"].startswith("PostgreSQL")
    assert body["postgis"][0].isdigit()


def test_health_with_a_bad_token_is_401(client):
    response = client.get("/api/v1/health", headers={"Authorization": "Bearer vigie_nope"})
    assert response.status_code == 401 and response.mimetype == PROBLEM
