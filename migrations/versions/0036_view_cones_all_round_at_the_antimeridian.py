"""View cones all round within reach of the antimeridian: cut there, as directed ones are.

A camera seeing all round (a dome, no direction) has a circle for its cone; within reach of the
antimeridian that circle, put back within -180..180, crossed itself, and the watched share of
every district around it was a 500 (a GEOS TopologyException in the union of the cones). It is
now drawn in longitudes 0 to 360, where it is whole, and cut there into its parts on either
side, as 0035 does for directed cones. Other cones are as before.

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-06 16:40:00
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0036"
down_revision: str | Sequence[str] | None = "0035"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def migration_0035():
    """0035's module, whose function this one restates but for the disc (a migration's file
    never changes once released)."""
    path = Path(__file__).with_name("0035_view_cones_at_the_world_edges.py")
    spec = importlib.util.spec_from_file_location("vigie_migration_0035", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def view_cone(near_antimeridian: bool) -> str:
    """0035's function, its disc cut at the antimeridian or not."""
    before = migration_0035()
    disc = "ST_Buffer(p::geography, radius_m, 'quad_segs=8')::geometry"
    if near_antimeridian:
        disc = (
            f"CASE WHEN NOT ({before.NEAR_POLE}) AND {before.NEAR_ANTIMERIDIAN} "
            f"THEN ST_WrapX(ST_ShiftLongitude({disc}), 180, -360) ELSE {disc} END"
        )
    cone = before.VIEW_CONE.replace("SECTOR", before.SECTOR).replace("CONE", before.CONE)
    return cone.replace("ST_Buffer(p::geography, radius_m, 'quad_segs=8')::geometry", disc)


def upgrade() -> None:
    op.execute(view_cone(near_antimeridian=True))


def downgrade() -> None:
    op.execute(view_cone(near_antimeridian=False))
