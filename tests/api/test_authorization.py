"""Every endpoint x every kind of caller: the status, and that refused writes changed nothing."""

import uuid

import pytest

from tests.conftest import TEST_PASSWORD
from tests.helpers import feature, pin

CALLERS = ("anonymous", "author", "other", "moderator", "admin")


@pytest.fixture
def world(as_user, app):
    """A pending and an approved pin by one contributor, and a client for each caller."""
    clients = {
        "anonymous": app.test_client(),
        "author": as_user(),
        "other": as_user(),
        "moderator": as_user("moderator"),
        "admin": as_user("admin"),
    }
    pending = pin(clients["author"], 2.35, 48.85)
    approved = pin(clients["author"], 2.36, 48.85)
    clients["moderator"].post(
        f"/api/v1/devices/{approved['id']}/review", json={"decision": "approve"}
    )
    clients["target"] = clients["other"].user.username
    history = clients["moderator"].get(f"/api/v1/devices/{approved['id']}/history").get_json()
    clients["revision"] = history["revisions"][0]["id"]
    return clients, pending["id"], approved["id"]


def state(db):
    rows = db(
        "SELECT id::text, version, review_status, deleted_at IS NULL, merged_into "
        "FROM devices ORDER BY id"
    ).all()
    counts = db(
        "SELECT (SELECT count(*) FROM confirmations), (SELECT count(*) FROM users), "
        "(SELECT string_agg(role, ',' ORDER BY username) FROM users)"
    ).one()
    return [tuple(r) for r in rows], tuple(counts)


def etag(client, device_id):
    return client.get(f"/api/v1/devices/{device_id}").headers.get("ETag", '"x.0"')


# (name, method, path builder, body builder, expected status per caller)
# Paths and bodies receive the ids of the world: pending, approved, target, revision.
MATRIX = [
    (
        "list",
        "GET",
        lambda c: "/api/v1/devices",
        None,
        dict(anonymous=200, author=200, other=200, moderator=200, admin=200),
    ),
    (
        "read pending",
        "GET",
        lambda c: f"/api/v1/devices/{c['pending']}",
        None,
        dict(anonymous=404, author=200, other=404, moderator=200, admin=200),
    ),
    (
        "read approved",
        "GET",
        lambda c: f"/api/v1/devices/{c['approved']}",
        None,
        dict(anonymous=200, author=200, other=200, moderator=200, admin=200),
    ),
    (
        "pin",
        "POST",
        lambda c: "/api/v1/devices?force=true",
        lambda c: feature(4.8, 45.7),
        dict(anonymous=401, author=201, other=201, moderator=201, admin=201),
    ),
    (
        "edit pending",
        "PATCH",
        lambda c: f"/api/v1/devices/{c['pending']}",
        lambda c: {"properties": {"notes": "edited"}},
        dict(anonymous=401, author=200, other=404, moderator=200, admin=200),
    ),
    (
        "edit approved",
        "PATCH",
        lambda c: f"/api/v1/devices/{c['approved']}",
        lambda c: {"properties": {"notes": "edited"}},
        dict(anonymous=401, author=403, other=403, moderator=200, admin=200),
    ),
    (
        "delete pending",
        "DELETE",
        lambda c: f"/api/v1/devices/{c['pending']}",
        None,
        dict(anonymous=401, author=204, other=404, moderator=204, admin=204),
    ),
    (
        "delete approved",
        "DELETE",
        lambda c: f"/api/v1/devices/{c['approved']}",
        None,
        dict(anonymous=401, author=403, other=403, moderator=204, admin=204),
    ),
    (
        "review",
        "POST",
        lambda c: f"/api/v1/devices/{c['pending']}/review",
        lambda c: {"decision": "approve"},
        dict(anonymous=401, author=403, other=403, moderator=200, admin=200),
    ),
    (
        "queue",
        "GET",
        lambda c: "/api/v1/moderation/queue",
        None,
        dict(anonymous=401, author=403, other=403, moderator=200, admin=200),
    ),
    (
        "merge",
        "POST",
        lambda c: f"/api/v1/devices/{c['approved']}/merge?force=true",  # 700 m apart
        lambda c: {"other": c["pending"]},
        dict(anonymous=401, author=403, other=403, moderator=200, admin=200),
    ),
    (
        "revert",
        "POST",
        lambda c: f"/api/v1/devices/{c['approved']}/revert",
        lambda c: {"revision": c["revision"]},
        dict(anonymous=401, author=403, other=403, moderator=200, admin=200),
    ),
    (
        "confirm",
        "POST",
        lambda c: f"/api/v1/devices/{c['approved']}/confirmations",
        lambda c: {"verdict": "still_there"},
        dict(anonymous=401, author=201, other=201, moderator=201, admin=201),
    ),
    (
        "confirm pending",
        "POST",
        lambda c: f"/api/v1/devices/{c['pending']}/confirmations",
        lambda c: {"verdict": "still_there"},
        dict(anonymous=401, author=201, other=404, moderator=201, admin=201),
    ),
    (
        "history pending",
        "GET",
        lambda c: f"/api/v1/devices/{c['pending']}/history",
        None,
        dict(anonymous=404, author=200, other=404, moderator=200, admin=200),
    ),
    (
        "history approved",
        "GET",
        lambda c: f"/api/v1/devices/{c['approved']}/history",
        None,
        dict(anonymous=200, author=200, other=200, moderator=200, admin=200),
    ),
    (
        "grant role",
        "PUT",
        lambda c: f"/api/v1/users/{c['target']}/role",
        lambda c: {"role": "moderator"},
        dict(anonymous=401, author=403, other=403, moderator=403, admin=200),
    ),
    (
        "me",
        "GET",
        lambda c: "/api/v1/me",
        None,
        dict(anonymous=401, author=200, other=200, moderator=200, admin=200),
    ),
    (
        "export",
        "GET",
        lambda c: "/api/v1/me/export",
        None,
        dict(anonymous=401, author=200, other=200, moderator=200, admin=200),
    ),
    (
        "tokens",
        "GET",
        lambda c: "/api/v1/auth/tokens",
        None,
        dict(anonymous=401, author=200, other=200, moderator=200, admin=200),
    ),
    (
        "sync",
        "GET",
        lambda c: "/api/v1/sync",
        None,
        dict(anonymous=200, author=200, other=200, moderator=200, admin=200),
    ),
    (
        "health",  # versions to admins only: tests/api/test_meta.py
        "GET",
        lambda c: "/api/v1/health",
        None,
        dict(anonymous=200, author=200, other=200, moderator=200, admin=200),
    ),
    (
        "delete me",  # the world's only admin stays
        "DELETE",
        lambda c: "/api/v1/me",
        lambda c: {"password": TEST_PASSWORD},
        dict(anonymous=401, author=204, other=204, moderator=204, admin=409),
    ),
]


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("name,method,path,body,expected", MATRIX, ids=[m[0] for m in MATRIX])
def test_authorization_matrix(world, db, caller, name, method, path, body, expected):
    clients, pending_id, approved_id = world
    client = clients[caller]
    context = {
        "pending": pending_id,
        "approved": approved_id,
        "target": clients["target"],
        "revision": clients["revision"],
    }
    headers = {}
    if method in ("PATCH", "DELETE") and "/devices/" in path(context):
        headers["If-Match"] = etag(clients["moderator"], uuid.UUID(path(context).split("/")[4]))
    before = state(db)
    response = client.open(
        path(context), method=method, json=body(context) if body else None, headers=headers
    )
    assert response.status_code == expected[caller], response.get_data(as_text=True)
    if response.status_code >= 400:
        assert response.mimetype == "application/problem+json"
        if method != "GET":
            assert state(db) == before, "a refused write changed what is stored"


