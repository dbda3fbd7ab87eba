"""A private primary and a real streaming replica of it (pg_basebackup), shared by the session.

Apps of these tests read the replica as DATABASE_REPLICA_URLS says; their writes commit for
real (a replica only sees what the primary commits), and every table is emptied after each test.
"""

import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from service import create_app, migrate
from service.config import Config
from service.db import session
from tests.clusters import cluster_folder, start_cluster, start_replica, stop_cluster

CATCH_UP_S = 60  # the longest a replica may take to replay what the tests wrote
PASSPHRASE = "correct horse battery staple of the night watch"


@dataclass
class Replication:
    primary_dir: Path
    replica_dir: Path
    primary_url: str
    replica_url: str

    def __post_init__(self):
        self.primary = create_engine(self.primary_url, poolclass=NullPool)

    def replica_sql(self, sql: str):
        engine = create_engine(self.replica_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                return connection.execute(text(sql)).scalar()
        finally:
            engine.dispose()

    def primary_sql(self, sql: str, **values):
        with self.primary.begin() as connection:
            result = connection.execute(text(sql), values)
            return result.scalar() if result.returns_rows else None

    def pause(self) -> None:
        self.replica_sql("SELECT pg_wal_replay_pause()")
        deadline = time.monotonic() + CATCH_UP_S
        while self.replica_sql("SELECT pg_get_wal_replay_pause_state()") != "paused":
            assert time.monotonic() < deadline, "the replica's replay did not pause"
            time.sleep(0.02)

    def resume(self) -> None:
        self.replica_sql("SELECT pg_wal_replay_resume()")

    def catch_up(self) -> None:
        """Wait until the replica has replayed everything the primary has flushed."""
        target = self.primary_sql("SELECT pg_current_wal_flush_lsn()::text")
        deadline = time.monotonic() + CATCH_UP_S
        while not self.replica_sql(
            f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"  # an LSN read above
        ):
            assert time.monotonic() < deadline, "the replica did not catch up"
            time.sleep(0.02)

    def stop_replica(self) -> None:
        stop_cluster(self.replica_dir)

    def start_replica(self) -> None:
        start_replica(self.primary_dir, self.replica_dir)


@pytest.fixture(scope="session")
def replication():
    with cluster_folder("replication") as root:
        primary_dir, replica_dir = root / "primary", root / "replica"
        primary_url = start_cluster(primary_dir)
        migrate.upgrade(primary_url)
        replica_url = start_replica(primary_dir, replica_dir)
        pair = Replication(primary_dir, replica_dir, primary_url, replica_url)
        yield pair
        pair.primary.dispose()
        stop_cluster(replica_dir)
        stop_cluster(primary_dir)


@pytest.fixture
def replicated_app(replication, tmp_path):
    """make(**settings): an app on the primary and its replica, checked at every request
    unless the settings say otherwise."""
    apps = []

    def make(**settings):
        config = {
            "DATABASE_URL": replication.primary_url,
            "DATABASE_REPLICA_URLS": replication.replica_url,
            "TESTING": True,
            "MEDIA_ROOT": str(tmp_path / "media"),
            "RATELIMIT_ENABLED": False,
            "REPLICA_CHECK_SECONDS": 0.0,
            "REPLICA_MAX_LAG_SECONDS": 3600.0,
        }
        app = create_app(Config(**(config | settings)))
        apps.append(app)
        return app

    yield make
    session.remove()
    for app in apps:
        app.extensions["engine"].dispose()
        for replica in app.extensions["replicas"].replicas:
            replica.engine.dispose()
    with replication.primary.begin() as connection:
        tables = connection.execute(
            text(
                "SELECT string_agg(quote_ident(tablename), ', ') FROM pg_tables "
                "WHERE schemaname = 'public' "
                "AND tablename NOT IN ('spatial_ref_sys', 'alembic_version')"
            )
        ).scalar_one()
        connection.execute(text(f"TRUNCATE {tables} CASCADE"))


def contributor(app):
    """A test client of a new contributor (registered through the API), with its token."""
    client = app.test_client()
    account = {"username": f"c_{uuid.uuid4().hex[:10]}", "password": PASSPHRASE}
    assert client.post("/api/v1/auth/register", json=account).status_code == 201
    answer = client.post("/api/v1/auth/tokens", json=account)
    assert answer.status_code == 201, answer.get_json()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {answer.get_json()['token']}"
    client.position = answer.headers["Vigie-WAL-Position"]
    client.username = account["username"]
    return client


def public_device(replication, lon: float, lat: float, notes: str = "") -> str:
    """An approved device written straight to the primary; its id."""
    device_id = str(uuid.uuid4())
    replication.primary_sql(
        "INSERT INTO devices (id, geom, kind, review_status, notes) "
        "VALUES (:id, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 'camera', 'approved', :notes)",
        id=device_id,
        lon=lon,
        lat=lat,
        notes=notes,
    )
    return device_id
