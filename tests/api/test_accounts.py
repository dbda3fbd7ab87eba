"""Accounts without identity: registration, tokens, self-service, roles, the admin CLI."""

import secrets
import threading
from datetime import datetime

import pytest
from sqlalchemy import text

from service.db import session
from service.models import User
from tests.conftest import TEST_PASSWORD
from tests.helpers import PROBLEM, feature, pin
from tests.images import plain_photo, uploaded

PASSWORD = {"password": TEST_PASSWORD}  # what deleting an account of as_user asks


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
        error = response.get_json()["errors"][0]
        assert (error["field"], error["location"]) == ("username", "json")
        assert db("SELECT count(*) FROM users").scalar_one() == 1

    @pytest.mark.parametrize(
        "body,field",
        [
            ({"username": "ab", "password": "a long passphrase"}, "username"),
            ({"username": "has space", "password": "a long passphrase"}, "username"),
            # Would pass for "alice" wherever a newline shows as nothing.
            ({"username": "alice\n", "password": "a long passphrase"}, "username"),
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


class TestPasswordPolicy:
    @pytest.mark.parametrize(
        "username,password,email",
        [
            ("nightowl", " " * 10, None),
            ("nightowl", "1234567890", None),
            ("nightowl", "password12", None),
            ("nightowl", "qwertyuiop", None),
            ("nightowl", "x" * 1024, None),
            ("qzvkrwpt_lmn", "qzvkrwpt_lmn", None),  # the username itself
            ("qzvkrwpt_lmn", "Qzvkrwpt_lmn2026", None),  # ... dressed up
            ("dave_rev", "dave_rev_dave_rev", None),  # ... twice: zxcvbn alone gives it 3
            ("dave_rev", "DAVE_REV!dave_rev#2026", None),
            ("nightowl", "bxwqtrzv.mail-bxwqtrzv.mail", "bxwqtrzv.mail@example.org"),
            ("nightowl", "bxwqtrzv.mail", "bxwqtrzv.mail@example.org"),  # the email
        ],
    )
    def test_easy_passwords_are_422_naming_the_password(
        self, client, db, username, password, email
    ):
        response = register(client, username=username, password=password, email=email)
        assert response.status_code == 422 and response.mimetype == PROBLEM
        error = response.get_json()["errors"][0]
        assert error["field"] == "password"
        assert "too easy to guess" in error["message"]
        assert db("SELECT count(*) FROM users").scalar_one() == 0

    def test_the_reason_is_told(self, client):
        error = register(client, password="password12").get_json()["errors"][0]
        assert "common password" in error["message"]

    @pytest.mark.parametrize(
        "password",
        [
            "correct horse battery",
            "Tr0ub4dor&3 anvil",
            secrets.token_urlsafe(800)[:1024],
            "nightowl's correct horse battery",  # the account's name, and a passphrase
        ],
    )
    def test_passphrases_and_long_random_passwords_are_accepted(self, client, password):
        assert register(client, password=password).status_code == 201


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

    def test_the_token_comes_with_the_account_it_signs_in(self, client, db):
        """A phone knows whom it signed in as from the one answer that gives it the token."""
        register(client)
        answer = login(client).get_json()
        me = client.get("/api/v1/me", headers=bearer(answer["token"])).get_json()
        assert answer["user"] == {key: me[key] for key in ("id", "username", "role", "created_at")}
        assert answer["user"]["username"] == "nightowl" and answer["user"]["role"] == "contributor"

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
        # Revision ids count everyone's changes: a clock of others' work, for moderators only.
        assert "id" not in export["revisions"][0]
        assert "id" in moderator.get("/api/v1/me/export").get_json()["revisions"][0]
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

    def test_exported_photos_say_where_their_pins_are_while_the_uploader_sees_them(
        self, as_user, moderator
    ):
        """To find each on the map before deleting one: the uploader's own pin, another's
        public device; none for a pin withdrawn, another's device removed, nor a photo on no
        pin yet."""
        contributor = as_user()
        own = pin(contributor, 2.35, 48.85, kind="sensor")
        theirs = pin(moderator, 4.83, 45.76, kind="alpr")
        withdrawn = pin(contributor, 2.36, 48.86)
        removed = pin(moderator, 2.37, 48.87)
        for device in (own, theirs, withdrawn, removed):
            uploaded(contributor, plain_photo(), url=f"/api/v1/devices/{device['id']}/photos")
        uploaded(contributor, plain_photo())  # on no pin yet
        assert contributor.delete(f"/api/v1/devices/{withdrawn['id']}").status_code == 204
        assert moderator.delete(f"/api/v1/devices/{removed['id']}").status_code == 204
        photos = contributor.get("/api/v1/me/export").get_json()["photos"]
        assert [photo["pin"] for photo in photos] == [
            {"kind": "sensor", "coordinates": [2.35, 48.85]},
            {"kind": "alpr", "coordinates": [4.83, 45.76]},
            None,
            None,
            None,
        ]

    def test_deleting_the_account_keeps_pins_under_an_anonymous_author(self, as_user, db, client):
        contributor = as_user("moderator")
        device = pin(contributor)
        assert contributor.delete("/api/v1/me", json=PASSWORD).status_code == 204
        assert db("SELECT count(*) FROM users").scalar_one() == 0
        assert db("SELECT count(*) FROM api_tokens").scalar_one() == 0
        assert db("SELECT created_by FROM devices").scalar_one() is None
        assert client.get(f"/api/v1/devices/{device['id']}").status_code == 200
        history = client.get(f"/api/v1/devices/{device['id']}/history").get_json()
        assert history["revisions"][0]["author"] is None
        assert contributor.get("/api/v1/me").status_code == 401

    def test_deleting_the_account_forgets_the_answers_kept_for_others_that_name_it(
        self, as_user, db
    ):
        """An admin's change of its role, replayable under the admin's Idempotency-Key, kept
        the deleted account's pseudonym in clear; the admin's other answers stay."""
        admin, leaving = as_user("admin"), as_user()
        name = leaving.user.username
        granted = admin.put(
            f"/api/v1/users/{name}/role",
            json={"role": "moderator"},
            headers={"Idempotency-Key": "role-of-the-leaving-one"},
        )
        assert granted.status_code == 200
        kept = admin.post(
            "/api/v1/devices", json=feature(2.35, 48.85), headers={"Idempotency-Key": "pin"}
        )
        assert kept.status_code == 201
        assert leaving.delete("/api/v1/me", json=PASSWORD).status_code == 204
        keys = db("SELECT key FROM idempotent_requests").scalars().all()
        assert keys == ["pin"]
        stored = db("SELECT string_agg(encode(body, 'escape'), '') FROM idempotent_requests")
        assert name not in (stored.scalar_one() or "")

    def test_deleting_the_account_asks_its_password_again(self, as_user, db):
        """A token alone (left on a seized phone) cannot erase an account and reserve its
        pseudonym: the password is asked, and a wrong one counts as a wrong login."""
        contributor = as_user("contributor")
        bare = contributor.delete("/api/v1/me")
        assert bare.status_code == 415 and bare.mimetype == PROBLEM
        missing = contributor.delete("/api/v1/me", json={})
        assert missing.status_code == 422
        assert missing.get_json()["errors"][0]["field"] == "password"
        wrong = contributor.delete("/api/v1/me", json={"password": TEST_PASSWORD + "!"})
        assert wrong.status_code == 422 and wrong.mimetype == PROBLEM
        assert wrong.get_json()["errors"][0]["field"] == "password"
        assert db("SELECT count(*) FROM users").scalar_one() == 1
        assert db("SELECT count(*) FROM reserved_usernames").scalar_one() == 0
        assert contributor.get("/api/v1/me").status_code == 200
        assert contributor.delete("/api/v1/me", json=PASSWORD).status_code == 204

    def test_photos_never_attached_go_with_the_account(self, app, as_user, db):
        """Shared with nobody, they are not left for the next clean-orphans run; a photo on a
        pin stays with the pin."""
        contributor = as_user("contributor")
        loose = uploaded(contributor, plain_photo(colour=(12, 34, 56)))
        kept = uploaded(contributor, plain_photo(colour=(65, 43, 21)))
        on_pin = contributor.post("/api/v1/devices", json=feature() | {"photo_ids": [kept["id"]]})
        assert on_pin.status_code == 201, on_pin.get_json()
        files = app.extensions["photo_storage"]
        before = set(files.keys())
        keys = db(
            "SELECT ARRAY[full_sha256, large_sha256, thumbnail_sha256] FROM photos WHERE id = :id",
            id=loose["id"],
        ).scalar_one()
        assert contributor.delete("/api/v1/me", json=PASSWORD).status_code == 204
        assert db("SELECT id::text FROM photos").scalars().all() == [kept["id"]]
        assert before - set(files.keys()) == {f"{key}.jpg" for key in keys}


class TestPseudonymsThatMislead:
    """A pseudonym signs pins and decisions ("By admin" in the review queue): none may pass for
    the service's staff, for nothing, or for another account by its punctuation alone."""

    @pytest.mark.parametrize(
        "name",
        [
            *("admin", "Moderator", "r.o.o.t", "vigie_", "null", "anonymous"),
            # Numbered, as a part of the name, or a staff word opening or closing it.
            *("admin2", "vigie_paris", "VigieParis", "team.mod", "deleted-user"),
            *("adminbob", "chiefModerator", "superuser9"),
        ],
    )
    def test_staff_and_empty_sounding_names_are_refused(self, client, name):
        response = register(client, username=name)
        assert response.status_code == 422 and response.mimetype == PROBLEM
        assert response.get_json()["errors"][0]["field"] == "username"
        assert "staff" in response.get_json()["errors"][0]["message"]

    @pytest.mark.parametrize("name", ["badminton", "modest", "Vigier", "rootbeer", "jean.dupont"])
    def test_ordinary_words_holding_a_staff_name_are_accepted(self, client, name):
        assert register(client, username=name).status_code == 201

    @pytest.mark.parametrize("name", ["...", "---", "_._"])
    def test_a_name_needs_a_letter_or_a_digit(self, client, name):
        response = register(client, username=name)
        assert response.status_code == 422
        assert "one letter or digit" in response.get_json()["errors"][0]["message"]

    def test_a_name_differing_only_by_punctuation_is_taken(self, client, db):
        assert register(client, username="bob_rev").status_code == 201
        for look_alike in ("bob.rev", "Bob-Rev", "bobrev", "b.o.b_r.e.v."):
            response = register(client, username=look_alike)
            assert response.status_code == 409, look_alike
            assert response.get_json()["errors"][0]["field"] == "username"
        assert register(client, username="bob_rev2").status_code == 201
        assert db("SELECT count(*) FROM users").scalar_one() == 2

    def test_look_alike_registrations_at_once_cannot_both_pass(self, committed, app):
        """A registration holds its name's skeleton until it commits: one of `bobrev` beside
        a `bob.rev` being registered waits for it, then finds the name taken."""
        holder = committed.connect()
        holder.begin()
        holder.execute(text("SELECT pg_advisory_xact_lock(hashtext('name:bobrev'))"))
        answers = []
        attempt = threading.Thread(
            target=lambda: answers.append(register(app.test_client(), username="bob.rev"))
        )
        attempt.start()
        attempt.join(0.5)
        assert attempt.is_alive(), "the second registration did not wait for the first"
        holder.execute(
            text(
                "INSERT INTO users (id, username, password_hash)"
                " VALUES (gen_random_uuid(), 'bobrev', 'x')"
            )
        )
        holder.commit()
        holder.close()
        attempt.join(10)
        assert answers[0].status_code == 409

    def test_a_deleted_name_is_reserved_whatever_its_punctuation(self, client, db):
        assert register(client, username="night.owl").status_code == 201
        token = login(client, "night.owl").get_json()["token"]
        gone = client.delete(
            "/api/v1/me", headers=bearer(token), json={"password": "a long passphrase"}
        )
        assert gone.status_code == 204
        assert register(client, username="NightOwl").status_code == 409


class TestLastAdmin:
    def test_the_last_admin_cannot_delete_itself(self, as_user, db):
        admin = as_user("admin")
        response = admin.delete("/api/v1/me", json=PASSWORD)
        assert response.status_code == 409 and response.mimetype == PROBLEM
        assert "last admin" in response.get_json()["detail"]
        assert db("SELECT role FROM users").scalar_one() == "admin"
        assert db("SELECT count(*) FROM reserved_usernames").scalar_one() == 0

    def test_the_last_admin_cannot_demote_itself(self, as_user, db):
        admin = as_user("admin")
        url = f"/api/v1/users/{admin.user.username}/role"
        response = admin.put(url, json={"role": "moderator"})
        assert response.status_code == 409 and response.mimetype == PROBLEM
        assert response.get_json()["errors"][0]["field"] == "role"
        assert db("SELECT role FROM users").scalar_one() == "admin"
        assert admin.put(url, json={"role": "admin"}).status_code == 200

    def test_an_admin_may_leave_once_another_is_there(self, as_user, db):
        first, second = as_user("admin"), as_user("admin")
        demoted = first.put(f"/api/v1/users/{first.user.username}/role", json={"role": "moderator"})
        assert demoted.status_code == 200
        assert second.delete("/api/v1/me", json=PASSWORD).status_code == 409
        assert (
            first.put(
                f"/api/v1/users/{first.user.username}/role", json={"role": "admin"}
            ).status_code
            == 403
        )
        assert (
            second.put(
                f"/api/v1/users/{first.user.username}/role", json={"role": "admin"}
            ).status_code
            == 200
        )
        assert second.delete("/api/v1/me", json=PASSWORD).status_code == 204
        assert db("SELECT count(*) FROM users WHERE role = 'admin'").scalar_one() == 1


class TestReservedUsernames:
    def delete_account(self, client, username):
        register(client, username=username)
        token = login(client, username).get_json()["token"]
        assert (
            client.delete(
                "/api/v1/me", headers=bearer(token), json={"password": "a long passphrase"}
            ).status_code
            == 204
        )

    def test_a_deleted_pseudonym_is_reserved_as_a_keyed_hash_only(self, client, db):
        self.delete_account(client, "NightOwl")
        response = register(client, username="nightowl")
        assert response.status_code == 409 and response.mimetype == PROBLEM
        assert response.get_json()["errors"][0]["field"] == "username"
        stored = db(
            "SELECT name_hash, reserved_until - now() AS left FROM reserved_usernames"
        ).one()
        assert "owl" not in stored.name_hash.lower()
        assert len(stored.name_hash) == 64
        assert 89 <= stored.left.days <= 90
        # Until the end of a day: the row does not tell when in that day the account went.
        midnight = db(
            "SELECT (reserved_until AT TIME ZONE 'UTC')::time = '00:00' FROM reserved_usernames"
        )
        assert midnight.scalar_one()
        assert db("SELECT count(*) FROM users").scalar_one() == 0

    def test_the_pseudonym_is_free_again_after_the_reservation(self, client, db):
        self.delete_account(client, "nightowl")
        db("UPDATE reserved_usernames SET reserved_until = now() - interval '1 second'")
        assert register(client).status_code == 201
        # Deleting an account forgets the reservations that ran out.
        self.delete_account(client, "someone_else")
        assert db("SELECT count(*) FROM reserved_usernames").scalar_one() == 1

    def test_the_reservation_lasts_as_configured(self, app, client, db, monkeypatch):
        monkeypatch.setitem(app.config, "DELETED_USERNAME_RESERVED_DAYS", 0)
        self.delete_account(client, "nightowl")
        assert db("SELECT count(*) FROM reserved_usernames").scalar_one() == 0
        assert register(client).status_code == 201

    def test_the_admin_cli_respects_reservations(self, app, client):
        self.delete_account(client, "nightowl")
        result = app.test_cli_runner().invoke(
            args=["users", "create-admin", "nightowl"],
            input=f"{TEST_PASSWORD}\n{TEST_PASSWORD}\n",
        )
        assert result.exit_code != 0 and "reserved" in result.output


class TestRoles:
    def test_admin_grants_moderator(self, as_user):
        admin = as_user("admin")
        contributor = as_user()
        response = admin.put(
            f"/api/v1/users/{contributor.user.username}/role", json={"role": "moderator"}
        )
        assert response.status_code == 200 and response.get_json()["role"] == "moderator"
        assert contributor.get("/api/v1/me").get_json()["role"] == "moderator"
        # When the account was made, to the admin too, is a day (docs/security.md).
        created = datetime.fromisoformat(response.get_json()["created_at"])
        assert created == created.replace(hour=0, minute=0, second=0, microsecond=0)

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

    def test_create_admin_refuses_an_easy_password(self, app):
        result = app.test_cli_runner().invoke(
            args=["users", "create-admin", "root_admin"], input="password12\npassword12\n"
        )
        assert result.exit_code != 0 and "too easy to guess" in result.output
        assert session.query(User).filter_by(username="root_admin").count() == 0

    def test_a_password_login_would_refuse_is_never_set(self, app, client, as_user):
        """Longer than a login takes (1,024 characters): its admin would be locked out."""
        owner = as_user()
        too_long = "correct horse battery staple " * 36
        for command in (["create-admin", "root_admin"], ["reset-password", owner.user.username]):
            result = app.test_cli_runner().invoke(
                args=["users", *command], input=f"{too_long}\n{too_long}\n"
            )
            assert result.exit_code == 2 and "1024" in result.output, result.output
        assert session.query(User).filter_by(username="root_admin").count() == 0
        assert login(client, owner.user.username, TEST_PASSWORD).status_code == 201

    @pytest.mark.parametrize("name", ["a b/c<>", "", "x" * 300])
    def test_create_admin_refuses_a_name_the_api_would_refuse(self, app, name):
        """The role API names accounts in its path: an admin it cannot reach is never demoted."""
        result = app.test_cli_runner().invoke(
            args=["users", "create-admin", name], input=f"{TEST_PASSWORD}\n{TEST_PASSWORD}\n"
        )
        assert result.exit_code == 2 and "3 to 32 letters" in result.output
        assert "Traceback" not in result.output
        assert session.query(User).count() == 0

    def test_create_admin_refuses_mismatched_passwords(self, app):
        runner = app.test_cli_runner()
        result = runner.invoke(
            args=["users", "create-admin", "root_admin"],
            input=f"{TEST_PASSWORD}\nsomething else entirely\n",
        )
        assert result.exit_code != 0
        assert session.query(User).filter_by(username="root_admin").count() == 0


class TestPasswordChange:
    NEW = "another long passphrase, quite new"

    def sign_in_twice(self, client) -> tuple[str, str]:
        register(client)
        phone, laptop = (login(client, name=name).get_json()["token"] for name in "ab")
        return phone, laptop

    def test_a_new_password_revokes_every_other_token(self, client):
        phone, laptop = self.sign_in_twice(client)
        changed = client.put(
            "/api/v1/me/password",
            json={"current_password": "a long passphrase", "new_password": self.NEW},
            headers=bearer(phone),
        )
        assert changed.status_code == 204
        assert client.get("/api/v1/me", headers=bearer(phone)).status_code == 200
        assert client.get("/api/v1/me", headers=bearer(laptop)).status_code == 401
        assert login(client).status_code == 401
        assert login(client, password=self.NEW).status_code == 201

    @pytest.mark.parametrize(
        ("current", "new", "field"),
        [
            ("not my password at all", NEW, "current_password"),
            ("a long passphrase", "nightowl12345", "new_password"),  # the username, and digits
            ("a long passphrase", "short", "new_password"),
        ],
    )
    def test_a_wrong_current_or_weak_new_password_changes_nothing(
        self, client, current, new, field
    ):
        phone, laptop = self.sign_in_twice(client)
        refused = client.put(
            "/api/v1/me/password",
            json={"current_password": current, "new_password": new},
            headers=bearer(phone),
        )
        assert refused.status_code == 422 and refused.mimetype == PROBLEM
        assert refused.get_json()["errors"][0]["field"] == field
        assert client.get("/api/v1/me", headers=bearer(laptop)).status_code == 200
        assert login(client).status_code == 201

    def test_sign_out_everywhere(self, client):
        phone, laptop = self.sign_in_twice(client)
        assert client.delete("/api/v1/auth/tokens", headers=bearer(phone)).status_code == 204
        for token in (phone, laptop):
            assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
        assert login(client).status_code == 201

    def test_an_operator_resets_a_lost_password(self, app, client):
        _phone, laptop = self.sign_in_twice(client)
        result = app.test_cli_runner().invoke(
            args=["users", "reset-password", "nightowl"], input=f"{self.NEW}\n{self.NEW}\n"
        )
        assert result.exit_code == 0, result.output
        assert client.get("/api/v1/me", headers=bearer(laptop)).status_code == 401
        assert login(client, password=self.NEW).status_code == 201
        unknown = app.test_cli_runner().invoke(
            args=["users", "reset-password", "ghost"], input=f"{self.NEW}\n{self.NEW}\n"
        )
        assert unknown.exit_code != 0 and "no account" in unknown.output


@pytest.mark.parametrize("lifetime", [30.9, "7", True])
def test_a_token_lifetime_must_be_a_whole_json_number(client, make_user, lifetime):
    """30.9 days is not read as 30, nor "7" as 7: the field is named instead."""
    user, _ = make_user()
    response = login(client, user.username, TEST_PASSWORD, lifetime_days=lifetime)
    assert response.status_code == 422 and response.mimetype == PROBLEM
    assert response.get_json()["errors"][0]["field"] == "lifetime_days"


@pytest.mark.parametrize("revision", [1.5, "1", True])
def test_a_revision_to_revert_to_must_be_a_whole_json_number(client, as_user, revision):
    moderator = as_user("moderator")
    device = pin(moderator, 2.35, 48.85)
    response = moderator.post(f"/api/v1/devices/{device['id']}/revert", json={"revision": revision})
    assert response.status_code == 422 and response.mimetype == PROBLEM
    assert response.get_json()["errors"][0]["field"] == "revision"
