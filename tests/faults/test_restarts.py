"""Writers retrying as the app does while PostgreSQL restarts: nothing lost, nothing doubled.

A private cluster (scripts/lib.sh) serves the real server (gunicorn.conf.py). Writers pin
devices with client UUIDs and Idempotency-Keys, attach photos and vote, each retrying its
request until it is acknowledged, while the cluster is restarted several times (fast and
immediate shutdowns). Afterwards every acknowledged write is stored exactly once, no key is
left without an answer, the only server errors were 503 problem+json with Retry-After, and
no request hung.
"""

import collections
import json
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest
from sqlalchemy import create_engine, text

from service import migrate
from service.config import PROJECT_DIR
from tests import images
from tests.clusters import cluster_folder, start_cluster, stop_cluster
from tests.helpers import feature
from tests.server import gunicorn_server

WRITERS = int(os.environ.get("FAULT_WRITERS", 4))
PINS_PER_WRITER = int(os.environ.get("FAULT_PINS", 18))  # new accounts may pin 20 an hour
RESTARTS = int(os.environ.get("FAULT_RESTARTS", 3))
RESTART_EVERY_S = 0.6
REQUEST_TIMEOUT_S = 20  # no answer may take longer: a hang fails the test
GIVE_UP_AFTER_S = 120
IN_FLIGHT_S = 3  # IDEMPOTENCY_IN_FLIGHT_SECONDS of this server: lost answers recover quickly


def restart(directory, mode: str) -> None:
    script = (
        'source scripts/lib.sh; as_cluster_owner "$(pg_bindir)/pg_ctl" -D "$1/pgdata" -w -s '
        f'-l "$1/postgres.log" -m {mode} restart '
        "-o \"-c listen_addresses='' -c unix_socket_directories=$1/run\""
    )
    subprocess.run(["bash", "-c", script, "restart", str(directory)], cwd=PROJECT_DIR, check=True)


@pytest.fixture
def private_cluster():
    with cluster_folder("restarts") as folder:
        directory = folder / "pg"
        url = start_cluster(directory)
        migrate.upgrade(url)
        yield directory, url
        stop_cluster(directory)


class Writer:
    """One phone's outbox: requests sent in order, each until it is acknowledged."""

    def __init__(self, base: str, token: str, log: collections.Counter):
        self.base, self.token, self.log = base, token, log
        self.pins: list[str] = []
        self.photos: list[str] = []
        self.votes = 0
        self.sent: dict[str, tuple] = {}  # by Idempotency-Key: what was sent

    def send(
        self, method: str, path: str, body: bytes, content_type: str, key: str, done_if=None
    ) -> dict | None:
        """The answer once acknowledged; None when a refusal says it was done already
        (DONE_IF: the field a 409 names then)."""
        self.sent[key] = (method, path, body, content_type, key, done_if)
        deadline = time.monotonic() + GIVE_UP_AFTER_S
        while time.monotonic() < deadline:
            request = urllib.request.Request(
                self.base + path,
                data=body,
                method=method,
                headers={
                    "Authorization": f"Bearer {self.token}",
                    "Idempotency-Key": key,
                    "Content-Type": content_type,
                },
            )
            started = time.monotonic()
            try:
                with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:
                    self.log[response.status] += 1
                    return json.loads(response.read())
            except urllib.error.HTTPError as refused:
                self.log[refused.code] += 1
                problem = refused.headers.get("Content-Type", "")
                answer = refused.read()
                if refused.code == 409 and json.loads(answer)["errors"][0]["field"] == done_if:
                    return None
                if refused.code >= 500:
                    assert refused.code == 503, answer
                    assert problem == "application/problem+json"
                    assert int(refused.headers["Retry-After"]) > 0
                elif refused.code not in (409, 429):
                    raise AssertionError(f"{method} {path}: {refused.code} {answer}") from None
                time.sleep(0.2)
            except (urllib.error.URLError, ConnectionError, TimeoutError) as failed:
                # The worker's answer never came (a restart cut it): retried as the app does.
                assert time.monotonic() - started < REQUEST_TIMEOUT_S, "a request hung"
                self.log[type(failed).__name__] += 1
                time.sleep(0.2)
        raise AssertionError(f"{method} {path} was never acknowledged")

    def run(self) -> None:
        for n in range(PINS_PER_WRITER):
            device_id = str(uuid.uuid4())
            body = feature(2.3 + n / 1000, 48.8 + len(self.pins) / 1e5, device_id=device_id)
            if n % 3 == 0:
                photo = self.upload_photo()
                body["photo_ids"] = [photo]
            self.send(
                "POST", "/api/v1/devices?force=true", json.dumps(body).encode(),
                "application/json", f"pin-{device_id}",
            )  # fmt: skip
            self.pins.append(device_id)
            if n % 2 == 1:
                vote = json.dumps({"verdict": "still_there"}).encode()
                target = self.pins[n - 1]
                self.send(
                    "POST", f"/api/v1/devices/{target}/confirmations", vote,
                    "application/json", f"vote-{target}", done_if="verdict",
                )  # fmt: skip
                self.votes += 1

    def upload_photo(self) -> str:
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="p.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
            ).encode()
            + images.plain_photo(size=(64, 48))
            + f"\r\n--{boundary}--\r\n".encode()
        )
        answer = self.send(
            "POST", "/api/v1/photos", body, f"multipart/form-data; boundary={boundary}",
            f"photo-{uuid.uuid4()}",
        )  # fmt: skip
        self.photos.append(answer["id"])
        return answer["id"]


