"""When a row loaded in bulk last changed, kept by its first revision.

A row loaded in bulk (no revision) marked `removed` was still there before its last change
(`updated_at`) and removed from then on, as the statistics at a date count it. Its first edit
sets `updated_at` anew: without this column, that moment was lost, and the device counted as
still there at every date before the edit.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-06 01:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0031"
down_revision: str | Sequence[str] | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE device_revisions ADD COLUMN found_changed_at timestamptz")


def downgrade() -> None:
    op.execute("ALTER TABLE device_revisions DROP COLUMN found_changed_at")
