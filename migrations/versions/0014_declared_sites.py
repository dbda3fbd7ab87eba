"""Declared versus observed: official lists of camera sites, and which devices match them.

`declared_datasets` holds one published list (its provenance and the matching distance),
`declared_versions` each imported file of it (SHA-256, what was added, removed and changed),
`declared_sites` its sites, and `declared_matches` the pairs (site, observed device) within the
dataset's distance with a compatible kind. A trigger on devices keeps the pairs of one device
current on every write that moves it, changes its kind or its visibility, and forgets it when it is
deleted: only the sites near its old and new position are touched, in the writing transaction.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 17:00:00
"""

from collections.abc import Sequence

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A box around GEOM holding every point within METRES of it (with 5 % to spare): the GiST
# indexes of devices and sites answer it; ST_DWithin on geography then measures exactly.
REACH_FUNCTION = """
CREATE FUNCTION vigie_declared_reach(geom geometry, metres double precision)
RETURNS geometry LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ST_Expand(
        geom,
        metres * 1.05 / (111320.0 * greatest(cos(radians(ST_Y(geom))), 0.01)),
        metres * 1.05 / 110574.0
    )
$$
"""

# Which devices can be found on the ground: public (approved), not deleted, merged or removed.
OBSERVED = """
    {row}.review_status = 'approved' AND {row}.deleted_at IS NULL AND {row}.merged_into IS NULL
    AND {row}.status <> 'removed' AND {row}.verification <> 'removed'
"""

# Distances on a sphere of the Earth's mean radius (use_spheroid false): at 50 m, a few
# centimetres from the spheroid's, for a fraction of the cost.
MATCH_DEVICE_FUNCTION = f"""
CREATE FUNCTION vigie_declared_match_device() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    reach double precision;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM declared_matches WHERE device_id = OLD.id;
        IF TG_OP = 'DELETE' THEN
            RETURN NULL;
        END IF;
    END IF;
    IF {OBSERVED.format(row="NEW")} THEN
        SELECT max(match_distance_m) INTO reach FROM declared_datasets;
        IF reach IS NOT NULL THEN
            INSERT INTO declared_matches (site_id, device_id, distance_m)
            SELECT s.id, NEW.id, ST_Distance(s.geom::geography, NEW.geom::geography, false)
            FROM declared_sites s JOIN declared_datasets ds ON ds.id = s.dataset_id
            WHERE s.geom && vigie_declared_reach(NEW.geom, reach)
              AND NEW.kind = ANY (s.compatible_kinds)
              AND ST_DWithin(s.geom::geography, NEW.geom::geography, ds.match_distance_m, false);
        END IF;
    END IF;
    RETURN NULL;
END
$$
"""

# Matches change with a device write (which bumps already) or with an import (which writes sites).
BUMPING_TABLES = ("declared_sites",)

# Columns whose change can make or break a match.
MATCHED_COLUMNS = ("geom", "kind", "status", "verification", "review_status", "deleted_at")


def upgrade() -> None:
    op.create_table(
        "declared_datasets",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("publisher", sa.Text(), nullable=False),
        sa.Column("published_on", sa.Date(), nullable=True),
        sa.Column("source_url", sa.Text(), nullable=True),
        sa.Column("licence", sa.Text(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("match_distance_m", sa.Float(), nullable=False),
        sa.Column(
            "imported_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "match_distance_m > 0 AND match_distance_m <= 1000", name="match_distance_range"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", name="declared_datasets_name_key"),
    )
    op.create_table(
        "declared_versions",
        sa.Column("dataset_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("publisher", sa.Text(), nullable=False),
        sa.Column("published_on", sa.Date(), nullable=True),
        sa.Column("source_url", sa.Text(), nullable=True),
        sa.Column("licence", sa.Text(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("sites", sa.Integer(), nullable=False),
        sa.Column("added", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("removed", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("changed", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column(
            "imported_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(["dataset_id"], ["declared_datasets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("dataset_id", "version"),
    )
    op.create_table(
        "declared_sites",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("dataset_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("source_id", sa.Text(), nullable=False),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(geometry_type="POINT", srid=4326, spatial_index=False),
            nullable=False,
        ),
        sa.Column("kinds", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("compatible_kinds", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("declared_count", sa.Integer(), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("commissioned", sa.Text(), nullable=True),
        sa.Column("commissioned_on", sa.Date(), nullable=True),
        sa.Column("attributes", postgresql.JSONB(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.CheckConstraint("declared_count > 0", name="declared_count_positive"),
        sa.ForeignKeyConstraint(["dataset_id"], ["declared_datasets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dataset_id", "source_id", name="declared_sites_source_key"),
    )
    op.create_index("declared_sites_geom_idx", "declared_sites", ["geom"], postgresql_using="gist")
    op.create_table(
        "declared_matches",
        sa.Column("site_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("device_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("distance_m", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["declared_sites.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("site_id", "device_id"),
    )
    op.create_index("declared_matches_device_idx", "declared_matches", ["device_id"])
    op.execute(REACH_FUNCTION)
    op.execute(MATCH_DEVICE_FUNCTION)
    # INSERT and DELETE (no foreign key to devices: each inserted pair would check one).
    op.execute(
        "CREATE TRIGGER devices_declared_match_insert AFTER INSERT OR DELETE ON devices "
        "FOR EACH ROW EXECUTE FUNCTION vigie_declared_match_device()"
    )
    # Positions compared as bytes: pg_restore runs this with an empty search_path, where
    # `geometry = geometry` (behind IS DISTINCT FROM) is ambiguous.
    changed = " OR ".join(
        f"OLD.{c}::bytea IS DISTINCT FROM NEW.{c}::bytea"
        if c == "geom"
        else f"OLD.{c} IS DISTINCT FROM NEW.{c}"
        for c in MATCHED_COLUMNS
    )
    op.execute(
        "CREATE TRIGGER devices_declared_match_update AFTER UPDATE OF "
        f"{', '.join(MATCHED_COLUMNS)}, merged_into ON devices FOR EACH ROW "
        f"WHEN ({changed} OR OLD.merged_into IS DISTINCT FROM NEW.merged_into) "
        "EXECUTE FUNCTION vigie_declared_match_device()"
    )
    # Cached statistics with declared figures are recomputed when sites change.
    for table in BUMPING_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_record_statistics_change "
            f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION record_statistics_change()"
        )


def downgrade() -> None:
    for table in BUMPING_TABLES:
        op.execute(f"DROP TRIGGER {table}_record_statistics_change ON {table}")
    op.execute("DROP TRIGGER devices_declared_match_update ON devices")
    op.execute("DROP TRIGGER devices_declared_match_insert ON devices")
    op.execute("DROP FUNCTION vigie_declared_match_device()")
    op.execute("DROP FUNCTION vigie_declared_reach(geometry, double precision)")
    op.drop_index("declared_matches_device_idx", table_name="declared_matches")
    op.drop_table("declared_matches")
    op.drop_index("declared_sites_geom_idx", table_name="declared_sites")
    op.drop_table("declared_sites")
    op.drop_table("declared_versions")
    op.drop_table("declared_datasets")
