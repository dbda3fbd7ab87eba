"""When a row loaded in bulk last changed, kept past the service's own writes.

A row loaded in bulk (no revision) marked `removed` was still there before its last change
(`updated_at`) and removed from then on, as the statistics at a date count it. The service's
writes set `updated_at` anew, and that moment was lost: the device then counted as still there
at every date before them. Two columns keep it:

- `devices.bulk_changed_at`: the row's `updated_at` before the service first changed it (a vote,
  a photo, any edit: Device.touch). A change of status made outside the service (SQL, an
  import) dates the status anew: a trigger clears the column, `updated_at` then says when.
- `device_revisions.found_changed_at`: on the revisions up to the first public one, when the row
  last changed before them, since an edit of the status dates it anew too.

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
    op.execute("ALTER TABLE devices ADD COLUMN bulk_changed_at timestamptz")
    op.execute("ALTER TABLE device_revisions ADD COLUMN found_changed_at timestamptz")
    op.execute(
        """
        CREATE FUNCTION vigie_status_dated_anew() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.bulk_changed_at := NULL;
            RETURN NEW;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER devices_status_dated_anew BEFORE UPDATE OF status ON devices "
        "FOR EACH ROW WHEN (NEW.status IS DISTINCT FROM OLD.status "
        "AND NEW.bulk_changed_at IS NOT NULL) EXECUTE FUNCTION vigie_status_dated_anew()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER devices_status_dated_anew ON devices")
    op.execute("DROP FUNCTION vigie_status_dated_anew()")
    op.execute("ALTER TABLE device_revisions DROP COLUMN found_changed_at")
    op.execute("ALTER TABLE devices DROP COLUMN bulk_changed_at")
