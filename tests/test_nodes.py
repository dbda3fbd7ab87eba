"""Several app nodes on one database: nothing a request needs lives in one node.

Each node here is an app of its own (its own engine, pools, photo store client and memory):
a retry, a cached statistic and a photo reach the other node, and a node configured with
another SECRET_KEY than its database's other nodes refuses to serve rather than answer
differently.
"""

import uuid

import pytest

from service import create_app
from service.config import Config
from tests import images
from tests.conftest import storage_settings
from tests.helpers import PROBLEM, feature

GRID = "/api/v1/stats/grid?bbox=2.34,48.85,2.36,48.86&cell=500"


@pytest.fixture
def make_node(committed, database_url, tmp_path):
    nodes = []

    def make(**settings):
        config = {
            "DATABASE_URL": database_url,
            "TESTING": True,
            "RATELIMIT_ENABLED": False,
            "MEDIA_ROOT": str(tmp_path / f"media-{len(nodes)}"),
        }
        node = create_app(Config(**(config | settings)))
        nodes.append(node)
        return node

    yield make
    for node in nodes:
        node.extensions["engine"].dispose()


def test_a_node_with_another_secret_key_refuses_to_serve(app, make_node):
    assert make_node().test_client().get(GRID).status_code == 200  # sets the database's key
    stranger = make_node(SECRET_KEY=uuid.uuid4().hex)
    refused = stranger.test_client().get(GRID)
    assert refused.status_code == 503
    assert refused.mimetype == PROBLEM and int(refused.headers["Retry-After"]) > 0
    assert make_node(SECRET_KEY=app.config["SECRET_KEY"]).test_client().get(GRID).status_code == 200
    # The key changed on purpose: forgotten once, the next node to serve sets the new one.
    result = stranger.test_cli_runner().invoke(args=["nodes", "forget-secret-key"])
    assert result.exit_code == 0, result.output
    assert stranger.test_client().get(GRID).status_code == 200
    assert make_node().test_client().get(GRID).status_code == 503


def test_a_retry_a_cached_statistic_and_a_photo_reach_the_other_node(
    make_node, make_user, tmp_path_factory, request
):
    store = storage_settings("s3", tmp_path_factory, request)  # photos in S3, shared
    first, second = make_node(**store), make_node(**store)
    _, token = make_user("moderator")
    clients = []
    for node in (first, second):
        client = node.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        clients.append(client)

    # A write retried on the other node gets the first answer, not a second device.
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = feature(2.35, 48.855)
    created = clients[0].post("/api/v1/devices?force=true", json=body, headers=key)
    assert created.status_code == 201
    retried = clients[1].post("/api/v1/devices?force=true", json=body, headers=key)
    assert retried.status_code == 201 and retried.headers["Idempotent-Replayed"] == "true"
    assert retried.get_json()["id"] == created.get_json()["id"]

    # Statistics computed on one node are the other's cache hit.
    assert clients[0].get(GRID).headers["X-Cache"] == "miss"
    assert clients[1].get(GRID).headers["X-Cache"] == "hit"

    # A photo sent to one node is served by the other.
    photo = images.uploaded(clients[0], images.plain_photo())
    response, data = images.fetch(clients[1], photo["full"])
    assert response.status_code in (200, 302) and data.startswith(b"\xff\xd8")

    # A sync cursor of one node goes on at the other.
    page = clients[0].get("/api/v1/sync?limit=1").get_json()
    rest = clients[1].get(f"/api/v1/sync?since={page['next_cursor']}").get_json()
    assert {f["id"] for f in page["features"] + rest["features"]} == {created.get_json()["id"]}


def test_without_secret_key_every_process_of_a_node_shares_the_one_kept_on_disk(tmp_path):
    """Workers starting together link their key into place: one wins, all read it. A key that
    exists but cannot be read stops the start, where a key of each process's own would make the
    node refuse to serve half its requests."""
    from concurrent.futures import ThreadPoolExecutor

    from service.config import local_secret_key

    path = tmp_path / "var" / "secret_key"
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: local_secret_key(path), range(16)))
    assert len(keys) == 1 and len(keys.pop()) == 64
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["secret_key"]
    unreadable = tmp_path / "unreadable"
    unreadable.mkdir()  # reading a folder fails as a file without permission does
    with pytest.raises(SystemExit, match=r"cannot be read.*set SECRET_KEY"):
        local_secret_key(unreadable)
    empty = tmp_path / "empty"
    empty.write_text("")
    with pytest.raises(SystemExit, match="is empty"):
        local_secret_key(empty)
