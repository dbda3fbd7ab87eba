"""Photos: one that a new contributor adds to a public pin waits for a moderator.

A new contributor's pins wait for a moderator, and their photos with them. A photo given as
evidence with a vote on a pin already public went public at once: registering was enough to
put any image on the map. Such a photo is now `pending`, seen by its uploader and moderators
only and listed in no Feature, until a moderator approves it (a rejected one is deleted).
The photos already stored stay approved.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-05 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | Sequence[str] | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "photos",
        sa.Column("review_status", sa.String(16), nullable=False, server_default="approved"),
    )
    op.create_check_constraint(
        "photo_review_status", "photos", "review_status IN ('approved', 'pending')"
    )
    # The moderators' queue of photos, oldest first.
    op.create_index(
        "photos_pending_idx",
        "photos",
        ["created_at", "id"],
        postgresql_where=sa.text("review_status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("photos_pending_idx", table_name="photos")
    op.drop_constraint("photo_review_status", "photos", type_="check")
    op.drop_column("photos", "review_status")
