"""Idempotency: stored answers no longer keep a photo's position and time, or pseudonyms.

The answer to a write sent with an Idempotency-Key was kept whole for its retries (48 hours,
or until `flask idempotency purge`): a photo upload's answer holds the position and time read
from the photo (which docs/photos.md promises are never stored), a registration's the new
pseudonym under a keyed hash of its client's address, and an account deletion's sat under the
deleted account's id. Such answers are no longer kept (service/idempotency.py); this migration
deletes those already kept. Nothing to restore on downgrade.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05 01:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0023"
down_revision: str | Sequence[str] | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Bodies are bytes: searched as bytes, whatever they hold.
    op.execute(
        """
        DELETE FROM idempotent_requests
        WHERE position(convert_to('"suggested_location"', 'UTF8') IN coalesce(body, ''::bytea)) > 0
           OR position(convert_to('"taken_at"', 'UTF8') IN coalesce(body, ''::bytea)) > 0
           OR position(convert_to('"username"', 'UTF8') IN coalesce(body, ''::bytea)) > 0
           OR scope NOT IN (SELECT id::text FROM users)
        """
    )


def downgrade() -> None:
    pass
