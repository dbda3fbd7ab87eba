"""Retried writes: the same request replayed, or sent twice at once, makes one device."""

import threading

from sqlalchemy import text

from tests import images
from tests.conftest import TEST_PASSWORD
from tests.helpers import feature, new_id, pin


def count(engine):
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM devices")).scalar_one()


def test_replay_with_an_idempotency_key_returns_the_first_answer(moderator, db):
    body = feature()
    headers = {"Idempotency-Key": "pin-42"}
    first = moderator.post("/api/v1/devices", json=body, headers=headers)
    again = moderator.post("/api/v1/devices", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert db("SELECT count(*) FROM devices").scalar_one() == 1


def test_the_same_key_for_another_request_is_refused(moderator, db):
    moderator.post("/api/v1/devices", json=feature(), headers={"Idempotency-Key": "k"})
    other = moderator.post(
        "/api/v1/devices", json=feature(3.0, 45.0), headers={"Idempotency-Key": "k"}
    )
    assert other.status_code == 422
    assert other.get_json()["errors"][0]["field"] == "Idempotency-Key"
    assert db("SELECT count(*) FROM devices").scalar_one() == 1


def test_a_key_sent_twice_is_refused_and_nothing_is_stored(moderator, db):
    """A server hands a header sent twice to the application as one value, joined by a comma:
    stored so, a retry with either key would not find it."""
    for headers in (
        [("Idempotency-Key", "a1"), ("Idempotency-Key", "a2")],
        {"Idempotency-Key": "a1,a2"},
        {"Idempotency-Key": ""},  # a key of the wrong shape, as these: one answer for all
        {"Idempotency-Key": "k" * 256},
    ):
        response = moderator.post("/api/v1/devices", json=feature(), headers=headers)
        assert response.status_code == 400
        assert response.get_json()["type"].endswith("/invalid-input")
        assert response.get_json()["errors"][0]["field"] == "Idempotency-Key"
    stored = "SELECT (SELECT count(*) FROM devices), (SELECT count(*) FROM idempotent_requests)"
    assert tuple(db(stored).one()) == (0, 0)


def test_keys_belong_to_their_caller(moderator, as_user, db):
    other = as_user("moderator")
    moderator.post("/api/v1/devices", json=feature(), headers={"Idempotency-Key": "same"})
    response = other.post(
        "/api/v1/devices?force=true", json=feature(), headers={"Idempotency-Key": "same"}
    )
    assert response.status_code == 201
    assert db("SELECT count(*) FROM devices").scalar_one() == 2


def test_replayed_patch_is_applied_once(moderator, db):
    created = moderator.post("/api/v1/devices", json=feature()).get_json()
    url = f"/api/v1/devices/{created['id']}"
    headers = {"If-Match": moderator.get(url).headers["ETag"], "Idempotency-Key": "edit-1"}
    first = moderator.patch(url, json={"properties": {"notes": "x"}}, headers=headers)
    again = moderator.patch(url, json={"properties": {"notes": "x"}}, headers=headers)
    assert first.status_code == again.status_code == 200  # not a 412 for the stale ETag
    assert db("SELECT version FROM devices").scalar_one() == 2
    # A retry carrying the ETag read since (its lost answer's write made it) is the same request.
    since = headers | {"If-Match": moderator.get(url).headers["ETag"]}
    replayed = moderator.patch(url, json={"properties": {"notes": "x"}}, headers=since)
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert db("SELECT version FROM devices").scalar_one() == 2


def run_together(target, arguments):
    results = [None] * len(arguments)
    barrier = threading.Barrier(len(arguments))

    def run(index):
        barrier.wait()
        results[index] = target(*arguments[index])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(arguments))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_two_threads_posting_the_same_client_uuid_make_one_device(committed, app, make_user):
    _, token = make_user("moderator")
    body = feature(device_id=new_id())

    def post():
        client = app.test_client()
        return client.post(
            "/api/v1/devices", json=body, headers={"Authorization": f"Bearer {token}"}
        ).status_code

    statuses = run_together(post, [(), ()])
    assert sorted(statuses) == [200, 201]
    assert count(committed) == 1


def test_two_threads_with_one_idempotency_key_make_one_device(committed, app, make_user):
    _, token = make_user("moderator")
    body = feature()

    def post():
        client = app.test_client()
        return client.post(
            "/api/v1/devices",
            json=body,
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "both"},
        ).status_code

    statuses = run_together(post, [(), ()])
    assert 201 in statuses and set(statuses) <= {201, 409}
    assert count(committed) == 1


