"""A token of the database's data history, which a restore renews.

Downloads are kept on each node's disk under the statistics' data version (a count and the
largest id of the changes). A database created anew, or restored from a backup, counts its
versions again from where it starts: a file kept for the same version of another history would
be served for this one, under a strong ETag. The token names this history: a new database gets
its own here, and `flask backup restore` renews it.

Revision ID: 0040
Revises: 0039
Create Date: 2026-12-07 11:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0040"
down_revision: str | Sequence[str] | None = "0039"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "INSERT INTO shared_settings (name, value) "
        "VALUES ('data_lineage', gen_random_uuid()::text) ON CONFLICT (name) DO NOTHING"
    )


def downgrade() -> None:
    op.execute("DELETE FROM shared_settings WHERE name = 'data_lineage'")
