"""Districts, their datasets, a statistics cache and the view-cone function.

Revision ID: 0005
Revises: 0002
Create Date: 2026-11-28 21:38:38.220834
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Any change to devices or districts moves this counter; cached statistics name the value they
# were computed at. A sequence, not a row, so that concurrent writers never wait on each other.
STATISTICS_VERSION_SQL = """
CREATE SEQUENCE statistics_data_version;
CREATE FUNCTION bump_statistics_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM nextval('statistics_data_version');
    RETURN NULL;
END $$;
"""

# The ground a camera sees: one circular sector per direction (fov degrees wide, radius_m long,
# vertices every 10 degrees at most, measured on the spheroid), or a full disc when there is no
# direction or the field of view is 360 degrees or unknown.
VIEW_CONE_SQL = """
CREATE FUNCTION view_cone(
    p geometry, directions smallint[], fov double precision, radius_m double precision
) RETURNS geometry LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE
    WHEN directions IS NULL OR cardinality(directions) = 0 OR fov IS NULL OR fov >= 360
        THEN ST_Buffer(p::geography, radius_m, 'quad_segs=8')::geometry
    ELSE (
        SELECT ST_Union(ST_MakePolygon(ST_MakeLine(
            ARRAY[p]
            || ARRAY(
                SELECT ST_Project(
                    p::geography, radius_m,
                    radians(d - fov / 2 + i * fov / ceil(fov / 10))
                )::geometry
                FROM generate_series(0, ceil(fov / 10)::int) AS i
                ORDER BY i
            )
            || ARRAY[p]
        )))
        FROM unnest(directions) AS d
    )
END
$$;
"""


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("attribution", sa.Text(), nullable=False),
        sa.Column("licence", sa.Text(), nullable=True),
        sa.Column("source_url", sa.Text(), nullable=True),
        sa.Column(
            "imported_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "statistics_cache",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("data_version", sa.BigInteger(), nullable=False),
        sa.Column(
            "computed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_geospatial_table(
        "districts",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("level", sa.String(length=32), nullable=False),
        sa.Column("parent_code", sa.String(length=32), nullable=True),
        sa.Column("population", sa.BigInteger(), nullable=True),
        sa.Column("population_year", sa.Integer(), nullable=True),
        sa.Column("population_source", sa.Text(), nullable=True),
        sa.Column("dataset", sa.String(length=100), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("area_km2", sa.Float(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["dataset"], ["datasets.name"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_geospatial_index(
        "districts_geom_idx",
        "districts",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        "districts_level_parent_idx", "districts", ["level", "parent_code"], unique=False
    )
    op.execute(STATISTICS_VERSION_SQL)
    for table in ("devices", "districts"):
        op.execute(
            f"CREATE TRIGGER {table}_bump_statistics_data_version "
            f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION bump_statistics_data_version()"
        )
    op.execute(VIEW_CONE_SQL)


def downgrade() -> None:
    op.execute("DROP FUNCTION view_cone(geometry, smallint[], double precision, double precision)")
    op.execute("DROP TRIGGER devices_bump_statistics_data_version ON devices")
    op.execute("DROP TRIGGER districts_bump_statistics_data_version ON districts")
    op.execute("DROP FUNCTION bump_statistics_data_version()")
    op.execute("DROP SEQUENCE statistics_data_version")
    op.drop_index("districts_level_parent_idx", table_name="districts")
    op.drop_geospatial_index(
        "districts_geom_idx", table_name="districts", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("districts")
    op.drop_table("statistics_cache")
    op.drop_table("datasets")
