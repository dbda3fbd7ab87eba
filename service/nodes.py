"""What the nodes serving one database must share, checked by each node before it serves.

Nodes keep nothing a request needs: accounts, idempotency records, cached statistics and photos
live in PostgreSQL and the photo store, rate limits in Redis, sync cursors in the client's hands
(docs/replicas.md). What they must agree on is SECRET_KEY: idempotency fingerprints, reserved
pseudonyms and the keys of rate limits are HMACs made with it. Two nodes with different keys
would refuse each other's retries and free each other's reserved pseudonyms, so a node whose key
is not the one the database has seen refuses to serve.
"""

import hashlib
import hmac
import logging

import click
from flask import current_app
from psycopg.errors import UndefinedTable
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from .commands import CommandGroup
from .errors import ServiceError

log = logging.getLogger(__name__)
FINGERPRINT = "secret_key_fingerprint"
# The first node stores its fingerprint; every later one reads the stored one.
STORE_OR_READ = text(
    "INSERT INTO shared_settings (name, value) VALUES (:name, :value) "
    "ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING value"
)


class SecretKeyMismatch(ServiceError):
    status, slug = 503, "misconfigured-node"


def secret_key_fingerprint(key: str) -> str:
    """An HMAC made with the key: tells keys apart without revealing them."""
    return hmac.new(
        key.encode(), b"vigie: one SECRET_KEY for every node", hashlib.sha256
    ).hexdigest()


def same_secret_key(app) -> bool | None:
    """Whether the node's SECRET_KEY is the database's (the first node to ask sets it); None
    when the database cannot tell (unreachable, or not migrated yet)."""
    fingerprint = secret_key_fingerprint(app.config["SECRET_KEY"])
    try:
        with app.extensions["engine"].begin() as connection:
            stored = connection.execute(
                STORE_OR_READ, {"name": FINGERPRINT, "value": fingerprint}
            ).scalar_one()
    except SQLAlchemyError as error:
        if not isinstance(getattr(error, "orig", None), UndefinedTable):
            log.warning("SECRET_KEY not compared with other nodes' yet: %s", error)
        return None
    return stored == fingerprint


def init_app(app) -> None:
    """Until a node has found its SECRET_KEY to be the database's, each request checks it; a
    node with another key answers 503 to every request (a load balancer moves on)."""
    checked = False

    @app.before_request
    def check_secret_key():
        nonlocal checked
        if checked:
            return
        same = same_secret_key(app)
        if same is False:
            log.error(
                "SECRET_KEY differs from the one the other nodes of this database use: give "
                "every node the same SECRET_KEY (after changing it on purpose everywhere, run "
                "`flask nodes forget-secret-key` once)"
            )
            raise SecretKeyMismatch(
                "This server is misconfigured; retry shortly.",
                headers={"Retry-After": "10"},
            )
        checked = same is True


nodes_cli = CommandGroup("nodes", help="What the nodes serving one database share.")


@nodes_cli.command("forget-secret-key")
def forget_secret_key():
    """Let the next node to serve a request set SECRET_KEY (after changing it on every node)."""
    with current_app.extensions["engine"].begin() as connection:
        connection.execute(
            text("DELETE FROM shared_settings WHERE name = :name"), {"name": FINGERPRINT}
        )
    click.echo("the SECRET_KEY fingerprint is forgotten: the next node to serve sets it")
