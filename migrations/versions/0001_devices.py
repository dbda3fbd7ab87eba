"""Devices: surveillance devices pinned by contributors, with tombstones.

Revision ID: 0001
Revises:
Create Date: 2026-11-28 21:32:37.825590
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_geospatial_table(
        "devices",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("camera_type", sa.String(length=16), nullable=True),
        sa.Column("mount", sa.String(length=16), nullable=True),
        sa.Column("direction", sa.ARRAY(sa.SmallInteger()), nullable=True),
        sa.Column("angle", sa.Float(), nullable=True),
        sa.Column("height", sa.Float(), nullable=True),
        sa.Column("zone", sa.String(length=16), nullable=True),
        sa.Column("surveillance", sa.String(length=16), nullable=True),
        sa.Column("operator", sa.String(length=255), nullable=True),
        sa.Column("operator_type", sa.String(length=16), server_default="unknown", nullable=False),
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=2048), nullable=True),
        sa.Column(
            "tags",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column("review_status", sa.String(length=16), server_default="approved", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(
            "camera_type IN ('fixed', 'dome', 'panning')", name="camera_type_allowed"
        ),
        sa.CheckConstraint(
            "kind IN ('camera', 'alpr', 'facial_recognition', 'microphone', 'gunshot_detector', 'sensor')",
            name="kind_allowed",
        ),
        sa.CheckConstraint(
            "mount IN ('wall', 'pole', 'ceiling', 'street_lamp', 'other')", name="mount_allowed"
        ),
        sa.CheckConstraint(
            "operator_type IN ('public', 'private', 'unknown')", name="operator_type_allowed"
        ),
        sa.CheckConstraint(
            "review_status IN ('pending', 'approved', 'rejected')", name="review_status_allowed"
        ),
        sa.CheckConstraint(
            "status IN ('active', 'planned', 'removed', 'unknown')", name="status_allowed"
        ),
        sa.CheckConstraint(
            "surveillance IN ('public', 'outdoor', 'indoor')", name="surveillance_allowed"
        ),
        sa.CheckConstraint(
            "zone IN ('town', 'traffic', 'parking', 'shop', 'transit', 'building', 'other')",
            name="zone_allowed",
        ),
        sa.CheckConstraint("0 <= ALL(direction) AND 359 >= ALL(direction)", name="direction_range"),
        sa.CheckConstraint("accuracy_m >= 0", name="accuracy_positive"),
        sa.CheckConstraint("angle > 0 AND angle <= 360", name="angle_range"),
        sa.CheckConstraint("height >= 0 AND height <= 500", name="height_range"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_geospatial_index(
        "devices_geom_idx",
        "devices",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index("devices_updated_at_idx", "devices", ["updated_at"], unique=False)


def downgrade() -> None:
    op.drop_index("devices_updated_at_idx", table_name="devices")
    op.drop_geospatial_index(
        "devices_geom_idx",
        table_name="devices",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("devices")
