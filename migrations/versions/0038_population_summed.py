"""Whether a district's population is the sum of its children's.

A population file gives a district without a row of its own the sum of its children (Paris, of
its arrondissements). A later file of a finer level (quartiers under an arrondissement) must
sum again a population that was a sum, never replace a district's own count, which the file
cannot know its children cover. Populations stored before are marked summed where they equal
the sum of one level of their children, of the same year and source, as the join gave them.

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
FROM (
    SELECT parent_code, level, sum(population) AS population,
           min(population_year) AS year, min(population_source) AS source
    FROM districts
    WHERE parent_code IS NOT NULL
    GROUP BY parent_code, level
    HAVING count(*) = count(population)
       AND count(DISTINCT population_year) <= 1 AND count(DISTINCT population_source) <= 1
) AS children
WHERE parent.code = children.parent_code
  AND parent.population = children.population
  AND parent.population_year IS NOT DISTINCT FROM children.year
  AND parent.population_source IS NOT DISTINCT FROM children.source
"""


def upgrade() -> None:
    op.add_column(
        "districts",
        sa.Column("population_summed", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.execute(SUMMED_BEFORE)


def downgrade() -> None:
    op.drop_column("districts", "population_summed")