def test_a_refusal_that_changed_nothing_is_not_kept(moderator, db):
    """A 4xx rolls the view back, claim included, and nothing is recorded: sent again, the
    request runs again, and passes once what refused it has changed (an If-Match given, a rate
    limit's window over); one still wrong is refused again, as it is now."""
    body = feature() | {"properties": {"kind": "not a kind"}}
    headers = {"Idempotency-Key": "bad-pin"}
    first = moderator.post("/api/v1/devices", json=body, headers=headers)
    again = moderator.post("/api/v1/devices", json=body, headers=headers)
    assert first.status_code == again.status_code == 422
    assert "Idempotent-Replayed" not in again.headers
    assert db("SELECT count(*) FROM idempotent_requests").scalar_one() == 0
    url = f"/api/v1/devices/{pin(moderator)['id']}"
    edit = {"properties": {"operator": "RATP"}}
    key = {"Idempotency-Key": "edit-1"}
    assert moderator.patch(url, json=edit, headers=key).status_code == 428
    etag = moderator.get(url).headers["ETag"]
    edited = moderator.patch(url, json=edit, headers=key | {"If-Match": etag})
    assert edited.status_code == 200, edited.get_json()
    assert edited.get_json()["properties"]["operator"] == "RATP"
    replayed = moderator.patch(url, json=edit, headers=key | {"If-Match": etag})
    assert replayed.headers["Idempotent-Replayed"] == "true"


def forget_answer(db, key: str, age: str) -> None:
    """What a database that went away between the write and its answer leaves behind."""
    db(
        "UPDATE idempotent_requests SET status = NULL, body = NULL, headers = NULL, "
        "created_at = now() - CAST(:age AS interval) WHERE key = :key",
        key=key,
        age=age,
    )


def test_a_write_whose_answer_was_lost_is_told_it_succeeded_once_it_cannot_be_running(
    moderator, db
):
    body = feature(device_id=new_id())
    headers = {"Idempotency-Key": "lost-answer"}
    assert moderator.post("/api/v1/devices", json=body, headers=headers).status_code == 201
    forget_answer(db, "lost-answer", "1 second")
    running = moderator.post("/api/v1/devices", json=body, headers=headers)
    assert running.status_code == 409 and running.headers["Retry-After"] == "1"
    forget_answer(db, "lost-answer", "2 minutes")  # past IDEMPOTENCY_IN_FLIGHT_SECONDS
    retried = moderator.post("/api/v1/devices", json=body, headers=headers)
    assert retried.status_code == 200  # the device already saved, as its client made it
    assert retried.get_json()["id"] == body["id"]
    assert db("SELECT count(*) FROM devices").scalar_one() == 1
    assert db("SELECT status FROM idempotent_requests").scalar_one() == 200
    replayed = moderator.post("/api/v1/devices", json=body, headers=headers)
    assert replayed.headers["Idempotent-Replayed"] == "true"


def test_a_server_error_leaves_no_record(moderator, db, monkeypatch):
    from service.api.devices import routes

    def fail(*_args, **_kwargs):
        raise RuntimeError("the view failed")

    monkeypatch.setattr(routes, "attach_photos", fail)
    headers = {"Idempotency-Key": "boom"}
    response = moderator.post("/api/v1/devices", json=feature(), headers=headers)
    assert response.status_code == 500
    assert db("SELECT count(*) FROM idempotent_requests").scalar_one() == 0
    assert db("SELECT count(*) FROM devices").scalar_one() == 0


def test_logins_and_registrations_store_nothing_and_fingerprints_are_keyed(client, moderator, db):
    """A token is a secret, a new pseudonym sits under its client's address: neither is kept.
    Other answers are, under a keyed fingerprint."""
    import hashlib

    account = {"username": "nightowl", "password": "a long passphrase"}
    headers = {"Idempotency-Key": "login-1"}
    assert client.post("/api/v1/auth/register", json=account, headers=headers).status_code == 201
    tokens = [
        client.post("/api/v1/auth/tokens", json=account, headers={"Idempotency-Key": "t"})
        for _ in range(2)
    ]
    assert [t.status_code for t in tokens] == [201, 201]
    assert tokens[0].get_json()["token"] != tokens[1].get_json()["token"]  # not replayed
    assert db("SELECT count(*) FROM idempotent_requests").scalar_one() == 0
    body = client.application.json.dumps(feature()).encode()
    moderator.post("/api/v1/devices", data=body, content_type="application/json", headers=headers)
    (record,) = db("SELECT key, fingerprint FROM idempotent_requests").all()
    unkeyed = hashlib.sha256(b"POST /api/v1/devices?\n")
    unkeyed.update(body)
    assert record.key == "login-1" and record.fingerprint != unkeyed.hexdigest()


