"""The media type a cached statistics answer was negotiated as.

A statistics answer's format is chosen by `f=`, else by the Accept header. The refresh of the
cached answers (`flask geodata refresh-statistics`) asks each stored URL again: without the
Accept it was negotiated under, a CSV asked by Accept came back as JSON, kept under another key,
and an option of its format (`tolerance=` of GeoJSON) was refused, for ever. Entries cached
before hold none, and are asked as before (they are dropped within a day unless read).

Revision ID: 0039
Revises: 0038
Create Date: 2026-12-07 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0039"
down_revision: str | Sequence[str] | None = "0038"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("statistics_cache", sa.Column("media_type", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("statistics_cache", "media_type")
