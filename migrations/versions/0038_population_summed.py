"""Whether a district's population is the sum of its children's.

A population file gives a district without a row of its own the sum of its children (Paris, of
its arrondissements). A later file of a finer level (quartiers under an arrondissement) must
sum again a population that was a sum, never replace a district's own count, which the file
cannot know its children cover. Populations stored before are marked summed where a child has
the same year and source, as the join gave a parent its children's sum (a child given another
year since left the sum as it was): a count of its own from another publisher stays one.

Revision ID: 0038
Revises: 0037
Create Date: 2026-12-07 08:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0038"
down_revision: str | Sequence[str] | None = "0037"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SUMMED_BEFORE = """
UPDATE districts AS parent SET population_summed = true
WHERE parent.population IS NOT NULL AND EXISTS (
    SELECT FROM districts AS child
    WHERE child.parent_code = parent.code AND child.population IS NOT NULL
      AND child.population_year IS NOT DISTINCT FROM parent.population_year
      AND child.population_source IS NOT DISTINCT FROM parent.population_source
)
"""


def upgrade() -> None:
    op.add_column(
        "districts",
        sa.Column("population_summed", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.execute(SUMMED_BEFORE)


def downgrade() -> None:
    op.drop_column("districts", "population_summed")
