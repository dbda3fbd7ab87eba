"""scripts/deployment.sh: the layout of docs/deployment.md, started and stopped on this machine."""

import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import boto3
import pytest
from sqlalchemy import create_engine, text

from service.config import PROJECT_DIR
from tests.helpers import feature
from tests.images import plain_photo
from tests.server import Client, free_port
from tests.test_varnish import PARIS, tile

SCRIPT = PROJECT_DIR / "scripts" / "deployment.sh"
FLASK = PROJECT_DIR / ".venv" / "bin" / "flask"


def multipart(name: str, filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = secrets.token_hex(16)
    head = f'Content-Disposition: form-data; name="{name}"; filename="{filename}"'
    body = f"--{boundary}\r\n{head}\r\nContent-Type: image/jpeg\r\n\r\n".encode()
    return (
        body + data + f"\r\n--{boundary}--\r\n".encode(),
        f"multipart/form-data; boundary={boundary}",
    )


def replica_count(deploy_dir) -> int:
    """Devices the replica has replayed."""
    engine = create_engine(f"postgresql+psycopg://vigie@/vigie?host={deploy_dir}/replica/run")
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT count(*) FROM devices")).scalar_one()
    finally:
        engine.dispose()


@pytest.fixture
def deploy_dir():
    """A folder the clusters' owner can reach: pytest resets its own base folder to 0700."""
    path = Path(tempfile.mkdtemp(prefix="vigie-deployment-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_the_script_starts_two_nodes_a_replica_redis_a_store_and_a_cache(deploy_dir):
    environment = {
        **os.environ,
        "DEPLOY_DIR": str(deploy_dir),
        "CACHE_PORT": str(free_port()),
        "NODE_PORTS": f"{free_port()} {free_port()}",
        "REDIS_PORT": str(free_port()),
        "S3_PORT": str(free_port()),
        "DEFAULT_DISTRICTS": "",
    }
    for name in ("DATABASE_URL", "DATABASE_REPLICA_URLS", "REDIS_URL", "S3_BUCKET"):
        environment.pop(name, None)
    cache = int(environment["CACHE_PORT"])
    try:
        subprocess.run([SCRIPT, "start"], env=environment, check=True, timeout=300)
        status = subprocess.run(
            [SCRIPT, "status"], env=environment, capture_output=True, text=True, check=True
        ).stdout
        assert status.count(" answers") == 3 and "streaming" in status, status

        # An administrator, made on the primary by the operator's command.
        password = secrets.token_urlsafe(24)
        node_environment = {
            **environment,
            "DATABASE_URL": f"postgresql+psycopg://vigie@/vigie?host={deploy_dir}/primary/run",
        }
        subprocess.run(
            [FLASK, "--app", "wsgi", "users", "create-admin", "operator", "--password", password],
            env=node_environment,
            cwd=PROJECT_DIR,
            check=True,
            capture_output=True,
        )
        status, _, body = Client(cache).send(
            "/api/v1/auth/tokens", "POST", {"username": "operator", "password": password}
        )
        assert status == 201, body
        admin = Client(cache, json.loads(body)["token"])

        status, _, body = admin.send("/api/v1/devices?force=true", "POST", feature(*PARIS))
        assert status == 201, body
        device_id = json.loads(body)["id"]
        reader = Client(cache)
        assert reader.hit(tile(PARIS, 15))[:2] == (False, 200)
        assert reader.hit(tile(PARIS, 15))[:2] == (True, 200)

        # The photo goes to the S3-compatible store, the device to the replica too.
        data, content_type = multipart("file", "p.jpg", plain_photo())
        request_status, _, body = admin.send(
            f"/api/v1/devices/{device_id}/photos", "POST", (data, content_type)
        )
        assert request_status == 201, body
        s3 = boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{environment['S3_PORT']}",
            region_name="us-east-1",
            aws_access_key_id="vigie",
            aws_secret_access_key="vigie-secret",
        )
        assert s3.list_objects_v2(Bucket="vigie-photos")["KeyCount"] == 3  # the renditions
        deadline = time.monotonic() + 30
        while replica_count(deploy_dir) != 1:
            assert time.monotonic() < deadline, "the replica did not replay the new device"
            time.sleep(0.2)
    finally:
        subprocess.run([SCRIPT, "stop"], env=environment, check=True, timeout=120)
    for name in ("varnish", "redis", "s3"):
        assert not (deploy_dir / f"{name}.pid").exists()
