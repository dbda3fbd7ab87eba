"""An index of the districts' population sources, which the districts collection credits.

Every document of the OGC API's districts collection (its description, each page, its
downloads) credits the sources of the populations it gives. The few distinct sources among
tens of thousands of districts are found by a probe of this index each, not by a read of
every district.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-06 11:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0034"
down_revision: str | Sequence[str] | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX districts_population_source_idx ON districts (population_source) "
        "WHERE population_source IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX districts_population_source_idx")
