"""Operator commands: `flask db ...` (and the commands of each feature)."""

import click
from flask import current_app
from marshmallow import ValidationError

from . import auth, community, idempotency, migrate
from .api.accounts.schemas import NEW_PASSWORD, USERNAME
from .backups.cli import backup_cli
from .commands import CommandGroup
from .db import session
from .exports.cli import export_cli
from .models import User
from .nodes import nodes_cli
from .osm.cli import osm_cli
from .photos.cli import photos_cli
from .varnish import cache_cli

db_cli = CommandGroup("db", help="Database schema migrations (Alembic).")
users_cli = CommandGroup("users", help="Accounts.")
idempotency_cli = CommandGroup("idempotency", help="Stored answers of idempotent writes.")
community_cli = CommandGroup("community", help="Votes and verification levels.")


@users_cli.command("create-admin")
@click.argument("name")
@click.password_option(prompt="Password", confirmation_prompt="Repeat the password")
def create_admin(name, password):
    """Create the account NAME with the admin role (the password is asked twice)."""
    try:
        USERNAME(name)  # as the API takes names: the admin API reaches no other
    except ValidationError as error:
        raise click.BadParameter(" ".join(error.messages), param_hint="name") from None
    check_new_password(password, name)
    if auth.username_taken(name):
        raise click.ClickException(f"the name {name} is taken (or reserved after a deletion)")
    session.add(User(username=name, role="admin", password_hash=auth.passwords.hash(password)))
    session.commit()
    click.echo(f"admin {name} created")


@users_cli.command("reset-password")
@click.argument("name")
@click.password_option(prompt="New password", confirmation_prompt="Repeat the password")
def reset_password(name, password):
    """Give the account NAME a new password (asked twice) and revoke its tokens: for its owner
    who lost theirs, once they have shown it is theirs (by the email they gave, say)."""
    user = auth.find_user(name)
    if user is None:
        raise click.ClickException(f"no account is called {name}")
    check_new_password(password, name, user.email)
    auth.set_password(user, password)
    session.commit()
    click.echo(f"{name} has a new password; every token of theirs is revoked")


def check_new_password(password: str, name: str, email: str | None = None) -> None:
    """The API's rule for a new password: one it would refuse at login is never set."""
    try:
        NEW_PASSWORD(password)
    except ValidationError as error:
        raise click.BadParameter(" ".join(error.messages), param_hint="password") from None
    weakness = auth.weak_password_reason(password, name, email)
    if weakness:
        raise click.BadParameter(weakness, param_hint="password")


@idempotency_cli.command("purge")
# At most ten thousand years: a timedelta holds no more.
@click.option(
    "--older-than-hours", default=48, show_default=True, type=click.IntRange(1, 87_600_000)
)
def purge_idempotency(older_than_hours):
    """Forget stored answers older than the given age (run it from cron)."""
    click.echo(f"{idempotency.purge(older_than_hours)} stored answers purged")


@community_cli.command("expire-disputes")
def expire_disputes():
    """Settle the disputes whose `not_found` votes are all older than 90 days (run it daily)."""
    click.echo(f"{community.expire_disputes()} disputes settled")


@db_cli.command("upgrade")
@click.argument("revision", default="heads")
def db_upgrade(revision):
    """Apply migrations up to REVISION (default: the latest)."""
    migrate.upgrade(current_app.config["DATABASE_URL"], revision)


@db_cli.command("downgrade")
@click.argument("revision")
@click.confirmation_option(
    prompt="Reverting migrations drops what they created, data included. Go on?",
    help="Revert without asking (scripts).",
)
def db_downgrade(revision):
    """Revert migrations down to REVISION (`base` empties the schema: every table and its
    data). Asks first; --yes does not."""
    migrate.downgrade(current_app.config["DATABASE_URL"], revision)


def init_app(app) -> None:
    from geodata.cli import geodata_cli
    from geodata.declared_cli import declared_cli

    for group in (
        db_cli,
        users_cli,
        idempotency_cli,
        community_cli,
        geodata_cli,
        declared_cli,
        photos_cli,
        osm_cli,
        backup_cli,
        export_cli,
        nodes_cli,
        cache_cli,
    ):
        app.cli.add_command(group)
