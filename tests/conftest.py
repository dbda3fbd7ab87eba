"""A real PostGIS for every run: a fresh database per session, a rolled-back transaction per test.

DATABASE_URL names the server (make test starts a throwaway cluster per test process and gives
each process its own: pytest_configure). The suite creates its own database there, migrates it
once, and drops it at the end.
"""

import os
import threading
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from service import create_app, migrate
from service.config import Config
from service.db import session

TEST_PASSWORD = "correct horse battery"


def pytest_configure(config):
    """In each of the processes `make test` runs the suite in, use that process's own cluster
    (scripts/test.sh starts one per process): its URL, and its folder for the settings tests."""
    urls = os.environ.get("VIGIE_TEST_DATABASE_URLS", "").splitlines()
    worker = getattr(config, "workerinput", {}).get("workerid")
    if worker is None:
        processes = config.getoption("numprocesses", None)
        if urls and isinstance(processes, int) and processes > len(urls):
            raise pytest.UsageError(
                f"{processes} test processes for {len(urls)} cluster(s): set TEST_WORKERS to "
                "the number of processes rather than pass -n to make test"
            )
        return
    number = int(worker.removeprefix("gw"))
    for listed, single in (
        ("VIGIE_TEST_DATABASE_URLS", "DATABASE_URL"),
        ("VIGIE_TEST_CLUSTERS", "VIGIE_TEST_CLUSTER"),
    ):
        if os.environ.get(listed):
            os.environ[single] = os.environ[listed].splitlines()[number]


def server_url():
    url = os.environ.get("DATABASE_URL")
    if not url:
        pytest.exit("DATABASE_URL is not set: run the suite with `make test`", returncode=2)
    return make_url(url)


def create_database(name: str) -> str:
    """Create an empty database beside DATABASE_URL's and return its URL."""
    base = server_url()
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def drop_database(name: str) -> None:
    admin = create_engine(server_url().set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def database_url():
    name = f"vigie_test_{uuid.uuid4().hex[:12]}"
    url = create_database(name)
    migrate.upgrade(url)
    yield url
    drop_database(name)


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    app = create_app(
        Config(
            DATABASE_URL=database_url,
            TESTING=True,
            MEDIA_ROOT=str(tmp_path_factory.mktemp("media")),
            DOWNLOADS_ROOT=str(tmp_path_factory.mktemp("downloads")),
            RATELIMIT_ENABLED=False,
        )
    )
    yield app
    app.extensions["engine"].dispose()


@pytest.fixture(autouse=True)
def isolated(request):
    """Run each test in a transaction rolled back at the end; commits become savepoints.

    Tests that need real commits (threads, sync cursors) ask for `committed` instead.
    """
    if "app" not in request.fixturenames or "committed" in request.fixturenames:
        yield None
        return
    engine = request.getfixturevalue("app").extensions["engine"]
    connection = engine.connect()
    outer = connection.begin()
    session.remove()
    session.configure(bind=connection, join_transaction_mode="create_savepoint")
    yield connection
    session.remove()
    outer.rollback()
    connection.close()
    session.configure(bind=engine)


@pytest.fixture
def committed(app):
    """Let the test commit for real (other connections see it); empty every table after."""
    engine = app.extensions["engine"]
    session.remove()
    session.configure(bind=engine)
    yield engine
    session.remove()
    session.configure(bind=engine)
    with engine.begin() as conn:
        tables = conn.execute(
            text(
                "SELECT string_agg(quote_ident(tablename), ', ') FROM pg_tables "
                "WHERE schemaname = 'public' "
                "AND tablename NOT IN ('spatial_ref_sys', 'alembic_version')"
            )
        ).scalar_one()
        conn.execute(text(f"TRUNCATE {tables} CASCADE"))


def one_request_at_a_time(app):
    """APP answering one request after the other, whichever thread reads it: every request
    shares the test's transaction. Each body is read whole before the next request starts."""
    turn = threading.Lock()

    def serve(environ, start_response):
        with turn:
            response = app(environ, start_response)
            try:
                return [b"".join(response)]
            finally:
                if hasattr(response, "close"):
                    response.close()

    return serve


@pytest.fixture
def live_server(app):
    """The app on a loopback port, a thread per connection but one request at a time. A
    browser opens connections it may use only seconds later (preconnects): on a server of one
    thread, such an idle connection held every other request until the browser dropped it."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, one_request_at_a_time(app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def db(isolated):
    """Run raw SQL on the test's own transaction, to check what was stored."""

    def run(sql: str, **params):
        return isolated.execute(text(sql), params)

    return run


@pytest.fixture(scope="session")
def password_hash():
    """argon2 is slow on purpose: hash the test password once."""
    from service import auth

    return auth.passwords.hash(TEST_PASSWORD)


@pytest.fixture
def make_user(app, password_hash):
    """Create a user with ROLE and a token; returns (user, token)."""
    from service import auth
    from service.models import User

    counter = iter(range(10_000))

    def make(role="contributor", username=None):
        username = username or f"{role}{next(counter)}_{uuid.uuid4().hex[:6]}"
        with app.test_request_context():
            user = User(username=username, role=role, password_hash=password_hash)
            session.add(user)
            session.flush()
            _, token = auth.issue_token(user, "tests")
            session.commit()
        return user, token

    return make


@pytest.fixture
def as_user(app, make_user):
    """A test client authenticated as a new user of ROLE (also returns the user)."""

    def make(role="contributor", username=None):
        user, token = make_user(role, username)
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        client.user = user
        return client

    return make


@pytest.fixture
def moderator(as_user):
    return as_user("moderator")


@pytest.fixture(scope="session")
def s3_endpoint():
    """A real S3-compatible server (moto's) on loopback, with throwaway credentials."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", "vigie-test")
        env.setenv("AWS_SECRET_ACCESS_KEY", "vigie-test-secret")
        env.delenv("AWS_PROFILE", raising=False)
        yield f"http://{host}:{port}"
    server.stop()


def storage_settings(backend: str, tmp_path_factory, request) -> dict:
    """Config overrides that select a photo storage backend with an empty store."""
    if backend == "local":
        return {"MEDIA_ROOT": str(tmp_path_factory.mktemp("media"))}
    import boto3

    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = f"vigie-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    return {"S3_BUCKET": bucket, "S3_ENDPOINT_URL": endpoint, "S3_REGION": "us-east-1"}
