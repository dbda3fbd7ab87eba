"""Photos: one that a new contributor adds to a public pin waits for a moderator.

A new contributor's pins wait for a moderator, and their photos with them. A photo given as
evidence with a vote on a pin already public went public at once: registering was enough to
put any image on the map. Such a photo is now `pending`, seen by its uploader and moderators
only and listed in no Feature, until a moderator approves it (a rejected one is deleted).
The photos already stored stay approved.

Nothing about the device may change when such a photo comes or goes, or a reader polling it
(its ETag, the sync feed) would learn when a new contributor stood before the camera: the flag
`has_photos` (migration 0011) now says whether the device has approved photos, which are all
its Feature lists, and its trigger writes the device only when the flag changes (it rewrote
it, with a new transaction stamp, at every photo).

A device's photos are listed in the order they were listed (`listed_at`: attached approved, or
approved later), no longer by upload time, which would place a photo approved late among the
others by when it was taken. The photos already stored were listed when uploaded.

Going back deletes the photos still awaiting review (never public: `flask photos
clean-orphans --files` then removes their files) rather than publish them.

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


def flag_function(update: str) -> str:
    """photos_flag_devices, writing the devices its photo row touched with UPDATE."""
    return f"""
CREATE OR REPLACE FUNCTION photos_flag_devices() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    touched uuid[] := ARRAY[]::uuid[];
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        touched := touched || OLD.device_id;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        touched := touched || NEW.device_id;
    END IF;
    {update};
    RETURN NULL;
END $$
"""


FLAG_FUNCTION = flag_function("""UPDATE devices SET has_photos = NOT has_photos
    WHERE devices.id = ANY (touched)
      AND has_photos IS DISTINCT FROM EXISTS (
          SELECT FROM photos
          WHERE photos.device_id = devices.id AND photos.review_status = 'approved')""")
# Migration 0011's, which this one replaces.
FLAG_FUNCTION_0011 = flag_function("""UPDATE devices
    SET has_photos = EXISTS (SELECT FROM photos WHERE photos.device_id = devices.id)
    WHERE devices.id = ANY (touched)""")


def flag_trigger(columns: str) -> None:
    op.execute("DROP TRIGGER photos_flag_devices ON photos")
    op.execute(f"""
        CREATE TRIGGER photos_flag_devices
        AFTER INSERT OR DELETE OR UPDATE OF {columns} ON photos
        FOR EACH ROW EXECUTE FUNCTION photos_flag_devices()
    """)


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
    op.execute(FLAG_FUNCTION)
    flag_trigger("device_id, review_status")
    op.add_column("photos", sa.Column("listed_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE photos SET listed_at = created_at WHERE device_id IS NOT NULL")
    device_index("listed_at")


def device_index(order: str) -> None:
    op.drop_index("photos_device_idx", table_name="photos")
    op.create_index("photos_device_idx", "photos", ["device_id", order, "id"])


def downgrade() -> None:
    op.execute("DELETE FROM photos WHERE review_status = 'pending'")
    device_index("created_at")
    op.drop_column("photos", "listed_at")
    op.execute(FLAG_FUNCTION_0011)
    flag_trigger("device_id")
    op.drop_index("photos_pending_idx", table_name="photos")
    op.drop_constraint("photo_review_status", "photos", type_="check")
    op.drop_column("photos", "review_status")