def test_acknowledged_writes_survive_restarts_exactly_once(private_cluster, tmp_path):
    directory, url = private_cluster
    engine = create_engine(url)
    log: collections.Counter = collections.Counter()
    with gunicorn_server(
        url,
        tmp_path / "server.log",
        IDEMPOTENCY_IN_FLIGHT_SECONDS=str(IN_FLIGHT_S),
        RATELIMIT_ENABLED="false",
        MEDIA_ROOT=str(tmp_path / "media"),
    ) as port:
        base = f"http://127.0.0.1:{port}"
        writers = [Writer(base, register(base, n), log) for n in range(WRITERS)]
        threads = [threading.Thread(target=w.run) for w in writers]
        failures = []
        for thread, writer in zip(threads, writers, strict=True):
            thread.run = catching(writer.run, failures)
            thread.start()
        for n in range(RESTARTS):
            time.sleep(RESTART_EVERY_S)
            restart(directory, "immediate" if n % 2 else "fast")
        for thread in threads:
            thread.join(GIVE_UP_AFTER_S * 2)
        assert not failures, failures
        # A write whose answer could not be stored (the database went away right after its
        # commit) left its key without one, though its client had the answer. The key is not
        # stuck: a pin or a vote sent again once no request can still be running is
        # acknowledged, not redone. (An upload is only sent again by a client that never got
        # its answer, hence never attached its photo: the test of the photos API covers it.)
        time.sleep(IN_FLIGHT_S + 0.5)
        with engine.connect() as db:
            unanswered = db.execute(
                text("SELECT key FROM idempotent_requests WHERE status IS NULL")
            ).scalars()
            for key in unanswered:
                (writer,) = [w for w in writers if key in w.sent]
                if not key.startswith("photo-"):
                    writer.send(*writer.sent[key])
    with engine.connect() as db:
        pins = [p for w in writers for p in w.pins]
        photos = [p for w in writers for p in w.photos]
        stored_pins = db.execute(text("SELECT id::text FROM devices")).scalars().all()
        assert sorted(stored_pins) == sorted(pins)  # each acknowledged pin, once, no other
        stored_photos = db.execute(text("SELECT id::text FROM photos")).scalars().all()
        assert sorted(stored_photos) == sorted(photos)
        attached = db.execute(text("SELECT count(*) FROM photos WHERE device_id IS NULL"))
        assert attached.scalar_one() == 0
        votes = db.execute(text("SELECT count(*) FROM confirmations")).scalar_one()
        assert votes == sum(w.votes for w in writers)
        unanswered = db.execute(
            text(
                "SELECT count(*) FROM idempotent_requests "
                "WHERE status IS NULL AND key NOT LIKE 'photo-%'"
            )
        ).scalar_one()
        assert unanswered == 0  # every pin or vote sent again got its answer stored
    engine.dispose()
    print(f"answers and failures seen by the writers: {dict(log)}")  # figures for docs
    faults = {answer: n for answer, n in log.items() if answer not in (200, 201)}
    assert faults, "the restarts met no write: nothing was tested"
    assert all(code == 503 for code in faults if isinstance(code, int) and code >= 500), faults


def register(base: str, n: int) -> str:
    """A new contributor of the private cluster, and a token of theirs."""
    account = {"username": f"writer{n}_{uuid.uuid4().hex[:6]}", "password": PASSPHRASE}
    for path in ("/api/v1/auth/register", "/api/v1/auth/tokens"):
        request = urllib.request.Request(
            base + path,
            data=json.dumps(account).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:
            answer = json.loads(response.read())
    return answer["token"]


PASSPHRASE = "correct horse battery staple of the night watch"


def catching(run, failures: list):
    def wrapped():
        try:
            run()
        except BaseException as error:  # reported by the test, not lost in a thread
            failures.append(repr(error))

    return wrapped
