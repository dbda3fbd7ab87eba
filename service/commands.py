"""The base of every command group: an expected failure ends in one line, not a traceback."""

import click
from alembic.util.exc import CommandError
from botocore.exceptions import BotoCoreError, ClientError
from flask.cli import AppGroup

from .extensions import DATABASE_UNAVAILABLE


class CommandGroup(AppGroup):
    """An AppGroup whose commands, run by hand or from cron, end an expected failure (the
    database or the S3 photo store out of reach, a file or folder that cannot be used, a
    migration that does not exist) with one line saying it, instead of a traceback cron would
    mail."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except DATABASE_UNAVAILABLE as error:
            reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
            raise click.ClickException(f"the database refused: {reason}") from None
        except CommandError as error:
            raise click.ClickException(str(error)) from None
        except (BotoCoreError, ClientError) as error:
            raise click.ClickException(f"the photo store refused: {error}") from None
        except OSError as error:
            where = f": {error.filename}" if error.filename else ""
            raise click.ClickException(f"{error.strerror or error}{where}") from None
