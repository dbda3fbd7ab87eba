"""Devices: whether a device has photos, kept by a trigger on photos.

A page of 1000 Features looked up each device's photos: a thousand index probes, about 40 %
of what PostgreSQL spent on the page, when most devices have none. `has_photos` lets readers
skip the lookup for those. Attaching, moving (merge) or deleting a photo updates the flag of
its devices, which also marks them changed for syncing phones: their Features changed.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "devices",
        sa.Column("has_photos", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.execute("""
        CREATE FUNCTION photos_flag_devices() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            touched uuid[] := ARRAY[]::uuid[];
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') THEN
                touched := touched || OLD.device_id;
            END IF;
            IF TG_OP IN ('UPDATE', 'INSERT') THEN
                touched := touched || NEW.device_id;
            END IF;
            UPDATE devices
            SET has_photos = EXISTS (SELECT FROM photos WHERE photos.device_id = devices.id)
            WHERE devices.id = ANY (touched);
            RETURN NULL;
        END $$
    """)
    op.execute("""
        CREATE TRIGGER photos_flag_devices
        AFTER INSERT OR DELETE OR UPDATE OF device_id ON photos
        FOR EACH ROW EXECUTE FUNCTION photos_flag_devices()
    """)
    # The existing photos, without making their devices look changed to syncing clients.
    op.execute("ALTER TABLE devices DISABLE TRIGGER devices_stamp_change")
    op.execute(
        "UPDATE devices SET has_photos = true "
        "WHERE id IN (SELECT device_id FROM photos WHERE device_id IS NOT NULL)"
    )
    op.execute("ALTER TABLE devices ENABLE TRIGGER devices_stamp_change")


def downgrade() -> None:
    op.execute("DROP TRIGGER photos_flag_devices ON photos")
    op.execute("DROP FUNCTION photos_flag_devices()")
    op.drop_column("devices", "has_photos")
