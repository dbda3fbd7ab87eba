"""Accounts without identity: registration, tokens, self-service, roles, the admin CLI."""

import pytest

from service.db import session
from service.models import User
from tests.conftest import TEST_PASSWORD
from tests.helpers import PROBLEM, feature, pin
from tests.images import plain_photo, uploaded


def register(client, username="nightowl", password="a long passphrase", **extra):
    return client.post(
        "/api/v1/auth/register", json={"username": username, "password": password, **extra}
    )


def login(client, username="nightowl", password="a long passphrase", **extra):
    return client.post(
        "/api/v1/auth/tokens", json={"username": username, "password": password, **extra}
    )


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


class TestRegister:
    def test_a_pseudonym_and_a_password_are_enough(self, client, db):
        response = register(client)
        assert response.status_code == 201
        body = response.get_json()
        assert body["username"] == "nightowl" and body["role"] == "contributor"
        assert "password" not in body
        stored = db("SELECT password_hash, email FROM users").one()
        assert stored.password_hash.startswith("$argon2id$")
        assert "a long passphrase" not in stored.password_hash
        assert stored.email is None

    def test_usernames_are_unique_whatever_their_case(self, client, db):
        register(client)
        response = register(client, username="NightOwl")
        assert response.status_code == 409
        assert response.get_json()["errors"][0]["field"] == "username"
        assert db("SELECT count(*) FROM users").scalar_one() == 1

    @pytest.mark.parametrize(
        "body,field",
        [
            ({"username": "ab", "password": "a long passphrase"}, "username"),
            ({"username": "has space", "password": "a long passphrase"}, "username"),
            ({"username": "fine_name", "password": "short"}, "password"),
            ({"username": "fine_name", "password": "a long passphrase", "email": "nope"}, "email"),
            ({"username": "fine_name", "password": "a long passphrase", "ip": "1.2.3.4"}, "ip"),
            ({"password": "a long passphrase"}, "username"),
        ],
    )
    def test_bad_registrations_are_422_and_store_nothing(self, client, db, body, field):
        response = client.post("/api/v1/auth/register", json=body)
        assert response.status_code == 422 and response.mimetype == PROBLEM
        assert response.get_json()["errors"][0]["field"] == field
        assert db("SELECT count(*) FROM users").scalar_one() == 0


class TestTokens:
    def test_login_gives_a_token_whose_hash_only_is_stored(self, client, db):
        register(client)
        response = login(client, name="my phone")
        assert response.status_code == 201
        token = response.get_json()["token"]
        assert client.get("/api/v1/me", headers=bearer(token)).get_json()["username"] == "nightowl"
        stored = db("SELECT token_hash, name FROM api_tokens").one()
        assert stored.name == "my phone"
        assert token not in stored.token_hash and len(stored.token_hash) == 64

    @pytest.mark.parametrize(
        "username,password", [("nightowl", "wrong passphrase"), ("nobody", "a long passphrase")]
    )
    def test_wrong_credentials_are_401(self, client, db, username, password):
        register(client)
        response = login(client, username, password)
        assert response.status_code == 401 and response.mimetype == PROBLEM
        assert db("SELECT count(*) FROM api_tokens").scalar_one() == 0

    def test_tokens_can_be_listed_and_revoked(self, client):
        register(client)
        first = login(client).get_json()
        second = login(client).get_json()
        listed = client.get("/api/v1/auth/tokens", headers=bearer(first["token"])).get_json()
        assert {t["id"] for t in listed["tokens"]} == {first["id"], second["id"]}
        assert all("token" not in t for t in listed["tokens"])
        revoked = client.delete(
            f"/api/v1/auth/tokens/{second['id']}", headers=bearer(first["token"])
        )
        assert revoked.status_code == 204
        assert client.get("/api/v1/me", headers=bearer(second["token"])).status_code == 401
        assert client.get("/api/v1/me", headers=bearer(first["token"])).status_code == 200

    def test_someone_elses_token_cannot_be_revoked(self, client, as_user):
        register(client)
        mine = login(client).get_json()
        other = as_user()
        assert other.delete(f"/api/v1/auth/tokens/{mine['id']}").status_code == 404
        assert client.get("/api/v1/me", headers=bearer(mine["token"])).status_code == 200

    def test_expired_token_is_401(self, client, db):
        register(client)
        token = login(client).get_json()["token"]
        db("UPDATE api_tokens SET expires_at = now() - interval '1 second'")
        response = client.get("/api/v1/me", headers=bearer(token))
        assert response.status_code == 401
        assert response.get_json()["errors"][0]["field"] == "Authorization"

    @pytest.mark.parametrize("header", ["Bearer", "Basic abc", "Bearer not-a-token", "Token x"])
    def test_malformed_authorization_is_401(self, client, header):
        response = client.get("/api/v1/me", headers={"Authorization": header})
        assert response.status_code == 401 and response.mimetype == PROBLEM