def test_public_reads_refuse_a_bad_token_as_their_definition_says(client, moderator, db):
    """They answer anyone, but a token that is not valid (expired, revoked) is a 401: the API
    definition says so, and that the token is optional."""
    device = pin(moderator, 2.35, 48.85)
    photo = db("SELECT gen_random_uuid()").scalar_one()
    spec = client.get("/api/openapi.json").get_json()
    reads = {
        "/api/v1/devices": "/api/v1/devices",
        "/api/v1/devices/{device_id}": f"/api/v1/devices/{device['id']}",
        "/api/v1/devices/{device_id}/history": f"/api/v1/devices/{device['id']}/history",
        "/api/v1/devices/{device_id}/view": f"/api/v1/devices/{device['id']}/view",
        "/api/v1/sync": "/api/v1/sync",
        "/api/v1/photos/{photo_id}": f"/api/v1/photos/{photo}",
        "/api/v1/photos/{photo_id}/{rendition}": f"/api/v1/photos/{photo}/thumbnail",
        "/api/v1/declared/devices/{device_id}": f"/api/v1/declared/devices/{device['id']}",
    }
    for template, url in reads.items():
        operation = spec["paths"][template]["get"]
        assert "401" in operation["responses"], template
        assert {} in operation["security"] and {"bearerAuth": []} in operation["security"]
        response = client.get(url, headers={"Authorization": "Bearer vigie_not_a_token"})
        assert response.status_code == 401, url
        assert response.get_json()["errors"][0]["field"] == "Authorization"


def test_every_401_carries_the_bearer_challenge(client, db):
    """RFC 9110 (15.5.2) has a 401 say how to authenticate; RFC 6750 (3.1) names why a token
    that was sent is refused."""
    cases = [
        ({}, 'Bearer realm="vigie"'),
        (
            {"Authorization": "Bearer vigie_not_a_token"},
            'Bearer realm="vigie", error="invalid_token"',
        ),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, 'Bearer realm="vigie", error="invalid_request"'),
    ]
    for headers, challenge in cases:
        response = client.get("/api/v1/me", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["WWW-Authenticate"] == challenge
    wrong = client.post("/api/v1/auth/tokens", json={"username": "nobody", "password": "x"})
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"] == 'Bearer realm="vigie"'