def test_a_photo_answer_is_kept_without_where_and_when_it_was_taken(moderator, db):
    """The position and time read from a photo are answered once, never stored (a retry
    gets the photo without them)."""
    headers = {"Idempotency-Key": "photo-1"}
    photo = images.leaky_photo("JPEG")
    first = images.upload(moderator, photo, headers=headers)
    assert first.status_code == 201 and first.get_json()["suggested_location"]
    (body,) = db("SELECT body FROM idempotent_requests").scalars().all()
    for member in (b"suggested_location", b"taken_at", b"accuracy_m", b"2.2945"):
        assert member not in body
    again = images.upload(moderator, photo, headers=headers)
    assert again.status_code == 201, again.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == first.get_json()["id"]
    assert "suggested_location" not in again.get_json()


def test_a_password_change_whose_answer_was_lost_is_told_it_was_made(as_user, client):
    """Sent again after its answer was lost, the change would meet its own effect: the current
    password given is no longer the account's. With its key, it gets its first answer."""
    user = as_user()
    change = {"current_password": TEST_PASSWORD, "new_password": "another passphrase, all new"}
    headers = {"Idempotency-Key": "password-1"}
    first = user.put("/api/v1/me/password", json=change, headers=headers)
    assert first.status_code == 204
    again = user.put("/api/v1/me/password", json=change, headers=headers)
    assert again.status_code == 204 and again.headers["Idempotent-Replayed"] == "true"
    login = {"username": user.user.username, "password": change["new_password"]}
    assert client.post("/api/v1/auth/tokens", json=login).status_code == 201
    # Without its key, the same change is refused, the current password being the new one.
    assert user.put("/api/v1/me/password", json=change).status_code == 422
    # Its passwords are no part of what is kept: a guess of them could not be tested against
    # it, even knowing SECRET_KEY (the key alone tells a client's changes apart).
    guess = {"current_password": "a guess", "new_password": "another guess entirely"}
    replayed = user.put("/api/v1/me/password", json=guess, headers=headers)
    assert replayed.status_code == 204 and replayed.headers["Idempotent-Replayed"] == "true"


def test_deleting_an_account_keeps_no_answer(as_user, db):
    user = as_user()
    assert (
        user.delete(
            "/api/v1/me", json={"password": TEST_PASSWORD}, headers={"Idempotency-Key": "bye"}
        ).status_code
        == 204
    )
    assert db("SELECT count(*) FROM idempotent_requests").scalar_one() == 0


def test_a_key_is_not_read_before_routing_and_authentication_answer(client, db):
    """A 405, or a 401 for want of a token, comes first, whatever key or WAL position came
    with the request; a bad token is a 401 whatever key came with it."""
    key = {"Idempotency-Key": "taken"}
    client.post("/api/v1/photos", headers=key)  # anonymous: a 401
    headers = key | {"Vigie-WAL-Position": "not a position"}
    assert client.put("/api/v1/photos", headers=headers).status_code == 405
    assert client.post("/api/v1/devices", json=feature(), headers=headers).status_code == 401
    bad_token = key | {"Authorization": "Bearer not-a-token"}
    assert client.post("/api/v1/devices", json=feature(), headers=bad_token).status_code == 401
    assert db("SELECT count(*) FROM idempotent_requests").scalar_one() == 0


def test_a_photo_larger_than_a_json_body_may_carry_a_key(app, moderator, monkeypatch):
    """The key's fingerprint reads the upload under the photo's size limit, as the view does,
    not under the small one of JSON bodies."""
    photo = images.leaky_photo("JPEG")
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", len(photo) // 2)
    response = images.upload(moderator, photo, headers={"Idempotency-Key": "big-1"})
    assert response.status_code == 201, response.get_json()


def test_a_purge_age_past_what_a_date_holds_is_refused(app):
    result = app.test_cli_runner().invoke(
        args=["idempotency", "purge", "--older-than-hours", "99999999999"]
    )
    assert result.exit_code == 2 and "older-than-hours" in result.output