class TestMe:
    def test_me_reports_role_and_trust(self, as_user):
        contributor = as_user()
        body = contributor.get("/api/v1/me").get_json()
        assert body["role"] == "contributor" and body["trusted"] is False
        assert body["approved_pins"] == 0

    def test_export_lists_everything_stored_about_me(self, as_user, moderator):
        contributor = as_user()
        device = pin(contributor, notes="mine")
        moderator.post(f"/api/v1/devices/{device['id']}/review", json={"decision": "approve"})
        other_device = pin(moderator, 4.83, 45.76)
        contributor.post(
            f"/api/v1/devices/{other_device['id']}/confirmations", json={"verdict": "still_there"}
        )
        export = contributor.get("/api/v1/me/export").get_json()
        assert export["user"]["username"] == contributor.user.username
        assert [d["id"] for d in export["devices"]] == [device["id"]]
        assert [r["action"] for r in export["revisions"]] == ["create"]
        assert [c["device_id"] for c in export["confirmations"]] == [other_device["id"]]
        assert len(export["tokens"]) == 1
        assert export["photos"] == []
        assert "password_hash" not in str(export)

    def test_exported_pins_link_their_photos_with_absolute_urls(self, as_user):
        contributor = as_user()
        photo = uploaded(contributor, plain_photo())
        contributor.post("/api/v1/devices", json=feature() | {"photo_ids": [photo["id"]]})
        (device,) = contributor.get("/api/v1/me/export").get_json()["devices"]
        urls = device["properties"]["photos"][0]
        assert urls["full"] == f"http://localhost/api/v1/photos/{photo['id']}/full"

    def test_deleting_the_account_keeps_pins_under_an_anonymous_author(self, as_user, db, client):
        contributor = as_user("moderator")
        device = pin(contributor)
        assert contributor.delete("/api/v1/me").status_code == 204
        assert db("SELECT count(*) FROM users").scalar_one() == 0
        assert db("SELECT count(*) FROM api_tokens").scalar_one() == 0
        assert db("SELECT created_by FROM devices").scalar_one() is None
        assert client.get(f"/api/v1/devices/{device['id']}").status_code == 200
        history = client.get(f"/api/v1/devices/{device['id']}/history").get_json()
        assert history["revisions"][0]["author"] is None
        assert contributor.get("/api/v1/me").status_code == 401


class TestRoles:
    def test_admin_grants_moderator(self, as_user):
        admin = as_user("admin")
        contributor = as_user()
        response = admin.put(
            f"/api/v1/users/{contributor.user.username}/role", json={"role": "moderator"}
        )
        assert response.status_code == 200 and response.get_json()["role"] == "moderator"
        assert contributor.get("/api/v1/me").get_json()["role"] == "moderator"

    def test_unknown_role_and_user(self, as_user):
        admin = as_user("admin")
        assert admin.put("/api/v1/users/ghost/role", json={"role": "moderator"}).status_code == 404
        response = admin.put(f"/api/v1/users/{admin.user.username}/role", json={"role": "king"})
        assert response.status_code == 422


class TestCli:
    def test_create_admin_asks_the_password_twice(self, app, client):
        runner = app.test_cli_runner()
        result = runner.invoke(
            args=["users", "create-admin", "root_admin"],
            input=f"{TEST_PASSWORD}\n{TEST_PASSWORD}\n",
        )
        assert result.exit_code == 0, result.output
        assert session.query(User).filter_by(username="root_admin").one().role == "admin"
        token = login(client, "root_admin", TEST_PASSWORD).get_json()["token"]
        assert client.get("/api/v1/me", headers=bearer(token)).get_json()["role"] == "admin"

    def test_create_admin_refuses_mismatched_passwords(self, app):
        runner = app.test_cli_runner()
        result = runner.invoke(
            args=["users", "create-admin", "root_admin"],
            input=f"{TEST_PASSWORD}\nsomething else entirely\n",
        )
        assert result.exit_code != 0
        assert session.query(User).filter_by(username="root_admin").count() == 0
