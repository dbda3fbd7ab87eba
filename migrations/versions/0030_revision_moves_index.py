"""An index of the revisions that moved a device, which sync and the statistics at a date read.

Sync now also sends a box's phones the devices a move took out of it (their old position is in
the revision that moved them): without this index, each sync with a box would read every
revision to find the few moves.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-06 00:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0030"
down_revision: str | Sequence[str] | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX device_revisions_moves_idx ON device_revisions (device_id) "
        "WHERE action <> 'create' AND changes ? 'geometry'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX device_revisions_moves_idx")
