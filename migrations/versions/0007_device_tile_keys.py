"""Devices: Web Mercator position and tile key, so that vector tiles read one index range.

Each device gets its position in Web Mercator pixels at zoom 30 (mercator_x, mercator_y) and the
Morton (Z-order) code of that pixel (tile_key). Every tile at every zoom is then one contiguous
range of tile_key, and a grid cell inside it one shorter prefix: a tile is clustered by an
index-only scan of devices_tile_key_idx instead of a heap visit per device. The index includes
the columns of the public-device filter (tombstone, review, author) for that reason.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 22:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 2^30 pixels across the world: about 4 cm at the equator. (90 + lat) / 2 rather than
# 45 + lat / 2: halving a subnormal latitude first would underflow.
FUNCTIONS = """
CREATE FUNCTION vigie_mercator_x(geom geometry) RETURNS integer
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN least(floor((ST_X(geom) + 180) / 360 * 1073741824), 1073741823)::integer;

CREATE FUNCTION vigie_mercator_y(geom geometry) RETURNS integer
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN least(greatest(floor(
        (1 - ln(tan(radians((90 + least(greatest(ST_Y(geom), -85.0511287798), 85.0511287798)) / 2)))
             / pi()) / 2 * 1073741824), 0), 1073741823)::integer;

CREATE FUNCTION vigie_spread_bits(v bigint) RETURNS bigint
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    v := (v | (v << 16)) & x'0000FFFF0000FFFF'::bigint;
    v := (v | (v << 8)) & x'00FF00FF00FF00FF'::bigint;
    v := (v | (v << 4)) & x'0F0F0F0F0F0F0F0F'::bigint;
    v := (v | (v << 2)) & x'3333333333333333'::bigint;
    v := (v | (v << 1)) & x'5555555555555555'::bigint;
    RETURN v;
END $$;

CREATE FUNCTION vigie_tile_key(geom geometry) RETURNS bigint
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN vigie_spread_bits(vigie_mercator_x(geom))
         | (vigie_spread_bits(vigie_mercator_y(geom)) << 1);
"""


def upgrade() -> None:
    op.execute(FUNCTIONS)
    for name, expression, type_ in (
        ("mercator_x", "vigie_mercator_x(geom)", sa.Integer()),
        ("mercator_y", "vigie_mercator_y(geom)", sa.Integer()),
        ("tile_key", "vigie_tile_key(geom)", sa.BigInteger()),
    ):
        op.add_column(
            "devices",
            sa.Column(name, type_, sa.Computed(expression, persisted=True), nullable=True),
        )
    op.create_index(
        "devices_tile_key_idx",
        "devices",
        ["tile_key"],
        unique=False,
        postgresql_include=[
            "kind",
            "mercator_x",
            "mercator_y",
            "deleted_at",
            "review_status",
            "created_by",
        ],
    )


def downgrade() -> None:
    op.drop_index("devices_tile_key_idx", table_name="devices")
    for name in ("tile_key", "mercator_y", "mercator_x"):
        op.drop_column("devices", name)
    for function in ("vigie_tile_key", "vigie_spread_bits", "vigie_mercator_y", "vigie_mercator_x"):
        op.execute(f"DROP FUNCTION {function}")
