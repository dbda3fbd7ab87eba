"""Devices: when a pin was first published, so that sync can withdraw it from phones later.

A pin approved, then rejected on a second review, left the public selection without a trace:
phones that had synced it kept it. `published_at` is set by a trigger the first time a row is
approved and never cleared; sync sends such a pin, once it is no longer public, as a
withdrawal (a tombstone without its content). Existing rows take the time of their first
approved revision, else their creation time if approved now.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("devices", sa.Column("published_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("""
        CREATE FUNCTION devices_mark_published() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.review_status = 'approved' AND NEW.published_at IS NULL THEN
                NEW.published_at := now();
            END IF;
            RETURN NEW;
        END $$
    """)
    op.execute("""
        CREATE TRIGGER devices_mark_published BEFORE INSERT OR UPDATE ON devices
        FOR EACH ROW EXECUTE FUNCTION devices_mark_published()
    """)
    # Fill the existing rows without making them look changed to syncing clients (nor
    # rewriting their stored Features, which do not hold this column).
    for trigger in ("devices_stamp_change", "devices_write_feature", "devices_mark_published"):
        op.execute(f"ALTER TABLE devices DISABLE TRIGGER {trigger}")
    op.execute("""
        UPDATE devices d SET published_at = coalesce(
            (SELECT min(r.created_at) FROM device_revisions r
             WHERE r.device_id = d.id AND r.snapshot ->> 'review_status' = 'approved'),
            CASE WHEN d.review_status = 'approved' THEN d.created_at END)
        WHERE d.review_status = 'approved'
           OR EXISTS (SELECT 1 FROM device_revisions r
                      WHERE r.device_id = d.id AND r.snapshot ->> 'review_status' = 'approved')
    """)
    for trigger in ("devices_stamp_change", "devices_write_feature", "devices_mark_published"):
        op.execute(f"ALTER TABLE devices ENABLE TRIGGER {trigger}")


def downgrade() -> None:
    op.execute("DROP TRIGGER devices_mark_published ON devices")
    op.execute("DROP FUNCTION devices_mark_published()")
    op.drop_column("devices", "published_at")
